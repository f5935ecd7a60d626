"""chef-multiserver as a command: help, usage errors and AWS failures as one line each (exit 1),
never a traceback."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from chef_multiserver import __version__
from chef_multiserver.cli import aws as cli_aws
from tests.cli_fakes import run
from tests.conftest import KIT_ROOT

pytest_plugins = ("tests.cli_fixtures",)


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ((), "add-server"),
        (("add-server",), "--fetch-ca"),
        (("put-key",), "--kms-key-id"),
        (("deploy",), "--replace-failed"),
        (("doctor",), "--offline"),
    ],
)
def test_help(command: tuple[str, ...], expected: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, *command, "--help")

    assert result.code == 0
    assert expected in result.out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ((), "the following arguments are required: COMMAND"),
        (("deploy", "--stack", "s"), "--key-bucket"),
        (("deploy", "--stack", "s", "--key-bucket", "keys", "--parameter", "Branch"), "KEY=VALUE"),
        # names AWS takes (a lone surrogate, from bytes no UTF-8, ended in a botocore traceback)
        (("deploy", "--stack", "s", "--key-bucket", "\ud800"), "is no S3 bucket name"),
        (("deploy", "--stack", "s", "--key-bucket", "Chef_Keys"), "is no S3 bucket name"),
        (("put-key", "chef-east", "--key", "k", "--bucket", "ab"), "is no S3 bucket name"),
        (("doctor", "--stack", "1-pipeline"), "is no stack name"),
        (("deploy", "--stack", "chef pipeline", "--key-bucket", "keys"), "is no stack name"),
        (("doctor", "--connect-to", "127.0.0.1:8443"), "HOST:PORT:ADDRESS:PORT"),
        (("doctor", "--connect-to", "a:https:b:443"), "the ports must be numbers"),
        (("put-key", "chef-east", "--bucket", "chef-keys"), "--key"),
    ],
)
def test_usage_errors_exit_1(
    repo: Path, argv: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, *argv)

    assert result.code == 1
    assert message in result.err


def test_global_options_may_follow_the_subcommand(
    repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = run(capsys, "--profile", "nobody", "doctor", "--offline", "--key-bucket", "chef-keys")
    after = run(capsys, "doctor", "--offline", "--key-bucket", "chef-keys", "--profile", "nobody")

    assert before.err == after.err
    assert "The config profile (nobody) could not be found" in after.err


def test_the_console_entry_point_runs(tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(KIT_ROOT)}

    completed = subprocess.run(
        [sys.executable, "-m", "chef_multiserver.cli", "--version"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment,
        check=False,
    )

    assert (completed.returncode, completed.stdout.strip()) == (
        0,
        f"chef-multiserver {__version__}",
    )


def test_no_credentials(
    repo: Path, aws: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(variable)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to find here

    result = run(capsys, "doctor", "--offline", "--stack", "chef-pipeline")

    assert result.code == 1
    assert result.err == (
        "chef-multiserver doctor: no AWS credentials found: run 'aws configure' "
        "(or 'aws sso login'), set AWS_PROFILE, or pass --profile\n"
    )


def test_an_endpoint_that_answers_with_no_aws_response(
    repo: Path, aws: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A proxy's error page where AWS would answer: one line, no traceback."""

    class ErrorPage(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(500)
            self.end_headers()
            self.wfile.write(b"<!doctype html><title>500 Internal Server Error</title>")

        def log_message(self, *_: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), ErrorPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    try:
        result = run(capsys, "deploy", "--stack", "chef-pipeline", "--key-bucket", "chef-keys")
    finally:
        server.shutdown()
        server.server_close()

    assert result.code == 1
    assert result.err.splitlines()[-1] == (
        "chef-multiserver deploy: the answer from AWS could not be read: check AWS_ENDPOINT_URL "
        "and any proxy between this machine and AWS"
    )


def test_an_endpoint_that_cannot_be_reached(
    repo: Path, aws: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # What a region that does not exist looks like from here: no endpoint answers.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")

    result = run(capsys, "deploy", "--stack", "chef-pipeline", "--key-bucket", "chef-keys")

    assert result.code == 1
    assert "cannot reach http://127.0.0.1:9/: check that the region exists" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    ("code", "message"),
    [
        ("AccessDenied", "access denied to PutObject: ask for that permission"),
        ("ThrottlingException", "AWS kept throttling PutObject through every attempt"),
        ("ExpiredToken", "the AWS credentials have expired"),
        ("InvalidClientTokenId", "AWS does not accept these credentials"),
        ("NoSuchBucket", "bucket 'chef-keys' does not exist"),
        ("InternalError", "PutObject failed: InternalError: the message"),
    ],
)
def test_aws_errors_say_what_to_do(code: str, message: str) -> None:
    # S3 names the bucket in its error; the other services' errors have Code and Message only.
    response: Any = {"Error": {"Code": code, "Message": "the message", "BucketName": "chef-keys"}}
    error = ClientError(response, "PutObject")

    assert message in cli_aws.error_message(error)


@pytest.mark.parametrize(
    ("option", "aws_region", "aws_default_region", "expected"),
    [
        ("eu-west-1", "eu-west-2", "eu-west-3", "eu-west-1"),
        (None, "eu-west-2", "eu-west-3", "eu-west-2"),
        (None, None, "eu-west-3", "eu-west-3"),
        (None, "", "eu-west-3", "eu-west-3"),
        (None, None, None, "ap-south-1"),
    ],
    ids=["option", "AWS_REGION", "AWS_DEFAULT_REGION", "empty-AWS_REGION", "profile"],
)
def test_the_region_comes_from_where_the_aws_cli_takes_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    option: str | None,
    aws_region: str | None,
    aws_default_region: str | None,
    expected: str,
) -> None:
    """AWS CLI v2's order (docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html:
    AWS_REGION overrides AWS_DEFAULT_REGION); botocore itself reads AWS_DEFAULT_REGION and the
    profile only (botocore/configprovider.py), so this is real botocore reading a real config."""
    config = tmp_path / "config"
    config.write_text("[default]\nregion = ap-south-1\n", "utf-8")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    for variable, value in (("AWS_REGION", aws_region), ("AWS_DEFAULT_REGION", aws_default_region)):
        if value is None:
            monkeypatch.delenv(variable, raising=False)
        else:
            monkeypatch.setenv(variable, value)

    assert cli_aws.session(None, option).region_name == expected


def test_aws_region_alone_is_enough(
    repo: Path, aws: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once `deploy` with only AWS_REGION set stopped at "no AWS region"."""
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_REGION", "us-east-1")

    result = run(capsys, "doctor", "--offline", "--stack", "chef-pipeline")

    assert "no AWS region" not in result.err
    assert "Stack chef-pipeline:\n  does not exist" in result.out


def test_help_says_where_the_region_comes_from(capsys: pytest.CaptureFixture[str]) -> None:
    result = run(capsys, "--help")

    assert "--region, then AWS_REGION, then AWS_DEFAULT_REGION, then the profile's region" in (
        " ".join(result.out.split())
    )


def test_a_value_no_request_can_carry_is_one_line(
    repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A parameter from bytes that were no UTF-8 (Python holds them as lone surrogates) ended in a
    UnicodeEncodeError traceback inside botocore, where the request is signed."""
    result = run(
        capsys,
        "deploy",
        "--stack",
        "chef-pipeline",
        "--key-bucket",
        "chef-keys",
        "--parameter",
        "Branch=ma\udce9n",
    )

    assert result.code == 1
    assert result.err.splitlines()[-1] == (
        "chef-multiserver deploy: a value holds '\\udce9', which cannot be sent: give it in UTF-8"
    )
