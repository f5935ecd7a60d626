"""chef-multiserver put-key on key files Chef Infra Server cannot or should not sign with, on key
formats of other tools (named, with the command that converts them), and on paths that are not
files: refused at once, without waiting on a FIFO or reading a device.

Chef signs requests with the user's RSA key, PKCS#1 v1.5 (mixlib-authentication,
lib/mixlib/authentication/signedheaderauth.rb, github.com/chef/mixlib-authentication); every key
here is made at test time by the tool that makes it for users (openssl, ssh-keygen, puttygen,
cryptography's PKCS#12).
The formats are named by how their tools write them: OpenSSH's ``openssh-key-v1``
(https://github.com/openssh/openssh-portable/blob/master/PROTOCOL.key), PuTTY's
``PuTTY-User-Key-File-2/3`` (https://the.earth.li/~sgtatham/putty/latest/htmldoc/AppendixC.html),
PKCS#12 (RFC 7292); the conversions offered are those tools' documented options (ssh-keygen(1)
``-p -m PEM``, puttygen(1) ``-O private-openssh``, openssl-pkcs12(1) ``-nocerts -nodes``)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chef_multiserver.cli import key_file
from chef_multiserver.cli.repo import CommandError
from tests import keymaterial
from tests.cli_fakes import run
from tests.conftest import KIT_ROOT

pytest_plugins = ("tests.cli_fixtures",)

BUCKET = "chef-keys"


def openssl_key(tmp_path: Path, name: str, *arguments: str, der: bool = False) -> Path:
    """A key made by ``openssl genpkey ARGUMENTS`` (PKCS#8), as PEM or DER."""
    openssl = keymaterial.require("openssl")
    path = tmp_path / name
    form = ["-outform", "DER"] if der else []
    subprocess.run(
        [openssl, "genpkey", *arguments, *form, "-out", str(path)], check=True, capture_output=True
    )
    return path


def ecparam_key(tmp_path: Path, name: str, curve: str, *extra: str) -> Path:
    openssl = keymaterial.require("openssl")
    path = tmp_path / name
    subprocess.run(
        [openssl, "ecparam", "-name", curve, "-genkey", *extra, "-out", str(path)],
        check=True,
        capture_output=True,
    )
    return path


def written(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


KEYS: dict[str, tuple[Callable[[Path], Path], str]] = {
    "rsa-512": (
        lambda tmp: openssl_key(tmp, "k.pem", "-algorithm", "RSA", "-pkeyopt",
                                "rsa_keygen_bits:512"),
        "is a 512-bit RSA key: too weak to sign for Chef (at least 2048 bits)",
    ),
    "rsa-1024": (
        lambda tmp: openssl_key(tmp, "k.pem", "-algorithm", "RSA", "-pkeyopt",
                                "rsa_keygen_bits:1024"),
        "is a 1024-bit RSA key",
    ),
    "rsa-pss": (
        lambda tmp: openssl_key(tmp, "k.pem", "-algorithm", "RSA-PSS"),
        "is an RSA-PSS key: Chef signs with PKCS#1 v1.5",
    ),
    "rsa-pss-der": (
        lambda tmp: openssl_key(tmp, "k.der", "-algorithm", "RSA-PSS", der=True),
        "is an RSA-PSS key",
    ),
    "brainpool-explicit": (
        lambda tmp: ecparam_key(tmp, "k.pem", "brainpoolP512t1", "-param_enc", "explicit"),
        "is a key of a kind this machine cannot read",
    ),
    "brainpool-t1": (
        lambda tmp: ecparam_key(tmp, "k.pem", "brainpoolP384t1"),
        "is a key of a kind this machine cannot read",
    ),
    "sm2": (
        lambda tmp: openssl_key(tmp, "k.pem", "-algorithm", "SM2"),
        "is a key of a kind this machine cannot read",
    ),
    "openssh": (
        lambda tmp: written(tmp, "id_rsa", keymaterial.openssh_key("rsa")),
        "is an OpenSSH private key, not PEM: convert a copy to PEM with ssh-keygen -p -m PEM",
    ),
    "putty": (
        lambda tmp: written(tmp, "k.ppk", keymaterial.putty_key(3)),
        "is a PuTTY private key (.ppk), not PEM: convert it with puttygen KEY.ppk "
        "-O private-openssh",
    ),
    "putty-v2": (
        lambda tmp: written(tmp, "k.ppk", keymaterial.putty_key(2)),
        "is a PuTTY private key (.ppk)",
    ),
    "ssh.com": (
        lambda tmp: written(tmp, "k", keymaterial.putty_key(3, output="private-sshcom")),
        "is an ssh.com (SSH2) private key",
    ),
    "pkcs12": (
        lambda tmp: written(tmp, "k.p12", keymaterial.pkcs12_store()),
        "is a PKCS#12 store (.p12/.pfx), not a key: take the key out with openssl pkcs12 "
        "-in STORE -nocerts -nodes",
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", KEYS)
def test_refuses_keys_chef_cannot_or_should_not_use(
    repo: Path, aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    make, message = KEYS[kind]
    path = make(tmp_path)

    result = run(capsys, "put-key", "chef-east", "--key", str(path), "--bucket", BUCKET)

    assert result.code == 1
    (line,) = result.err.splitlines()
    assert f"chef-multiserver put-key: {path} {message}" in line


def put_key_process(repo: Path, key: str) -> subprocess.CompletedProcess[str]:
    """put-key as a user runs it, in a process of its own: a hang fails the test (timeout)
    instead of stopping the suite."""
    return subprocess.run(
        [sys.executable, "-m", "chef_multiserver.cli", "put-key", "chef-east", "--key", key,
         "--bucket", BUCKET],
        cwd=repo, env={**os.environ, "PYTHONPATH": str(KIT_ROOT)},
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_a_fifo_is_refused_without_waiting_for_a_writer(repo: Path, tmp_path: Path) -> None:
    fifo = tmp_path / "key.pem"
    os.mkfifo(fifo)
    started = time.monotonic()

    completed = put_key_process(repo, str(fifo))

    assert time.monotonic() - started < 20
    assert completed.returncode == 1
    assert completed.stderr == (
        f"chef-multiserver put-key: --key {fifo} is not a regular file: give the Chef user's "
        "private key (the .pem knife uses as client_key)\n"
    )


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_a_device_is_refused_without_reading_it(repo: Path, device: str) -> None:
    completed = put_key_process(repo, device)

    assert completed.returncode == 1
    assert "is not a regular file" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_a_file_larger_than_any_key_is_refused(
    repo: Path, aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big.pem"
    with big.open("wb") as stream:
        stream.truncate(key_file.MAX_KEY_BYTES + 1)  # sparse: nothing is written to disk

    result = run(capsys, "put-key", "chef-east", "--key", str(big), "--bucket", BUCKET)

    assert result.code == 1
    assert "more than a key file (64 KiB at most)" in result.err


@pytest.mark.parametrize("kind", ["directory", "missing"])
def test_a_path_that_is_no_file(
    repo: Path, aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = tmp_path / "key.pem"
    if kind == "directory":
        path.mkdir()

    result = run(capsys, "put-key", "chef-east", "--key", str(path), "--bucket", BUCKET)

    assert result.code == 1
    assert result.err.startswith("chef-multiserver put-key: ")
    assert str(path) in result.err
    assert len(result.err.splitlines()) == 1


def mutations() -> st.SearchStrategy[bytes]:
    """Real key files (PEM, DER, PKCS#12) with a few bytes changed, cut short or extended, and
    arbitrary bytes."""
    seeds = [
        keymaterial.pem(keymaterial.rsa_key(), keymaterial.Format.TraditionalOpenSSL),
        keymaterial.pem(keymaterial.rsa_key(), keymaterial.Format.PKCS8,
                        encoding=keymaterial.Encoding.DER),
        keymaterial.pkcs12_store(),
    ]  # fmt: skip

    @st.composite
    def mutated(draw: st.DrawFn) -> bytes:
        data = bytearray(draw(st.sampled_from(seeds)))
        for _ in range(draw(st.integers(0, 4))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(data)))
        return bytes(data[:cut]) + draw(st.binary(max_size=8))

    return st.one_of(mutated(), st.binary(max_size=200))


@settings(max_examples=300, deadline=None, database=None)
@given(data=mutations())
def test_any_bytes_are_a_chef_key_or_one_refusal(data: bytes) -> None:
    try:
        pem = key_file.chef_key_pem(Path("key.pem"), data)
    except CommandError as error:
        assert str(error).startswith("key.pem ")
    else:
        assert pem.startswith(b"-----BEGIN")
