"""chef-multiserver on what the file system and the network really hold: a directory where a file
should be, peers that are not TLS servers, CA files that are not certificates, an endpoint URL that
is not a URL. Each is one line on stderr and exit status 1, never a traceback, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chef_multiserver.cli import tls as cli_tls
from tests import keymaterial
from tests.cli_fakes import (
    Result,
    make_ca,
    make_server_cert,
    pem,
    private_bucket,
    raw_peer,
    run,
    tls_server,
)
from tests.conftest import KIT_ROOT

pytest_plugins = ("tests.cli_fixtures",)

URL = "https://chef.test.example/organizations/acme"
WAITING = "chef-multiserver: "
ADD = ("add-server", "chef-north", "--url", URL, "--server-region", "eu-north-1")


def files_under(directory: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(directory)): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file()
    }


def assert_one_line(result: Result, *fragments: str) -> None:
    assert result.code == 1
    assert "Traceback" not in result.err
    # Lines "chef-multiserver: waiting for ..." may come first.
    (line,) = [line for line in result.err.splitlines() if not line.startswith(WAITING)]
    for fragment in fragments:
        assert fragment in line


def test_add_server_into_an_existing_directory_without_a_config(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A .chef/NAME/ holding only the user's key (as knife's layout has it) is not a server yet:
    add-server writes its config there and keeps the key."""
    (repo / ".chef/chef-north").mkdir()
    (repo / ".chef/chef-north/private.pem").write_bytes(b"the user's key")

    result = run(capsys, *ADD, "--node-name", "pivotal")

    assert result.code == 0, result.err
    assert (repo / ".chef/chef-north/config.yml").is_file()
    assert (repo / ".chef/chef-north/private.pem").read_bytes() == b"the user's key"


def test_add_server_where_a_file_has_the_servers_name(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".chef/chef-north").write_text("a file", "utf-8")
    before = files_under(repo)

    result = run(capsys, *ADD, "--node-name", "pivotal")

    assert_one_line(result, ".chef/chef-north is not a directory", "nothing written")
    assert files_under(repo) == before


def test_fetch_ca_when_ca_certs_is_a_file(
    repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ca_certs = repo / ".chef/ca_certs"
    for path in ca_certs.iterdir():
        path.unlink()
    ca_certs.rmdir()
    ca_certs.write_text("not a directory", "utf-8")
    before = files_under(repo)
    ca = make_ca("Test Chef CA")

    with tls_server(make_server_cert(ca, "chef.test.example"), [], tmp_path / "tls") as port:
        result = run(
            capsys, *ADD, "--fetch-ca", "--yes",
            "--connect-to", f"chef.test.example:443:127.0.0.1:{port}",
        )  # fmt: skip

    assert_one_line(result, ".chef/ca_certs is not a directory")
    assert files_under(repo) == before


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        ("close", "no TLS handshake with chef.test.example:443"),
        ("http", "no TLS handshake with chef.test.example:443"),
        ("silent", "sent nothing within 0.5 s"),
    ],
)
def test_fetch_ca_from_a_peer_that_is_no_tls_server(
    repo: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    behaviour: str,
    message: str,
) -> None:
    monkeypatch.setattr(cli_tls, "TIMEOUT_SECONDS", 0.5)
    before = files_under(repo)

    with raw_peer(behaviour) as peer:
        started = time.monotonic()
        result = run(
            capsys, *ADD, "--node-name", "pivotal", "--fetch-ca", "--yes",
            "--connect-to", f"chef.test.example:443:127.0.0.1:{peer.port}",
        )  # fmt: skip
        elapsed = time.monotonic() - started

    assert_one_line(result, message)
    assert result.err.startswith(
        f"chef-multiserver: waiting for chef.test.example:443 (through 127.0.0.1:{peer.port}) "
        "(0.5 s at most)\n"
    )
    assert peer.connections
    assert elapsed < 5
    assert files_under(repo) == before


def test_doctor_with_ca_files_that_are_not_certificates(
    repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stray byte that is not ASCII, a directory named like a certificate: each is reported with
    its path, and the good certificates still count."""
    ca_certs = repo / ".chef/ca_certs"
    (ca_certs / "chef-east.crt").write_bytes(pem(make_ca("East CA").certificate))
    (ca_certs / "chef-west.crt").write_bytes(b"\xe9" + pem(make_ca("West CA").certificate)[1:])
    (ca_certs / "extra.crt").mkdir()

    result = run(capsys, "doctor", "--offline")

    assert result.code == 1
    assert "Traceback" not in result.err
    assert ".chef/ca_certs/chef-west.crt: not a PEM certificate" in result.out
    assert ".chef/ca_certs/extra.crt: cannot be read (not a regular file)" in result.out


@pytest.mark.parametrize("endpoint", ["not a url", "http://[::1", "https://exa mple.com"])
def test_an_invalid_endpoint_url(
    repo: Path,
    aws: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    endpoint: str,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)

    result = run(capsys, "doctor", "--offline", "--key-bucket", "chef-keys")

    assert_one_line(result, "the AWS endpoint URL is not valid", "AWS_ENDPOINT_URL")


def test_a_path_of_undecodable_bytes_is_printed_escaped(
    repo: Path, aws: str, tmp_path: Path
) -> None:
    """A file name that is not UTF-8 reaches Python as surrogate escapes; printing it to stdout,
    which is strict UTF-8, must not stop put-key after the upload (the real console script, its
    environment the aws fixture's moto)."""
    private_bucket("chef-keys")
    key = Path(os.fsdecode(bytes(repo) + b"/\xff-key.pem"))
    key.write_bytes(
        keymaterial.pem(keymaterial.rsa_key(), keymaterial.Format.TraditionalOpenSSL)
    )

    completed = subprocess.run(
        [sys.executable, "-m", "chef_multiserver.cli", "put-key", "chef-east", "--key",
         os.fsencode(key), "--bucket", "chef-keys"],
        cwd=repo, env={**os.environ, "PYTHONPATH": str(KIT_ROOT), "PYTHONIOENCODING": "utf-8"},
        capture_output=True, check=False, timeout=60,
    )  # fmt: skip

    assert completed.returncode == 0, completed.stderr
    assert b"Traceback" not in completed.stderr
    assert b"\\udcff-key.pem is inside the repository" in completed.stdout


@pytest.mark.parametrize("address", ["a..b", "x" * 64, "\udcff"])
def test_a_connect_to_address_no_socket_can_resolve(
    repo: Path, capsys: pytest.CaptureFixture[str], address: str
) -> None:
    """Python's socket encodes a host name with IDNA and fails with UnicodeError (a ValueError,
    not an OSError) on an empty or 64-character label."""
    result = run(capsys, *ADD, "--fetch-ca", "--connect-to", f"::{address}:443")

    assert result.code == 1
    assert "Traceback" not in result.err
    assert "is not a host name or address" in result.err.splitlines()[-1]
