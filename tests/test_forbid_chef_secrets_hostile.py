"""forbid-chef-secrets under hostile file names and contents: no file name is read as an option,
every limit that stops a scan reports the file, any file name prints, crafted files cost linear
time.

All key material is generated at test time (``keymaterial``). The through-pre-commit and
through-the-buildspec tests of file names live with the other real runs
(test_pre_commit_integration.py, test_buildspec_rehearsal.py).
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pre_commit_hooks import check_chef_server_config
from pre_commit_hooks.forbid_chef_secrets import main
from pre_commit_hooks.key_detection import rows
from rehearsal import crafted
from rehearsal.crafted import FAMILIES
from tests import keymaterial
from tests.conftest import KIT_ROOT

OPTION_LIKE = ["--help", "-h", "-x.txt", "--version", "--", "-", "--files-from=list", "-rf"]


def key() -> bytes:
    return keymaterial.private_keys()["rsa-pkcs1"]


@contextmanager
def inside(directory: Path) -> Iterator[None]:
    """Work in ``directory``: the hook gets bare names there, as pre-commit passes them."""
    cwd = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(cwd)


def hook(directory: Path, names: list[str]) -> tuple[int, str]:
    """The hook run in-process over ``names`` in ``directory``: (exit code, stdout)."""
    out = io.StringIO()
    with inside(directory), redirect_stdout(out):
        code = main(names)
    return code, out.getvalue()


# --- 1. no file name is an option ------------------------------------------------------------


@pytest.mark.parametrize("name", OPTION_LIKE[:4])
def test_a_file_named_like_an_option_is_scanned_and_ends_nothing(tmp_path: Path, name: str) -> None:
    """A committed file named --help made the hook print its usage and pass the key beside it."""
    (tmp_path / "client.pem").write_bytes(key())
    (tmp_path / name).write_bytes(b"# " + key())
    code, out = hook(tmp_path, ["client.pem", name, "README.md"])
    assert code == 1
    reported = {line.split(":")[0] for line in out.splitlines() if not line.startswith(" ")}
    assert reported == {"client.pem", name}


def test_an_option_like_name_that_is_no_file_fails_closed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with inside(tmp_path):
        assert main(["--help"]) == 1
    assert "--help: cannot be read" in capsys.readouterr().err


def test_check_chef_server_config_reads_no_file_name_as_an_option(tmp_path: Path) -> None:
    """Its file names come from pre-commit (and the buildspec's glob) too: -h is a file name."""
    config = tmp_path / ".chef" / "chef-north" / "config.yml"
    config.parent.mkdir(parents=True)
    config.write_text('server: "https://chef-north.example.com/organizations/default"\n'
                      'region: "eu-north-1"\nnode_name: "pivotal"\nregoin: us-east-2\n', "utf-8")
    out = io.StringIO()
    with inside(tmp_path), redirect_stdout(out):
        code = check_chef_server_config.main(["-h", ".chef/chef-north/config.yml"])
    assert code == 1
    assert "-h: not a server config" in out.getvalue()
    assert ".chef/chef-north/config.yml:4:1: unknown key 'regoin'" in out.getvalue()


_NAME = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/"), min_size=1,
    max_size=12,
).filter(lambda name: name not in (".", "..") and len(name.encode()) < 200)


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    files=st.dictionaries(
        st.one_of(_NAME, st.sampled_from(OPTION_LIKE), _NAME.map(lambda name: "-" + name)),
        st.booleans(), min_size=1, max_size=6,
    ),
)
def test_no_file_name_changes_what_is_scanned(files: dict[str, bool]) -> None:
    """Whatever the names (options, dashes, any characters), the files holding a key are exactly
    the files reported, and the exit code says whether there was one."""
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        for name, holds_key in files.items():
            (directory / name).write_bytes(key() if holds_key else b"log 'hello'\n")
        code, out = hook(directory, list(files))
    # each finding is a line, then its remedy line
    reported = {line.rsplit(":", 2)[0] for line in out.split("\n")[:-1:2]}
    assert reported == {name for name, holds_key in files.items() if holds_key}
    assert code == (1 if any(files.values()) else 0)


# --- 2. a limit that stops a scan reports the file ---------------------------------------------


def zip_of(members: list[tuple[str, bytes]], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in members:
            archive.writestr(name, content)
    return buffer.getvalue()


def limit_cases() -> dict[str, tuple[bytes, str]]:
    """name -> (a file that holds a key past a limit, words its report must hold)"""
    unpacked = rows.UNPACKED
    der_key = keymaterial.pem(keymaterial.rsa_key(), keymaterial.Format.TraditionalOpenSSL,
                              encoding=keymaterial.Encoding.DER)
    nested = key()
    for _ in range(rows.MAX_DEPTH + 1):
        nested = gzip.compress(nested)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("key.pem", key(), zipfile.ZIP_DEFLATED)
        archive.writestr("data.bin", os.urandom(40 * 1024 * 1024), zipfile.ZIP_STORED)
    return {
        "unpacked bytes": (
            zip_of([("padding.bin", bytes(unpacked)), ("client.pem", key())]),
            f"{unpacked >> 20} MiB a file may unpack",
        ),
        "members": (
            zip_of([(f"m{index}", b"") for index in range(rows.ARCHIVE_MEMBERS)]
                   + [("client.pem", key())]),
            f"{rows.ARCHIVE_MEMBERS:,} members",
        ),
        "depth": (nested, f"{rows.MAX_DEPTH} levels of nesting"),
        "candidates": (
            b"\x30\x82\x01\x00\x02\x01\x00\x02" * (rows.CANDIDATES + 1) + der_key,
            f"{rows.CANDIDATES:,} places a key may start",
        ),
        # the zip's directory is past what the hook reads at once: it cannot be opened
        "archive size": (buffer.getvalue(), "cannot be read to its end"),
        "damaged": (gzip.compress(key())[:-40], "cannot be read to its end"),
    }


@pytest.mark.parametrize(
    "case", ["unpacked bytes", "members", "depth", "candidates", "archive size", "damaged"]
)
def test_a_limit_that_stops_a_scan_reports_the_file_and_names_the_limit(
    tmp_path: Path, case: str
) -> None:
    """Each of these passed unread: the key past the limit was never looked at."""
    content, words = limit_cases()[case]
    (tmp_path / "bundle.bin").write_bytes(content)
    code, out = hook(tmp_path, ["bundle.bin"])
    assert code == 1, out
    assert "bundle.bin:1: not scanned to its end" in out
    assert words in out
    assert "a reviewer must read it" in out


def test_a_marker_in_the_file_does_not_allow_an_unscanned_file(tmp_path: Path) -> None:
    """A crafted archive could name its first member after the marker: a limit is not allowed."""
    content = zip_of([("pragma: allowlist secret", bytes(rows.UNPACKED)), ("k.pem", key())])
    (tmp_path / "bundle.zip").write_bytes(content)
    code, out = hook(tmp_path, ["bundle.zip"])
    assert code == 1
    assert "not scanned to its end" in out


def test_ordinary_archives_and_text_starting_like_bzip2_are_no_limit(tmp_path: Path) -> None:
    sources = [(f"src/f{number}.rb", b"puts 1\n" * 50) for number in range(50)]
    (tmp_path / "a.zip").write_bytes(zip_of(sources))
    (tmp_path / "notes.txt").write_bytes(b"BZh is how bzip2 data opens.\n")
    (tmp_path / "a.gz").write_bytes(gzip.compress(b"log 'hello'\n" * 1000))
    assert hook(tmp_path, ["a.zip", "notes.txt", "a.gz"]) == (0, "")


# --- 6. a file name that is no UTF-8 ------------------------------------------------------------


def test_a_file_name_that_is_no_utf8_is_printed_escaped(tmp_path: Path) -> None:
    """Under a strict UTF-8 output such a name ended in UnicodeEncodeError, with a traceback."""
    name = b"caf\xe9-\xff.pem"
    (tmp_path / os.fsdecode(name)).write_bytes(key())
    env = {**os.environ, "PYTHONIOENCODING": "utf-8:strict", "LC_ALL": "C.UTF-8",
           "PYTHONPATH": str(KIT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", "from pre_commit_hooks.forbid_chef_secrets import main; "
         "raise SystemExit(main())", name], cwd=tmp_path, env=env, capture_output=True,
        timeout=60)
    assert result.returncode == 1, result.stderr
    assert b"Traceback" not in result.stderr
    assert result.stdout.startswith(b"caf\\xe9-\\xff.pem:1: RSA private key")
    # the remedy's command names the file as bash reads it back
    assert b"git rm --cached -- $'caf\\xe9-\\xff.pem'" in result.stdout
    quoted = "$'caf\\xe9-\\xff.pem'"
    echoed = subprocess.run(["bash", "-c", f"printf %s {quoted}"], capture_output=True, check=True)
    assert echoed.stdout == name


def test_archive_member_names_of_any_character_print(tmp_path: Path) -> None:
    (tmp_path / "a.zip").write_bytes(zip_of([("ключ-\u2603.pem", key())]))
    env = {**os.environ, "PYTHONIOENCODING": "ascii:strict", "PYTHONPATH": str(KIT_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", "from pre_commit_hooks.forbid_chef_secrets import main; "
         "raise SystemExit(main())", "a.zip"], cwd=tmp_path, env=env, capture_output=True,
        timeout=60)
    assert result.returncode == 1
    assert b"Traceback" not in result.stderr
    assert b"\\u2603.pem" in result.stdout


# --- 3. crafted files cost linear time -------------------------------------------------------


def scan_seconds(tmp_path: Path, content: bytes) -> float:
    (tmp_path / "crafted").write_bytes(content)
    started = time.perf_counter()
    hook(tmp_path, ["crafted"])
    return time.perf_counter() - started


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_crafted_files_cost_time_linear_in_their_size(tmp_path: Path, family: str) -> None:
    """Eight times the size costs about eight times the time, within a factor of three for a busy
    machine (quadratic would be 64x): AWS pairs on one line took 46 s at 4 MB, Proc-Type lines 5 s
    per MB. Each size is timed at its best of three."""
    make: Callable[[int], bytes] = FAMILIES[family]
    small = min(scan_seconds(tmp_path, make(256 * 1024)) for _ in range(3))
    large = min(scan_seconds(tmp_path, make(2 * 1024 * 1024)) for _ in range(3))
    assert large < 24 * small + 0.5, (small, large)
    assert large < 10


def test_naming_each_anchor_once_costs_about_what_plain_text_costs(tmp_path: Path) -> None:
    """Every row whose anchor a file holds runs its pattern over the whole file: each pattern must
    open with a literal, which sre finds at memchr-like speed (an optional "aws_" before a secret's
    name, three base64 alignments in one alternation, an optional 0x before hex digits had sre try
    them at every byte: about 30 ms per MB each, 0.2 s for these 2 MB)."""
    size = 2 * 1024 * 1024
    plain = crafted.PROSE * (size // len(crafted.PROSE))
    prose = min(scan_seconds(tmp_path, plain) for _ in range(3))
    named = min(scan_seconds(tmp_path, crafted.anchors_then_prose(size)) for _ in range(3))
    assert named < 4 * prose + 0.05, (prose, named)


# --- 4. wrapped secrets ----------------------------------------------------------------------


def k8s_secret(name: str, content: bytes) -> bytes:
    """A Kubernetes Secret: its data values are base64 (kubernetes.io/docs/concepts/configuration/
    secret: "The values for all keys in the data field have to be base64-encoded strings")."""
    value = base64.b64encode(content).decode()
    return (f"apiVersion: v1\nkind: Secret\nmetadata:\n  name: chef\ntype: Opaque\ndata:\n"
            f"  {name}: {value}\n").encode()


def jwk_set() -> bytes:
    return json.dumps({"keys": [keymaterial.json_web_key("RSA")]}, indent=2).encode()


def aws_secret() -> str:
    """A made-up secret access key: 30 random bytes in base64, as AWS issues them."""
    while True:
        secret = base64.b64encode(os.urandom(30)).decode()
        if all(any(test(c) for c in secret) for test in (str.isupper, str.islower, str.isdigit)):
            return secret


def aws_key_id() -> str:
    return "AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))


@pytest.mark.parametrize("wrapped", ["jwk", "putty", "credentials"])
def test_keys_base64_encoded_in_a_kubernetes_secret_are_found(tmp_path: Path, wrapped: str) -> None:
    """Caught in plain text, these passed once base64-encoded as a Secret's data value."""
    if wrapped == "jwk":
        content = jwk_set()
    elif wrapped == "putty":
        content = keymaterial.putty_key(3)
    else:
        content = f"[default]\naws_secret_access_key = {aws_secret()}\n".encode()
    (tmp_path / "secret.yaml").write_bytes(k8s_secret("value", content))
    code, out = hook(tmp_path, ["secret.yaml"])
    assert code == 1, out
    assert out.startswith("secret.yaml:7: ") and "base64-encoded" in out.splitlines()[0]


NAMED_SECRETS = {
    "credentials": "[default]\naws_secret_access_key = {secret}\nregion = eu-west-1\n",
    ".env": "AWS_DEFAULT_REGION=eu-west-1\nAWS_SECRET_ACCESS_KEY={secret}\n",
    "deploy.sh": 'export AWS_SECRET_ACCESS_KEY="{secret}"\n',
    "config.yml": "aws:\n  aws_secret_access_key: '{secret}'\n",
    "keys.json": '{{\n  "AccessKey": {{\n    "SecretAccessKey": "{secret}"\n  }}\n}}\n',
    "knife.rb": "knife[:aws_secret_access_key] = '{secret}'\n",
    "s3.rb": "Aws.config.update(secret_access_key: \"{secret}\")\n",
    "hash.rb": ':aws_secret_access_key => "{secret}",\n',
    # (the AWS SDK for JavaScript's credentials options: accessKeyId, secretAccessKey)
    "s3.js": "const s3 = new S3({{ accessKeyId: id, secretAccessKey: '{secret}' }});\n",
}


@pytest.mark.parametrize("name", sorted(NAMED_SECRETS))
def test_an_aws_secret_assigned_by_its_name_alone_is_found(tmp_path: Path, name: str) -> None:
    """No key id near it to pair with: its well-known name is what git-secrets goes by
    (awslabs/git-secrets, git-secrets: the `(AWS|aws|Aws)?_?(SECRET|secret|Secret)?_?(ACCESS|
    access|Access)?_?(KEY|key|Key)` assignment pattern)."""
    text = NAMED_SECRETS[name].format(secret=aws_secret())
    (tmp_path / name).write_text(text, "utf-8")
    code, out = hook(tmp_path, [name])
    assert code == 1, out
    line = next(n for n, row in enumerate(text.splitlines(), 1) if "ecret" in row.lower())
    assert out.startswith(f"{name}:{line}: AWS secret access key (assigned by its name)")


def test_documentation_example_keys_and_placeholders_still_pass(tmp_path: Path) -> None:
    """AWS's documented example pair (docs.aws.amazon.com, cli-configure-files) and names
    assigned what is no key."""
    files = {
        "credentials": "[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\n"
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n",
        ".env": "AWS_SECRET_ACCESS_KEY=${AWS_SECRET_ACCESS_KEY}\n",
        "deploy.sh": 'export AWS_SECRET_ACCESS_KEY="$(aws configure get secret)"\n',
        "sha.txt": "aws_secret_access_key = 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12\n",
        "secret.yaml": k8s_secret("AWS_SECRET_ACCESS_KEY",
                                  b"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY").decode(),
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text, "utf-8")
    assert hook(tmp_path, list(files)) == (0, "")


def test_a_named_secret_beside_its_key_id_is_reported_once(tmp_path: Path) -> None:
    text = (f"[default]\naws_access_key_id = {aws_key_id()}\n"
            f"aws_secret_access_key = {aws_secret()}\n")
    (tmp_path / "credentials").write_text(text, "utf-8")
    code, out = hook(tmp_path, ["credentials"])
    assert code == 1
    assert [line.split(": ")[0] for line in out.splitlines()[::2]] == ["credentials:2"]


def test_a_named_secret_base64_encoded_in_a_kubernetes_secret_is_found(tmp_path: Path) -> None:
    (tmp_path / "secret.yaml").write_bytes(
        k8s_secret("AWS_SECRET_ACCESS_KEY", aws_secret().encode())
    )
    code, out = hook(tmp_path, ["secret.yaml"])
    assert code == 1, out
    assert "AWS secret access key (assigned by its name), base64-encoded" in out


# --- 5. formats not yet covered ----------------------------------------------------------------


@pytest.mark.parametrize("encrypted", [False, True])
def test_a_microsoft_pvk_key_is_found(tmp_path: Path, encrypted: bool) -> None:
    """PVK as `openssl rsa -outform PVK` writes it (openssl-rsa(1): -pvk-none writes it plain;
    encryption needs RC4, from OpenSSL 3's legacy provider)."""
    openssl = keymaterial.require("openssl")
    (tmp_path / "key.pem").write_bytes(key())
    protection = (["-passout", "pass:correct horse", "-provider", "legacy", "-provider", "default"]
                  if encrypted else ["-pvk-none"])
    subprocess.run([openssl, "rsa", "-in", "key.pem", "-outform", "PVK", *protection, "-out",
                    "signing.pvk"], cwd=tmp_path, check=True, capture_output=True)
    (tmp_path / "renamed.bin").write_bytes((tmp_path / "signing.pvk").read_bytes())
    code, out = hook(tmp_path, ["renamed.bin"])
    assert code == 1, out
    kind = "Microsoft PVK private key" + (" (encrypted)" if encrypted else "")
    assert out.startswith(f"renamed.bin:1: {kind}\n")



def wireguard_key() -> str:
    """What `wg genkey` prints (wg(8): "Generates a random private key in base64"): 32 random
    bytes, clamped as a Curve25519 private key, in base64."""
    key = bytearray(os.urandom(32))
    key[0] &= 248
    key[31] = (key[31] & 127) | 64
    return base64.b64encode(bytes(key)).decode()


def test_a_wireguard_private_key_is_found_and_public_keys_pass(tmp_path: Path) -> None:
    """A wg-quick configuration (wg(8), CONFIGURATION FILE FORMAT: "PrivateKey — a base64
    private key generated by wg genkey"; a peer's PublicKey and PresharedKey are the same shape)."""
    peer = f"[Peer]\nPublicKey = {wireguard_key()}\nPresharedKey = {wireguard_key()}\n"
    interface = f"[Interface]\nAddress = 10.8.0.1/24\nPrivateKey = {wireguard_key()}\n\n"
    (tmp_path / "wg0.conf").write_text(interface + peer)
    (tmp_path / "peer.conf").write_text(peer)
    code, out = hook(tmp_path, ["wg0.conf", "peer.conf"])
    assert code == 1, out
    assert out.startswith("wg0.conf:3: WireGuard private key\n"), out
    assert "peer.conf" not in out


@pytest.mark.parametrize("kind", ["rsa", "ec"])
def test_a_der_key_in_base64url_is_found(tmp_path: Path, kind: str) -> None:
    """JOSE libraries write a key's DER in base64url (RFC 4648, section 5: "-" and "_" for "+"
    and "/", no padding); the key's text then holds at least one of them."""
    while True:
        private_key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else (
            ec.generate_private_key(ec.SECP256R1())
        )
        der = private_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        text = base64.urlsafe_b64encode(der).rstrip(b"=").decode()
        if "-" in text[:-4] or "_" in text[:-4]:
            break
    (tmp_path / "key.json").write_text(json.dumps({"alg": "RS256", "privateKey": text}, indent=1))
    code, out = hook(tmp_path, ["key.json"])
    assert code == 1, out
    assert out.startswith("key.json:3: private key (PKCS#8), base64-encoded"), out


@pytest.mark.parametrize(
    "kind", ["OKP-Ed25519", "OKP-Ed448", "OKP-X25519", "OKP-X448", "EC-secp256k1"]
)
def test_okp_and_secp256k1_json_web_keys_are_found_and_public_ones_pass(
    tmp_path: Path, kind: str
) -> None:
    """RFC 8037 (OKP: "d" is the private key, base64url) and RFC 8812 (secp256k1) keys, as a JWK
    set: none holds the AQAB or P-256 the RSA and EC rows go by."""
    for private in (True, False):
        jwks = {"keys": [keymaterial.json_web_key(kind, private=private)]}
        (tmp_path / "jwks.json").write_text(json.dumps(jwks, indent=2))
        code, out = hook(tmp_path, ["jwks.json"])
        if private:
            assert code == 1, out
            assert out.startswith("jwks.json:4: private JSON Web Key (JWK)"), out
        else:
            assert (code, out) == (0, ""), out


@pytest.mark.parametrize(
    "command",
    [["bzip2", "-9"], ["bzip2", "-1"], ["xz"], ["xz", "--check=crc32"], ["xz", "--check=none"]],
)
def test_a_key_compressed_then_base64_encoded_is_found(tmp_path: Path, command: list[str]) -> None:
    """A key compressed by the real bzip2(1) or xz(1) (xz's default check is CRC64), then kept
    in base64 as a Kubernetes Secret's value."""
    compressed = subprocess.run(
        [keymaterial.require(command[0]), *command[1:], "-c"],
        input=key(),
        capture_output=True,
        check=True,
    ).stdout
    (tmp_path / "secret.yaml").write_bytes(k8s_secret("backup", compressed))
    code, out = hook(tmp_path, ["secret.yaml"])
    assert code == 1, out
    assert out.startswith("secret.yaml:7: RSA private key"), out
    assert "compressed, base64-encoded" in out.splitlines()[0], out
