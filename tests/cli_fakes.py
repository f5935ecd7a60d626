"""What the chef-multiserver tests run against: a generated repository, moto's AWS on 127.0.0.1,
and Chef-server stand-ins that only speak TLS, with certificates made at test time.

The fixtures that use them are in cli_fixtures.py."""

from __future__ import annotations

import datetime
import socketserver
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chef_multiserver.cli import aws as cli_aws
from chef_multiserver.cli import main as cli
from rehearsal.moto_server import REGION

# The two servers of the generated repository; both use the Chef user "pivotal".
SERVERS = {
    "chef-east": {
        "server": "https://chef-east.example.com/organizations/default",
        "region": REGION,
    },
    "chef-west": {
        "server": "https://chef-west.example.com/organizations/default",
        "region": "us-west-2",
    },
}
# Where the generated repository installs the kit from: a git URL the pipeline can reach.
KIT_URL = "https://git.example.com/platform/chef-multiserver-kit"


class Result(NamedTuple):
    code: int
    out: str
    err: str


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> Result:
    """``chef-multiserver ARGV`` in-process, from the current directory; usage errors included."""
    try:
        code = cli.main(argv)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


# --- AWS: moto in server mode -------------------------------------------------------------------


def aws_client(service: str) -> Any:
    """A client for the test's own setup and assertions, made as the CLI makes its own."""
    return cli_aws.client(boto3.Session(), service)


def private_bucket(name: str) -> str:
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=name)
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration=dict.fromkeys(
            ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"),
            True,
        ),
    )
    return name


# --- TLS: a CA, certificates it signs, and servers that present them ----------------------------


class Issued(NamedTuple):
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def make_ca(name: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        _builder(subject, subject, key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return Issued(key, certificate)


def make_server_cert(ca: Issued, dns_name: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, dns_name)])
    certificate = (
        _builder(subject, ca.certificate.subject, key)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(dns_name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(ca.key, hashes.SHA256())
    )
    return Issued(key, certificate)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
    )


def pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


class _Handshake(socketserver.BaseRequestHandler):
    server: _TLSServer

    def handle(self) -> None:
        # A client that rejects the certificate aborts the handshake: that is its test's point.
        with suppress(OSError), self.server.context.wrap_socket(self.request, server_side=True):
            pass


class _TLSServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    context: ssl.SSLContext


@contextmanager
def tls_server(leaf: Issued, chain: list[x509.Certificate], directory: Path) -> Iterator[int]:
    """A server on 127.0.0.1 that completes TLS handshakes presenting ``leaf`` and then the
    certificates of ``chain``; yields its port."""
    directory.mkdir(parents=True, exist_ok=True)
    cert_file = directory / "chain.pem"
    cert_file.write_bytes(b"".join(pem(certificate) for certificate in [leaf.certificate, *chain]))
    key_file = directory / "key.pem"
    key_file.write_bytes(
        leaf.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    server = _TLSServer(("127.0.0.1", 0), _Handshake)
    server.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.context.load_cert_chain(cert_file, key_file)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
