"""forbid-chef-secrets: every way a key reaches a repository is refused, nothing public is.

All key material is generated at test time (``keymaterial``); the hook runs in-process via ``main``.
"""

from __future__ import annotations

import base64
import bz2
import gzip
import io
import json
import lzma
import os
import quopri
import re
import secrets
import subprocess
import tarfile
import tempfile
import time
import urllib.parse
import zipfile
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from pre_commit_hooks import forbid_chef_secrets
from pre_commit_hooks.forbid_chef_secrets import main
from pre_commit_hooks.key_detection import encoded, expressions, rows, scanning
from pre_commit_hooks.key_detection.der import DER_KEY_HEADS
from tests import keymaterial

Run = Callable[..., tuple[int, str]]
RSA = "rsa-pkcs1"
# pyproject's norecursedirs replaces pytest's defaults, so a .hypothesis directory left in the
# checkout becomes a collection warning (an error under filterwarnings=error) on the next run.
set_hypothesis_home_dir(tempfile.mkdtemp(prefix="hypothesis-"))
KIT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def run(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Run:
    """``run({name: content, ...})`` writes the files under tmp_path and runs the hook over them
    (relative paths, as pre-commit passes them); returns (exit code, stdout)."""

    def _run(files: dict[str, bytes]) -> tuple[int, str]:
        for name, content in files.items():
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_bytes(content)
        cwd = Path.cwd()
        os.chdir(tmp_path)
        try:
            code = main(list(files))
        finally:
            os.chdir(cwd)
        return code, capsys.readouterr().out

    return _run


def key(name: str = RSA) -> bytes:
    return keymaterial.private_keys()[name]


def indented(text: bytes, prefix: bytes) -> bytes:
    return b"".join(prefix + line for line in text.splitlines(keepends=True))


def concatenated(text: bytes, opening: bytes, closing: bytes) -> bytes:
    """A string built from one literal per line, as Ruby, Java or Python source would write it."""
    literals = [opening + b'"' + line + b'\\n"' for line in text.splitlines()]
    return closing.join(literals) + b"\n"


def k8s_secret(content: bytes) -> bytes:
    """A Kubernetes Secret holding ``content`` (kubernetes.io/docs/concepts/configuration/secret:
    "The values for all keys in the data field have to be base64-encoded strings")."""
    data = base64.b64encode(content)
    return (
        b"apiVersion: v1\nkind: Secret\nmetadata:\n  name: chef\ndata:\n  client.pem: "
        + data
        + b"\n"
    )


def zipped(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
        archive.writestr(name, content)
    return buffer.getvalue()


def tarred(name: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


PREFIX = b"# deploy settings\nname: chef\n"  # the key starts on line 3 of every embedding below

# name -> (file name, content made from a PEM key, the key's line, words the finding must contain)
EMBEDDINGS: dict[str, Callable[[bytes], tuple[str, bytes, int]]] = {
    "plain": lambda pem: ("id_rsa", PREFIX + pem, 3),
    "crlf": lambda pem: ("key.pem", (PREFIX + pem).replace(b"\n", b"\r\n"), 3),
    "far-down": lambda pem: ("notes.md", PREFIX.replace(b"\n", b"\n" * 200_001, 1) + pem, 200_003),
    "json-data-bag": lambda pem: (
        "data_bags/users/deploy.json",
        b'{\n  "id": "deploy",\n  "ssh_private_key": '
        + json.dumps(pem.decode()).encode()
        + b"\n}\n",
        3,
    ),
    "json-twice-escaped": lambda pem: (
        "knife.json",
        b"{\n\n" + json.dumps({"creds": json.dumps({"key": pem.decode()})}).encode() + b"}",
        3,
    ),
    "json-escaped-slashes": lambda pem: (
        "credentials.json",
        PREFIX + json.dumps(pem.decode()).replace("/", "\\/").encode(),
        3,
    ),
    "yaml-block-scalar": lambda pem: (
        "roles/deploy.yml",
        b"deploy:\n  key: |\n" + indented(pem, b"    "),
        3,
    ),
    "ruby-heredoc": lambda pem: (
        "recipes/default.rb",
        b"file '/etc/key' do\n  content <<~KEY\n" + indented(pem, b"    ") + b"  KEY\nend\n",
        3,
    ),
    "ruby-concatenation": lambda pem: (
        "attributes/x.rb",
        PREFIX + concatenated(pem, b"  ", b" +\n"),
        3,
    ),
    "python-implicit-concatenation": lambda pem: (
        "x.py",
        PREFIX + concatenated(pem, b"    ", b"\n"),
        3,
    ),
    "java-concatenation": lambda pem: ("X.java", PREFIX + concatenated(pem, b"\t", b" +\n"), 3),
    "one-line-spaces": lambda pem: ("env", PREFIX + b"KEY=" + pem.replace(b"\n", b" ") + b"\n", 3),
    "python-bytes-concatenation": lambda pem: (
        "keys.py",
        PREFIX + concatenated(pem, b"    b", b"\n"),
        3,
    ),
    "numbered-lines": lambda pem: (  # as `cat -n` prints it
        "paste.txt",
        b"".join(b"%6d\t%s\n" % line for line in enumerate((PREFIX + pem).splitlines(), 1)),
        3,
    ),
    "html-line-breaks": lambda pem: (
        "wiki.html",
        PREFIX + b"<p>" + pem.replace(b"\n", b"<br>") + b"</p>\n",
        3,
    ),
    "quoted-printable": lambda pem: ("mail.eml", PREFIX + quopri.encodestring(pem), 3),
    "url-encoded": lambda pem: ("url.txt", PREFIX + b"key=" + urllib.parse.quote(pem).encode(), 3),
    "html-entities": lambda pem: (
        "a.xml",
        PREFIX + b'<k v="' + pem.replace(b"\n", b"&#10;") + b'"/>',
        3,
    ),
    "base64-k8s-secret": lambda pem: ("secret.yaml", k8s_secret(pem), 6),
    "base64-wrapped-any-alignment": lambda pem: (
        "blob.b64",
        PREFIX + base64.encodebytes(b"knife config follows:\n" + pem),
        3,
    ),
    "utf-16-le": lambda pem: (
        "k.txt",
        "\ufeff".encode("utf-16-le") + (PREFIX + pem).decode().encode("utf-16-le"),
        3,
    ),
    "utf-16-be": lambda pem: ("k.txt", (PREFIX + pem).decode().encode("utf-16-be"), 3),
    "gzip": lambda pem: ("backup.gz", gzip.compress(pem), 1),
    "bzip2": lambda pem: ("backup.bz2", bz2.compress(pem), 1),
    "xz": lambda pem: ("backup.xz", lzma.compress(pem), 1),
    "zip": lambda pem: ("keys.zip", zipped("client.pem", pem), 1),
    "jar": lambda pem: ("app.jar", zipped("config/key.pem", pem), 1),
    "tar-gz": lambda pem: ("cookbook.tar.gz", gzip.compress(tarred("files/key", pem)), 1),
    "gzip-base64-in-yaml": lambda pem: (
        "configmap.yaml",
        PREFIX + b"binaryData: " + base64.b64encode(gzip.compress(pem)) + b"\n",
        3,
    ),
}


@pytest.mark.parametrize("key_name", sorted(keymaterial.private_keys()))
def test_every_pem_key_kind_is_found(run: Run, key_name: str) -> None:
    code, out = run({"id_key": key(key_name)})
    assert code == 1
    assert out.startswith("id_key:1: ")
    assert "private key" in out.splitlines()[0]


@pytest.mark.parametrize("key_name", [RSA, "openssh-ed25519", "ec-pkcs8", "rsa-legacy-encrypted"])
@pytest.mark.parametrize("embedding", sorted(EMBEDDINGS))
def test_keys_are_found_however_they_are_embedded(run: Run, embedding: str, key_name: str) -> None:
    name, content, line = EMBEDDINGS[embedding](key(key_name))
    code, out = run({name: content})
    assert code == 1, out
    assert out.splitlines()[0].startswith(f"{name}:{line}: "), out
    assert "private key" in out


@pytest.mark.parametrize(
    ("name", "content", "kind"),
    [
        ("v2.ppk", lambda: keymaterial.putty_key(2), "PuTTY private key (version 2)"),
        ("v3.ppk", lambda: keymaterial.putty_key(3, "ed25519"), "PuTTY private key (version 3)"),
        ("v3-encrypted.ppk", lambda: keymaterial.putty_key(3, encrypted=True), "PuTTY private key"),
        ("ssh2", lambda: keymaterial.putty_key(3, output="private-sshcom"), "SSH2 private key"),
        ("deploy.asc", keymaterial.pgp_key, "PGP private key"),
        ("secring.gpg", lambda: keymaterial.pgp_key(armor=False), "PGP private key"),
        (
            "ppk.json",
            lambda: json.dumps({"k": keymaterial.putty_key(3).decode()}).encode(),
            "PuTTY",
        ),
        ("pgp.yaml", lambda: b"gpg: |\n" + indented(keymaterial.pgp_key(), b"  "), "PGP"),
        ("store.p12", keymaterial.pkcs12_store, "PKCS#12 key store"),
        ("keytool.p12", lambda: keymaterial.java_keystore("PKCS12"), "PKCS#12 key store"),
        ("test/integration/data_bag_key", lambda: os.urandom(256).hex().encode(), "data bag"),
        ("store.pfx", keymaterial.pkcs12_store, "PKCS#12 key store"),
        ("keystore.jks", keymaterial.java_keystore, "Java key store"),
        ("keystore.jceks", lambda: keymaterial.java_keystore("JCEKS"), "Java key store"),
        ("keystore.yaml", lambda: k8s_secret(keymaterial.java_keystore()), "Java key store"),
        ("p12.yaml", lambda: k8s_secret(keymaterial.pkcs12_store()), "PKCS#12"),
        ("aws", lambda: aws_credentials(), "AWS access key id with its secret access key"),
        ("encrypted_data_bag_secret", lambda: os.urandom(384).hex().encode(), "data bag secret"),
        (
            ".chef/prod/private.pem",
            lambda: b"not pem at all\n",
            ".pem under .chef/ that is no certificate",
        ),
        (".chef/prod/private.pem", lambda: key(), "RSA private key"),
    ],
)
def test_other_key_formats_and_credentials_are_found(
    run: Run, name: str, content: Callable[[], bytes], kind: str
) -> None:
    code, out = run({name: content()})
    assert code == 1
    assert out.startswith(f"{name}:")
    assert kind in out


@pytest.mark.parametrize("der_name", sorted(keymaterial.der_keys()))
@pytest.mark.parametrize("file_name", ["key.der", "build.dat", "no-extension"])
def test_binary_keys_are_found_whatever_the_file_is_called(
    run: Run, der_name: str, file_name: str
) -> None:
    code, out = run({file_name: keymaterial.der_keys()[der_name]})
    assert code == 1
    assert out.startswith(f"{file_name}:1: ")


def der(tag: int, content: bytes) -> bytes:
    """A DER element, its length in the short or the long form as DER requires."""
    length = len(content)
    if length < 0x80:
        return bytes([tag, length]) + content
    size = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + content


def key_store_over_64_kib() -> bytes:
    """A PKCS#12-shaped store (version 3, then data content holding a shrouded key bag) so large
    its length takes 3 bytes; the others cover the short, 1-byte and 2-byte length forms."""
    data_oid = der(0x06, bytes.fromhex("2a864886f70d010701"))
    key_bag = der(0x30, der(0x06, bytes.fromhex("2a864886f70d010c0a0102")) + os.urandom(70_000))
    content = der(0xA0, der(0x04, der(0x30, key_bag)))
    return der(0x30, der(0x02, b"\x03") + der(0x30, data_oid + content))


def der_material() -> dict[str, bytes]:
    return {**keymaterial.der_keys(), "pkcs12-over-64-kib": key_store_over_64_kib()}


def wrapped_in_json(text: bytes) -> bytes:
    return b"\\n".join(text[i : i + 64] for i in range(0, len(text), 64))


# The hex styles the hex row reads: (what comes before each byte's digits, between two bytes).
HEX_STYLES = {
    "plain": (b"", b""),  # xxd -p, a Go string
    "spaced": (b"", b" "),
    "c-array": (b"0x", b", "),  # xxd -i
    "escaped": (b"\\x", b""),  # a Python, C or Ruby string
}


def hex_text(data: bytes, style: str, *, upper: bool = False) -> bytes:
    prefix, separator = HEX_STYLES[style]
    return separator.join(prefix + (b"%02X" if upper else b"%02x") % byte for byte in data)


def c_array(data: bytes, *, upper: bool = False) -> bytes:
    return b"char key_der[] = {" + hex_text(data, "c-array", upper=upper) + b"};\n"


# name -> (file name, content holding a DER key, the line its finding names; 0: any)
DER_EMBEDDINGS: dict[str, Callable[[bytes], tuple[str, bytes, int]]] = {
    "in-binary-data": lambda der_key: ("blob.bin", os.urandom(999) + der_key + os.urandom(99), 0),
    "base64-yaml-value": lambda der_key: (
        "values.yaml",
        PREFIX + b"key: " + base64.b64encode(der_key) + b"\n",
        3,
    ),
    "base64-wrapped-json-string": lambda der_key: (
        "bag.json",
        PREFIX + b'{"key": "' + wrapped_in_json(base64.b64encode(der_key)) + b'"}\n',
        3,
    ),
    "hex-lines": lambda der_key: (  # xxd -p
        "key.hex",
        PREFIX + re.sub(rb"(.{60})", rb"\1\n", hex_text(der_key, "plain")) + b"\n",
        3,
    ),
    "c-array": lambda der_key: (  # xxd -i
        "key.h",
        PREFIX + c_array(der_key, upper=True),
        3,
    ),
    "escaped-bytes": lambda der_key: (
        "key.py",
        PREFIX + b'KEY = b"' + hex_text(der_key, "escaped") + b'"\n',
        3,
    ),
}


@pytest.mark.parametrize("der_name", sorted(der_material()))
@pytest.mark.parametrize("embedding", sorted(DER_EMBEDDINGS))
def test_der_keys_of_every_kind_and_length_form_are_found_inside_other_files(
    run: Run, der_name: str, embedding: str
) -> None:
    name, content, line = DER_EMBEDDINGS[embedding](der_material()[der_name])
    code, out = run({name: content})
    assert code == 1, out
    assert out.startswith(f"{name}:{line}: " if line else f"{name}:"), out
    assert ("key store" if "pkcs12" in der_name else "private key") in out.splitlines()[0]


def aws_credentials(key_id: str = "", secret: str = "") -> bytes:
    """A credentials file with a made-up (but real-looking) key pair, as the AWS CLI writes it
    (AWS CLI User Guide, "Configuration and credential file settings": ~/.aws/credentials), with
    a key id of AKIA and 16 upper-case letters and digits (IAM User Guide, "IAM identifiers":
    "Understanding unique ID prefixes", AKIA for an access key)."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    key_id = key_id or "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    secret = secret or base64.b64encode(os.urandom(30)).decode()
    return f"[default]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n".encode()


def encrypted_data_bag_item() -> bytes:
    """A Chef encrypted data bag item (version 3): ciphertext, meant to be committed."""
    nonce = os.urandom(12)
    sealed = AESGCM(os.urandom(32)).encrypt(
        nonce, json.dumps({"json_wrapper": "s3cr3t"}).encode(), None
    )
    field = {
        "encrypted_data": base64.b64encode(sealed[:-16]).decode(),
        "iv": base64.b64encode(nonce).decode(),
        "auth_tag": base64.b64encode(sealed[-16:]).decode(),
        "version": 3,
        "cipher": "aes-256-gcm",
    }
    return json.dumps({"id": "deploy", "password": field}, indent=2).encode()


PROSE = (
    b"# Keys\n\n-----BEGIN RSA PRIVATE KEY----- is what a key starts with; never commit one.\n"
    b"A file that starts with `-----BEGIN OPENSSH PRIVATE KEY-----` belongs in S3, as do the\n"
    b"ones that begin with -----BEGIN PRIVATE KEY----- and end with -----END PRIVATE KEY-----.\n"
    b"```\n-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA...\n"
    b"-----END RSA PRIVATE KEY-----\n```\n"
    b"PuTTY-User-Key-File-3: ssh-ed25519 is the first line of a .ppk file.\n"
)


def asn1_look_alikes() -> list[bytes]:
    """DER that opens as keys do but is none: a certificate policy's notice numbers (a SEQUENCE
    of small INTEGERs, version 1 and 0), a versioned hash with no curve, an LDAP paging control,
    a digest in a PKCS#8-shaped SEQUENCE (its algorithm is SHA-256, no key's)."""
    numbers = [der(0x30, b"".join(der(0x02, bytes([i])) for i in span)) for span in (
        range(1, 10), range(0, 6)
    )]
    sha256 = der(0x30, der(0x06, bytes.fromhex("608648016503040201")) + der(0x05, b""))
    return [
        *numbers,
        der(0x30, der(0x02, b"\x01") + der(0x04, os.urandom(32))),
        bytes(8) + der(0x30, der(0x02, b"\x01") + der(0x04, os.urandom(24))),
        der(0x30, der(0x02, b"\x00") + sha256 + der(0x04, bytes(32))),
    ]


# JSON Web Keys and an RSAKeyValue as documentation writes them: placeholders, no private number.
JWK_PLACEHOLDERS = b"""
{"kty": "EC", "crv": "P-256", "x": "..", "d": "base64url-encoded-private-key-goes-here"}
{"kty": "RSA", "n": "...", "e": "AQAB", "d": "XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"}
<RSAKeyValue><Exponent>AQAB</Exponent><D>Base64 encoded private exponent goes here</D></RSAKeyValue>
"""


def jwk_with_nested_d() -> bytes:
    """A public JWK whose first member is an object with a "d" of its own."""
    public = keymaterial.json_web_key("RSA", private=False)
    meta = {"d": base64.urlsafe_b64encode(os.urandom(36)).decode()}
    return json.dumps({"keys": [{"meta": meta, **public}]}).encode()


# A header constant over code whose words are long: no key body.
GO_KEY_PARSER = b"""package keys

const rsaHeader = "-----BEGIN RSA PRIVATE KEY-----"

func LoadPrivateKeyFromEnvironment(environmentVariableName string) (*rsa.PrivateKey, error) {
\tprivateKeyPEMContents := os.Getenv(environmentVariableName)
\tdecodedPEMBlock, _ := pem.Decode([]byte(privateKeyPEMContents))
\treturn x509.ParsePKCS1PrivateKey(decodedPEMBlock.Bytes)
}
"""


def snmp_capture() -> bytes:
    """SNMP GetRequests (SNMPv2c, community "public") after a capture file's header: each opens as
    an EC private key does (a SEQUENCE, the INTEGER 1, an OCTET STRING, then [0])."""
    variable = der(0x30, der(0x30, der(0x06, bytes.fromhex("2b06010201010100")) + der(0x05, b"")))
    pdu = der(0xA0, der(0x02, b"\x12\x34") + der(0x02, b"\x00") + der(0x02, b"\x00") + variable)
    return bytes(24) + der(0x30, der(0x02, b"\x01") + der(0x04, b"public") + pdu) * 3


@pytest.mark.parametrize(
    ("name", "content"),
    [
        *(
            (name, lambda value=value: value)
            for name, value in keymaterial.public_material().items()
        ),
        (
            "bundle.pem",
            lambda: b"".join(
                keymaterial.public_material()[n] for n in ("certificate.pem", "request.csr")
            ),
        ),
        (
            "cert.json",
            lambda: json.dumps(
                {"ca": keymaterial.public_material()["certificate.pem"].decode()}
            ).encode(),
        ),
        ("cert.yaml", lambda: k8s_secret(keymaterial.public_material()["certificate.pem"])),
        ("certs.zip", lambda: zipped("ca.pem", keymaterial.public_material()["certificate.pem"])),
        ("truststore.jks", lambda: keymaterial.java_keystore(with_key=False)),
        ("truststore.p12", lambda: keymaterial.java_keystore("PKCS12", with_key=False)),
        ("pubring.gpg", lambda: keymaterial.pgp_key(secret=False, armor=False)),
        ("KEYS.asc", lambda: keymaterial.pgp_key(secret=False)),
        ("ca-bundle.p12", keymaterial.certificates_only_pkcs12),
        ("capture.bin", lambda: snmp_capture()),
        ("keyparser.go", lambda: GO_KEY_PARSER),
        ("schema.json", lambda: b'{"kty": "RSA", "e": "AQAB", "d": "the_private_exponent"}\n'),
        ("capture.pcap", lambda: bytes(24) + b"".join(asn1_look_alikes())),
        ("asn1_vectors.h", lambda: c_array(b"".join(asn1_look_alikes()))),
        ("jwk-docs.md", lambda: JWK_PLACEHOLDERS),
        ("jwks.json", lambda: jwk_with_nested_d()),
        (
            "recipes/encrypted_data_bag_secret.rb",
            lambda: b"file '/etc/chef/encrypted_data_bag_secret' do\n  sensitive true\nend\n",
        ),
        ("templates/default/encrypted_data_bag_secret.erb", lambda: b"<%= @secret %>\n"),
        ("README.md", lambda: PROSE),
        ("README.utf16", lambda: PROSE.decode().encode("utf-16")),
        (".chef/knife.rb", lambda: b"client_key '.chef/prod/private.pem'\nnode_name 'deploy'\n"),
        ("client.rb", lambda: b"encrypted_data_bag_secret '/etc/chef/encrypted_data_bag_secret'\n"),
        ("data_bags/users/deploy.json", encrypted_data_bag_item),
        (".chef/ca_certs/chef.pem", lambda: keymaterial.public_material()["certificate.pem"]),
        (".chef/prod/server.pem", lambda: keymaterial.public_material()["certificate.pem"]),
        ("encrypted_data_bag_secret", lambda: b""),
        (
            "aws-docs",
            lambda: aws_credentials(
                "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
            ),
        ),
        ("key-id-alone", lambda: b"user AKIAZ2345ZZZZZ6ZZZZZ has no secret here\n"),
        (
            "hashes",
            lambda: (
                b"AKIAZ2345ZZZZZ6ZZZZZ\n"
                + b"\n".join(os.urandom(20).hex().encode() for _ in range(9))
            ),
        ),
        ("random.b64", lambda: base64.encodebytes(os.urandom(64 * 1024))),
        ("random.bin", lambda: os.urandom(64 * 1024)),
        ("empty", lambda: b""),
        ("invalid-utf8.txt", lambda: b"caf\xe9 \xff\xfe\xfd\n" * 100),
    ],
)
def test_public_material_prose_and_ordinary_data_pass(
    run: Run, name: str, content: Callable[[], bytes]
) -> None:
    assert run({name: content()}) == (0, "")


FAKE_KEY = (
    b"-----BEGIN RSA PRIVATE KEY-----\n" + b"QUJD" * 48 + b"\n-----END RSA PRIVATE KEY-----\n"
)


def test_an_unreadable_key_body_is_a_suspicion_a_marker_allows(run: Run) -> None:
    code, out = run({"fixture.pem": FAKE_KEY})
    assert code == 1
    assert "RSA PRIVATE KEY block whose body is not a readable key" in out
    assert "pragma: allowlist secret" in out
    allowed = FAKE_KEY.replace(b"KEY-----\n", b"KEY----- # pragma: allowlist secret\n", 1)
    assert run({"fixture.pem": allowed}) == (0, "")


def test_an_aws_key_pair_is_allowed_by_a_marker_on_the_key_id_line(run: Run) -> None:
    credentials = aws_credentials()
    assert run({"credentials": credentials})[0] == 1
    marked = credentials.replace(b"\naws_secret", b"  # pragma: allowlist secret\naws_secret")
    assert run({"credentials": marked}) == (0, "")


@pytest.mark.parametrize("embedding", ["plain", "json-data-bag", "yaml-block-scalar"])
def test_no_marker_silences_a_key_that_parses(run: Run, embedding: str) -> None:
    name, content, _ = EMBEDDINGS[embedding](key())
    marked = content.replace(b"KEY-----", b"KEY----- pragma: allowlist secret", 1)
    code, out = run(
        {
            name: b"# pragma: allowlist secret\n"
            + marked.replace(b"\n", b" # pragma: allowlist secret\n")
        }
    )
    assert code == 1
    assert "RSA private key (PKCS#1)" in out
    assert "allowlist" not in out


def test_every_file_and_every_key_is_reported_with_how_to_take_it_out(run: Run) -> None:
    code, out = run(
        {
            "a key.pem": key(),
            "clean.txt": b"hello\n",
            "ключ.json": json.dumps([key().decode()] * 2).encode(),
        }
    )
    assert code == 1
    lines = out.splitlines()
    assert [line.split(": ")[0] for line in lines[::2]] == [
        "a key.pem:1",
        "ключ.json:1",
        "ключ.json:1",
    ]
    assert "git rm --cached -- 'a key.pem'" in lines[1]
    assert all(".gitignore" in line and "rotated" in line for line in lines[1::2])


def test_keys_across_chunk_boundaries_are_each_found_once(
    run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forbid_chef_secrets, "CHUNK", 64 * 1024)
    filler = b"x" * 99 + b"\n"
    body = (
        filler * 650
        + key()
        + filler * 5
        + key(RSA).replace(b"\n", b"\r\n")
        + filler * 700
        + key("ec-sec1")
    )
    expected = [651, 651 + key().count(b"\n") + 5, 651 + 2 * key().count(b"\n") + 705]
    code, out = run({"long.log": body})
    assert code == 1
    assert [int(line.split(":")[1]) for line in out.splitlines()[::2]] == expected


# Secrets whose rows test only the block of a long file where their squeezed forms fall: what
# makes one, the index of the line it is reported on, and what the report says. Their shapes: an
# AWS credentials file (AWS CLI User Guide, "Configuration and credential file settings"); the
# "SecretAccessKey" member `aws iam create-access-key` prints (IAM API Reference, CreateAccessKey,
# AccessKey); JSON Web Keys (RFC 7517, RFC 7518 section 6); a Kubernetes Secret's base64 data
# (kubernetes.io/docs/concepts/configuration/secret); keys from keymaterial (cryptography, and
# puttygen for the PuTTY key).
BLOCK_SECRETS: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "pem": (key, 0, "RSA private key"),
    "aws-pair": (lambda: aws_credentials(), 1, "AWS access key id with its secret access key"),
    "aws-named-lower": (
        lambda: aws_credentials().split(b"\n", 2)[2],
        0,
        "AWS secret access key (assigned by its name)",
    ),
    "aws-named-camel": (
        lambda: b'"SecretAccessKey": "%s"\n' % base64.b64encode(os.urandom(30)),
        0,
        "AWS secret access key (assigned by its name)",
    ),
    "jwk": (
        lambda: json.dumps(keymaterial.json_web_key("EC")).encode() + b"\n",
        0,
        "private JSON Web Key",
    ),
    "jwk-in-k8s-secret": (
        lambda: k8s_secret(json.dumps(keymaterial.json_web_key("RSA")).encode()),
        5,
        "base64-encoded",
    ),
    "pem-in-k8s-secret": (lambda: k8s_secret(key()), 5, "base64-encoded"),
    "putty": (lambda: keymaterial.putty_key(3, "ed25519"), 0, "PuTTY private key"),
}
# Squeezed, this line holds many rows' forms (BEGIN..PRIVATE, PTTYUKF, AKIA, AQAB, SAK, LS0..., H4I,
# JHO, I0SI6, P256); the line itself holds nothing any row's test looks for.
DECOY = (
    b"B-E-G-I-N P-R-I-V-A-T-E P-u-T-T-Y-U-s-e-r-K-e-y-F-i-l-e A-K-I-A A-Q-A-B S-A-K"
    b" L-S-0-t-L-S-1-C-R-U-d-J-T-i H-4-s-I-A J-H-O I-0-S-I-6 P-2-5-6\n"
)


@pytest.mark.parametrize("secret", sorted(BLOCK_SECRETS))
@pytest.mark.parametrize("before_boundary", [-1, 0, 1, 9, 300])
def test_a_secret_on_a_block_boundary_of_a_long_file_is_found(
    run: Run, secret: str, before_boundary: int
) -> None:
    """In a file of more than one block, a row's test reads only the blocks where its squeezed
    forms fall (scanning._present_rows): a secret whose text straddles a block boundary, after
    blocks whose squeezed bytes hold many rows' forms by chance, is still found on its line."""
    squeezed_decoy = DECOY.translate(None, rows.SQUEEZED_OUT)
    assert sum(bool(search(squeezed_decoy)) for search, *_ in scanning._GROUPS) >= 8
    assert run({"decoys.txt": DECOY * (3 * scanning.BLOCK // len(DECOY))}) == (0, "")
    make, index, kind = BLOCK_SECRETS[secret]
    text = b"# " + make()
    start = 2 * scanning.BLOCK - before_boundary
    padding = DECOY * (start // len(DECOY))
    padding += b"#" * (start - len(padding) - 1) + b"\n"
    code, out = run({"long.txt": padding + text + DECOY * 700})
    assert code == 1, out
    first = out.splitlines()[0]
    line = padding.count(b"\n") + 1 + index
    assert first.startswith(f"long.txt:{line}: "), first
    assert kind in first, first


def test_a_100_mb_file_is_scanned_to_its_end_quickly(run: Run) -> None:
    line = b"package 'nginx' do action :install end # BEGIN MII AKIA LS0t \x02\x01\x00\n"
    content = line * (100 * 1024 * 1024 // len(line)) + key()
    started = time.monotonic()
    code, out = run({"big.log": content})
    assert code == 1
    key_line = content.count(b"\n") - key().count(b"\n") + 1
    assert out.startswith(f"big.log:{key_line}: RSA private key")
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(
    "decoy",
    [
        b"\x30\x82\x01\x00\x02\x01\x00\x02",  # a DER private key start, again and again
        b"-----BEGIN RSA PRIVATE KEY-----\n" + b"QUJD" * 16 + b"\n",  # headers over fake bodies
        b"AKIAZ2345ZZZZZ6ZZZZZ x\n",  # a key id per line
        b"MIIB" + b"A" * 60 + b"\n",  # base64 DER starts
        b"0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x00, ",  # one long hex DER start
        b'"kty": "RSA", "e": "AQAB", ',  # JSON Web Key members without a brace
        b"<RSAKeyValue><Exponent>AQAB</Exponent>",  # RSAKeyValue elements never closed
        b"AWS_SECRET_ACCESS_KEY: " + base64.b64encode(b"S" * 40) + b"\n",  # base64 secrets
    ],
)
def test_crafted_files_cost_bounded_work(run: Run, decoy: bytes) -> None:
    started = time.monotonic()
    code, _ = run({"crafted": decoy * (20 * 1024 * 1024 // len(decoy))})
    assert code in (0, 1)
    assert time.monotonic() - started < 30


def test_each_aws_profile_with_a_secret_is_reported(run: Run) -> None:
    profiles = aws_credentials() + b"\n" + aws_credentials().replace(b"default", b"deploy")
    code, out = run({"credentials": profiles})
    assert code == 1
    assert [line.split(": ")[0] for line in out.splitlines()[::2]] == [
        "credentials:2",
        "credentials:6",
    ]


def test_symlinks_directories_and_missing_files_never_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "id_rsa").write_bytes(key())
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "to-key").symlink_to(outside / "id_rsa")
    (repo / "to-nowhere").symlink_to(tmp_path / "missing")
    (repo / "to-dir").symlink_to(outside)
    paths = [str(repo / name) for name in ("to-key", "to-nowhere", "to-dir")]
    assert main([*paths, str(outside)]) == 0  # git commits the link text, not what it points to
    assert capsys.readouterr().out == ""
    assert main([str(tmp_path / "missing")]) == 1
    assert "cannot be read" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["RSA", "EC"])
@pytest.mark.parametrize("escaped", [False, True])
def test_a_private_json_web_key_is_found_and_a_public_one_passes(
    run: Run, kind: str, escaped: bool
) -> None:
    """A JSON Web Key with ``d`` is a private key; in a JSON string its quotes are escaped."""

    def written(private: bool) -> bytes:
        jwks = json.dumps({"keys": [keymaterial.json_web_key(kind, private=private)]}, indent=2)
        return (json.dumps({"jwks": jwks}) if escaped else jwks).encode()

    code, out = run({"jwks.json": written(private=True)})
    assert code == 1
    assert "private JSON Web Key (JWK)" in out
    assert "allowlist" not in out  # proven: no marker silences it
    assert run({"jwks.json": written(private=False)}) == (0, "")


def test_a_dotnet_xml_private_key_is_found_and_a_public_one_passes(run: Run) -> None:
    code, out = run({"App.config": PREFIX + keymaterial.rsa_key_value_xml()})
    assert code == 1
    assert out.startswith("App.config:3: RSA private key (.NET XML)")
    assert run({"App.config": PREFIX + keymaterial.rsa_key_value_xml(private=False)}) == (0, "")


def test_aws_keys_a_screen_apart_or_with_escaped_slashes_are_found(run: Run) -> None:
    key_id = "AKIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    secret = base64.b64encode(os.urandom(30)).decode()
    while "/" not in secret:
        secret = base64.b64encode(os.urandom(30)).decode()
    settings_between = "".join(f"SETTING_{index}=value {index}\n" for index in range(120))
    env = f"AWS_ACCESS_KEY_ID={key_id}\n{settings_between}AWS_SECRET_ACCESS_KEY={secret}\n"
    php = json.dumps({"key": key_id, "secret": secret}).replace("/", "\\/")
    code, out = run({".env": env.encode(), "aws.json": php.encode()})
    assert code == 1
    assert [line.split(": ")[0] for line in out.splitlines()[::2]] == [".env:1", "aws.json:1"]


@pytest.mark.parametrize("example", [False, True])
def test_aws_keys_in_a_kubernetes_secret_are_found(run: Run, example: bool) -> None:
    """A Secret keeps its values in base64; AWS's documented EXAMPLE pair passes there too."""
    key_id, secret = (
        ("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        if example
        else ("AKIAZ2345ZZZZZ6ZZZZZ", "1aA" + base64.b64encode(os.urandom(30)).decode()[3:])
    )
    values = {
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_REGION": "us-east-1",
        "AWS_SECRET_ACCESS_KEY": secret,
    }
    data = "".join(
        f"  {name}: {base64.b64encode(value.encode()).decode()}\n" for name, value in values.items()
    )
    code, out = run({"secret.yaml": f"kind: Secret\ndata:\n{data}".encode()})
    if example:
        assert (code, out) == (0, "")
    else:
        assert code == 1
        assert out.startswith("secret.yaml:5: AWS access key id with its secret access key, base64")


def test_fifos_and_devices_are_no_content_and_never_hang(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """git commits neither; the hook reads neither to an end that never comes."""
    idle, held = tmp_path / "idle-fifo", tmp_path / "held-fifo"
    os.mkfifo(idle)
    os.mkfifo(held)
    writer = os.open(held, os.O_RDWR)  # a writer holds it open, with nothing written
    try:
        assert main([str(idle), str(held), "/dev/null", "/dev/zero"]) == 0
    finally:
        os.close(writer)
    assert capsys.readouterr().out == ""


def test_this_repository_holds_no_key_and_the_hook_does_not_find_itself(
    capsys: pytest.CaptureFixture[str],
) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=KIT_ROOT, check=True, capture_output=True
    ).stdout
    files = [str(KIT_ROOT / name) for name in listed.decode().split("\0") if name]
    assert any(name.endswith("forbid_chef_secrets.py") for name in files)
    assert main(files) == 0, capsys.readouterr().out


@settings(max_examples=300, deadline=None, database=None)
@given(
    choice=st.data(),
    tail=st.binary(min_size=8, max_size=64),
    hex_style=st.sampled_from(sorted(HEX_STYLES)),
    upper=st.booleans(),
)
def test_squeezed_searches_pass_whatever_a_row_reports(
    choice: st.DataObject, tail: bytes, hex_style: str, upper: bool
) -> None:
    """The speed rests on one promise: text a row can report, squeezed, passes that row's search
    of the squeezed bytes. Checked on bytes drawn from every DER head, written as base64 and as
    hex, after ordinary text."""
    heads = DER_KEY_HEADS
    head = choice.draw(st.sampled_from(heads))
    opening = bytes(choice.draw(st.sampled_from(sorted(values))) for values in head) + tail
    written = [
        (encoded.base64_opening(heads), base64.b64encode(opening)),
        (encoded.hex_opening(heads), hex_text(opening, hex_style, upper=upper)),
    ]
    for row, text in written:
        data = b"key: " + text + b"\n"
        squeezed = data.translate(None, rows.SQUEEZED_OUT)
        assert re.search(expressions.alternation(row.squeezed), squeezed), data
        assert row.present(data), data


@settings(max_examples=200, deadline=None, database=None)
@given(content=st.binary(max_size=4096) | st.text(max_size=2048).map(str.encode))
def test_arbitrary_bytes_never_crash(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "fuzz"
        path.write_bytes(content)
        assert main([str(path)]) in (0, 1)


@settings(
    max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(
    key_name=st.sampled_from(sorted(keymaterial.private_keys())),
    before=st.text(max_size=300),
    after=st.text(max_size=300),
    newline=st.sampled_from(["\n", "\r\n"]),
    embedding=st.sampled_from(
        ["plain", "json-data-bag", "yaml-block-scalar", "ruby-heredoc", "base64-k8s-secret"]
    ),
)
def test_a_key_embedded_anywhere_is_found_on_its_line(
    key_name: str, before: str, after: str, newline: str, embedding: str
) -> None:
    _, embedded, line = EMBEDDINGS[embedding](key(key_name))
    text = embedded.replace(b"\n", newline.encode())
    content = before.encode() + b"\n" + text + b"\n" + after.encode()
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "embedded"
        path.write_bytes(content)
        out = io.StringIO()
        with redirect_stdout(out):
            code = main([str(path)])
    assert code == 1
    assert out.getvalue().startswith(f"{path}:{before.count(chr(10)) + 1 + line}: ")


def test_a_base64_pem_just_after_a_base64_der_look_alike_is_found(run: Run) -> None:
    """A DER-looking run in the middle of base64 text ("MAAA...") hides nothing that follows it."""
    text = base64.b64encode(b"abc" * 5 + b"\x30\x00\x00" + b"config\n" + key())
    assert b"MAAA" in text
    code, out = run({"values.yaml": b"data: " + text + b"\n"})
    assert code == 1
    assert out.startswith("values.yaml:1: RSA private key (PKCS#1), base64-encoded")


@pytest.mark.parametrize(
    ("name", "line_break"),
    [
        ("key.b64", b"\n"),
        ("windows.b64", b"\r\n"),
        ("data_bag.json", b"\\n"),
        ("x.json", b"\\r\\n"),
    ],
)
def test_base64_der_wrapped_in_line_breaks_or_escaped_ones_is_found(
    run: Run, name: str, line_break: bytes
) -> None:
    """Wrapped base64 loses its line breaks in one translate; escaped ones (a JSON string's "\\n")
    go through the substitution that knows them."""
    text = base64.b64encode(keymaterial.der_keys()[RSA])
    wrapped = line_break.join(text[i : i + 64] for i in range(0, len(text), 64))
    code, out = run({name: b'{"key": "' + wrapped + b'"}\n'})
    assert code == 1
    assert out.startswith(f"{name}:1: RSA private key (PKCS#1), base64-encoded"), out
