"""The cookiecutter template: what it generates, for any number of servers, however answered."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

from tests.conftest import (
    KIT_ROOT,
    Bake,
    bake_into,
    load_yaml,
    make_servers,
    pinned_rev,
    user_config,
)

DEFAULT_SERVERS = {
    "chef-east": {
        "server": "https://chef-east.example.com/organizations/default",
        "region": "us-east-1",
    },
    "chef-west": {
        "server": "https://chef-west.example.com/organizations/default",
        "region": "us-west-2",
    },
}
FIXED_PATHS = [
    ".chef/knife.rb",
    ".chef/ca_certs/README.md",
    ".gitignore",
    ".pre-commit-config.yaml",
    "Berksfile",
    "README.md",
    "buildspec.yml",
    "chefignore",
    "cloudformation/pipeline.yml",
    "cookbooks/example/README.md",
    "cookbooks/example/metadata.rb",
    "cookbooks/example/recipes/default.rb",
    "pipeline/chef_client.py",
]


def generated_servers(repo: Path) -> dict[str, dict[str, Any]]:
    """What the generated repository says its servers are: its .chef/<server>/config.yml files."""
    return {
        path.parent.name: yaml.safe_load(path.read_text("utf-8"))
        for path in sorted((repo / ".chef").glob("*/config.yml"))
    }


def expected_configs(chosen: dict[str, dict[str, str]],
                     user: str = "chef-pipeline") -> dict[str, Any]:
    return {name: {**spec, "node_name": user} for name, spec in chosen.items()}


def cookiecutter_cli(
    tmp_path: Path,
    *options: str,
    extra_context: tuple[str, ...] = (),
    default_context: dict[str, Any] | None = None,
    answers: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """The real ``cookiecutter`` command line on this template, output into ``tmp_path``, with a
    user config of its own (``default_context`` in it) and ``answers`` typed at its prompts."""
    config = user_config(tmp_path / "home", default_context)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--config-file",
            str(config),
            "--output-dir",
            str(tmp_path),
            *options,
            str(KIT_ROOT),
            *extra_context,
        ],
        input=answers,
        capture_output=True,
        text=True,
        check=False,
    )


def test_defaults_generate_the_two_region_example(bake: Bake) -> None:
    repo = bake()

    assert repo.name == "owca-multi-region-repo"
    assert [path for path in FIXED_PATHS if not (repo / path).is_file()] == []
    assert generated_servers(repo) == expected_configs(DEFAULT_SERVERS)


@pytest.mark.parametrize("count", [1, 2, 20])
def test_extra_context_servers_replace_the_default_list(bake: Bake, count: int) -> None:
    chosen = make_servers(count, region="eu-central-1")

    repo = bake(servers=chosen, chef_user="deployer")

    assert generated_servers(repo) == expected_configs(chosen, user="deployer")


@pytest.mark.parametrize("count", [1, 2, 20])
def test_user_config_default_context_replaces_the_default_list(tmp_path: Path, count: int) -> None:
    """Through the real command line: ``cookiecutter --config-file``."""
    chosen = make_servers(count)

    run = cookiecutter_cli(
        tmp_path, "--no-input", default_context={"servers": chosen, "init_git": False}
    )

    assert run.returncode == 0, run.stderr
    assert generated_servers(tmp_path / "owca-multi-region-repo") == expected_configs(chosen)


@pytest.mark.parametrize("count", [1, 2, 20])
def test_replay_reproduces_exactly_the_servers_answered(tmp_path: Path, count: int) -> None:
    chosen = make_servers(count)
    config = str(user_config(tmp_path / "home"))
    first = cookiecutter(
        str(KIT_ROOT),
        no_input=True,
        output_dir=str(tmp_path / "first"),
        config_file=config,
        extra_context={"servers": chosen, "init_git": False},
    )

    replayed = cookiecutter(
        str(KIT_ROOT), replay=True, output_dir=str(tmp_path / "replayed"), config_file=config
    )

    assert generated_servers(Path(first)) == expected_configs(chosen)
    assert generated_servers(Path(replayed)) == expected_configs(chosen)


def test_prompt_answers_replace_the_default_list(tmp_path: Path) -> None:
    """A user typing the answers at cookiecutter's prompts (each prompt reads one line; cookiecutter
    asks for mappings such as ``servers`` after every other variable)."""
    chosen = make_servers(3)
    answers = ["my-chef-repo", "", "", "", "", "no", json.dumps(chosen)]

    run = cookiecutter_cli(tmp_path, answers="\n".join(answers) + "\n")

    assert run.returncode == 0, run.stdout + run.stderr
    assert generated_servers(tmp_path / "my-chef-repo") == expected_configs(chosen)
    assert not (tmp_path / "my-chef-repo" / ".git").exists()


def test_servers_as_json_on_the_command_line(tmp_path: Path) -> None:
    """``cookiecutter . servers='{...}'``: the command line gives every answer as text."""
    chosen = make_servers(2, region="ap-southeast-2")

    run = cookiecutter_cli(
        tmp_path, "--no-input", extra_context=(f"servers={json.dumps(chosen)}", "init_git=no")
    )

    assert run.returncode == 0, run.stderr
    assert generated_servers(tmp_path / "owca-multi-region-repo") == expected_configs(chosen)


def test_no_template_syntax_survives_and_every_data_file_parses(bake: Bake) -> None:
    repo = bake(servers=make_servers(20))
    files = [path for path in repo.rglob("*") if path.is_file()]

    unrendered = [
        str(path)
        for path in files
        if "{{" in path.read_text("utf-8")
        or "{%" in path.read_text("utf-8")
        or "cookiecutter." in path.read_text("utf-8")
    ]
    assert unrendered == []
    for path in files:
        if path.suffix in (".yml", ".yaml"):
            load_yaml(path.read_text("utf-8"))
        if path.suffix == ".json":
            json.loads(path.read_text("utf-8"))


def test_ruby_files_are_valid_ruby(bake: Bake) -> None:
    repo = bake()
    ruby_files = [repo / ".chef/knife.rb", repo / "Berksfile", *repo.glob("cookbooks/**/*.rb"),
                  *repo.glob("pipeline/*.rb")]
    assert repo / "pipeline/berks_fleet.rb" in ruby_files

    for path in ruby_files:
        check = subprocess.run(
            ["ruby", "-c", str(path)], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, f"{path}: {check.stderr}"


def test_pre_commit_config_pins_the_kit_and_installs_cfn_lint_from_the_index(bake: Bake) -> None:
    repo = bake(kit_repo_url="https://git.example.com/platform/chef-multiserver-kit")

    config = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text("utf-8"))

    kit, cfn_lint = config["repos"]
    assert kit["repo"] == "https://git.example.com/platform/chef-multiserver-kit"
    assert kit["rev"] == pinned_rev(KIT_ROOT)
    assert [hook["id"] for hook in kit["hooks"]] == [
        "forbid-chef-secrets",
        "check-chef-server-config",
        "check-chef-repo",
    ]
    # No git host needed: pre-commit installs it from the package index, at the version the kit's
    # own tests run (requirements/test.lock).
    assert cfn_lint["repo"] == "local"
    (hook,) = cfn_lint["hooks"]
    assert hook["language"] == "python"
    assert hook["entry"] == "cfn-lint"
    assert hook["additional_dependencies"] == [f"cfn-lint=={metadata.version('cfn-lint')}"]
    assert hook["files"] == r"^cloudformation/.*\.(json|ya?ml)$"


def test_gitignore_ignores_every_key_and_keeps_the_server_list(bake: Bake) -> None:
    repo = bake(init_git=True)

    def ignored(path: str) -> bool:
        return (
            subprocess.run(
                ["git", "check-ignore", "--no-index", "-q", path], cwd=repo, check=False
            ).returncode
            == 0
        )

    keys = [
        ".chef/chef-east/private.pem",
        ".chef/chef-west/private.pem",
        "user.pem",
        "cookbooks/example/files/server.pem",
        "encrypted_data_bag_secret",
        ".chef/encrypted_data_bag_secret",
        "cert.p12",
        "cert.pfx",
    ]
    kept = [
        ".chef/knife.rb",
        ".chef/chef-east/config.yml",
        ".chef/chef-west/config.yml",
        ".chef/ca_certs/chef-east.pem",
        ".chef/ca_certs/chef-east.crt",
    ]
    assert [path for path in keys if not ignored(path)] == []
    assert [path for path in kept if ignored(path)] == []


def test_git_init_makes_one_clean_commit_on_the_pipeline_branch(bake: Bake) -> None:
    repo = bake(init_git=True, branch="release/chef")

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=repo, capture_output=True, text=True, check=True
        ).stdout

    assert git("rev-parse", "--abbrev-ref", "HEAD").strip() == "release/chef"
    assert git("rev-list", "--count", "HEAD").strip() == "1"
    assert git("status", "--porcelain") == ""
    assert {".chef/knife.rb", ".chef/chef-east/config.yml", ".chef/chef-west/config.yml"} <= set(
        git("ls-files").splitlines()
    )


def test_init_git_no_leaves_no_repository(bake: Bake) -> None:
    assert not (bake(init_git=False) / ".git").exists()


@pytest.mark.parametrize(
    "description",
    [
        "Ops' \"chef\" repo: #{`id`} \\ \\n",
        "{{ 7*7 }}",
        "a {{ b",
        "a {% b",
        "{# c",
        "{% raw %}{{ cookiecutter.repo_name }}{% endraw %}",
        "{{ cookiecutter.repo_name }}",
        "cookbooks 🍪 für Köche, \U0001d518\U0001d52b, \ufeff, \U0010fffd",
    ],
)
def test_answers_reach_the_files_as_written(bake: Bake, description: str) -> None:
    """Answers land in YAML, Markdown and CloudFormation as the text given: no quoting breaks, no
    Jinja runs (cookiecutter renders each answer as a template, prompt.py render_variable; the
    kit's extension keeps them literal), and every character YAML can hold reads back as it is."""
    repo = bake(description=description)

    assert (repo / "README.md").read_text("utf-8").splitlines()[2] == description
    template = load_yaml((repo / "cloudformation/pipeline.yml").read_text("utf-8"))
    assert template["Resources"]["Repo"]["Properties"]["RepositoryDescription"] == description
    knife = (KIT_ROOT / "{{cookiecutter.repo_name}}/.chef/knife.rb").read_text("utf-8")
    assert (repo / ".chef/knife.rb").read_text("utf-8") == knife


def test_lambda_source_is_copied_byte_for_byte(bake: Bake) -> None:
    source = KIT_ROOT / "{{cookiecutter.repo_name}}/pipeline/chef_client.py"

    assert (bake() / "pipeline/chef_client.py").read_bytes() == source.read_bytes()


BAD_ANSWERS: list[tuple[str, dict[str, Any], str]] = [
    ("server name with a path", {"servers": {"../x": DEFAULT_SERVERS["chef-east"]}}, "server name"),
    ("server name with a space", {"servers": {"a b": DEFAULT_SERVERS["chef-east"]}}, "server name"),
    ("empty server name", {"servers": {"": DEFAULT_SERVERS["chef-east"]}}, "server name"),
    ("leading dash", {"servers": {"-rf": DEFAULT_SERVERS["chef-east"]}}, "server name"),
    ("reserved name", {"servers": {"ca_certs": DEFAULT_SERVERS["chef-east"]}}, "server name"),
    (
        "duplicate names",
        {
            "servers": {
                "Chef-A": DEFAULT_SERVERS["chef-east"],
                "chef-a": DEFAULT_SERVERS["chef-west"],
            }
        },
        "second server of that name",
    ),
    (
        "same URL twice",
        {"servers": {"a": DEFAULT_SERVERS["chef-east"], "b": DEFAULT_SERVERS["chef-east"]}},
        "URL of two servers",
    ),
    (
        "same URL with its default port",
        {"servers": {"a": DEFAULT_SERVERS["chef-east"], "b": {
            **DEFAULT_SERVERS["chef-east"],
            "server": DEFAULT_SERVERS["chef-east"]["server"].replace(".com/", ".com:443/"),
        }}},
        "URL of two servers",
    ),
    (
        "made-up region",
        {"servers": {"a": {**DEFAULT_SERVERS["chef-east"], "region": "us-northwest-9"}}},
        "servers.a.region: 'us-northwest-9' is not allowed",
    ),
    (
        "http URL",
        {
            "servers": {
                "a": {"server": "http://chef.example.com/organizations/o", "region": "us-east-1"}
            }
        },
        "servers.a.server",
    ),
    (
        "URL without organization",
        {"servers": {"a": {"server": "https://chef.example.com", "region": "us-east-1"}}},
        "servers.a.server",
    ),
    (
        "URL with upper-case org",
        {
            "servers": {
                "a": {"server": "https://c.example.com/organizations/Org", "region": "us-east-1"}
            }
        },
        "servers.a.server",
    ),
    (
        "URL with bad port",
        {
            "servers": {
                "a": {
                    "server": "https://c.example.com:70000/organizations/o",
                    "region": "us-east-1",
                }
            }
        },
        "servers.a.server",
    ),
    (
        "bad region",
        {
            "servers": {
                "a": {"server": "https://c.example.com/organizations/o", "region": "us-east"}
            }
        },
        "servers.a.region",
    ),
    (
        "missing region",
        {"servers": {"a": {"server": "https://c.example.com/organizations/o"}}},
        "missing key 'region'",
    ),
    (
        "misspelt key",
        {
            "servers": {
                "a": {
                    "server": "https://c.example.com/organizations/o",
                    "region": "us-east-1",
                    "regoin": "x",
                }
            }
        },
        "did you mean 'region'",
    ),
    ("servers not JSON", {"servers": "{chef-a: x}"}, "servers: not valid JSON"),
    ("servers a list", {"servers": '["chef-a"]'}, "servers: must be a JSON object"),
    (
        "server not a mapping",
        {"servers": {"a": "https://c.example.com/organizations/o"}},
        "must be a mapping",
    ),
    ("repo name with a slash", {"repo_name": "chef/repo"}, "repo_name"),
    ("repo name ending in .git", {"repo_name": "chef.git"}, "repo_name"),
    ("repo name too long", {"repo_name": "r" * 101}, "repo_name"),
    ("branch with a space", {"branch": "my branch"}, "branch"),
    ("description on two lines", {"description": "one\ntwo"}, "description"),
    ("bad chef user", {"chef_user": "Admin User"}, "chef_user"),
    # What a user typing the README's table in order puts there: the servers' JSON, one line.
    ("servers JSON as kit URL", {"kit_repo_url": json.dumps(DEFAULT_SERVERS)}, "kit_repo_url"),
    ("kit URL not a URL", {"kit_repo_url": "chef-multiserver-kit"}, "kit_repo_url"),
    ("kit URL a missing directory", {"kit_repo_url": "/nonexistent/kit"}, "kit_repo_url"),
    ("kit URL on two lines", {"kit_repo_url": "https://a.example\nb"}, "kit_repo_url"),
    ("kit URL for a shell", {"kit_repo_url": "https://a.example/$(id)"}, "kit_repo_url"),
]


@pytest.mark.parametrize(
    ("answers", "field"), [case[1:] for case in BAD_ANSWERS], ids=[case[0] for case in BAD_ANSWERS]
)
def test_bad_answers_are_refused_and_leave_nothing(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], answers: dict[str, Any], field: str
) -> None:
    output_dir = tmp_path / "out"
    output_dir.mkdir()

    with pytest.raises(FailedHookException):
        bake_into(output_dir, **answers)

    (message,) = capfd.readouterr().err.splitlines()
    assert message.startswith("ERROR: ")
    assert field in message

    # Refused while cookiecutter renders the project directory's name, before it creates it.
    assert list(output_dir.iterdir()) == []


def test_a_bad_answer_reads_as_the_readme_shows(tmp_path: Path) -> None:
    """The kit README's example, run as written from the kit's directory (stdout and stderr in one
    stream, as a terminal shows them): the kit's ERROR line, then cookiecutter's one line (cli.py
    prints a FailedHookException's text), and nothing left in the kit's directory."""
    readme = (KIT_ROOT / "README.md").read_text("utf-8")
    (example,) = re.findall(r"```console\n\$ (cookiecutter .*?)\n(.*?)```", readme, re.DOTALL)
    command, shown = example
    environment = {**os.environ, "COOKIECUTTER_CONFIG": str(user_config(tmp_path / "home"))}
    before = sorted(KIT_ROOT.iterdir())

    run = subprocess.run(shlex.split(command), cwd=KIT_ROOT, env=environment,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)

    assert run.returncode == 1
    assert run.stdout == shown
    assert "Traceback" not in run.stdout
    assert sorted(KIT_ROOT.iterdir()) == before
