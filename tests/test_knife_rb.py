"""The generated .chef/knife.rb, loaded the way knife and Berkshelf load it: by Chef's own
configuration loader (Debian's ruby-chef-config)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Bake, make_servers

# Prints the settings knife would use, as JSON; a configuration error is printed as knife shows it.
LOAD_LIKE_KNIFE = """
require "json"
require "chef-config/workstation_config_loader"
begin
  ChefConfig::WorkstationConfigLoader.new(ARGV[0]).load
rescue ChefConfig::ConfigurationError => error
  warn error.message
  exit 1
end
settings = %i{chef_server_url client_key node_name cookbook_path trusted_certs_dir ssl_verify_mode}
puts JSON.generate(settings.to_h { |key| [key, ChefConfig::Config[key]] })
"""


def load_knife_rb(repo: Path, chef_server: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "CHEF_SERVER"}
    if chef_server is not None:
        env["CHEF_SERVER"] = chef_server
    return subprocess.run(
        ["ruby", "-e", LOAD_LIKE_KNIFE, str(repo / ".chef/knife.rb")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_every_server_loads_with_its_url_key_and_user(bake: Bake) -> None:
    chosen = make_servers(3)
    repo = bake(servers=chosen, chef_user="deployer")

    for name, spec in chosen.items():
        run = load_knife_rb(repo, name)
        assert run.returncode == 0, run.stderr
        assert json.loads(run.stdout) == {
            "chef_server_url": spec["server"],
            "client_key": str(repo / ".chef" / name / "private.pem"),
            "node_name": "deployer",
            "cookbook_path": [str(repo / "cookbooks")],
            "trusted_certs_dir": str(repo / ".chef/ca_certs"),
            "ssl_verify_mode": "verify_peer",
        }


def test_knife_rb_works_from_a_subdirectory(bake: Bake) -> None:
    """knife and Berkshelf find .chef/knife.rb by walking up; paths must not depend on the cwd."""
    repo = bake()
    env = {**os.environ, "CHEF_SERVER": "chef-west"}

    run = subprocess.run(
        ["ruby", "-e", LOAD_LIKE_KNIFE, "../../.chef/knife.rb"],
        env=env,
        cwd=repo / "cookbooks/example",
        capture_output=True,
        text=True,
        check=False,
    )

    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["client_key"] == str(repo / ".chef/chef-west/private.pem")


@pytest.mark.parametrize(
    ("chef_server", "problem"),
    [
        (None, "CHEF_SERVER is not set"),
        ("", "CHEF_SERVER is not set"),
        ("chef-north", "CHEF_SERVER=chef-north names no server"),
        ("../chef-east", "CHEF_SERVER=../chef-east names no server"),
        ("ca_certs", "CHEF_SERVER=ca_certs names no server"),
    ],
)
def test_missing_or_unknown_server_lists_the_servers(
    bake: Bake, chef_server: str | None, problem: str
) -> None:
    repo = bake()

    run = load_knife_rb(repo, chef_server)

    assert run.returncode == 1
    assert f"{problem}: set CHEF_SERVER to one of chef-east, chef-west" in run.stderr


def test_a_server_added_later_is_found_without_editing_knife_rb(bake: Bake) -> None:
    repo = bake()
    (repo / ".chef/chef-eu").mkdir()
    (repo / ".chef/chef-eu/config.yml").write_text(
        "server: https://chef-eu.example.com/organizations/default\nregion: eu-west-1\n"
        "node_name: pivotal\n",
        "utf-8",
    )

    run = load_knife_rb(repo, "chef-eu")

    assert run.returncode == 0, run.stderr
    assert (
        json.loads(run.stdout)["chef_server_url"]
        == "https://chef-eu.example.com/organizations/default"
    )
