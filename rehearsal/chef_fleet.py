"""The Chef server doubles of a generated repository, set up the way a user's workstation is: the
CA in ``.chef/ca_certs/``, each server's key in ``.chef/<server>/private.pem``, and the
``--connect-to`` routes that send each server's host name to its double on 127.0.0.1.

``upload_repository`` leaves a double holding what the repository asks for, the way
``berks upload`` and knife leave a real server: it computes checksums and fills in fields by the
double's own rules (rehearsal/chef_server.py), not by the code under test."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rehearsal import chef_org, chef_server, tls_certs

CA_FILE = ".chef/ca_certs/rehearsal-ca.crt"


@dataclass
class Fleet:
    servers: dict[str, chef_server.RunningServer]
    connect_to: list[str]  # --connect-to arguments, one per server

    def options(self) -> list[str]:
        return [option for route in self.connect_to for option in ("--connect-to", route)]


def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode("ascii")
    )


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def server_configs(repo: Path) -> dict[str, dict[str, Any]]:
    return {
        path.parent.name: yaml.safe_load(path.read_text("utf-8"))
        for path in sorted(repo.glob(".chef/*/config.yml"))
    }


@contextmanager
def chef_fleet(
    repo: Path, work: Path, key: rsa.RSAPrivateKey | None = None, latency: float = 0.0
) -> Iterator[Fleet]:
    """A double for every server of ``repo``, its user (the config's node_name) knowing ``key``,
    which is written as each server's private.pem."""
    key = key or rsa_key()
    configs = server_configs(repo)
    ca = tls_certs.make_ca("chef-multiserver rehearsal CA")
    (repo / CA_FILE).write_bytes(tls_certs.pem(ca.certificate))
    work.mkdir(parents=True, exist_ok=True)
    urls = {name: config["server"] for name, config in configs.items()}
    with chef_server.chef_servers(urls, ca, work) as servers:
        routes = []
        for name, config in configs.items():
            servers[name].org.users[config["node_name"]] = public_pem(key)
            servers[name].org.latency = latency
            key_file = repo / ".chef" / name / "private.pem"
            key_file.write_bytes(private_pem(key))
            key_file.chmod(0o600)
            url = urlsplit(config["server"])
            routes.append(f"{url.hostname}:{url.port or 443}:127.0.0.1:{servers[name].port}")
        yield Fleet(servers, routes)


def upload_repository(org: chef_org.Organization, repo: Path) -> None:
    """What a server holds after ``berks upload`` of the repository's own cookbooks (with the
    metadata.json Berkshelf generates from metadata.rb) and knife uploads of every role,
    environment and data bag item."""
    for metadata in sorted(repo.glob("cookbooks/*/metadata.rb")):
        directory = metadata.parent
        version = re.search(r"""^version\s+['"]([^'"]+)""", metadata.read_text(), re.M)
        files = {
            path.relative_to(directory).as_posix(): hashlib.md5(path.read_bytes()).hexdigest()  # noqa: S324 (Chef's checksum)
            for path in directory.rglob("*")
            if path.is_file()
        }
        files["metadata.json"] = hashlib.md5(b"{}").hexdigest()  # noqa: S324 (Chef's checksum)
        org.add_cookbook(directory.name, version[1] if version else "0.0.0", files)
    for path in sorted(repo.glob("roles/*.json")):
        org.roles[path.stem] = chef_org.role(json.loads(path.read_text("utf-8")))
    for path in sorted(repo.glob("environments/*.json")):
        org.environments[path.stem] = chef_org.environment(json.loads(path.read_text("utf-8")))
    for path in sorted(repo.glob("data_bags/*/*.json")):
        item = json.loads(path.read_text("utf-8"))
        bag = path.parent.name
        org.data_bags.setdefault(bag, {})[path.stem] = {
            **item,
            "chef_type": "data_bag_item",
            "data_bag": bag,
        }


def drift_by_hand(org: chef_org.Organization) -> None:
    """A server someone changed by hand: a role edited, an environment deleted, a data bag item
    edited, a role added, and the repository's cookbook version holding another recipe."""
    org.roles["example"]["description"] = "changed by hand"
    del org.environments["example"]
    org.data_bags["example"]["settings"]["greeting"] = "hello"
    org.roles["stray"] = {**org.roles["example"], "name": "stray"}
    cookbook: Any = org.cookbooks["example"]["0.1.0"]
    cookbook["all_files"][-1]["checksum"] = "0" * 32
