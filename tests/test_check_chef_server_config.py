"""check-chef-server-config, called in-process on config.yml files of a repository in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chef_multiserver import servers
from pre_commit_hooks.check_chef_server_config import main

VALID = b"""\
server: "https://chef-east.example.com/organizations/default"
region: "us-east-1"
node_name: "pivotal"
"""
BILLION_LAUGHS = b'a: &a ["x","x"]\nb: &b [*a,*a]\nc: &c [*b,*b]\nd: [*c,*c]\n'
HookRun = tuple[int, list[str]]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write_config(repo: Path, content: bytes, server: str = "chef-east") -> str:
    path = repo / servers.CHEF_DIR / server / servers.CONFIG_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return f"{servers.CHEF_DIR}/{server}/{servers.CONFIG_FILE}"


def run(capsys: pytest.CaptureFixture[str], *filenames: str) -> HookRun:
    code = main(list(filenames))
    return code, capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("content", [
    pytest.param(VALID, id="minimal"),
    pytest.param(VALID.replace(b"chef-east.example.com", b"chef.example.com:8443"), id="port"),
    pytest.param(VALID + b'node_tag: {key: "chef:server", value: "east 1"}\n', id="node_tag"),
    pytest.param(VALID + b"max_concurrency: '25%'\nmax_errors: '0'\n", id="ssm-limits"),
    pytest.param(VALID + b"allow_no_nodes: true\n", id="allow-no-nodes"),
    pytest.param(b"# a comment\n" + VALID.replace(b'"', b""), id="plain-scalars"),
    pytest.param(b"\xef\xbb\xbf" + VALID, id="utf-8-bom"),
    pytest.param(b"{server: 'https://a.example.org/organizations/o', region: eu-central-1, "
                 b"node_name: ci.bot}", id="flow-mapping"),
])
def test_good_config(repo: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    assert run(capsys, write_config(repo, content)) == (0, [])


@pytest.mark.parametrize(("content", "expected"), [
    pytest.param(b"", "1:1: must be a mapping of keys to values, not nothing", id="empty"),
    pytest.param(b"- a\n- b\n", "1:1: must be a mapping of keys to values, not a list", id="list"),
    pytest.param(VALID.replace(b"https", b"http"), "1:9: server: 'http://", id="http"),
    pytest.param(VALID.replace(b"/organizations/default", b""), "1:9: server:", id="no-org"),
    pytest.param(VALID.replace(b'"us-east-1"', b"moon-1"), "2:9: region: 'moon-1' is not",
                 id="region"),
    pytest.param(VALID.replace(b'"us-east-1"', b"2024-01-01"), "2:9: region: must be a string",
                 id="date"),
    pytest.param(VALID + b"regoin: x\n", "4:1: unknown key 'regoin': did you mean 'region'?",
                 id="did-you-mean"),
    pytest.param(VALID.replace(b"node_name", b"nodename"), "3:1: unknown key 'nodename'",
                 id="unknown-and-missing"),
    pytest.param(VALID + b"node_tag:\n  key: 7\n", "5:8: node_tag.key: must be a string",
                 id="nested"),
    pytest.param(VALID + b"allow_no_nodes: 'yes'\n", "4:17: allow_no_nodes: must be true or "
                 "false, not a str ('yes')", id="allow-no-nodes-text"),
    pytest.param(VALID + b"region: us-west-2\n", "4:1: duplicate key 'region' (first on line 2)",
                 id="duplicate-key"),
    pytest.param(BILLION_LAUGHS, "1:4: YAML anchors and aliases", id="alias-bomb"),
    pytest.param(VALID + b"node_tag:\n\tkey: x\n", "5:1: invalid YAML: found character '\\t'",
                 id="tab"),
    pytest.param(b"server: 'unterminated\n", ":2:1: invalid YAML", id="syntax"),
    pytest.param(VALID + b"---\n" + VALID, "4:1: invalid YAML", id="two-documents"),
    pytest.param(b"a: !!python/object/apply:os.system [id]\n",
                 "1:4: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
                 id="python-tag"),
    pytest.param(b"a: !!python/name:os.system x\n", "1:4: invalid YAML: could not determine a "
                 "constructor", id="python-scalar-tag"),
    pytest.param(b"a: !!set {x}\n", "1:4: YAML tag 'tag:yaml.org,2002:set'", id="set-tag"),
    pytest.param(b"? [a]\n: b\n", "1:3: a key must be plain text", id="list-key"),
    pytest.param(b"[" * 5000, "1:17: nested too deeply", id="deep"),
    pytest.param(b"region: \xff\xfe\n", "1:9: is not UTF-8 text", id="invalid-utf-8"),
    pytest.param(b"\x7fELF\x02\x01\x00\x00", "1:1: character U+007F is not allowed", id="binary"),
    pytest.param(b"node_name: \x00\n", "1:12: character U+0000", id="nul"),
])
def test_bad_config(
    repo: Path, capsys: pytest.CaptureFixture[str], content: bytes, expected: str
) -> None:
    filename = write_config(repo, content)
    code, out = run(capsys, filename)
    assert code == 1
    assert any(line.startswith(f"{filename}:") and expected in line for line in out), out


def test_every_error_of_every_file_at_once(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = write_config(repo, b"server: x\nregoin: y\nnode_name: Bad Name\n")
    second = write_config(repo, b"", "chef-west")
    code, out = run(capsys, first, second)
    assert code == 1
    assert out == [
        f"{first}:1:1: missing key 'region' (an AWS region name such as us-east-1 or "
        "eu-central-1)",
        f"{first}:1:9: server: 'x' is not allowed: use {servers.ALLOWED['server']}",
        f"{first}:2:1: unknown key 'regoin': did you mean 'region'?",
        f"{first}:3:12: node_name: 'Bad Name' is not allowed: use {servers.ALLOWED['node_name']}",
        f"{second}:1:1: must be a mapping of keys to values, not nothing",
    ]


def test_url_of_a_server_not_passed(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(repo, VALID, "chef-east")
    copy = write_config(repo, VALID.replace(b"chef-east.", b"CHEF-east."), "chef-copy")
    code, out = run(capsys, copy)
    assert (code, out) == (1, [
        f"{copy}:1:9: 'https://CHEF-east.example.com/organizations/default' is also the URL of "
        "server 'chef-east': each server needs a URL of its own"])


def test_names_that_differ_only_in_case(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(repo, VALID, "chef-east")
    other = write_config(repo, VALID.replace(b"chef-east", b"chef-west"), "Chef-East")
    assert run(capsys, other) == (
        1, [f"{other}: servers 'Chef-East' and 'chef-east' differ only in case: rename one"])


def test_broken_neighbour_is_not_this_files_problem(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(repo, b"\x00", "chef-west")
    assert run(capsys, write_config(repo, VALID)) == (0, [])


@pytest.mark.parametrize(("server", "message"), [
    ("chef east", "server directory name 'chef east' is not allowed"),
    ("sérveur", "server directory name 'sérveur' is not allowed"),
    ("ca_certs", "server directory name 'ca_certs' is not allowed"),
])
def test_unsafe_directory_name(
    repo: Path, capsys: pytest.CaptureFixture[str], server: str, message: str
) -> None:
    filename = write_config(repo, VALID, server)
    code, out = run(capsys, filename)
    assert code == 1
    assert out[0].startswith(f"{filename}: {message}")


@pytest.mark.parametrize("filename", [
    "config.yml", "foo.yml", ".chef/config.yml", ".chef/knife.rb", "cookbooks/x/config.yml",
    "no such dir/é/config.yml",
])
def test_not_a_server_config(capsys: pytest.CaptureFixture[str], filename: str) -> None:
    assert run(capsys, filename) == (
        1, [f"{filename}: not a server config: a server's config is .chef/<server>/config.yml"])


def key_outside(repo: Path) -> Path:
    key = repo.parent / f"{repo.name}-outside.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nSECRETSECRET\n")
    return key


@pytest.mark.parametrize(("make", "message"), [
    pytest.param(lambda repo: None, "cannot read", id="missing"),
    pytest.param(lambda repo: repo / "nowhere", "is a symlink", id="symlink-to-nowhere"),
    pytest.param(lambda repo: repo, "is a symlink", id="symlink-to-directory"),
    pytest.param(key_outside, "is a symlink", id="symlink-to-key"),
    pytest.param(lambda repo: os.mkfifo, "is not a regular file", id="fifo"),
    pytest.param(lambda repo: 100 * 1024 * 1024, "is larger than 64 KiB", id="100-MB"),
])
def test_unreadable_config(
    repo: Path, capsys: pytest.CaptureFixture[str], make: Any, message: str
) -> None:
    path = repo / ".chef" / "chef east é" / servers.CONFIG_FILE
    path.parent.mkdir(parents=True)
    target = make(repo)
    if isinstance(target, Path):
        path.symlink_to(target)
    elif isinstance(target, int):
        with path.open("wb") as file:
            file.truncate(target)
    elif target is not None:
        target(path)
    code, out = run(capsys, str(path.relative_to(repo)))
    assert code == 1
    assert any(line.startswith(f".chef/chef east é/config.yml: {message}") for line in out), out
    assert "SECRET" not in "\n".join(out)


@settings(
    max_examples=200,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.one_of(
    st.binary(max_size=200),
    st.text(st.sampled_from(list("{}[]&*!|>-:?,#'\" \t\n\\ab1%@`")), max_size=80)
    .map(lambda text: text.encode("utf-8")),
))
def test_fuzzed_config_never_crashes(
    repo: Path, capsys: pytest.CaptureFixture[str], content: bytes
) -> None:
    code, out = run(capsys, write_config(repo, content))
    assert code in (0, 1)
    assert all(line.startswith(".chef/chef-east/config.yml:") for line in out)


def matching(key: str) -> st.SearchStrategy[str]:
    return st.from_regex(servers.SCHEMA["properties"][key]["pattern"], fullmatch=True)


VALID_CONFIGS = st.fixed_dictionaries(
    {key: matching(key) for key in servers.SCHEMA["required"]},
    optional={
        "max_concurrency": matching("max_concurrency"),
        "max_errors": matching("max_errors"),
        "allow_no_nodes": st.booleans(),
        "node_tag": st.fixed_dictionaries({
            key: st.from_regex(schema["pattern"], fullmatch=True)
            for key, schema in servers.SCHEMA["properties"]["node_tag"]["properties"].items()
        }),
    },
)


@settings(
    max_examples=100,
    deadline=None,
    database=None,  # no .hypothesis/ directory in the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(VALID_CONFIGS)
def test_generated_valid_config_passes(
    repo: Path, capsys: pytest.CaptureFixture[str], config: dict[str, Any]
) -> None:
    assert run(capsys, write_config(repo, servers.render_config(config).encode("utf-8"))) == (0, [])
