"""Key material made at test time, by the tools that make it for real users.

Nothing here is committed key material: every key is generated when first asked for (and cached for
the session), so the repository never holds one. ``cryptography`` makes PEM and DER keys,
certificates, CSRs and PKCS#12 stores; ``ssh-keygen``, ``puttygen``, ``gpg`` and ``keytool`` make
their own formats. A test that needs a tool that is missing fails and names it (``require``).
"""

from __future__ import annotations

import base64
import datetime
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa, x448, x25519
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

PASSPHRASE = b"correct horse battery staple"
Encoding = serialization.Encoding
Format = serialization.PrivateFormat


def require(tool: str) -> str:
    """The path of ``tool``; the test that needs it fails without it (a skipped key format would
    pass unnoticed)."""
    found = shutil.which(tool)
    if found is None:
        pytest.fail(f"{tool} is not installed: `bash .ci/install-test-deps` installs it")
    return found


@functools.cache
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@functools.cache
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@functools.cache
def dsa_key(encoding: Encoding = Encoding.PEM) -> bytes:
    """A DSA key in OpenSSL's traditional form, made by openssl: cryptography deprecates DSA (45+),
    and users still have such keys."""
    openssl = require("openssl")
    with tempfile.TemporaryDirectory() as scratch:
        params, key = Path(scratch, "params.pem"), Path(scratch, "key.pem")
        subprocess.run(
            [
                openssl,
                "genpkey",
                "-genparam",
                "-algorithm",
                "DSA",
                "-pkeyopt",
                "dsa_paramgen_bits:2048",
                "-out",
                str(params),
            ],
            check=True,
            capture_output=True,
        )
        subprocess.run(
            [openssl, "genpkey", "-paramfile", str(params), "-out", str(key)],
            check=True,
            capture_output=True,
        )
        form = "PEM" if encoding is Encoding.PEM else "DER"
        return subprocess.run(
            [openssl, "dsa", "-in", str(key), "-outform", form], check=True, capture_output=True
        ).stdout


@functools.cache
def ed25519_key() -> ed25519.Ed25519PrivateKey:
    return ed25519.Ed25519PrivateKey.generate()


PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def pem(
    key: PrivateKey,
    private_format: Format,
    *,
    encrypted: bool = False,
    encoding: Encoding = Encoding.PEM,
) -> bytes:
    """The key serialized as ``private_format`` (TraditionalOpenSSL + encrypted: legacy
    ``Proc-Type: 4,ENCRYPTED`` PEM)."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(PASSPHRASE)
        if encrypted
        else serialization.NoEncryption()
    )
    return key.private_bytes(encoding, private_format, encryption)


def private_keys() -> dict[str, bytes]:
    """Every PEM private key kind the spec names, by name (PGP, PuTTY: see their functions)."""
    return {
        "rsa-pkcs1": pem(rsa_key(), Format.TraditionalOpenSSL),
        "rsa-pkcs8": pem(rsa_key(), Format.PKCS8),
        "rsa-pkcs8-encrypted": pem(rsa_key(), Format.PKCS8, encrypted=True),
        "rsa-legacy-encrypted": pem(rsa_key(), Format.TraditionalOpenSSL, encrypted=True),
        "ec-sec1": pem(ec_key(), Format.TraditionalOpenSSL),
        "ec-pkcs8": pem(ec_key(), Format.PKCS8),
        "dsa": dsa_key(),
        "ed25519-pkcs8": pem(ed25519_key(), Format.PKCS8),
        "openssh-rsa": openssh_key("rsa"),
        "openssh-ed25519": openssh_key("ed25519"),
        "openssh-ed25519-encrypted": openssh_key("ed25519", encrypted=True),
    }


def der_keys() -> dict[str, bytes]:
    return {
        "rsa-pkcs1": pem(rsa_key(), Format.TraditionalOpenSSL, encoding=Encoding.DER),
        "rsa-pkcs8": pem(rsa_key(), Format.PKCS8, encoding=Encoding.DER),
        "rsa-pkcs8-encrypted": pem(rsa_key(), Format.PKCS8, encrypted=True, encoding=Encoding.DER),
        "ec-sec1": pem(ec_key(), Format.TraditionalOpenSSL, encoding=Encoding.DER),
        "ec-pkcs8": pem(ec_key(), Format.PKCS8, encoding=Encoding.DER),
        "ec-pkcs8-encrypted": pem(ec_key(), Format.PKCS8, encrypted=True, encoding=Encoding.DER),
        "dsa": dsa_key(Encoding.DER),
        "ed25519-pkcs8": pem(ed25519_key(), Format.PKCS8, encoding=Encoding.DER),
        "pkcs12": pkcs12_store(),
    }


@functools.cache
def certificate() -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "chef.example.com")])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(rsa_key().public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(rsa_key(), hashes.SHA256())
    )


def public_material() -> dict[str, bytes]:
    """What looks like key material but is public: certificates, public keys, a CSR."""
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "node.example.com")]))
        .sign(rsa_key(), hashes.SHA256())
    )
    public = rsa_key().public_key()
    return {
        "certificate.pem": certificate().public_bytes(Encoding.PEM),
        "certificate.der": certificate().public_bytes(Encoding.DER),
        "public-spki.pem": public.public_bytes(
            Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "public-pkcs1.pem": public.public_bytes(Encoding.PEM, serialization.PublicFormat.PKCS1),
        "public.der": public.public_bytes(
            Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        "request.csr": csr.public_bytes(Encoding.PEM),
        "id_ed25519.pub": ed25519_key()
        .public_key()
        .public_bytes(Encoding.OpenSSH, serialization.PublicFormat.OpenSSH),
        "ec.pub.pem": ec_key()
        .public_key()
        .public_bytes(Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo),
    }


def pkcs12_store() -> bytes:
    return pkcs12.serialize_key_and_certificates(
        b"chef", rsa_key(), certificate(), None, serialization.BestAvailableEncryption(PASSPHRASE)
    )


def certificates_only_pkcs12() -> bytes:
    """A PKCS#12 trust store, as ``openssl pkcs12 -export -nokeys`` writes one: no key bag."""
    return pkcs12.serialize_key_and_certificates(
        b"ca", None, certificate(), None, serialization.BestAvailableEncryption(PASSPHRASE)
    )


def _run(*command: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)


@functools.cache
def openssh_key(kind: str, *, encrypted: bool = False) -> bytes:
    require("ssh-keygen")
    with tempfile.TemporaryDirectory() as directory:
        passphrase = PASSPHRASE.decode() if encrypted else ""
        _run(
            "ssh-keygen",
            "-q",
            "-t",
            kind,
            "-N",
            passphrase,
            "-C",
            "chef@example",
            "-f",
            "key",
            cwd=Path(directory),
        )
        return (Path(directory) / "key").read_bytes()


@functools.cache
def putty_key(
    version: int, kind: str = "rsa", *, encrypted: bool = False, output: str = "private"
) -> bytes:
    """A PuTTY key file (``output="private-sshcom"``: the same key in ssh.com's format)."""
    require("puttygen")
    with tempfile.TemporaryDirectory() as directory:
        cwd = Path(directory)
        (cwd / "passphrase").write_bytes(PASSPHRASE if encrypted else b"")
        bits = ["-b", "2048"] if kind == "rsa" else []
        ppk = ["--ppk-param", f"version={version}", "--new-passphrase", "passphrase"]
        _run("puttygen", "-q", "-t", kind, *bits, "-C", "chef@example", *ppk, "-O", output,
             "-o", "key.ppk", cwd=cwd)  # fmt: skip
        return (cwd / "key.ppk").read_bytes()


@functools.cache
@functools.cache
def pgp_key(*, secret: bool = True, armor: bool = True) -> bytes:
    """An unprotected ed25519 key pair as ``gpg --export-secret-keys`` writes it (``secret``
    false: ``gpg --export``, the public key; ``armor``: the ASCII-armored block)."""
    require("gpg")
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "GNUPGHOME": home}
        batch = (
            "%no-protection\nKey-Type: eddsa\nKey-Curve: ed25519\nName-Real: Chef Test\n%commit\n"
        )
        (Path(home) / "batch").write_text(batch, "utf-8")
        _run("gpg", "--batch", "--quiet", "--gen-key", "batch", cwd=Path(home), env=env)
        exported = subprocess.run(
            [
                "gpg",
                "--batch",
                *(["--armor"] if armor else []),
                "--export-secret-keys" if secret else "--export",
            ],
            env=env,
            check=True,
            capture_output=True,
        ).stdout
        subprocess.run(["gpgconf", "--kill", "all"], env=env, check=False, capture_output=True)
        return exported


@functools.cache
def java_keystore(store_type: str = "JKS", *, with_key: bool = True) -> bytes:
    """A JKS (or JCEKS) store holding a generated key pair, or a trust store of a certificate."""
    require("keytool")
    with tempfile.TemporaryDirectory() as directory:
        cwd = Path(directory)
        common = [
            "-keystore",
            "store",
            "-storetype",
            store_type,
            "-storepass",
            "changeit",
            "-noprompt",
        ]
        if with_key:
            _run("keytool", "-genkeypair", "-alias", "chef", "-keyalg", "EC", "-dname", "CN=chef",
                 "-keypass", "changeit", *common, cwd=cwd)  # fmt: skip
        else:
            (cwd / "ca.pem").write_bytes(certificate().public_bytes(Encoding.PEM))
            _run("keytool", "-importcert", "-alias", "ca", "-file", "ca.pem", *common, cwd=cwd)
        return (cwd / "store").read_bytes()


def _base64url(number: int) -> str:
    return _unpadded(number.to_bytes((number.bit_length() + 7) // 8 or 1, "big"))


def _unpadded(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


OkpKey = (
    ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | x25519.X25519PrivateKey
    | x448.X448PrivateKey
)
OKP_CURVES: dict[str, Callable[[], OkpKey]] = {
    "Ed25519": ed25519.Ed25519PrivateKey.generate,
    "Ed448": ed448.Ed448PrivateKey.generate,
    "X25519": x25519.X25519PrivateKey.generate,
    "X448": x448.X448PrivateKey.generate,
}


def json_web_key(kind: str, *, private: bool = True) -> dict[str, str]:
    """A key pair as a JSON Web Key (RFC 7518; RFC 8037 for OKP; RFC 8812 for secp256k1):
    ``kind`` RSA, EC (P-256), EC-secp256k1, or OKP-<curve> (Ed25519, Ed448, X25519, X448);
    ``private``: with ``d``."""
    if kind.startswith("OKP-"):
        curve = kind.removeprefix("OKP-")
        okp = OKP_CURVES[curve]()
        jwk = {"kty": "OKP", "crv": curve, "x": _unpadded(okp.public_key().public_bytes_raw())}
        if private:
            jwk["d"] = _unpadded(okp.private_bytes_raw())
        return jwk
    if kind == "EC-secp256k1":
        k1 = ec.generate_private_key(ec.SECP256K1()).private_numbers()
        jwk = {
            "kty": "EC",
            "crv": "secp256k1",
            "x": _base64url(k1.public_numbers.x),
            "y": _base64url(k1.public_numbers.y),
        }
        if private:
            jwk["d"] = _base64url(k1.private_value)
        return jwk
    if kind == "RSA":
        numbers = rsa_key().private_numbers()
        public = numbers.public_numbers
        jwk = {"kty": "RSA", "n": _base64url(public.n), "e": _base64url(public.e)}
        secret = {"d": numbers.d, "p": numbers.p, "q": numbers.q}
    else:
        ec_numbers = ec_key().private_numbers()
        point = ec_numbers.public_numbers
        jwk = {"kty": "EC", "crv": "P-256", "x": _base64url(point.x), "y": _base64url(point.y)}
        secret = {"d": ec_numbers.private_value}
    if private:
        jwk.update({name: _base64url(value) for name, value in secret.items()})
    return jwk


def rsa_key_value_xml(*, private: bool = True) -> bytes:
    """The RSA key as .NET's RSA.ToXmlString writes it (``private``: with P, Q, ... and D)."""
    numbers = rsa_key().private_numbers()
    parts = {"Modulus": numbers.public_numbers.n, "Exponent": numbers.public_numbers.e}
    if private:
        parts.update({"P": numbers.p, "Q": numbers.q, "DP": numbers.dmp1, "DQ": numbers.dmq1})
        parts.update({"InverseQ": numbers.iqmp, "D": numbers.d})
    elements = "".join(
        f"<{name}>{base64.b64encode(value.to_bytes((value.bit_length() + 7) // 8, 'big')).decode()}"
        f"</{name}>"
        for name, value in parts.items()
    )
    return f"<RSAKeyValue>{elements}</RSAKeyValue>".encode()
