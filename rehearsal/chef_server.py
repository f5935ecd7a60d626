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
import re
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rehearsal import tls_certs

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


@dataclass
class Organization:
    """What one Chef server holds, and the writes it received (method, endpoint)."""

    users: dict[str, str] = field(default_factory=dict)  # name -> public key PEM
    cookbooks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    environments: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"_default": environment({"name": "_default"})}
    )
    data_bags: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    writes: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    latency: float = 0.0
    # Statuses to answer the next requests with, before anything else (a proxy's 503, say).
    failures: list[int] = field(default_factory=list)

    def add_cookbook(
        self, name: str, version: str, files: Mapping[str, str], *, frozen: bool = True
    ) -> None:
        """A cookbook version as ``berks upload`` leaves it: ``files`` maps each path to its MD5
        checksum; uploads are frozen unless ``--no-freeze``."""
        self.cookbooks.setdefault(name, {})[version] = {
            "cookbook_name": name,
            "name": f"{name}-{version}",
            "version": version,
            "json_class": "Chef::CookbookVersion",
            "chef_type": "cookbook_version",
            "frozen?": frozen,
            "metadata": {"name": name, "version": version},
            "all_files": [
                {
                    "name": f"{_segment(path)}/{path.rsplit('/', 1)[-1]}",
                    "path": path,
                    "checksum": checksum,
                    "specificity": "default",
                }
                for path, checksum in sorted(files.items())
            ],
        }


def run_list(items: list[Any]) -> list[str]:
    """Run-list entries as Chef writes them: ``web`` and ``web::x`` are recipes."""
    return [
        item if re.match(r"^(recipe|role)\[", str(item)) else f"recipe[{item}]" for item in items
    ]


def role(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": value["name"],
        "description": value.get("description") or "",
        "json_class": "Chef::Role",
        "default_attributes": value.get("default_attributes") or {},
        "override_attributes": value.get("override_attributes") or {},
        "chef_type": "role",
        "run_list": run_list(value.get("run_list") or []),
        "env_run_lists": {
            name: run_list(items) for name, items in (value.get("env_run_lists") or {}).items()
        },
    }


def environment(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": value["name"],
        "description": value.get("description") or "",
        "cookbook_versions": value.get("cookbook_versions") or {},
        "json_class": "Chef::Environment",
        "chef_type": "environment",
        "default_attributes": value.get("default_attributes") or {},
        "override_attributes": value.get("override_attributes") or {},
    }


def _segment(path: str) -> str:
    top = path.split("/", 1)[0]
    known = ("recipes", "attributes", "files", "templates", "libraries", "resources", "providers")
    return top if "/" in path and top in known else "root_files"


class _Reply(Exception):
    def __init__(self, status: int, value: object) -> None:
        super().__init__(status)
        self.status = status
        self.value = value


def _error(status: int, message: str) -> _Reply:
    return _Reply(status, {"error": [message]})


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
                raise _error(404, f"no such organization: {url.path}")
            value = json.loads(body) if body else None
            endpoint = url.path[len(prefix) :]
            with self.server.lock:
                if method != "GET":
                    self.server.org.writes.append((method, endpoint))
                reply = _route(self.server.org, method, endpoint.split("/"), url.query, value)
        except _Reply as rejected:
            reply = rejected
        except (ValueError, KeyError, TypeError) as error:
            reply = _error(400, f"invalid request: {error}")
        self._send(reply.status, reply.value)

    def _authenticate(self, method: str, body: bytes) -> None:
        if self.headers.get("Accept") != "application/json":
            raise _error(400, "Accept must be application/json")
        if not self.headers.get("X-Chef-Version"):
            raise _error(400, "missing X-Chef-Version header")
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
            raise _error(
                401,
                f"Failed to authenticate as '{user}'. Ensure that your node_name and client key "
                "are correct.",
            )
        version = self.headers.get("X-Ops-Server-API-Version", "0")
        if not version.isdigit() or int(version) not in API_VERSIONS:
            raise _error(406, f"unsupported X-Ops-Server-API-Version {version}")

    def _send(self, status: int, value: object) -> None:
        data = json.dumps(value).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _route(org: Organization, method: str, parts: list[str], query: str, value: Any) -> _Reply:
    kind, rest = parts[0], parts[1:]
    if kind == "cookbooks":
        return _cookbooks(org, method, rest, query)
    if kind in ("roles", "environments"):
        store = org.roles if kind == "roles" else org.environments
        return _collection(store, method, rest, value, role if kind == "roles" else environment)
    if kind == "data":
        return _data(org, method, rest, value)
    return _error(404, f"no endpoint {'/'.join(parts)}")


def _cookbooks(org: Organization, method: str, rest: list[str], query: str) -> _Reply:
    if method != "GET":
        return _error(405, "cookbooks are uploaded with knife or berks")
    if not rest:
        every = parse_qs(query).get("num_versions") == ["all"]
        return _Reply(
            200,
            {
                name: {
                    "versions": [
                        {"version": version}
                        for version in sorted(versions, reverse=True)[: None if every else 1]
                    ]
                }
                for name, versions in org.cookbooks.items()
            },
        )
    found = org.cookbooks.get(rest[0], {}).get(rest[1] if len(rest) > 1 else "")
    return _Reply(200, found) if found else _error(404, f"no cookbook {'/'.join(rest)}")


def _collection(
    store: dict[str, dict[str, Any]], method: str, rest: list[str], value: Any, normal: Any
) -> _Reply:
    if not rest:
        if method == "GET":
            return _Reply(200, {name: f"/{name}" for name in store})
        if method == "POST":
            if value["name"] in store:
                return _error(409, "Object already exists")
            store[value["name"]] = normal(value)
            return _Reply(201, {"uri": value["name"]})
        return _error(405, "method not allowed")
    name = rest[0]
    if name == "_default" and method in ("PUT", "DELETE"):
        return _error(405, "The '_default' environment cannot be modified.")
    if name not in store:
        return _error(404, f"Cannot load {name}")
    if method == "GET":
        return _Reply(200, store[name])
    if method == "PUT":
        if value.get("name", name) != name:
            return _error(400, "Object name mismatch.")
        store[name] = normal({**value, "name": name})
        return _Reply(200, store[name])
    if method == "DELETE":
        return _Reply(200, store.pop(name))
    return _error(405, "method not allowed")


def _data(org: Organization, method: str, rest: list[str], value: Any) -> _Reply:
    if not rest:
        if method == "GET":
            return _Reply(200, {bag: f"/data/{bag}" for bag in org.data_bags})
        if method == "POST":
            if value["name"] in org.data_bags:
                return _error(409, "Data bag already exists")
            org.data_bags[value["name"]] = {}
            return _Reply(201, {"uri": f"/data/{value['name']}"})
        return _error(405, "method not allowed")
    bag = org.data_bags.get(rest[0])
    if bag is None:
        return _error(404, f"Cannot load data bag {rest[0]}")
    stored = {**(value or {}), "chef_type": "data_bag_item", "data_bag": rest[0]}
    if len(rest) == 1:
        if method == "GET":
            return _Reply(200, {item: f"/data/{rest[0]}/{item}" for item in bag})
        if method == "POST":
            if value["id"] in bag:
                return _error(409, "Object already exists")
            bag[value["id"]] = stored
            return _Reply(201, stored)
        if method == "DELETE":
            del org.data_bags[rest[0]]
            return _Reply(200, {"name": rest[0]})
        return _error(405, "method not allowed")
    item = rest[1]
    if item not in bag:
        return _error(404, f"Cannot load data bag item {item} for data bag {rest[0]}")
    if method == "GET":
        return _Reply(200, bag[item])
    if method == "PUT":
        bag[item] = {**stored, "id": item}
        return _Reply(200, bag[item])
    if method == "DELETE":
        return _Reply(200, bag.pop(item))
    return _error(405, "method not allowed")


class _ChefHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    org: Organization
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

    org: Organization
    port: int
    rejections: list[str]


@contextmanager
def chef_servers(
    urls: Mapping[str, str], ca: tls_certs.Issued, directory: Path
) -> Iterator[dict[str, RunningServer]]:
    """One double per ``urls`` entry (server name -> its organization URL), each presenting a
    certificate for the URL's host signed by ``ca``, all verified by one Ruby process."""
    verifier = SignatureVerifier()
    with ExitStack() as stack:
        stack.callback(verifier.close)
        running = {}
        for name, url in urls.items():
            host, org_name = urlsplit(url).hostname or "", url.rstrip("/").rsplit("/", 1)[-1]
            leaf = tls_certs.make_server_cert(ca, host)
            (directory / f"{name}.crt").write_bytes(tls_certs.pem(leaf.certificate))
            (directory / f"{name}.key").write_bytes(tls_certs.key_pem(leaf.key))
            server = _ChefHTTPServer(("127.0.0.1", 0), _Handler)
            server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server.tls.load_cert_chain(directory / f"{name}.crt", directory / f"{name}.key")
            server.org, server.org_name = Organization(), org_name
            server.verifier, server.lock, server.rejections = verifier, threading.Lock(), []
            threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
            stack.callback(server.server_close)
            stack.callback(server.shutdown)
            running[name] = RunningServer(server.org, server.server_address[1], server.rejections)
        yield running
