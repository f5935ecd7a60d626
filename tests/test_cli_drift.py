"""``chef-multiserver drift`` against Chef server doubles (rehearsal/chef_server.py: HTTPS on
127.0.0.1, every request's signature verified by Chef's mixlib-authentication), one in step and
others drifted in each way issue 15 names.

What a real server holds after an upload is modelled on Chef's own classes: roles and
environments come back with every field filled in (chef/chef lib/chef/role.rb, environment.rb
``to_h``), run-list entries written out (lib/chef/run_list/run_list_item.rb), data bag items with
``chef_type`` and ``data_bag`` (lib/chef/data_bag_item.rb), cookbooks with the metadata.json
Berkshelf generates from metadata.rb and frozen by ``berks upload`` (docs.chef.io/berkshelf/).
The endpoints and their answers (/cookbooks/NAME/VERSION with ``all_files`` checksums at API
version 2, /roles, /environments, /data) follow https://docs.chef.io/server/api_chef_server/; the
signing the doubles verify is https://github.com/chef/mixlib-authentication
(lib/mixlib/authentication/signatureverification.rb)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rehearsal import chef_fleet
from tests.cli_fakes import Result, run

pytest_plugins = ("tests.fleet_fixtures",)


def drift(capsys: pytest.CaptureFixture[str], fleet: chef_fleet.Fleet, *argv: str) -> Result:
    return run(capsys, *fleet.options(), "drift", *argv)


def test_servers_holding_the_repository_are_in_step(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    # What servers fill in by themselves is no drift: the repository's role names a bare recipe
    # and leaves out json_class, chef_type and env_run_lists; the server holds metadata.json.
    role = json.loads((fleet_repo / "roles/example.json").read_text())
    role["run_list"] = ["example"]
    role["env_run_lists"] = {"_default": ["example"]}  # Chef::Role#to_h leaves it out
    (fleet_repo / "roles/example.json").write_text(json.dumps(role))
    result = drift(capsys, fleet)
    assert result.code == 0, result
    assert result.out.splitlines() == [f"{name}: in step" for name in sorted(fleet.servers)]
    for server in fleet.servers.values():
        assert server.rejections == []
        assert server.org.writes == []


def test_every_kind_of_drift_is_reported_as_json(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    chef_fleet.drift_by_hand(fleet.servers["chef-west"].org)
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


def test_the_table_names_the_frozen_version_case_and_keeps_secrets_out(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    chef_fleet.drift_by_hand(fleet.servers["chef-west"].org)
    result = drift(capsys, fleet, "--server", "chef-west")
    assert result.code == 1
    assert result.out.startswith("chef-west: 4 differences\n")
    assert "chef-east" not in result.out
    assert "frozen-version case: example 0.1.0 is frozen on the server" in result.out
    assert "differs in greeting" in result.out
    assert "hello" not in result.out  # a data bag item's values stay out of build logs
    assert "role stray: only on the server (kept" in result.out


def test_deleting_extras_when_asked_makes_them_drift(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    fleet.servers["chef-west"].org.roles["stray"] = {"name": "stray"}
    (fleet_repo / ".chef/sync.yml").write_text("delete_extra:\n  roles: true\n")
    result = drift(capsys, fleet, "--json", "--server", "chef-west")
    assert result.code == 1
    drifted = json.loads(result.out)["servers"]["chef-west"]["drift"]
    assert [(entry["kind"], entry["name"], entry["repo"]) for entry in drifted] == [
        ("role", "stray", None)
    ]


def test_a_bad_sync_setting_stops_with_its_line(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    (fleet_repo / ".chef/sync.yml").write_text("delete_extra:\n  roles: yes please\n")
    result = drift(capsys, fleet)
    assert result.code == 1
    assert result.err == (
        "chef-multiserver drift: .chef/sync.yml:2:10: delete_extra.roles: must be true or false, "
        "not a str ('yes please')\n"
    )


def test_a_server_that_fails_is_one_line_and_the_others_are_compared(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet, tmp_path: Path
) -> None:
    (fleet_repo / ".chef/chef-north/private.pem").write_bytes(
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
    assert lines[1].startswith(
        "chef-north: error: the server rejected the key of 'chef-pipeline' (401")
    assert lines[2].startswith("chef-west: error: TLS: the certificate of chef-west.example.com")
    assert len(lines) == 3
    assert "Traceback" not in result.err


def test_an_unreachable_server_and_a_missing_key(
    capsys: pytest.CaptureFixture[str],
    fleet_repo: Path,
    fleet: chef_fleet.Fleet,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chef_multiserver import chef_api

    monkeypatch.setattr(chef_api, "BACKOFF_SECONDS", 0)
    (fleet_repo / ".chef/chef-north/private.pem").unlink()
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


def test_connect_to_is_also_accepted_after_the_subcommand(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    result = run(capsys, "drift", *fleet.options(), "--server", "chef-east")
    assert (result.code, result.out) == (0, "chef-east: in step\n")


def test_an_unknown_server_is_refused(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
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
    capsys: pytest.CaptureFixture[str],
    fleet_repo: Path,
    fleet: chef_fleet.Fleet,
    path: str,
    text: str,
    message: str,
) -> None:
    (fleet_repo / path).write_text(text)
    result = drift(capsys, fleet)
    assert result.code == 1
    assert message in result.err
    assert result.out == ""


def test_every_locked_cookbook_version_must_be_on_every_server(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    (fleet_repo / "Berksfile.lock").write_text(
        "DEPENDENCIES\n  example\n    path: cookbooks/example\n\n"
        "GRAPH\n  chef-client (13.0.1)\n    cron (>= 4.2.0)\n  cron (7.0.0)\n  example (0.1.0)\n"
    )
    for server in fleet.servers.values():
        server.org.add_cookbook("cron", "7.0.0", {"metadata.json": "0" * 32})
        server.org.add_cookbook("chef-client", "13.0.1", {"metadata.json": "0" * 32})
    fleet.servers["chef-west"].org.cookbooks["chef-client"] = {}
    fleet.servers["chef-west"].org.add_cookbook("chef-client", "12.0.0", {})
    result = drift(capsys, fleet, "--json")
    assert result.code == 1
    report = json.loads(result.out)["servers"]
    assert [server["in_step"] for server in report.values()] == [True, True, False]
    assert report["chef-west"]["drift"] == [
        {"kind": "cookbook", "name": "chef-client", "repo": "13.0.1", "server": None}
    ]


@pytest.mark.parametrize("command", [["add-server", "x", "--url", "u"], ["doctor"], ["drift"]])
def test_connect_to_is_a_global_option(command: list[str]) -> None:
    from chef_multiserver.cli.main import build_parser

    route = "chef.example.com:443:127.0.0.1:8443"
    args = build_parser().parse_args(["--connect-to", route, *command])
    assert [":".join(rule) for rule in args.connect_to] == [route]


def test_an_answer_of_another_shape_is_that_server_s_error(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    # A 200 whose body is an error document where the cookbook list belongs (a broken proxy).
    fleet.servers["chef-north"].org.failures.append(200)
    result = drift(capsys, fleet)
    assert result.code == 1
    assert result.out.splitlines() == [
        "chef-east: in step",
        "chef-north: error: the server's answer is not what the Chef Infra Server API documents "
        "(AttributeError: 'list' object has no attribute 'get')",
        "chef-west: in step",
    ]


def test_files_the_nearest_chefignore_names_are_never_drift(
    capsys: pytest.CaptureFixture[str], fleet_repo: Path, fleet: chef_fleet.Fleet
) -> None:
    # Chef looks for chefignore from the cookbook upwards (lib/chef/cookbook/chefignore.rb): here
    # cookbooks/chefignore, nearer than the repository's own.
    (fleet_repo / "cookbooks/chefignore").write_text("# editor files\n*.tmp\n")
    (fleet_repo / "cookbooks/example/recipes/default.rb.tmp").write_text("scratch")
    (fleet_repo / "cookbooks/example/notes.bak").write_text("the repository's chefignore: *.bak")
    result = drift(capsys, fleet, "--server", "chef-east")
    assert result.code == 1
    assert "notes.bak" in result.out  # only the nearest chefignore counts, as in Chef
    assert "default.rb.tmp" not in result.out


def test_drift_runs_from_anywhere_in_the_repository(
    capsys: pytest.CaptureFixture[str],
    fleet_repo: Path,
    fleet: chef_fleet.Fleet,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(fleet_repo / "cookbooks/example/recipes")
    result = drift(capsys, fleet)
    assert (result.code, result.err) == (0, "")
