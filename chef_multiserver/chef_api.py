"""Talking to a Chef Infra Server: JSON requests signed with Chef's authentication protocol 1.3.

The signature is what mixlib-authentication computes (github.com/chef/mixlib-authentication,
lib/mixlib/authentication/signedheaderauth.rb: ``sign``, ``canonicalize_request``): the lines
``Method:``, ``Path:`` (slashes collapsed, no trailing one), ``X-Ops-Content-Hash:`` (base64 of
the SHA-256 of the body), ``X-Ops-Sign:version=1.3``, ``X-Ops-Timestamp:`` (UTC ISO 8601),
``X-Ops-UserId:`` and ``X-Ops-Server-API-Version:``, joined by newlines and signed RSA PKCS#1 v1.5
with SHA-256; the base64 signature goes out in 60-character lines as X-Ops-Authorization-1, -2, ...
The server checks it as signatureverification.rb does (the tests verify ours with that very code).

No maintained Python library does this: PyChef (coderanger/pychef) has had no release since 2018
and signs only protocol 1.0 (SHA-1). The headers besides the signature follow
https://docs.chef.io/api_chef_server/ ("Requirements"): Accept and Content-Type application/json,
X-Chef-Version; X-Ops-Server-API-Version 2 as Chef Infra Client 18 sends
(chef/chef lib/chef/http/authenticator.rb, DEFAULT_SERVER_API_VERSION), which gives cookbook
versions as one ``all_files`` list with a checksum per file.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import re
import socket
import ssl
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

SIGN_VERSION = "1.3"
SERVER_API_VERSION = "2"
# The Chef Infra Client release whose API this client speaks (X-Chef-Version).
CHEF_VERSION = "18.0.0"
TIMEOUT_SECONDS = 30.0
# Far above any role or cookbook manifest; a server sending more is not answering what we asked.
MAX_ANSWER_BYTES = 64 << 20
# Only requests that change nothing, or that leave the same state however often they are sent
# (RFC 9110, 9.2.2: GET, PUT, DELETE), are sent again; a POST that may have been applied is not.
IDEMPOTENT = frozenset({"GET", "PUT", "DELETE"})
ATTEMPTS = 3
RETRY_STATUSES = frozenset({502, 503, 504})
BACKOFF_SECONDS = 0.5


class ChefAPIError(Exception):
    """A request that failed; its text is one line for the user. ``status``: the HTTP status, or
    None when no answer came (connection, TLS). ``transient``: sending it again may succeed."""

    def __init__(self, message: str, status: int | None = None, *, transient: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.transient = transient


def load_key(pem: bytes, source: str) -> rsa.RSAPrivateKey:
    """The RSA private key of a Chef user or client (Chef's protocol signs with RSA only)."""
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise ChefAPIError(f"{source}: not an unencrypted PEM private key ({error})") from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ChefAPIError(f"{source}: a Chef key must be RSA, not {type(key).__name__}")
    return key


def canonical_path(path: str) -> str:
    """mixlib-authentication's ``canonical_path``: runs of slashes collapsed, no trailing slash."""
    collapsed = re.sub("/+", "/", path)
    return collapsed.rstrip("/") if len(collapsed) > 1 else collapsed


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def sign_headers(
    key: rsa.RSAPrivateKey,
    user_id: str,
    method: str,
    path: str,
    body: bytes,
    timestamp: datetime,
    server_api_version: str = SERVER_API_VERSION,
) -> dict[str, str]:
    """The authentication headers of one request, as ``SignedHeaderAuth#sign`` makes them."""
    stamp = timestamp.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    hashed_body = content_hash(body)
    canonical = "\n".join(
        (
            f"Method:{method.upper()}",
            f"Path:{canonical_path(path)}",
            f"X-Ops-Content-Hash:{hashed_body}",
            f"X-Ops-Sign:version={SIGN_VERSION}",
            f"X-Ops-Timestamp:{stamp}",
            f"X-Ops-UserId:{user_id}",
            f"X-Ops-Server-API-Version:{server_api_version}",
        )
    )
    signature = base64.b64encode(
        key.sign(canonical.encode("utf-8"), padding.PKCS1v15(), hashes.SHA256())
    ).decode("ascii")
    headers = {
        "X-Ops-Sign": f"algorithm=sha256;version={SIGN_VERSION};",
        "X-Ops-Userid": user_id,
        "X-Ops-Timestamp": stamp,
        "X-Ops-Content-Hash": hashed_body,
        "X-Ops-Server-API-Version": server_api_version,
    }
    # Ruby's Base64.encode64 breaks lines every 60 characters; each line is one header.
    for index in range(0, len(signature), 60):
        headers[f"X-Ops-Authorization-{index // 60 + 1}"] = signature[index : index + 60]
    return headers


class ChefServer:
    """One organization of a Chef Infra Server, over one kept-alive TLS connection.

    ``url``: https://FQDN[:port]/organizations/ORG. ``context``: the TLS context (trusting only the
    repository's CAs). ``address``: where to connect instead of the URL's host and port (the
    host name is still what TLS verifies). Not shared between threads: one per worker."""

    def __init__(
        self,
        url: str,
        user_id: str,
        key: rsa.RSAPrivateKey,
        context: ssl.SSLContext,
        address: tuple[str, int] | None = None,
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        parts = urlsplit(url)
        self.url = url
        self.host = parts.hostname or ""
        self.port = parts.port or 443
        self.base_path = parts.path.rstrip("/")
        self.user_id = user_id
        self.key = key
        self.context = context
        self.address = address or (self.host, self.port)
        self.timeout = timeout
        self._connection: http.client.HTTPSConnection | None = None

    def get(self, endpoint: str) -> Any:
        return self.request("GET", endpoint)

    def get_optional(self, endpoint: str) -> Any:
        """The object at ``endpoint``, or None when the server has none (404)."""
        try:
            return self.request("GET", endpoint)
        except ChefAPIError as error:
            if error.status == 404:
                return None
            raise

    def request(self, method: str, endpoint: str, value: object = None) -> Any:
        """Send a request to ``endpoint`` (relative to the organization: ``roles/web``) and
        return the decoded JSON answer."""
        # Signed as sent, without the query: Chef's authenticator signs ``url.path``.
        endpoint, _, query = endpoint.partition("?")
        path = quote(f"{self.base_path}/{endpoint}")
        body = b"" if value is None else json.dumps(value, sort_keys=True).encode("utf-8")
        attempts = ATTEMPTS if method in IDEMPOTENT else 1
        for attempt in range(1, attempts + 1):
            try:
                status, data = self._send(method, path, query, body)
            except ChefAPIError as error:
                if attempt == attempts or not error.transient:
                    raise
            else:
                if status not in RETRY_STATUSES or attempt == attempts:
                    return self._answer(method, path, status, data)
            time.sleep(BACKOFF_SECONDS * attempt)
        raise AssertionError("unreachable")  # pragma: no cover (the loop returns or raises)

    def __enter__(self) -> ChefServer:
        return self

    def __exit__(self, *exception: object) -> None:
        self.close()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _send(self, method: str, path: str, query: str, body: bytes) -> tuple[int, bytes]:
        headers = {
            "Accept": "application/json",
            "Host": self.host if self.port == 443 else f"{self.host}:{self.port}",
            "X-Chef-Version": CHEF_VERSION,
            # Signed each attempt anew: a retry gets a fresh timestamp.
            **sign_headers(self.key, self.user_id, method, path, body, datetime.now(timezone.utc)),
        }
        if body:
            headers["Content-Type"] = "application/json"
        # A POST may not go out on a connection the server might have closed meanwhile: it would
        # fail with no way to know whether it was applied. It gets a fresh connection.
        if method not in IDEMPOTENT:
            self.close()
        connection = self._connection or self._connect()
        try:
            target = f"{path}?{query}" if query else path
            connection.request(method, target, body=body or None, headers=headers)
            response = connection.getresponse()
            data = response.read(MAX_ANSWER_BYTES + 1)
        except ssl.SSLCertVerificationError as error:
            self.close()
            raise ChefAPIError(
                f"TLS: the certificate of {self.host} is not trusted ({error.verify_message}): "
                ".chef/ca_certs/ needs the CA that signed it"
            ) from error
        except (OSError, http.client.HTTPException) as error:
            self.close()
            raise ChefAPIError(
                f"cannot reach {self._where()}: {_reason(error)}", transient=True
            ) from error
        if response.will_close or len(data) > MAX_ANSWER_BYTES:
            self.close()
        if len(data) > MAX_ANSWER_BYTES:
            raise ChefAPIError(
                f"{method} {path}: the answer is larger than {MAX_ANSWER_BYTES >> 20} MiB"
            )
        return response.status, data

    def _connect(self) -> http.client.HTTPSConnection:
        connection = _RoutedConnection(
            self.host, self.port, self.address, context=self.context, timeout=self.timeout
        )
        self._connection = connection
        return connection

    def _answer(self, method: str, path: str, status: int, data: bytes) -> Any:
        if status < 300:
            try:
                return json.loads(data) if data else None
            except ValueError as error:
                raise ChefAPIError(
                    f"{method} {path}: the answer is not JSON ({error})", status
                ) from error
        detail = _error_text(data)
        if status == 401:
            message = (
                f"the server rejected the key of {self.user_id!r} (401{detail}): check "
                "node_name in config.yml and the key private.pem"
            )
        elif status == 403:
            message = f"{self.user_id!r} may not {method} {path} (403{detail})"
        else:
            message = f"{method} {path}: HTTP {status}{detail}"
        raise ChefAPIError(message, status)

    def _where(self) -> str:
        via = (
            "" if self.address == (self.host, self.port) else " through {}:{}".format(*self.address)
        )
        return f"{self.host}:{self.port}{via}"


class _RoutedConnection(http.client.HTTPSConnection):
    """An HTTPS connection to ``address`` that verifies the certificate for ``host``."""

    def __init__(
        self,
        host: str,
        port: int,
        address: tuple[str, int],
        *,
        context: ssl.SSLContext,
        timeout: float,
    ) -> None:
        super().__init__(host, port, context=context, timeout=timeout)
        self.address = address
        self.tls_context = context

    def connect(self) -> None:
        raw = socket.create_connection(self.address, self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.sock = self.tls_context.wrap_socket(raw, server_hostname=self.host)
        except BaseException:
            raw.close()
            raise


def _reason(error: BaseException) -> str:
    if isinstance(error, TimeoutError | socket.timeout):
        return "timed out"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return str(error) or type(error).__name__


def _error_text(data: bytes) -> str:
    """Chef Infra Server's errors come as ``{"error": ["..."]}``."""
    try:
        errors = json.loads(data).get("error")
    except (ValueError, AttributeError):
        return ""
    if isinstance(errors, list):
        errors = "; ".join(str(error) for error in errors)
    return f": {errors}" if errors else ""
