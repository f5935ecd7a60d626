"""TLS to a Chef server: fetch the certificate chain it sends, and check that it verifies.

``--connect-to HOST:PORT:ADDRESS:PORT`` works as curl's option does: the TCP connection goes to
ADDRESS:PORT while SNI and hostname verification stay on the server's own name. It serves a server
whose name does not resolve from here yet (a new server, a bastion, a tunnel), and the tests.
"""

from __future__ import annotations

import argparse
import socket
import ssl
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding

from chef_multiserver.cli.repo import CommandError

TIMEOUT_SECONDS = 10.0
# A CA file holds a certificate or a short chain: a few KiB. More is not a CA file.
MAX_CA_FILE_BYTES = 1024 * 1024
HTTPS_PORT = 443


class ConnectTo(NamedTuple):
    """curl's ``--connect-to``: connections to host:port (empty: any) go to address:address_port
    (empty: unchanged)."""

    host: str
    port: str
    address: str
    address_port: str


def parse_connect_to(text: str) -> ConnectTo:
    """An argparse ``type``: HOST:PORT:ADDRESS:PORT, as curl writes it."""
    parts = text.split(":")
    if len(parts) != 4 or any(part and not part.strip() for part in parts):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not HOST:PORT:ADDRESS:PORT "
            "(for example chef.example.com:443:10.0.0.5:443)"
        )
    if not all(port.isdigit() for port in (parts[1], parts[3]) if port):
        raise argparse.ArgumentTypeError(f"{text!r}: the ports must be numbers")
    try:
        parts[2].encode("idna")  # what the socket does with it: empty or long labels fail
    except UnicodeError as error:
        raise argparse.ArgumentTypeError(
            f"{text!r}: {parts[2]!r} is not a host name or address"
        ) from error
    return ConnectTo(*parts)


def endpoint(url: str) -> tuple[str, int]:
    """The host name and port of a server URL."""
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or HTTPS_PORT


def route(host: str, port: int, connect_to: Sequence[ConnectTo]) -> tuple[str, int]:
    """Where a connection to host:port goes: the first matching ``--connect-to``, else there."""
    for rule in connect_to:
        if rule.host in ("", host) and rule.port in ("", str(port)):
            return rule.address or host, int(rule.address_port or port)
    return host, port


def _connect(host: str, port: int, connect_to: Sequence[ConnectTo]) -> socket.socket:
    address = route(host, port, connect_to)
    via = "" if address == (host, port) else f" (through {address[0]}:{address[1]})"
    print(
        f"chef-multiserver: waiting for {host}:{port}{via} ({TIMEOUT_SECONDS:g} s at most)",
        file=sys.stderr,
    )
    try:
        return socket.create_connection(address, timeout=TIMEOUT_SECONDS)
    except UnicodeError as error:  # a host name IDNA cannot encode (an empty or long label)
        raise CommandError(f"cannot connect to {host}:{port}{via}: not a host name") from error
    except OSError as error:
        raise CommandError(
            f"cannot connect to {host}:{port}{via}: {error.strerror or error}; check the URL, "
            "the network, or route it with --connect-to"
        ) from error


def fetch_chain(url: str, connect_to: Sequence[ConnectTo] = ()) -> list[x509.Certificate]:
    """The certificates the server at ``url`` sends, its own first, without trusting any yet
    (as ``knife ssl fetch`` does: the user checks the fingerprints)."""
    host, port = endpoint(url)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            _connect(host, port, connect_to) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            chain = [x509.load_der_x509_certificate(der) for der in _unverified_chain(tls)]
    except TimeoutError as error:
        raise CommandError(
            f"{host}:{port} accepted the connection but sent nothing within "
            f"{TIMEOUT_SECONDS:g} s: is it a TLS server? Check the URL's port"
        ) from error
    except (OSError, ValueError) as error:
        # ssl.SSLError is an OSError: a peer that closes, or speaks something else than TLS.
        raise CommandError(
            f"no TLS handshake with {host}:{port} ({_reason(error)}): check that the URL is the "
            "server's HTTPS address"
        ) from error
    if not chain:
        raise CommandError(f"{host}:{port} sent no certificate: nothing to trust")
    return chain


def _reason(error: Exception) -> str:
    if isinstance(error, ssl.SSLError) and error.reason:
        return str(error.reason)
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _unverified_chain(tls: ssl.SSLSocket) -> list[bytes]:
    # Python 3.13 made the chain public; 3.10 to 3.12 have the same call on the private _sslobj,
    # and getpeercert() gives only the server's own certificate.
    public = getattr(tls, "get_unverified_chain", None)
    if public is not None:
        return list(public())
    private: Any = tls._sslobj  # type: ignore[attr-defined]
    der = ssl._ssl.ENCODING_DER  # type: ignore[attr-defined]
    return [certificate.public_bytes(der) for certificate in private.get_unverified_chain() or []]


class CABundle(NamedTuple):
    """The certificates of .chef/ca_certs/ as one PEM text, and a line per file that is not one."""

    pem: str
    problems: list[str]


def load_ca_bundle(paths: Sequence[Path]) -> CABundle:
    """What knife and the pipeline would trust from ``paths``; each unreadable file, directory or
    non-certificate is reported and left out, so it cannot hide the others."""
    certificates: list[str] = []
    problems = []
    for path in paths:
        try:
            if not path.is_file():
                raise IsADirectoryError(0, "not a regular file")
            with path.open("rb") as stream:
                data = stream.read(MAX_CA_FILE_BYTES + 1)
            if len(data) > MAX_CA_FILE_BYTES:
                raise ValueError(f"larger than {MAX_CA_FILE_BYTES // 1024} KiB")
            loaded = x509.load_pem_x509_certificates(data)
        except OSError as error:
            problems.append(f"{path}: cannot be read ({error.strerror})")
            continue
        except ValueError as error:
            problems.append(
                f"{path}: not a PEM certificate ({error}): put the CA certificate there as "
                "PEM, the text between -----BEGIN CERTIFICATE----- and -----END CERTIFICATE-----"
            )
            continue
        certificates += [
            certificate.public_bytes(Encoding.PEM).decode("ascii") for certificate in loaded
        ]
    return CABundle("".join(certificates), problems)


def verify_problem(url: str, ca_pem: str, connect_to: Sequence[ConnectTo] = ()) -> str | None:
    """Why a TLS handshake with the server at ``url``, trusting only ``ca_pem`` (certificates
    as ``load_ca_bundle`` gives them), fails; None when it verifies. Only those CAs, as in the
    pipeline, where the bundle from .chef/ca_certs/ is all Berkshelf trusts."""
    host, port = endpoint(url)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        if ca_pem:
            context.load_verify_locations(cadata=ca_pem)
        with (
            _connect(host, port, connect_to) as raw,
            context.wrap_socket(raw, server_hostname=host),
        ):
            return None
    except ssl.SSLCertVerificationError as error:
        return (
            f"certificate not trusted ({error.verify_message}): .chef/ca_certs/ needs the CA "
            "that signed the server's certificate"
        )
    except TimeoutError:
        return f"no answer within {TIMEOUT_SECONDS:g} s: is it a TLS server?"
    except (OSError, ValueError) as error:  # ssl.SSLError: a CA OpenSSL refuses, a failed handshake
        return f"TLS handshake failed: {_reason(error)}"
    except CommandError as error:
        return str(error)


def fingerprint(certificate: x509.Certificate) -> str:
    """SHA-256 fingerprint as openssl and browsers show it (AB:CD:...)."""
    return certificate.fingerprint(hashes.SHA256()).hex(":").upper()


def is_self_signed(certificate: x509.Certificate) -> bool:
    return certificate.issuer == certificate.subject
