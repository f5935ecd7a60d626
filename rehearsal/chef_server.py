"""A Chef Infra Server double: HTTPS on 127.0.0.1, one organization per listener, every request's
signature verified by Chef's own mixlib-authentication (Debian's ruby-mixlib-authentication) in
one long-running Ruby process shared by all listeners (``verify_signatures.rb``).

What it models, and from where:
- The endpoints (https://docs.chef.io/api_chef_server/): ``cookbooks`` (``num_versions=all``),
  ``cookbooks/NAME/VERSION`` at server API version 2 (one ``all_files`` list, MD5 checksums),
  ``roles``, ``environments`` (``_default`` always there and not modifiable: 405), ``data``,
  ``data/BAG``, ``data/BAG/ITEM``, with GET/POST/PUT/DELETE, 201/404/409 as documented.
- The required headers (same page, "Requirements"): Accept: application/json, X-Chef-Version,
  X-Ops-Server-API-Version 0 to 2 (else 406), the authentication headers (else 401, with erchef's
  "Failed to authenticate as ..." message; clock skew 15 minutes, mixlib's default).
- What the server stores of a role or environment: the object with every field filled in, as
  Chef's classes write them (chef/chef lib/chef/role.rb and environment.rb, ``to_h``), run-list
  entries written out (``web`` is ``recipe[web]``: lib/chef/run_list/run_list_item.rb). A data bag
  item is stored with ``chef_type`` and ``data_bag`` added, as knife sends it
  (lib/chef/data_bag_item.rb, ``to_h``).
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rehearsal import chef_org, tls_certs

VERIFIER = Path(__file__).with_name("verify_signatures.rb")
ALLOWED_SKEW_SECONDS = 15 * 60
API_VERSIONS = range(0, 3)


class SignatureVerifier:
    """One Ruby process verifying signatures with mixlib-authentication, a request at a time."""

    def __init__(self) -> None:
        self._process = subprocess.Popen(
            ["ruby", str(VERIFIER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._lock = threading.Lock()
        ready = self._process.stdout.readline() if self._process.stdout else ""
        if not ready.startswith('{"ready"'):
            self.close()
            raise RuntimeError(
                "the signature verifier did not start: it needs ruby and Debian's "
                "ruby-mixlib-authentication (.ci/install-test-deps installs them)"
            )

    def problem(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, public_key: str
    ) -> str | None:
        """Why mixlib-authentication rejects the request; None when it accepts it."""
        line = json.dumps(
            {
                "method": method,
                "path": path,
                "headers": dict(headers),
                "body": base64.b64encode(body).decode("ascii"),
                "public_key": public_key,
                "skew": ALLOWED_SKEW_SECONDS,
            }
        )
        stdin, stdout = self._process.stdin, self._process.stdout
        if stdin is None or stdout is None:  # pragma: no cover (both are pipes, see __init__)
            raise RuntimeError("the verifier has no pipes")
        with self._lock:
            stdin.write(line + "\n")
            stdin.flush()
            answer = json.loads(stdout.readline())
        return None if answer["ok"] else str(answer["error"])

    def close(self) -> None:
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()
        self._process.wait(timeout=10)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes: without this, Nagle's algorithm and the
    # client's delayed ACK add 40 ms to every answer.
    disable_nagle_algorithm = True
    server: _ChefHTTPServer

    def setup(self) -> None:
        # The TLS handshake in the connection's own thread, so no client can hold up the others.
        self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()

    def finish(self) -> None:
        # The server closes the plain socket it accepted; the TLS one that took it over is ours.
        try:
            super().finish()
        finally:
            self.request.close()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read what matters from the Organization."""

    def do_GET(self) -> None:
        self._serve("GET")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        time.sleep(self.server.org.latency)
        with self.server.lock:
            self.server.org.requests += 1
            failure = self.server.org.failures.pop(0) if self.server.org.failures else None
        if failure is not None:
            self._send(failure, {"error": ["temporarily unavailable"]})
            return
        try:
            self._authenticate(method, body)
            url = urlsplit(self.path)
            prefix = f"/organizations/{self.server.org_name}/"
            if not url.path.startswith(prefix):
                raise chef_org.error(404, f"no such organization: {url.path}")
            value = json.loads(body) if body else None
            endpoint = url.path[len(prefix) :]
            with self.server.lock:
                if method != "GET":
                    self.server.org.writes.append((method, endpoint))
                parts = endpoint.split("/")
                reply = chef_org.route(self.server.org, method, parts, url.query, value)
        except chef_org.Reply as rejected:
            reply = rejected
        except (ValueError, KeyError, TypeError) as error:
            reply = chef_org.error(400, f"invalid request: {error}")
        self._send(reply.status, reply.value)

    def _authenticate(self, method: str, body: bytes) -> None:
        if self.headers.get("Accept") != "application/json":
            raise chef_org.error(400, "Accept must be application/json")
        if not self.headers.get("X-Chef-Version"):
            raise chef_org.error(400, "missing X-Chef-Version header")
        user = self.headers.get("X-Ops-Userid", "")
        public_key = self.server.org.users.get(user)
        problem = (
            "unknown user"
            if public_key is None
            else self.server.verifier.problem(
                method, urlsplit(self.path).path, dict(self.headers), body, public_key
            )
        )
        if problem is not None:
            self.server.rejections.append(problem)
            raise chef_org.error(
                401,
                f"Failed to authenticate as '{user}'. Ensure that your node_name and client key "
                "are correct.",
            )
        version = self.headers.get("X-Ops-Server-API-Version", "0")
        if not version.isdigit() or int(version) not in API_VERSIONS:
            raise chef_org.error(406, f"unsupported X-Ops-Server-API-Version {version}")

    def _send(self, status: int, value: object) -> None:
        data = json.dumps(value).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _ChefHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    org: chef_org.Organization
    org_name: str
    tls: ssl.SSLContext
    verifier: SignatureVerifier
    lock: threading.Lock
    rejections: list[str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that refuses the certificate, or hangs up, is some test's point: no noise.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


@dataclass
class RunningServer:
    """A double as the tests see it: its state, its port, the rejections it gave."""

    org: chef_org.Organization
    port: int
    rejections: list[str]


class Doubles:
    """Chef server doubles sharing one signature verifier; ``add`` starts one more."""

    def __init__(self, ca: tls_certs.Issued, directory: Path) -> None:
        self.ca, self.directory = ca, directory
        self.running: dict[str, RunningServer] = {}
        self._stack = ExitStack()
        self.verifier = SignatureVerifier()
        self._stack.callback(self.verifier.close)

    def add(self, name: str, url: str) -> RunningServer:
        """A double for server ``name`` at ``url`` (its host names the certificate, its last
        path segment the organization)."""
        host, org_name = urlsplit(url).hostname or "", url.rstrip("/").rsplit("/", 1)[-1]
        leaf = tls_certs.make_server_cert(self.ca, host)
        cert_file, key_file = self.directory / f"{name}.crt", self.directory / f"{name}.key"
        cert_file.write_bytes(tls_certs.pem(leaf.certificate))
        key_file.write_bytes(tls_certs.key_pem(leaf.key))
        server = _ChefHTTPServer(("127.0.0.1", 0), _Handler)
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(cert_file, key_file)
        server.org, server.org_name = chef_org.Organization(), org_name
        server.verifier, server.lock, server.rejections = self.verifier, threading.Lock(), []
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        self._stack.callback(server.server_close)
        self._stack.callback(server.shutdown)
        self.running[name] = RunningServer(server.org, server.server_address[1], server.rejections)
        return self.running[name]

    def close(self) -> None:
        self._stack.close()


@contextmanager
def chef_servers(
    urls: Mapping[str, str], ca: tls_certs.Issued, directory: Path
) -> Iterator[dict[str, RunningServer]]:
    """One double per ``urls`` entry (server name -> its organization URL), each presenting a
    certificate for the URL's host signed by ``ca``, all verified by one Ruby process."""
    doubles = Doubles(ca, directory)
    try:
        for name, url in urls.items():
            doubles.add(name, url)
        yield doubles.running
    finally:
        doubles.close()
