"""chef-multiserver and an AWS endpoint that accepts connections and never answers: it says what it
waits for, honours the user's retry settings (AWS_MAX_ATTEMPTS, AWS_RETRY_MODE, the profile's
max_attempts and retry_mode, as botocore reads them: botocore/configprovider.py and args.py,
_compute_retry_max_attempts), and gives up within bounded time with one line.

The timeouts are made small here; the defaults' bound is checked by arithmetic on botocore's own
backoff (botocore/retries/standard.py, ExponentialBackoff: random * 2**(attempt-1), at most
20 s)."""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives import serialization

from chef_multiserver.cli import aws as cli_aws
from tests import keymaterial
from tests.cli_fakes import Result, raw_peer, run

pytest_plugins = ("tests.cli_fixtures",)


@pytest.fixture
def key(tmp_path: Path) -> Path:
    path = tmp_path / "pivotal.pem"
    path.write_bytes(
        keymaterial.pem(keymaterial.rsa_key(), serialization.PrivateFormat.TraditionalOpenSSL)
    )
    return path


@pytest.fixture
def short_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_aws, "CONNECT_TIMEOUT", 0.5)
    monkeypatch.setattr(cli_aws, "READ_TIMEOUT", 0.5)


def put_key_against_a_black_hole(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, key: Path
) -> tuple[Result, int, float, int]:
    """put-key with every AWS request going to a peer that never answers: its result, the
    connections the peer saw, the seconds it took, and the peer's port."""
    with raw_peer("silent") as peer:
        monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{peer.port}")
        started = time.monotonic()
        result = run(capsys, "put-key", "chef-east", "--key", str(key), "--bucket", "chef-keys")
        elapsed = time.monotonic() - started
        return result, len(peer.connections), elapsed, peer.port


@pytest.mark.usefixtures("repo", "aws", "short_timeouts")
def test_aws_max_attempts_is_honoured_and_the_wait_is_announced(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key: Path
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")

    result, connections, elapsed, port = put_key_against_a_black_hole(capsys, monkeypatch, key)

    assert result.code == 1
    assert connections == 2
    assert elapsed < 10
    waiting, retrying, error = result.err.splitlines()
    assert waiting == (
        f"chef-multiserver: waiting for S3 at http://127.0.0.1:{port} (up to 2 attempts, "
        "0.5 s to connect and 0.5 s to answer)"
    )
    assert retrying == "chef-multiserver: retrying S3 GetPublicAccessBlock (attempt 2 of 2)"
    assert error.startswith(f"chef-multiserver put-key: no answer from http://127.0.0.1:{port}")
    assert "AWS_MAX_ATTEMPTS" in error


@pytest.mark.usefixtures("repo", "aws", "short_timeouts")
def test_the_profiles_max_attempts_is_honoured(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key: Path, tmp_path: Path
) -> None:
    (tmp_path / "aws-config").write_text(
        "[profile chef]\nmax_attempts = 4\nretry_mode = legacy\n", "utf-8"
    )
    monkeypatch.setenv("AWS_PROFILE", "chef")

    result, connections, _, _ = put_key_against_a_black_hole(capsys, monkeypatch, key)

    assert result.code == 1
    assert connections == 4


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({}, {"mode": "standard", "total_max_attempts": cli_aws.DEFAULT_MAX_ATTEMPTS}),
        ({"AWS_RETRY_MODE": "adaptive"}, {"mode": "adaptive", "total_max_attempts": 3}),
        ({"AWS_MAX_ATTEMPTS": "7"}, {"mode": "standard", "total_max_attempts": 7}),
        (
            {"AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "legacy"},
            {"mode": "legacy", "total_max_attempts": 1},
        ),
    ],
)
def test_retry_settings_reach_the_clients(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], expected: dict[str, object]
) -> None:
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)

    client = cli_aws.client(boto3.Session(), "s3")

    assert client.meta.config.retries == expected
    assert (client.meta.config.connect_timeout, client.meta.config.read_timeout) == (
        cli_aws.CONNECT_TIMEOUT,
        cli_aws.READ_TIMEOUT,
    )


def test_a_dead_endpoint_answers_within_a_minute_by_default() -> None:
    """The worst case of the defaults: every attempt waits the longer timeout, and botocore's
    standard backoff sleeps at most 2**(attempt-1) s between attempts."""
    attempts = cli_aws.DEFAULT_MAX_ATTEMPTS
    waits = attempts * max(cli_aws.CONNECT_TIMEOUT, cli_aws.READ_TIMEOUT)
    backoff = sum(min(2 ** (attempt - 1), 20) for attempt in range(1, attempts))

    assert waits + backoff < 60


@pytest.mark.usefixtures("repo", "aws")
@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("AWS_MAX_ATTEMPTS", "many", "AWS_MAX_ATTEMPTS (or max_attempts in the profile) is not a "),
        ("AWS_MAX_ATTEMPTS", "0", "must be an integer greater than or equal to 1"),
        ("AWS_RETRY_MODE", "eager", "must be one of: ('legacy', 'standard', 'adaptive')"),
    ],
)
def test_retry_settings_botocore_refuses_are_one_line(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    message: str,
) -> None:
    monkeypatch.setenv(variable, value)

    result = run(capsys, "doctor", "--offline", "--key-bucket", "chef-keys")

    assert result.code == 1
    (line,) = result.err.splitlines()
    assert message in line
