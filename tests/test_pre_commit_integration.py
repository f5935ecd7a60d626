"""The hooks through the real pre-commit framework: real `git commit`s in a generated repository
whose .pre-commit-config.yaml points at a clone of this checkout's HEAD, so the committed hooks are
what runs. pre-commit builds their environment once (PRE_COMMIT_HOME is shared by the module) with
`pip install .` of the clone, which fetches the kit's dependencies from the package index."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import KIT_ROOT, Bake

Run = subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def kit_clone(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A clone of this checkout (its HEAD: committed work only) and that commit's sha."""
    clone = tmp_path_factory.mktemp("kit") / "chef-multiserver-kit"
    subprocess.run(["git", "clone", "--quiet", str(KIT_ROOT), str(clone)], check=True)
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=clone, check=True, capture_output=True,
                         text=True).stdout.strip()
    return clone, sha


@pytest.fixture(scope="module")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    identity = {f"GIT_{role}_{field}": value for role in ("AUTHOR", "COMMITTER")
                for field, value in (("NAME", "Test"), ("EMAIL", "test@localhost"))}
    return {**os.environ, **identity, "PRE_COMMIT_COLOR": "never",
            "PRE_COMMIT_HOME": str(tmp_path_factory.mktemp("pre-commit-home"))}


@pytest.fixture
def repo(bake: Bake, kit_clone: tuple[Path, str], hook_env: dict[str, str]) -> Path:
    clone, sha = kit_clone
    repo = bake(init_git=True, kit_repo_url=str(clone))
    config_path = repo / ".pre-commit-config.yaml"
    config = yaml.safe_load(config_path.read_text("utf-8"))
    # Only the kit's own hooks, pinned to the clone's HEAD: the cfn-lint entry would clone its
    # repository from GitHub, which this test must not need.
    config["repos"] = [entry for entry in config["repos"] if entry["repo"] == str(clone)]
    config["repos"][0]["rev"] = sha
    config_path.write_text(yaml.safe_dump(config, sort_keys=False), "utf-8")
    git(repo, hook_env, "commit", "--quiet", "--no-verify", "--all", "-m", "Pin the kit's hooks")
    subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=repo, env=hook_env,
                   check=True, capture_output=True)
    return repo


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


def test_clean_commit_passes(repo: Path, hook_env: dict[str, str]) -> None:
    (repo / ".chef" / "chef-north").mkdir()
    (repo / ".chef" / "chef-north" / "config.yml").write_text(
        'server: "https://chef-north.example.com/organizations/default"\n'
        'region: "eu-north-1"\nnode_name: "pivotal"\n', "utf-8")
    (repo / "cookbooks" / "example" / "recipes" / "default.rb").write_text("log 'hello'\n")
    metadata = repo / "cookbooks" / "example" / "metadata.rb"  # a changed cookbook's new version
    metadata.write_text(metadata.read_text("utf-8").replace("'0.1.0'", "'0.1.1'"), "utf-8")
    result = commit(repo, hook_env, ".chef/chef-north/config.yml", "cookbooks")
    assert result.returncode == 0, result.stdout
    assert "check each Chef server's config.yml" in result.stdout
    assert "check the Chef repository as a whole" in result.stdout


def test_bad_config_is_refused_with_its_line(repo: Path, hook_env: dict[str, str]) -> None:
    config = repo / ".chef" / "chef-east" / "config.yml"
    config.write_text(config.read_text("utf-8") + "regoin: us-east-2\n", "utf-8")
    result = commit(repo, hook_env, ".chef/chef-east/config.yml")
    assert result.returncode == 1
    assert ".chef/chef-east/config.yml:4:1: unknown key 'regoin': did you mean 'region'?" in (
        result.stdout)
    assert git(repo, hook_env, "log", "--oneline").stdout.count("\n") == 2


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
    (python,) = set(home.glob("repo*/py_env-*/bin/python"))
    listed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], check=True,
                            capture_output=True, text=True).stdout.lower()
    installed = {line.split("==")[0] for line in listed.split()}
    assert "pyyaml" in installed
    assert installed.isdisjoint({"boto3", "botocore", "cookiecutter", "cryptography", "pre-commit"})
