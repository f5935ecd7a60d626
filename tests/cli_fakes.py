"""What the chef-multiserver tests run against: a generated repository, moto's AWS on 127.0.0.1,
and Chef-server stand-ins that only speak TLS, with certificates made at test time.

The fixtures that use them are in cli_fixtures.py."""

from __future__ import annotations

import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, NamedTuple

import boto3
import pytest
from cryptography import x509

from chef_multiserver.cli import main as cli
from rehearsal.moto_server import REGION
from rehearsal.tls_certs import Issued as Issued
from rehearsal.tls_certs import key_pem
from rehearsal.tls_certs import make_ca as make_ca
from rehearsal.tls_certs import make_server_cert as make_server_cert
from rehearsal.tls_certs import pem as pem

# The two servers of the generated repository; both use the Chef user "chef-pipeline".
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
    """A client for the test's own setup and assertions: the CLI's environment, but no lines on
    stderr, which is the CLI's output the tests read."""
    return boto3.Session().client(service)  # type: ignore[call-overload]


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
    key_file.write_bytes(key_pem(leaf.key))
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


# --- Peers that are not what they should be -----------------------------------------------------


class Peer(NamedTuple):
    port: int
    connections: list[float]  # the time.monotonic() of each connection accepted


@contextmanager
def raw_peer(behaviour: str) -> Iterator[Peer]:
    """A TCP server on 127.0.0.1 that accepts and then: ``close`` (closes at once, as a server
    that drops the connection), ``http`` (answers the first bytes as a plain HTTP server does,
    400, and closes) or ``silent`` (keeps the connection open and never sends a byte, as a
    black-holed endpoint behind a load balancer does)."""
    listener = socket.create_server(("127.0.0.1", 0))
    connections: list[float] = []
    held: list[socket.socket] = []

    def serve() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:  # the listener was closed: the test is over
                return
            connections.append(time.monotonic())
            if behaviour == "close":
                connection.close()
            elif behaviour == "http":
                with suppress(OSError):
                    connection.recv(4096)
                    connection.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                connection.close()
            else:
                held.append(connection)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Peer(listener.getsockname()[1], connections)
    finally:
        with suppress(OSError):  # wakes the accept() above (Linux)
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        for connection in held:
            connection.close()
        thread.join(timeout=5)
