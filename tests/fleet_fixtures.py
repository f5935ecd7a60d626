"""Fixtures of the tests that talk to Chef servers (loaded with ``pytest_plugins``): a generated
repository of three servers as the current directory, and a Chef server double for each, holding
what the repository asks for (rehearsal/chef_fleet.py)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from rehearsal import chef_fleet
from tests.conftest import bake_into

SERVERS = {
    name: {"server": f"https://{name}.example.com/organizations/default", "region": "us-east-1"}
    for name in ("chef-east", "chef-north", "chef-west")
}


@pytest.fixture(scope="module")
def fleet_baked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake_into(tmp_path_factory.mktemp("baked"), servers=SERVERS)


@pytest.fixture(scope="module")
def fleet_key() -> rsa.RSAPrivateKey:
    return chef_fleet.rsa_key()


@pytest.fixture
def fleet_repo(fleet_baked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = Path(shutil.copytree(fleet_baked, tmp_path / "repo"))
    monkeypatch.chdir(copy)
    return copy


@pytest.fixture
def fleet(
    fleet_repo: Path, tmp_path: Path, fleet_key: rsa.RSAPrivateKey
) -> Iterator[chef_fleet.Fleet]:
    with chef_fleet.chef_fleet(fleet_repo, tmp_path / "doubles", fleet_key) as running:
        for server in running.servers.values():
            chef_fleet.upload_repository(server.org, fleet_repo)
        yield running
