"""A bounded fuzz of the chef-multiserver command line: argument vectors drawn from its own options,
values that mean something to it (servers, keys, a FIFO, /dev/zero, a bucket) and arbitrary text,
undecodable bytes included (what a shell passes as surrogate escapes). Every run ends with exit
status 0 or 1, no traceback, and a refusal leaves the repository as it was.

AWS is moto on 127.0.0.1 (one attempt per call); every TLS connection goes to a closed local port
(--connect-to), so no run waits on the network."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chef_multiserver.cli import deploy as cli_deploy
from tests import keymaterial
from tests.cli_fakes import private_bucket, run

pytest_plugins = ("tests.cli_fixtures",)

CLOSED_PORT = "::127.0.0.1:9"
FLAGS = {"--fetch-ca", "--yes", "--offline", "--replace-failed"}
AWS_OPTIONS = ["--profile", "--region"]
REQUIRED = {"--url", "--server-region", "--region", "--key", "--bucket", "--stack", "--key-bucket"}
# Each subcommand's options; the values come from MEANINGFUL or are arbitrary.
COMMANDS = {
    "add-server": ["--url", "--server-region", "--region", "--node-name", "--fetch-ca", "--yes",
                   "--connect-to"],
    "put-key": ["--key", "--bucket", "--kms-key-id", *AWS_OPTIONS],
    "deploy": ["--stack", "--key-bucket", "--parameter", "--replace-failed", *AWS_OPTIONS],
    "doctor": ["--offline", "--key-bucket", "--stack", "--connect-to", *AWS_OPTIONS],
}
MEANINGFUL = [
    "chef-east", "chef-west", "chef-north", "CHEF-EAST", "ca_certs", "../x", ".chef",
    "https://chef.example.com/organizations/o", "https://chef-east.example.com/organizations/default",
    "http://x/organizations/o", "us-east-1", "eu-north-1", "mars-1", "chef-keys", "no-such-bucket",
    "pivotal", "Branch=main", "=", "a:b:c:d", CLOSED_PORT, "KEY", "FIFO", "/dev/zero", "DIR", "",
    "-", "--", "nobody", "--help", "--version", "::a..b:443",
]  # fmt: skip


def arbitrary_text() -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(st.characters(exclude_characters="\x00"), max_size=12),
        st.binary(max_size=12).filter(lambda raw: b"\x00" not in raw).map(os.fsdecode),
    )


VALUE = st.one_of(st.sampled_from(MEANINGFUL), st.sampled_from(MEANINGFUL), arbitrary_text())


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    """A subcommand (now and then arbitrary text), its NAME, a random subset of its options with
    values, and a few stray tokens anywhere."""
    command = draw(st.sampled_from([*COMMANDS, *COMMANDS, "other"]))
    if command == "other":
        command = draw(arbitrary_text())
    argv = [command]
    if command in ("add-server", "put-key"):
        argv.append(draw(VALUE))
    for option in COMMANDS.get(command, []):
        # The options a subcommand requires come first in its list: usually given.
        if draw(st.integers(0, 5)) > (0 if option in REQUIRED else 2):
            values = st.one_of(st.just(CLOSED_PORT), VALUE) if option == "--connect-to" else VALUE
            argv += [option] if option in FLAGS else [option, draw(values)]
    for _ in range(draw(st.integers(0, 2))):
        argv.insert(draw(st.integers(0, len(argv))), draw(VALUE))
    return argv


def snapshot(directory: Path) -> dict[str, bytes | None]:
    return {
        str(path.relative_to(directory)): path.read_bytes() if path.is_file() else None
        for path in directory.rglob("*")
    }


@pytest.mark.usefixtures("aws")
# A drawn `deploy` sends the template to moto, whose CloudFormation (in this process) warns about
# the resources it skips; under filterwarnings=error its server thread would print a traceback.
@pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")
@settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=command_lines())
def test_any_command_line_ends_in_0_or_1_without_a_traceback(
    argv: list[str],
    baked: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setattr(cli_deploy, "POLL_SECONDS", 0.01)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        repo = Path(shutil.copytree(baked, scratch / "repo"))
        places = {"KEY": scratch / "key.pem", "FIFO": scratch / "fifo", "DIR": scratch / "dir"}
        places["KEY"].write_bytes(
            keymaterial.pem(keymaterial.rsa_key(), serialization.PrivateFormat.TraditionalOpenSSL)
        )
        os.mkfifo(places["FIFO"])
        places["DIR"].mkdir()
        command = argv[0]
        arguments = [str(places.get(token, token)) for token in argv]
        if command in ("add-server", "doctor"):
            arguments += ["--connect-to", CLOSED_PORT]
        monkeypatch.chdir(repo)
        before = snapshot(repo)

        result = run(capsys, *arguments)

        assert result.code in (0, 1), (arguments, result.err)
        assert "Traceback" not in result.err + result.out, arguments
        if result.code == 1 or command != "add-server":
            assert snapshot(repo) == before, (arguments, result.err)


@pytest.fixture(autouse=True)
def _key_bucket(aws: str) -> None:
    """A private key bucket, so that put-key and doctor get past the bucket to the rest."""
    private_bucket("chef-keys")
