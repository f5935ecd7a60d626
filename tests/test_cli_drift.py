"""``chef-multiserver drift`` against Chef server doubles (rehearsal/chef_server.py: HTTPS on
127.0.0.1, every request's signature verified by Chef's mixlib-authentication), one in step and
others drifted in each way issue 15 names.

What a real server holds after an upload is modelled on Chef's own classes: roles and
environments come back with every field filled in (chef/chef lib/chef/role.rb, environment.rb
``to_h``), run-list entries written out (lib/chef/run_list/run_list_item.rb), data bag items with
``chef_type`` and ``data_bag`` (lib/chef/data_bag_item.rb), cookbooks with the metadata.json
Berkshelf generates from metadata.rb and frozen by ``berks upload`` (docs.chef.io/berkshelf/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rehearsal import chef_fleet
from tests.cli_fakes import run
from tests.conftest import bake_into

SERVERS = {
    name: {"server": f"https://{name}.example.com/organizations/default", "region": "us-east-1"}
    for name in ("chef-east", "chef-north", "chef-west")
}


@pytest.fixture(scope="module")
def baked(tmp_path_factory):
    return bake_into(tmp_path_factory.mktemp("baked"), servers=SERVERS)


@pytest.fixture(scope="module")
def key():
    return chef_fleet.rsa_key()


@pytest.fixture
def repo(baked, tmp_path, monkeypatch):
    copy = Path(shutil.copytree(baked, tmp_path / "repo"))
    monkeypatch.chdir(copy)
    return copy


@pytest.fixture
def fleet(repo, tmp_path, key):
    with chef_fleet.chef_fleet(repo, tmp_path / "doubles", key) as running:
        for server in running.servers.values():
            chef_fleet.upload_repository(server.org, repo)
        yield running


def drift(capsys, fleet, *argv):
    return run(capsys, *fleet.options(), "drift", *argv)


def test_servers_holding_the_repository_are_in_step(capsys, repo, fleet):
    # What servers fill in by themselves is no drift: the repository's role names a bare recipe
    # and leaves out json_class, chef_type and env_run_lists; the server holds metadata.json.
    role = json.loads((repo / "roles/example.json").read_text())
    role["run_list"] = ["example"]
    (repo / "roles/example.json").write_text(json.dumps(role))
    result = drift(capsys, fleet)
    assert result.code == 0, result
    assert result.out.splitlines() == [f"{name}: in step" for name in SERVERS]
    for server in fleet.servers.values():
        assert server.rejections == []
        assert server.org.writes == []


def drift_west(org):
    org.roles["example"]["description"] = "changed by hand"
    del org.environments["example"]
    org.data_bags["example"]["settings"]["greeting"] = "hello"
    org.roles["stray"] = {**org.roles["example"], "name": "stray"}
    cookbook = org.cookbooks["example"]["0.1.0"]
    cookbook["all_files"][-1]["checksum"] = "0" * 32


def test_every_kind_of_drift_is_reported_as_json(capsys, repo, fleet):
    drift_west(fleet.servers["chef-west"].org)
    del fleet.servers["chef-north"].org.cookbooks["example"]
    result = drift(capsys, fleet, "--json")
    assert result.code == 1
    report = json.loads(result.out)["servers"]
    assert report["chef-east"] == {"in_step": True, "error": None, "drift": []}
    assert report["chef-north"] == {
        "in_step": False,
        "error": None,
        "drift": [{"kind": "cookbook", "name": "example", "repo": "0.1.0", "server": None}],
    }
    west = report["chef-west"]
    assert (west["in_step"], west["error"]) == (False, None)
    by_kind = {entry["kind"]: entry for entry in west["drift"]}
    assert sorted(by_kind) == ["cookbook", "data_bag_item", "environment", "role"]
    assert len(west["drift"]) == 4  # the stray role is reported, not drift: sync.yml keeps it
    recipe = "recipes/default.rb"
    assert by_kind["cookbook"]["name"] == "example"
    assert by_kind["cookbook"]["server"] == {
        "version": "0.1.0",
        "frozen": True,
        "files": {recipe: "0" * 32},
    }
    assert by_kind["cookbook"]["repo"]["files"][recipe] != "0" * 32
    assert by_kind["role"]["repo"]["description"] != "changed by hand"
    assert by_kind["role"]["server"]["description"] == "changed by hand"
    assert by_kind["environment"] == {
        "kind": "environment",
        "name": "example",
        "repo": by_kind["environment"]["repo"],
        "server": None,
    }
    assert by_kind["environment"]["repo"]["cookbook_versions"] == {"example": ">= 0.1.0"}
    assert by_kind["data_bag_item"]["name"] == "example/settings"
    assert by_kind["data_bag_item"]["server"]["greeting"] == "hello"
    assert "chef_type" not in by_kind["data_bag_item"]["server"]


def test_the_table_names_the_frozen_version_case_and_keeps_secrets_out(capsys, repo, fleet):
    drift_west(fleet.servers["chef-west"].org)
    result = drift(capsys, fleet, "--server", "chef-west")
    assert result.code == 1
    assert result.out.startswith("chef-west: 4 differences\n")
    assert "chef-east" not in result.out
    assert "frozen-version case: example 0.1.0 is frozen on the server" in result.out
    assert "differs in greeting" in result.out
    assert "hello" not in result.out  # a data bag item's values stay out of build logs
    assert "role stray: only on the server (kept" in result.out


def test_deleting_extras_when_asked_makes_them_drift(capsys, repo, fleet):
    fleet.servers["chef-west"].org.roles["stray"] = {"name": "stray"}
    (repo / ".chef/sync.yml").write_text("delete_extra:\n  roles: true\n")
    result = drift(capsys, fleet, "--json", "--server", "chef-west")
    assert result.code == 1
    drifted = json.loads(result.out)["servers"]["chef-west"]["drift"]
    assert [(entry["kind"], entry["name"], entry["repo"]) for entry in drifted] == [
        ("role", "stray", None)
    ]


def test_a_bad_sync_setting_stops_with_its_line(capsys, repo, fleet):
    (repo / ".chef/sync.yml").write_text("delete_extra:\n  roles: yes please\n")
    result = drift(capsys, fleet)
    assert result.code == 1
    assert result.err == (
        "chef-multiserver drift: .chef/sync.yml:2:10: delete_extra.roles must be true or false, "
        "not 'yes please'\n"
    )


def test_a_server_that_fails_is_one_line_and_the_others_are_compared(capsys, repo, fleet, tmp_path):
    (repo / ".chef/chef-north/private.pem").write_bytes(
        chef_fleet.private_pem(chef_fleet.rsa_key())
    )
    east_port = fleet.servers["chef-east"].port
    routes = [route for route in fleet.connect_to if not route.startswith("chef-west")]
    # chef-west's name routed to chef-east's double: its certificate does not name chef-west.
    routes.append(f"chef-west.example.com:443:127.0.0.1:{east_port}")
    options = [option for route in routes for option in ("--connect-to", route)]
    result = run(capsys, *options, "drift")
    assert result.code == 1
    lines = result.out.splitlines()
    assert lines[0] == "chef-east: in step"
    assert lines[1].startswith("chef-north: error: the server rejected the key of 'pivotal' (401")
    assert lines[2].startswith("chef-west: error: TLS: the certificate of chef-west.example.com")
    assert len(lines) == 3
    assert "Traceback" not in result.err


def test_an_unreachable_server_and_a_missing_key(capsys, repo, fleet, monkeypatch):
    from chef_multiserver import chef_api

    monkeypatch.setattr(chef_api, "BACKOFF_SECONDS", 0)
    (repo / ".chef/chef-north/private.pem").unlink()
    routes = [route for route in fleet.connect_to if not route.startswith("chef-west")]
    routes.append("chef-west.example.com:443:127.0.0.1:9")  # the discard port: nobody listens
    options = [option for route in routes for option in ("--connect-to", route)]
    result = run(capsys, *options, "drift", "--json")
    assert result.code == 1
    report = json.loads(result.out)["servers"]
    assert report["chef-east"]["in_step"] is True
    assert report["chef-north"]["error"].startswith(".chef/chef-north/private.pem cannot read")
    assert report["chef-west"]["error"].startswith(
        "cannot reach chef-west.example.com:443 through 127.0.0.1:9"
    )


def test_connect_to_is_also_accepted_after_the_subcommand(capsys, repo, fleet):
    result = run(capsys, "drift", *fleet.options(), "--server", "chef-east")
    assert (result.code, result.out) == (0, "chef-east: in step\n")


def test_an_unknown_server_is_refused(capsys, repo, fleet):
    result = drift(capsys, fleet, "--server", "chef-south")
    assert result.code == 1
    assert result.err.startswith("chef-multiserver drift: unknown server 'chef-south'")


@pytest.mark.parametrize(
    ("path", "text", "message"),
    [
        (
            "roles/example.json",
            '{"name": "example",\n  "run_list": [}',
            "roles/example.json:2:16: invalid JSON",
        ),
        ("roles/web.json", '{"name": "example"}', "its 'name' is 'example', not 'web'"),
        (
            "data_bags/example/other.json",
            '{"id": "settings"}',
            "its 'id' is 'settings', not 'other'",
        ),
    ],
)
def test_a_file_that_is_not_what_its_folder_says_stops_drift(
    capsys, repo, fleet, path, text, message
):
    (repo / path).write_text(text)
    result = drift(capsys, fleet)
    assert result.code == 1
    assert message in result.err
    assert result.out == ""
