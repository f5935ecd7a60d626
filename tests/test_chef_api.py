"""chef_api signs requests as Chef's authentication protocol 1.3 requires, proven against Chef's
own implementation: Debian's ruby-mixlib-authentication (github.com/chef/mixlib-authentication,
lib/mixlib/authentication/signedheaderauth.rb and signatureverification.rb) both signs the same
request byte for byte and verifies ours inside the Chef server double (rehearsal/chef_server.py).
Headers and statuses as https://docs.chef.io/api_chef_server/ describes them."""

from __future__ import annotations

import http.client
import json
import socket
import ssl
import subprocess
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from chef_multiserver import chef_api
from rehearsal import chef_fleet, chef_server, tls_certs

URL = "https://chef-a.example.com/organizations/org0"
USER = "pivotal"


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return chef_fleet.rsa_key()


@pytest.fixture(scope="module")
def ca() -> tls_certs.Issued:
    return tls_certs.make_ca("test CA")


@pytest.fixture
def double(
    key: rsa.RSAPrivateKey, ca: tls_certs.Issued, tmp_path: Path
) -> Iterator[chef_server.RunningServer]:
    with chef_server.chef_servers({"a": URL}, ca, tmp_path) as servers:
        servers["a"].org.users[USER] = chef_fleet.public_pem(key)
        yield servers["a"]


def client(
    double: chef_server.RunningServer,
    ca: tls_certs.Issued,
    key: rsa.RSAPrivateKey,
    **options: Any,
) -> chef_api.ChefServer:
    context = ssl.create_default_context(cadata=tls_certs.pem(ca.certificate).decode("ascii"))
    return chef_api.ChefServer(URL, USER, key, context, ("127.0.0.1", double.port), **options)


RUBY_SIGN = """
require 'json'; require 'openssl'; require 'mixlib/authentication/signedheaderauth'
args = JSON.parse($stdin.read)
signer = Mixlib::Authentication::SignedHeaderAuth.signing_object(
  http_method: args['method'], path: args['path'], body: args['body'], timestamp: args['time'],
  user_id: args['user'], proto_version: '1.3',
  headers: { 'X-Ops-Server-API-Version' => '2' })
puts JSON.generate(signer.sign(OpenSSL::PKey::RSA.new(args['key']), sign_version: '1.3',
                               sign_algorithm: 'sha256'))
"""


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/organizations/org0/roles", b""),
        ("PUT", "//organizations/org0/roles/web/", b'{"name": "web", "run_list": []}'),
    ],
)
def test_headers_are_byte_for_byte_those_of_mixlib_authentication(
    key: rsa.RSAPrivateKey, method: str, path: str, body: bytes
) -> None:
    # RSA PKCS#1 v1.5 is deterministic: the same key and canonical request give the same bytes.
    time = datetime(2026, 12, 7, 12, 0, 5, tzinfo=timezone.utc)
    ours = chef_api.sign_headers(key, USER, method, path, body, time)
    request = {
        "method": method.lower(),
        "path": path,
        "body": body.decode("utf-8"),
        "time": "2026-12-07T12:00:05Z",
        "user": USER,
        "key": chef_fleet.private_pem(key).decode("ascii"),
    }
    ruby = subprocess.run(
        ["ruby", "-e", RUBY_SIGN],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        check=True,
    )
    theirs = json.loads(ruby.stdout)
    assert {name: value for name, value in ours.items() if name != "X-Ops-Server-API-Version"} == (
        theirs
    )
    assert len([name for name in ours if name.startswith("X-Ops-Authorization-")]) == 6


def test_the_server_accepts_signed_reads_and_writes(
    double: chef_server.RunningServer, ca: tls_certs.Issued, key: rsa.RSAPrivateKey
) -> None:
    with client(double, ca, key) as chef:
        chef.request("POST", "roles", {"name": "web", "run_list": ["web"]})
        chef.request("PUT", "roles/web", {"name": "web", "description": "front"})
        assert chef.get("roles/web")["description"] == "front"
        assert chef.get("cookbooks?num_versions=all") == {}
        assert chef.get_optional("roles/none") is None
    assert double.rejections == []


def send_raw(
    double: chef_server.RunningServer,
    ca: tls_certs.Issued,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
) -> int:
    context = ssl.create_default_context(cadata=tls_certs.pem(ca.certificate).decode("ascii"))
    connection = http.client.HTTPSConnection("chef-a.example.com", double.port, context=context)
    connection.sock = context.wrap_socket(
        socket.create_connection(("127.0.0.1", double.port)), server_hostname="chef-a.example.com"
    )
    connection.request(method, path, body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status


BASE = {"Accept": "application/json", "X-Chef-Version": chef_api.CHEF_VERSION, "Host": "chef-a"}


def test_a_stale_timestamp_is_rejected(
    double: chef_server.RunningServer, ca: tls_certs.Issued, key: rsa.RSAPrivateKey
) -> None:
    path = "/organizations/org0/roles"
    fresh = datetime.now(timezone.utc)
    assert (
        send_raw(
            double,
            ca,
            "GET",
            path,
            None,
            {**BASE, **chef_api.sign_headers(key, USER, "GET", path, b"", fresh)},
        )
        == 200
    )
    stale = fresh - timedelta(minutes=16)
    headers = chef_api.sign_headers(key, USER, "GET", path, b"", stale)
    assert send_raw(double, ca, "GET", path, None, {**BASE, **headers}) == 401
    assert double.rejections == ["invalid timestamp"]


def test_a_changed_body_is_rejected(
    double: chef_server.RunningServer, ca: tls_certs.Issued, key: rsa.RSAPrivateKey
) -> None:
    path = "/organizations/org0/roles"
    signed = b'{"name": "web"}'
    headers = chef_api.sign_headers(key, USER, "POST", path, signed, datetime.now(timezone.utc))
    headers = {**BASE, **headers, "Content-Type": "application/json"}
    assert send_raw(double, ca, "POST", path, b'{"name": "evil"}', headers) == 401
    assert "content hash" in double.rejections[0]
    assert double.org.roles == {}


def test_a_wrong_key_is_one_clear_error(
    double: chef_server.RunningServer, ca: tls_certs.Issued
) -> None:
    with (
        client(double, ca, chef_fleet.rsa_key()) as chef,
        pytest.raises(chef_api.ChefAPIError, match=r"rejected the key of 'pivotal' \(401"),
    ):
        chef.get("roles")
    assert double.rejections == ["invalid signature"]


def test_a_server_certificate_from_another_ca_is_refused(
    double: chef_server.RunningServer, key: rsa.RSAPrivateKey
) -> None:
    stranger = tls_certs.make_ca("another CA")
    with (
        client(double, stranger, key) as chef,
        pytest.raises(chef_api.ChefAPIError, match="not trusted"),
    ):
        chef.get("roles")


def test_reads_are_retried_and_creates_are_not(
    double: chef_server.RunningServer,
    ca: tls_certs.Issued,
    key: rsa.RSAPrivateKey,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(chef_api, "BACKOFF_SECONDS", 0)
    with client(double, ca, key) as chef:
        double.org.failures.extend([503, 503])
        assert chef.get("roles") == {}
        double.org.failures.append(503)
        with pytest.raises(chef_api.ChefAPIError, match="HTTP 503"):
            chef.request("POST", "roles", {"name": "web"})
    assert double.org.failures == []
    assert double.org.roles == {}


def test_an_unreachable_server_is_one_clear_error(
    ca: tls_certs.Issued, key: rsa.RSAPrivateKey, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(chef_api, "BACKOFF_SECONDS", 0)
    context = ssl.create_default_context(cadata=tls_certs.pem(ca.certificate).decode("ascii"))
    with chef_server.chef_servers({"a": URL}, ca, tmp_path) as servers:
        port = servers["a"].port
    chef = chef_api.ChefServer(URL, USER, key, context, ("127.0.0.1", port), timeout=5)
    with pytest.raises(
        chef_api.ChefAPIError, match=r"cannot reach chef-a\.example\.com:443 through"
    ):
        chef.get("roles")


def test_a_key_that_is_not_rsa_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()
    )
    with pytest.raises(chef_api.ChefAPIError, match="must be RSA"):
        chef_api.load_key(pem, "private.pem")
    with pytest.raises(chef_api.ChefAPIError, match="not an unencrypted PEM private key"):
        chef_api.load_key(b"junk", "private.pem")
