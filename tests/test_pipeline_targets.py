"""chef-pipeline-targets: what the build hands the Lambda, derived from .chef/*/config.yml alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chef_multiserver import pipeline_targets
from tests.conftest import Bake, make_servers


def targets_of(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, list[dict[str, Any]] | None, str]:
    output = repo / "targets.json"
    code = pipeline_targets.main(["--repo", str(repo), "--output", str(output)])
    captured = capsys.readouterr()
    written = json.loads(output.read_text("utf-8"))["servers"] if output.exists() else None
    return code, written, captured.err


def test_every_server_gets_its_region_and_the_defaults(
    bake: Bake, capsys: pytest.CaptureFixture[str]
) -> None:
    code, written, _ = targets_of(bake(servers=make_servers(2, region="eu-west-1")), capsys)
    assert code == 0
    assert written == [
        {"name": name, "region": "eu-west-1", "tag_key": "chef-server", "tag_value": name,
         "max_concurrency": "10%", "max_errors": "0", "allow_no_nodes": False}
        for name in ("chef-00", "chef-01")
    ]


def test_a_servers_own_settings_win(bake: Bake, capsys: pytest.CaptureFixture[str]) -> None:
    own = {"node_tag": {"key": "Role", "value": "web"}, "max_concurrency": "2", "max_errors": "10%",
           "allow_no_nodes": True}
    repo = bake(servers={"chef-00": {**make_servers(1)["chef-00"], **own}})
    _, written, _ = targets_of(repo, capsys)
    assert written == [{"name": "chef-00", "region": "us-east-1", "tag_key": "Role",
                        "tag_value": "web", "max_concurrency": "2", "max_errors": "10%",
                        "allow_no_nodes": True}]


def test_a_broken_config_is_named_and_nothing_is_written(
    bake: Bake, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = bake(servers=make_servers(2))
    (repo / ".chef/chef-01/config.yml").write_text("server: [1\n", "utf-8")
    (repo / ".chef/chef-00/config.yml").write_text(
        'server: "https://a.example.com/organizations/x"\nregion: "mars-1"\nnode_name: "me"\n')
    code, written, err = targets_of(repo, capsys)
    assert code == 1
    assert written is None
    assert ".chef/chef-00/config.yml:2:9: region: 'mars-1' is not allowed" in err
    assert ".chef/chef-01/config.yml:2:1: invalid YAML" in err
    assert "Traceback" not in err


@pytest.mark.parametrize(("value", "message"), [
    ("2020-13-45", "2:9: invalid YAML: '2020-13-45' is not a valid timestamp"),
    ("!!bool maybe", "2:9: invalid YAML: 'maybe' is not a valid bool"),
    ("us-northwest-9", "2:9: region: 'us-northwest-9' is not allowed"),
])
def test_a_region_that_cannot_be_read_is_one_finding(
    bake: Bake, capsys: pytest.CaptureFixture[str], value: str, message: str
) -> None:
    repo = bake(servers=make_servers(2))
    config = repo / ".chef/chef-00/config.yml"
    config.write_text(config.read_text("utf-8").replace('"us-east-1"', value), "utf-8")
    code, written, err = targets_of(repo, capsys)
    assert (code, written) == (1, None)
    assert err.startswith(f".chef/chef-00/config.yml:{message}"), err
    assert len(err.splitlines()) == 1


def test_two_spellings_of_one_organization_are_refused(
    bake: Bake, capsys: pytest.CaptureFixture[str]
) -> None:
    """Two targets for one Chef organization would upload to it and run chef-client twice."""
    repo = bake(servers=make_servers(2))
    config = repo / ".chef/chef-01/config.yml"
    config.write_text(config.read_text("utf-8").replace(
        "chef-01.example.com/organizations/org1", "CHEF-00.example.com:443/organizations/org0"))
    code, written, err = targets_of(repo, capsys)
    assert (code, written) == (1, None)
    assert "is also the URL of server 'chef-00'" in err


def test_a_repository_without_servers_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, written, err = targets_of(tmp_path, capsys)
    assert (code, written) == (1, None)
    assert err == "no server found: add .chef/<server>/config.yml\n"


def test_a_generated_template_fits_its_repository(bake: Bake) -> None:
    servers = make_servers(2)
    repo = bake(servers={**servers, "chef-01": {
        **servers["chef-01"], "node_tag": {"key": "Role", "value": "web"}}})
    assert pipeline_targets.template_findings(repo) == []


def test_an_edited_lambda_is_reported_until_copied_into_the_template(bake: Bake) -> None:
    repo = bake(servers=make_servers(1))
    lambda_source = repo / pipeline_targets.LAMBDA_SOURCE
    lambda_source.write_text(lambda_source.read_text("utf-8") + "# tuned\n", "utf-8")
    assert pipeline_targets.template_findings(repo) == [
        "cloudformation/pipeline.yml: the Lambda's inline code (ChefClientFunction Code.ZipFile) "
        "is not pipeline/chef_client.py: copy the file into it, then deploy the stack again"]


def test_a_node_tag_key_the_role_does_not_allow_is_reported(bake: Bake) -> None:
    repo = bake(servers=make_servers(1))
    config = repo / ".chef/chef-00/config.yml"
    config.write_text(config.read_text("utf-8") + 'node_tag: {"key": "Role", "value": "web"}\n')
    [finding] = pipeline_targets.template_findings(repo)
    assert finding.startswith(".chef/chef-00/config.yml: chef-client goes to nodes tagged 'Role'")


def test_a_server_directory_that_is_a_symlink_gets_no_target(
    bake: Bake, capsys: pytest.CaptureFixture[str]
) -> None:
    """git keeps no file beyond a symlink, so the pushed tree would lack this server's config."""
    repo = bake(servers=make_servers(1))
    (repo / ".chef/chef-01").symlink_to("chef-00")
    code, written, err = targets_of(repo, capsys)
    assert (code, written) == (1, None)
    assert err.startswith(".chef/chef-01/config.yml: chef-01/ is a symlink: a server is a real "
                          "directory inside the repository")
