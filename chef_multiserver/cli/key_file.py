"""The Chef user's key file ``put-key`` uploads: read safely, and refused unless Chef Infra Server
can sign with it.

Chef clients sign every request with the user's RSA key, PKCS#1 v1.5 (mixlib-authentication,
lib/mixlib/authentication/signedheaderauth.rb: ``private_key.sign`` / ``private_encrypt``), and
Chef Infra Server makes 2048-bit RSA keys. The key's content never appears in a message.
"""

from __future__ import annotations

import base64
import itertools
import os
import stat
import warnings
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from chef_multiserver.cli.repo import CommandError

# A PEM RSA key of 16,384 bits is about 12 KiB; a key file is never near this.
MAX_KEY_BYTES = 64 * 1024
# Below this, RSA is refused: NIST SP 800-131A disallows RSA under 2048 bits for signatures
# since 2013, and Chef Infra Server itself makes 2048-bit keys.
MIN_RSA_BITS = 2048
WANTED = "give the Chef user's private key (the .pem knife uses as client_key)"

# DER of the object identifiers told apart below (RFC 8017 A.1, RFC 7292 / PKCS#7 data).
_OID_RSASSA_PSS = bytes.fromhex("06092a864886f70d01010a")
_OID_PKCS7_DATA = bytes.fromhex("06092a864886f70d010701")

_PSS_ADVICE = (
    "Chef signs with PKCS#1 v1.5, which an RSA-PSS key refuses: make the user a plain RSA key "
    "(knife user key create USER)"
)
# Files that are private keys in a format of another tool, and how to turn each into PEM.
_OTHER_FORMATS = (
    (
        b"-----BEGIN OPENSSH PRIVATE KEY-----",
        "an OpenSSH private key",
        "convert a copy to PEM with ssh-keygen -p -m PEM -f COPY (it rewrites COPY in place)",
    ),
    (
        b"PuTTY-User-Key-File-",
        "a PuTTY private key (.ppk)",
        "convert it with puttygen KEY.ppk -O private-openssh -o KEY.pem",
    ),
    (
        b"---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----",
        "an ssh.com (SSH2) private key",
        "convert it with puttygen KEY -O private-openssh -o KEY.pem",
    ),
    (b"-----BEGIN RSA-PSS PRIVATE KEY-----", "an RSA-PSS key", _PSS_ADVICE),
)


def read_key_file(path: Path) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most MAX_KEY_BYTES: a FIFO, a
    device or a directory is refused without waiting on it or reading it."""
    try:
        # O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        raise CommandError(f"cannot read --key {path}: {error.strerror}") from error
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise CommandError(f"--key {path} is not a regular file: {WANTED}")
    if status.st_size > MAX_KEY_BYTES:
        os.close(descriptor)
        raise CommandError(
            f"--key {path} is {status.st_size} bytes, more than a key file "
            f"({MAX_KEY_BYTES // 1024} KiB at most): {WANTED}"
        )
    with os.fdopen(descriptor, "rb") as stream:
        try:
            data = stream.read(MAX_KEY_BYTES + 1)
        except OSError as error:
            raise CommandError(f"cannot read --key {path}: {error.strerror}") from error
    if len(data) > MAX_KEY_BYTES:  # it grew while being read
        raise CommandError(f"--key {path} is more than {MAX_KEY_BYTES // 1024} KiB: {WANTED}")
    return data


def chef_key_pem(path: Path, data: bytes) -> bytes:
    """``data`` (read from ``path``) as PEM, refused unless it is an unencrypted RSA private key
    of at least MIN_RSA_BITS bits that signs PKCS#1 v1.5."""
    for marker, kind, how in _OTHER_FORMATS:
        if data.lstrip().startswith(marker):
            raise CommandError(f"{path} is {kind}, not PEM: {how}")
    is_pem = b"-----BEGIN" in data
    if not is_pem and _is_pkcs12(data):
        raise CommandError(
            f"{path} is a PKCS#12 store (.p12/.pfx), not a key: take the key out with "
            "openssl pkcs12 -in STORE -nocerts -nodes -out KEY.pem"
        )
    load = serialization.load_pem_private_key if is_pem else serialization.load_der_private_key
    try:
        with warnings.catch_warnings():  # deprecated kinds (DSA, FFDH) are refused below anyway
            warnings.simplefilter("ignore")
            key = load(data, password=None)
    except TypeError as error:
        raise CommandError(
            f"{path} is encrypted with a passphrase: Chef needs it unencrypted "
            "(openssl rsa -in ENCRYPTED -out PLAIN), kept only in the bucket"
        ) from error
    except UnsupportedAlgorithm as error:
        raise CommandError(
            f"{path} is a key of a kind this machine cannot read ({error}): Chef Infra Server "
            f"keys are RSA; {WANTED}"
        ) from error
    except ValueError as error:
        raise CommandError(f"{path} is {_what_it_is(data, is_pem)}: {WANTED}") from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CommandError(f"{path} is not an RSA key: Chef Infra Server keys are RSA; {WANTED}")
    if _pkcs8_algorithm(_der_of(data) if is_pem else data) == _OID_RSASSA_PSS:
        raise CommandError(f"{path} is an RSA-PSS key: {_PSS_ADVICE}")
    if key.key_size < MIN_RSA_BITS:
        raise CommandError(
            f"{path} is a {key.key_size}-bit RSA key: too weak to sign for Chef (at least "
            f"{MIN_RSA_BITS} bits); make the user a new key (knife user key create USER)"
        )
    if is_pem:
        return data
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def _what_it_is(data: bytes, is_pem: bool) -> str:
    """What a file that is not a private key is, for the message that refuses it."""
    for kind, loader in (
        (
            "a certificate",
            x509.load_pem_x509_certificate if is_pem else x509.load_der_x509_certificate,
        ),
        (
            "a public key",
            serialization.load_pem_public_key if is_pem else serialization.load_der_public_key,
        ),
    ):
        try:
            loader(data)
        except (ValueError, UnsupportedAlgorithm):
            continue
        return f"{kind}, not a private key"
    return "not a private key (neither PEM nor DER)"


def _der_of(pem: bytes) -> bytes:
    """The DER of the first PEM block of ``pem`` (empty when there is none)."""
    lines = pem.splitlines()
    begin = next((i for i, line in enumerate(lines) if line.startswith(b"-----BEGIN")), None)
    if begin is None:
        return b""
    body = itertools.takewhile(lambda line: not line.startswith(b"-----END"), lines[begin + 1 :])
    try:
        return base64.b64decode(b"".join(body))
    except ValueError:
        return b""


def _tlv(der: bytes, offset: int) -> tuple[int, int, int]:
    """The tag, the content's start and the content's end of the DER element at ``offset``."""
    tag, length = der[offset], der[offset + 1]
    start = offset + 2
    if length & 0x80:
        size = length & 0x7F
        length = int.from_bytes(der[start : start + size], "big")
        start += size
    return tag, start, start + length


def _pkcs8_algorithm(der: bytes) -> bytes | None:
    """The algorithm OID (DER) of a PKCS#8 PrivateKeyInfo (RFC 5208): SEQUENCE { INTEGER,
    SEQUENCE { OID, ... }, OCTET STRING }; None for anything else."""
    try:
        tag, start, _ = _tlv(der, 0)
        version_tag, _, version_end = _tlv(der, start)
        algorithm_tag, algorithm_start, _ = _tlv(der, version_end)
        oid_tag, _, oid_end = _tlv(der, algorithm_start)
    except IndexError:
        return None
    if (tag, version_tag, algorithm_tag, oid_tag) != (0x30, 0x02, 0x30, 0x06):
        return None
    return der[algorithm_start:oid_end]


def _is_pkcs12(der: bytes) -> bool:
    """PKCS#12 PFX (RFC 7292): SEQUENCE { INTEGER 3, SEQUENCE { OID pkcs7-data, ... }, ... }."""
    try:
        tag, start, _ = _tlv(der, 0)
        version_tag, version_start, version_end = _tlv(der, start)
        content_tag, content_start, _ = _tlv(der, version_end)
    except IndexError:
        return False
    return (
        (tag, version_tag, content_tag) == (0x30, 0x02, 0x30)
        and der[version_start:version_end] == b"\x03"
        and der[content_start : content_start + len(_OID_PKCS7_DATA)] == _OID_PKCS7_DATA
    )
