"""Chef server doubles for a rehearsed build (rehearsal/buildspec.py): one per server of the
repository, each knowing the key the key bucket holds for its server, presenting a certificate
from a CA the repository trusts (.chef/ca_certs/), and reached by its own host name: each
config.yml gets its double's port, and ``env()`` makes the build resolve those names to 127.0.0.1
(rehearsal/resolve/sitecustomize.py), as /etc/hosts would.

The berks stand-in uploads nothing, so each double starts out holding the repository's cookbooks
as ``berks upload`` would leave them (rehearsal/chef_fleet.py ``upload_repository``)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import boto3
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from rehearsal import chef_fleet, chef_server, moto_server, tls_certs
from rehearsal.generate import KIT_ROOT

RESOLVER_DIR = Path(__file__).with_name("resolve")


@dataclass
class BuildServers:
    doubles: chef_server.Doubles
    hosts: list[str] = field(default_factory=list)

    @property
    def running(self) -> dict[str, chef_server.RunningServer]:
        return self.doubles.running

    def env(self) -> dict[str, str]:
        """What the build's environment needs to reach the doubles by name."""
        return {
            "PYTHONPATH": f"{KIT_ROOT}{os.pathsep}{RESOLVER_DIR}",
            "REHEARSAL_HOSTS": json.dumps(self.hosts),
        }

    def add(self, repo: Path, name: str, key_pem: bytes) -> chef_server.RunningServer:
        """A double for server ``name`` of ``repo``, holding the repository; its port goes into
        the server's config.yml (not committed here)."""
        config_file = repo / ".chef" / name / "config.yml"
        config = chef_fleet.server_configs(repo)[name]
        running = self.doubles.add(name, config["server"])
        url = urlsplit(config["server"])
        host = url.hostname or ""
        pinned = config["server"].replace(f"//{url.netloc}/", f"//{host}:{running.port}/", 1)
        config_file.write_text(
            config_file.read_text("utf-8").replace(config["server"], pinned), "utf-8"
        )
        key = load_pem_private_key(key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise TypeError(f"the key of {name} is not RSA")
        running.org.users[config["node_name"]] = chef_fleet.public_pem(key)
        chef_fleet.upload_repository(running.org, repo)
        self.hosts.append(host)
        return running


def bucket_keys(endpoint: str, bucket: str, names: list[str]) -> dict[str, bytes]:
    """The keys the key bucket holds for ``names``."""
    s3 = boto3.client("s3", **moto_server.client_options(endpoint))
    return {
        name: s3.get_object(Bucket=bucket, Key=f"{name}/private.pem")["Body"].read()
        for name in names
    }


@contextmanager
def build_servers(repo: Path, work: Path, keys: Mapping[str, bytes]) -> Iterator[BuildServers]:
    """A double for every server of ``repo`` that ``keys`` has a key for."""
    ca = tls_certs.make_ca("chef-multiserver rehearsal CA")
    (repo / chef_fleet.CA_FILE).write_bytes(tls_certs.pem(ca.certificate))
    work.mkdir(parents=True, exist_ok=True)
    servers = BuildServers(chef_server.Doubles(ca, work))
    try:
        for name in chef_fleet.server_configs(repo):
            if name in keys:
                servers.add(repo, name, keys[name])
        yield servers
    finally:
        servers.doubles.close()
