"""check-chef-server-config, called in-process on config.yml files of a repository in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chef_multiserver import repo_files, servers
from pre_commit_hooks.check_chef_server_config import main
from tests.schema_strategies import valid_values

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
    pytest.param(VALID.replace(b'"us-east-1"', b"eusc-de-east-1"), id="european-sovereign-cloud"),
    pytest.param(VALID.replace(b'"us-east-1"', b"us-isof-south-1"), id="iso-f-region"),
    pytest.param(VALID.replace(b"chef-east.example.com", b"a." * 125 + b"com"),
                 id="host-of-253-characters"),
])
def test_good_config(repo: Path, capsys: pytest.CaptureFixture[str], content: bytes) -> None:
    assert run(capsys, write_config(repo, content)) == (0, [])


@pytest.mark.parametrize(("content", "expected"), [
    pytest.param(b"", "1:1: must be a mapping of keys to values, not nothing", id="empty"),
    pytest.param(b"- a\n- b\n", "1:1: must be a mapping of keys to values, not a list", id="list"),
    pytest.param(VALID.replace(b"https", b"http"), "1:9: server: 'http://", id="http"),
    pytest.param(VALID.replace(b"/organizations/default", b""), "1:9: server:", id="no-org"),
    pytest.param(VALID.replace(b"chef-east.example.com", b"a." * 126 + b"com"),
                 "1:9: server: 'https://a.a.a.", id="host-of-255-characters"),
    pytest.param(VALID.replace(b"chef-east.example.com", b"a" * 64 + b".example.com"),
                 "1:9: server: 'https://aaaa", id="label-of-64-characters"),
    pytest.param(VALID.replace(b'"us-east-1"', b"us-northwest-9"),
                 "2:9: region: 'us-northwest-9' is not allowed", id="made-up-region"),
    pytest.param(VALID.replace(b'"us-east-1"', b"cn-iso-central-1"),
                 "2:9: region: 'cn-iso-central-1' is not allowed", id="made-up-iso-region"),
    pytest.param(VALID.replace(b'"us-east-1"', b"aws-global"),
                 "2:9: region: 'aws-global' is not allowed", id="pseudo-region"),
    pytest.param(VALID.replace(b'"us-east-1"', b"us-est-1"),
                 "(did you mean 'us-", id="region-typo"),
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
    pytest.param(b"a: !!python/name:os.system x\n",
                 "1:4: YAML tag 'tag:yaml.org,2002:python/name:os.system' is not allowed",
                 id="python-scalar-tag"),
    pytest.param(b"a: !!set {x}\n", "1:4: YAML tag 'tag:yaml.org,2002:set'", id="set-tag"),
    pytest.param(b"? [a]\n: b\n", "1:3: a key must be plain text", id="list-key"),
    pytest.param(b"[" * 17, "1:17: invalid YAML: nested too deeply (more than 16 levels)",
                 id="17-deep"),
    pytest.param(b"[" * 5000, ":1:", id="5000-deep"),
    pytest.param(b"[" * 5000, "invalid YAML: nested too deeply", id="5000-deep-message"),
    pytest.param(VALID.replace(b'"us-east-1"', b"2020-13-45"), "2:9: invalid YAML: '2020-13-45' "
                 "is not a valid timestamp (month must be in 1..12)", id="invalid-date"),
    pytest.param(VALID.replace(b'"us-east-1"', b"!!bool maybe"),
                 "2:9: invalid YAML: 'maybe' is not a valid bool", id="invalid-bool"),
    pytest.param(VALID.replace(b'"pivotal"', b"!!int x"),
                 "3:12: invalid YAML: 'x' is not a valid int", id="invalid-int"),
    pytest.param(VALID.replace(b'"pivotal"', b"!!timestamp x"),
                 "3:12: invalid YAML: 'x' is not a valid timestamp", id="invalid-timestamp"),
    pytest.param(VALID.replace(b'"us-east-1"', b"1" * 4301), "2:9: invalid YAML: '1111",
                 id="int-of-4301-digits"),
    pytest.param(VALID.replace(b'"us-east-1"', b"0x" + b"f" * 4000),
                 "2:9: region: must be a string (an AWS region name such as us-east-1 or "
                 "eu-central-1), not a int (too many digits to show)", id="hex-int-of-4817-digits"),
    pytest.param(b"a: !!binary aGk=\n", "1:4: YAML tag 'tag:yaml.org,2002:binary' is not allowed",
                 id="binary-tag"),
    pytest.param(b"a: !!omap x\n", "1:4: YAML tag 'tag:yaml.org,2002:omap' is not allowed",
                 id="omap-tag-on-scalar"),
    pytest.param(b"a: !custom x\n", "1:4: YAML tag '!custom' is not allowed", id="local-tag"),
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


@pytest.mark.parametrize("url", [
    pytest.param("https://CHEF-east.example.com/organizations/default", id="upper-case-host"),
    pytest.param("https://chef-east.example.com:443/organizations/default", id="default-port"),
    pytest.param("https://chef-east.example.com/organizations/default/", id="trailing-slash"),
    pytest.param("https://chef-east.example.com./organizations/default", id="trailing-dot"),
    pytest.param("https://Chef-East.Example.COM.:0443/organizations/default//", id="all-at-once"),
])
def test_url_of_a_server_not_passed(
    repo: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    """The same organization however its URL is spelled (servers.server_key)."""
    write_config(repo, VALID, "chef-east")
    copy = write_config(repo, VALID.replace(
        b"https://chef-east.example.com/organizations/default", url.encode()), "chef-copy")
    code, out = run(capsys, copy)
    assert code == 1
    assert out[-1] == (
        f"{copy}:1:9: {url!r} is also the URL of server 'chef-east' "
        "('https://chef-east.example.com/organizations/default'): each server needs a URL of its "
        "own"
    )


@pytest.mark.parametrize("url", [
    "https://chef-east.example.com:8443/organizations/default",
    "https://chef-east.example.com/organizations/prod",
    "https://chef-east.example.org/organizations/default",
])
def test_another_organization_is_another_server(
    repo: Path, capsys: pytest.CaptureFixture[str], url: str
) -> None:
    write_config(repo, VALID, "chef-east")
    other = write_config(repo, VALID.replace(
        b"https://chef-east.example.com/organizations/default", url.encode()), "chef-other")
    assert run(capsys, other) == (0, [])


def test_names_that_differ_only_in_case(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_config(repo, VALID, "chef-east")
    other = write_config(repo, VALID.replace(b"chef-east", b"chef-west"), "Chef-East")
    assert run(capsys, other) == (
        1, [f"{other}: servers 'Chef-East' and 'chef-east' differ only in case: rename one"])


@pytest.mark.parametrize("broken", [
    pytest.param(b"\x00", id="nul"),
    pytest.param(VALID.replace(b'"us-east-1"', b"2020-13-45"), id="invalid-date"),
    pytest.param(VALID.replace(b'"pivotal"', b"!!int x"), id="invalid-int"),
])
def test_broken_neighbour_is_not_this_files_problem(
    repo: Path, capsys: pytest.CaptureFixture[str], broken: bytes
) -> None:
    write_config(repo, broken, "chef-west")
    assert run(capsys, write_config(repo, VALID)) == (0, [])


def test_a_broken_config_does_not_stop_the_next_one(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = write_config(repo, VALID.replace(b'"us-east-1"', b"!!bool maybe"), "chef-a")
    bad_content = VALID.replace(b'"pivotal"', b'"Bad Name"').replace(b"chef-east.", b"chef-b.")
    bad = write_config(repo, bad_content, "chef-b")
    code, out = run(capsys, broken, bad)
    assert code == 1
    assert [line.split(": ", 1)[0] for line in out] == [f"{broken}:2:9", f"{bad}:3:12"], out


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


VALID_CONFIGS = valid_values(servers.SCHEMA)


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


PARSER_DOCUMENTS = [
    VALID, b"\xef\xbb\xbf" + VALID, VALID + b"node_tag:\n\tkey: x\n", b"[" * 17, b"[" * 5000,
    b"a: 2020-13-45\n", "é: \x01\n".encode(), b"a: 'x\n", b"a: &x 1\n", b"node_name: \x00\n",
]


def test_pyyaml_without_libyaml_reads_configs_alike() -> None:
    """PyYAML built without libyaml (no wheel for the platform) parses with its own Python parser:
    the same values and findings, at the same lines, as with libyaml."""
    def outcome(content: bytes) -> object:
        try:
            return repo_files.load_config(content).value
        except repo_files.ConfigError as error:
            return [error.message, error.position and error.position[0]]

    program = (
        "import json, sys, yaml; yaml.__with_libyaml__ = False\n"
        "from chef_multiserver import repo_files\n"
        "assert repo_files._Parser is repo_files._PythonParser\n"
        "def outcome(content):\n"
        "    try:\n"
        "        return repo_files.load_config(content).value\n"
        "    except repo_files.ConfigError as error:\n"
        "        return [error.message, error.position and error.position[0]]\n"
        "print(json.dumps([outcome(bytes.fromhex(doc)) for doc in sys.argv[1:]]))\n"
    )
    result = subprocess.run([sys.executable, "-c", program, *(d.hex() for d in PARSER_DOCUMENTS)],
                            capture_output=True, text=True, check=True)
    expected = json.loads(json.dumps([outcome(document) for document in PARSER_DOCUMENTS]))
    assert json.loads(result.stdout) == expected


def test_a_server_directory_that_is_a_symlink(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """git keeps no file beyond a symlink: the server would be checked here and never committed."""
    write_config(repo, VALID, "chef-east")
    (repo / servers.CHEF_DIR / "chef-link").symlink_to("chef-east")
    assert run(capsys, ".chef/chef-link/config.yml") == (1, [
        ".chef/chef-link/config.yml: chef-link/ is a symlink: a server is a real directory inside "
        "the repository: replace the link with the directory itself"])
