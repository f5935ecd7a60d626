"""A generated repository installs and runs its hooks as a new user's would: from a clone of the
kit whose origin is a local path, the README's first command generates the repository, whose
.pre-commit-config.yaml pins that clone's origin at the clone's commit (committed work only); then
the real `pre-commit install` and `git commit`, with a PRE_COMMIT_HOME of their own. pre-commit
builds every hook's environment from the pinned git reference and the package index only
(cfn-lint included: a `repo: local` hook with `language: python`, pre-commit's documented way,
https://pre-commit.com/#repository-local-hooks). PRE_COMMIT_HOME is shared by the module."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import KIT_ROOT, pinned_rev, user_config

Run = subprocess.CompletedProcess[str]
HOOK_NAMES = (
    "forbid Chef keys",
    "check each Chef server's config.yml",
    "check the Chef repository as a whole",
    "cfn-lint",
)


def readme_first_command() -> str:
    """The first shell block of the kit's README: `pip install '.[cli]' && cookiecutter ...`."""
    readme = (KIT_ROOT / "README.md").read_text("utf-8")
    return re.search(r"```sh\n(.*?)\n```", readme, re.DOTALL)[1]  # type: ignore[index]


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    identity = {f"GIT_{role}_{field}": value for role in ("AUTHOR", "COMMITTER")
                for field, value in (("NAME", "Test"), ("EMAIL", "test@localhost"))}
    home = tmp_path_factory.mktemp("cookiecutter-home")
    return {**os.environ, **identity, "PRE_COMMIT_COLOR": "never",
            "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home")),
            "COOKIECUTTER_CONFIG": str(user_config(home))}


@pytest.fixture(scope="module")
def kit_clone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A clone of this checkout (its HEAD: committed work only; origin: this checkout's path)
    and what a repository generated from it pins (that commit's id, or its release tag)."""
    clone = tmp_path_factory.mktemp("kit") / "chef-multiserver-kit"
    subprocess.run(["git", "clone", "--quiet", str(KIT_ROOT), str(clone)], check=True)
    return clone, pinned_rev(clone)


@pytest.fixture(scope="module")
def generated(kit_clone: tuple[Path, str], hook_env: dict[str, str]) -> tuple[Path, Run]:
    """The README's first command in the clone. Its `pip install '.[cli]'` is left out: the kit is
    installed in the environment that runs the tests already."""
    install, generate = readme_first_command().split(" && ")
    assert install == "pip install '.[cli]'"
    clone, _ = kit_clone
    result = subprocess.run(shlex.split(generate), cwd=clone, env=hook_env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (repo,) = (clone / "example").iterdir()
    return repo, result


@pytest.fixture(scope="module")
def installed(generated: tuple[Path, Run], hook_env: dict[str, str]) -> Path:
    repo, _ = generated
    subprocess.run(["pre-commit", "install"], cwd=repo, env=hook_env, check=True,
                   capture_output=True)
    return repo


@pytest.fixture
def repo(installed: Path, hook_env: dict[str, str]) -> Path:
    """The generated repository, back at the generator's first commit, nothing else in it."""
    first = git(installed, hook_env, "rev-list", "--max-parents=0", "HEAD").stdout.strip()
    git(installed, hook_env, "reset", "--quiet", "--hard", first)
    git(installed, hook_env, "clean", "--quiet", "-fdx")
    return installed


def test_the_hooks_and_the_pipeline_pin_the_clones_origin_at_its_commit(
    generated: tuple[Path, Run], kit_clone: tuple[Path, str]
) -> None:
    repo, result = generated
    _, sha = kit_clone
    kit = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text("utf-8"))["repos"][0]
    assert (kit["repo"], kit["rev"]) == (KIT_ROOT.as_uri(), sha)
    variables = yaml.safe_load((repo / "buildspec.yml").read_text("utf-8"))["env"]["variables"]
    assert (variables["KIT_REPO_URL"], variables["KIT_REV"]) == (kit["repo"], kit["rev"])
    # A path of this machine: the generation says so, and the README says what to do.
    assert result.stderr.splitlines() == [
        f"WARNING: the hooks and the pipeline install the kit from {KIT_ROOT.as_uri()} on this "
        "machine",
        "WARNING: CodeBuild cannot reach this machine: before the first deploy, push that commit "
        "to a git server the pipeline can reach and put its URL in KIT_REPO_URL (buildspec.yml) "
        "and repo (.pre-commit-config.yaml): README.md, 'The kit this repository installs'",
    ]
    readme = (repo / "README.md").read_text("utf-8")
    assert f"{KIT_ROOT.as_uri()} at {sha}" in readme
    assert "CodeBuild cannot reach it" in readme


def test_every_hook_installs_and_passes_a_clean_commit(
    repo: Path, hook_env: dict[str, str]
) -> None:
    (repo / ".chef" / "chef-north").mkdir()
    (repo / ".chef" / "chef-north" / "config.yml").write_text(
        'server: "https://chef-north.example.com/organizations/default"\n'
        'region: "eu-north-1"\nnode_name: "pivotal"\n', "utf-8")
    (repo / "cookbooks" / "example" / "recipes" / "default.rb").write_text("log 'hello'\n")
    metadata = repo / "cookbooks" / "example" / "metadata.rb"  # a changed cookbook's new version
    metadata.write_text(metadata.read_text("utf-8").replace("'0.1.0'", "'0.1.1'"), "utf-8")
    template = repo / "cloudformation" / "pipeline.yml"
    template.write_text(template.read_text("utf-8") + "# reviewed\n", "utf-8")
    result = commit(repo, hook_env, ".chef/chef-north/config.yml", "cookbooks", "cloudformation")
    assert result.returncode == 0, result.stdout
    for name in HOOK_NAMES:
        (line,) = [line for line in result.stdout.splitlines() if line.startswith(name)]
        assert line.endswith("Passed"), result.stdout


def git(repo: Path, env: dict[str, str], *args: str) -> Run:
    """Run git; its output and that of its hooks (git sends theirs to stderr) in ``stdout``."""
    return subprocess.run(["git", *args], cwd=repo, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=600)


def commit(repo: Path, env: dict[str, str], *paths: str) -> Run:
    """``git add`` (forced: a key is ignored) and ``git commit``, pre-commit hook included."""
    git(repo, env, "add", "--force", "--", *paths)
    result = git(repo, env, "commit", "-m", f"Change {', '.join(paths)}")
    assert "Traceback" not in result.stdout, result.stdout
    return result


def private_key_pem() -> bytes:
    """A throwaway RSA key, made now: no key material is kept in this repository."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption())


def test_bad_config_is_refused_with_its_line(repo: Path, hook_env: dict[str, str]) -> None:
    config = repo / ".chef" / "chef-east" / "config.yml"
    config.write_text(config.read_text("utf-8") + "regoin: us-east-2\n", "utf-8")
    result = commit(repo, hook_env, ".chef/chef-east/config.yml")
    assert result.returncode == 1
    assert ".chef/chef-east/config.yml:4:1: unknown key 'regoin': did you mean 'region'?" in (
        result.stdout)
    assert git(repo, hook_env, "log", "--oneline").stdout.count("\n") == 1


def test_tracked_key_is_refused_by_check_chef_repo(repo: Path, hook_env: dict[str, str]) -> None:
    (repo / ".chef" / "chef-east" / "private.pem").write_bytes(private_key_pem())
    result = commit(repo, hook_env, ".chef/chef-east/private.pem")
    assert result.returncode == 1
    assert (".chef/chef-east/private.pem: a key file is tracked by git: `git rm --cached "
            ".chef/chef-east/private.pem`") in result.stdout


def test_committed_private_key_is_refused_by_forbid_chef_secrets(
    repo: Path, hook_env: dict[str, str]
) -> None:
    """The key's file name is no key name, so only a scan of its content can refuse it."""
    key = repo / "cookbooks" / "example" / "files" / "deploy_key"
    key.parent.mkdir()
    key.write_bytes(private_key_pem())
    metadata = repo / "cookbooks" / "example" / "metadata.rb"  # a changed cookbook's new version
    metadata.write_text(metadata.read_text("utf-8").replace("'0.1.0'", "'0.1.1'"), "utf-8")
    result = commit(repo, hook_env, "cookbooks/example/files/deploy_key",
                    "cookbooks/example/metadata.rb")
    assert result.returncode == 1
    forbid = next(line for line in result.stdout.splitlines() if "forbid Chef keys" in line)
    assert forbid.endswith("Failed")
    assert "cookbooks/example/files/deploy_key" in result.stdout
    repo_check = next(line for line in result.stdout.splitlines() if "repository as a" in line)
    assert repo_check.endswith("Passed")


@pytest.mark.parametrize("decoy", ["--help", "-x.txt"])
def test_a_file_named_like_an_option_does_not_switch_the_scan_off(
    repo: Path, hook_env: dict[str, str], decoy: str
) -> None:
    """pre-commit passes the staged names after the hook's entry: a committed file named --help
    made forbid-chef-secrets print its usage and pass ("Passed") the key staged beside it."""
    key = repo / "cookbooks" / "example" / "files" / "deploy_key"
    key.parent.mkdir()
    key.write_bytes(private_key_pem())
    (repo / decoy).write_text("# notes\n", "utf-8")
    result = commit(repo, hook_env, "cookbooks/example/files/deploy_key", decoy)
    assert result.returncode == 1, result.stdout
    forbid = next(line for line in result.stdout.splitlines() if "forbid Chef keys" in line)
    assert forbid.endswith("Failed")
    assert "cookbooks/example/files/deploy_key:1: RSA private key" in result.stdout


def test_the_hooks_environment_holds_only_what_the_hooks_import(
    repo: Path, hook_env: dict[str, str]
) -> None:
    """pre-commit installs the kit with its dependencies for the hooks: PyYAML, not the command
    line's boto3, cookiecutter, cryptography or pre-commit (the `cli` extra)."""
    result = git(repo, hook_env, "commit", "--allow-empty", "-m", "Build the hooks' environment")
    assert result.returncode == 0, result.stdout
    home = Path(hook_env["PRE_COMMIT_HOME"])
    # The kit's repository, not the local one pre-commit makes for cfn-lint's hook.
    (python,) = {python for python in home.glob("repo*/py_env-*/bin/python")
                 if (python.parents[2] / "pre_commit_hooks").is_dir()}
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], check=True,
                            capture_output=True, text=True).stdout.lower()
    installed = {line.split("==")[0] for line in listed.split()}
    assert "pyyaml" in installed
    assert installed.isdisjoint({"boto3", "botocore", "cookiecutter", "cryptography", "pre-commit"})
