"""``chef-multiserver sync``, what the build runs after ``berks upload``, against Chef server
doubles (rehearsal/chef_server.py; every signature verified by mixlib-authentication).

The writes are those Chef's own classes make (chef/chef lib/chef/role.rb, environment.rb,
data_bag_item.rb ``save``/``create``: POST to the collection to create, PUT to the object to
update; a data bag is created with POST /data), endpoints and statuses from
https://docs.chef.io/api_chef_server/."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from rehearsal import chef_fleet
from tests.cli_fakes import Result, aws_client, private_bucket, run

pytest_plugins = ("tests.cli_fixtures", "tests.fleet_fixtures")


def sync(capsys: pytest.CaptureFixture[str], fleet: chef_fleet.Fleet, *argv: str) -> Result:
    return run(capsys, *fleet.options(), "sync", *argv)


def test_only_what_differs_is_written_and_extras_are_kept(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    west = fleet.servers["chef-west"].org
    west.roles["example"]["description"] = "changed by hand"
    del west.environments["example"]
    del west.data_bags["example"]
    west.roles["stray"] = {**west.roles["example"], "name": "stray"}

    result = sync(capsys, fleet)

    assert result.code == 0, result
    assert west.writes == [
        ("PUT", "roles/example"),
        ("POST", "environments"),
        ("POST", "data/example"),  # 404: no such bag yet
        ("POST", "data"),
        ("POST", "data/example"),
    ]
    for name in ("chef-east", "chef-north"):
        assert fleet.servers[name].org.writes == []
    assert "chef-west: created: environment example, data_bag_item example/settings; " in result.out
    assert "updated: role example; kept, only on the server" in result.out
    assert result.out.endswith(
        "chef-east: in step\nchef-north: in step\nchef-west: in step\n"
        "  role stray: only on the server (kept: .chef/sync.yml does not "
        "ask to delete it)\n"
    )
    assert "stray" in west.roles

    second = sync(capsys, fleet)
    assert second.code == 0
    assert "chef-west: nothing to write; kept" in second.out
    assert len(west.writes) == 5


def test_extras_are_deleted_where_the_repository_asks(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    west = fleet.servers["chef-west"].org
    west.roles["stray"] = {"name": "stray"}
    west.environments["staging"] = {"name": "staging"}
    (fleet_repo / ".chef/sync.yml").write_text("delete_extra:\n  roles: true\n")
    result = sync(capsys, fleet)
    assert result.code == 0, result
    assert west.writes == [("DELETE", "roles/stray")]
    assert "chef-west: deleted (.chef/sync.yml delete_extra): role stray; kept" in result.out
    assert "staging" in west.environments


def test_an_encrypted_item_is_uploaded_as_it_is(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    encrypted = {
        "id": "db",
        "password": {
            "encrypted_data": "c2VjcmV0Cg==",
            "iv": "aXYxMjM0NTY3ODkw",
            "auth_tag": "dGFnMTIzNDU2Nzg5MA==",
            "version": 3,
            "cipher": "aes-256-gcm",
        },
    }
    (fleet_repo / "data_bags/secrets").mkdir()
    (fleet_repo / "data_bags/secrets/db.json").write_text(json.dumps(encrypted))
    result = sync(capsys, fleet, "--server", "chef-east")
    assert result.code == 0, result
    stored = fleet.servers["chef-east"].org.data_bags["secrets"]["db"]
    assert {key: value for key, value in stored.items() if key in encrypted} == encrypted


def test_the_frozen_version_case_fails_the_build(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    chef_fleet.drift_by_hand(fleet.servers["chef-north"].org)
    result = sync(capsys, fleet)
    assert result.code == 1
    assert "chef-north: 1 difference" in result.out
    assert "frozen-version case: example 0.1.0 is frozen on the server" in result.out
    assert not any(
        endpoint.startswith("cookbooks") for _, endpoint in fleet.servers["chef-north"].org.writes
    )


def test_keys_come_from_the_key_bucket_in_memory(
    capsys: pytest.CaptureFixture[str],
    fleet_repo: Path,
    fleet: chef_fleet.Fleet,
    aws: str,
    fleet_key: rsa.RSAPrivateKey,
) -> None:
    bucket = private_bucket("chef-keys")
    s3 = aws_client("s3")
    for name in fleet.servers:
        key_file = fleet_repo / ".chef" / name / "private.pem"
        s3.put_object(Bucket=bucket, Key=f"{name}/private.pem", Body=key_file.read_bytes())
        key_file.unlink()
    fleet.servers["chef-east"].org.roles["example"]["description"] = "by hand"
    result = sync(capsys, fleet, "--key-bucket", bucket)
    assert result.code == 0, result
    assert fleet.servers["chef-east"].org.writes == [("PUT", "roles/example")]
    assert list(fleet_repo.rglob("private.pem")) == []


def test_a_missing_key_in_the_bucket_fails_that_server_only(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet, aws: str
) -> None:
    bucket = private_bucket("chef-keys")
    s3 = aws_client("s3")
    for name in ("chef-east", "chef-north"):
        key_file = fleet_repo / ".chef" / name / "private.pem"
        s3.put_object(Bucket=bucket, Key=f"{name}/private.pem", Body=key_file.read_bytes())
    result = sync(capsys, fleet, "--key-bucket", bucket)
    assert result.code == 1
    assert "chef-west: sync failed: s3://chef-keys/chef-west/private.pem: " in result.out
    assert "chef-east: in step" in result.out
