"""A bounded fuzz pass over each reader of a repository's files: check-chef-server-config,
chef-pipeline-targets and check-chef-repo, run in-process on drawn files (so an exception is the
traceback a user would see). Each must exit 0 or 1, say what it found in its own format, and leave
the repository as it found it.

The config files are drawn from every key of the schema as it is when the tests run
(tests/schema_strategies.py), with values PyYAML cannot build, values near what the schema allows,
and YAML syntax of every kind. Each test stays within a few seconds: max_examples bounds it, and the
deadline catches a hang or a quadratic path on one file."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chef_multiserver import pipeline_targets, servers
from pre_commit_hooks import check_chef_repo, check_chef_server_config
from tests.conftest import bake_into
from tests.schema_strategies import config_documents, yaml_value

FUZZ = settings(
    max_examples=100,
    deadline=timedelta(seconds=5),  # one run takes milliseconds; seconds would be a hang
    database=None,  # no .hypothesis/ directory in the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)
SERVER_NAMES = ("chef-a", "chef-b", "Chef-A", "ca_certs", "chef b")


def snapshot(root: Path) -> dict[str, bytes | str]:
    """Every entry under ``root`` with its content (a symlink: its target), to compare after."""
    found: dict[str, bytes | str] = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_symlink():
            found[relative] = str(path.readlink())
        elif path.is_file():
            found[relative] = path.read_bytes()
        else:
            found[relative] = "dir"
    return found


def write_servers(repo: Path, configs: dict[str, bytes]) -> None:
    shutil.rmtree(repo / servers.CHEF_DIR, ignore_errors=True)
    for name, content in configs.items():
        directory = repo / servers.CHEF_DIR / name
        directory.mkdir(parents=True)
        (directory / servers.CONFIG_FILE).write_bytes(content)


SERVER_CONFIGS = st.dictionaries(st.sampled_from(SERVER_NAMES), config_documents(),
                                 min_size=1, max_size=3)


@FUZZ
@given(configs=SERVER_CONFIGS)
def test_check_chef_server_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    configs: dict[str, bytes],
) -> None:
    monkeypatch.chdir(tmp_path)
    write_servers(tmp_path, configs)
    filenames = [f"{servers.CHEF_DIR}/{name}/{servers.CONFIG_FILE}" for name in configs]
    before = snapshot(tmp_path)

    code = check_chef_server_config.main(filenames)

    out = capsys.readouterr().out.splitlines()
    assert code in (0, 1)
    assert (code == 1) == bool(out)
    assert all(line.startswith(tuple(f"{name}:" for name in filenames)) for line in out), out
    assert snapshot(tmp_path) == before


@FUZZ
@given(configs=SERVER_CONFIGS)
def test_chef_pipeline_targets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], configs: dict[str, bytes]
) -> None:
    repo = tmp_path / "repo"
    write_servers(repo, configs)
    output = tmp_path / "targets.json"
    output.unlink(missing_ok=True)
    before = snapshot(repo)

    code = pipeline_targets.main(["--repo", str(repo), "--output", str(output)])

    err = capsys.readouterr().err.splitlines()
    assert code in (0, 1)
    assert snapshot(repo) == before
    if code == 1:
        assert not output.exists()  # a target list with a server missing is worse than none
        assert all(line.startswith(f"{servers.CHEF_DIR}/") for line in err), err
    else:
        written = json.loads(output.read_text("utf-8"))["servers"]
        assert sorted(target["name"] for target in written) == sorted(configs)
        assert err == []


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake_into(tmp_path_factory.mktemp("fuzz"), init_git=True)


def berksfile_lines() -> st.SearchStrategy[str]:
    """A ``cookbook`` line whose path is any text: loops, NUL bytes, long names, .., absolute."""
    paths = st.one_of(
        st.text(st.characters(exclude_characters="'\n\r"), max_size=30),
        st.sampled_from(["cookbooks/loop", "cookbooks/loop/x", "/", "..", "a\0b", "x" * 5000,
                         "x/" * 3000, "cookbooks/example", "cookbooks/example/../example"]),
    )
    return paths.map(lambda path: f"cookbook 'x', path: '{path}'")


def template_spoilers() -> st.SearchStrategy[tuple[str, str]]:
    """A line of cloudformation/pipeline.yml and what to put there instead: the role's policies,
    statements and tag conditions, or the template's first line, given a drawn YAML value."""
    anchors = st.sampled_from([
        "      Policies:\n        - PolicyName: RunChefClient\n",
        "            Statement:\n              - Sid: WriteFunctionLog\n",
        '                    "ssm:resourceTag/chef-server": "*"\n',
        'AWSTemplateFormatVersion: "2010-09-09"\n',
        "          ZipFile: |\n",
    ])
    return st.tuples(anchors, yaml_value(None))


REPO_CHANGES = st.fixed_dictionaries({}, optional={
    "config": config_documents(),
    "berksfile": st.lists(berksfile_lines(), min_size=1, max_size=3),
    "template": template_spoilers(),
    "template_bytes": st.binary(max_size=64),
    "server_link": st.sampled_from(["/", "chef-east", "nowhere", ".."]),
    "loop": st.just(True),
})


@settings(FUZZ, max_examples=20, deadline=timedelta(seconds=20))  # git and ruby -c: ~0.3 s
@given(changes=REPO_CHANGES)
def test_check_chef_repo(
    baked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], changes: dict[str, Any],
) -> None:
    repo = tmp_path / "repo"
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(baked, repo, symlinks=True)
    if "config" in changes:
        (repo / ".chef/chef-west/config.yml").write_bytes(changes["config"])
    if "berksfile" in changes:
        with (repo / "Berksfile").open("a", encoding="utf-8") as berksfile:
            berksfile.write("\n".join(changes["berksfile"]) + "\n")
    template = repo / "cloudformation/pipeline.yml"
    if "template" in changes:
        anchor, value = changes["template"]
        text = template.read_text("utf-8")
        template.write_text(text.replace(anchor, f"{anchor.split(':')[0]}: {value}\n", 1), "utf-8")
    if "template_bytes" in changes:
        template.write_bytes(changes["template_bytes"])
    if "server_link" in changes:
        (repo / ".chef/chef-link").symlink_to(str(changes["server_link"]))
    if "loop" in changes:
        (repo / "cookbooks/loop").symlink_to("loop")
    before = snapshot(repo)
    monkeypatch.chdir(repo)

    code = check_chef_repo.main([])

    out = capsys.readouterr().out.splitlines()
    assert code in (0, 1)
    assert (code == 1) == bool(out)
    assert not [line for line in out if "git failed" in line], out
    assert snapshot(repo) == before
