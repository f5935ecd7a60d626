"""Which kit a generated repository installs (chef_multiserver/kit_source.py): real git clones of
this checkout (committed work only), in every state a user's clone can be in, generated from with
cookiecutter's API; the pin is read from the generated .pre-commit-config.yaml and buildspec.yml.
`git branch -r --contains` is git's own answer to "does origin have this commit" (git-branch(1)),
and cookiecutter's `_template`/`_repo_dir` are as cookiecutter/main.py sets them."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from chef_multiserver import __version__
from tests.conftest import KIT_ROOT, bake_into

URL = "https://git.example.com/platform/chef-multiserver-kit.git"


def git(cwd: Path, *args: str) -> str:
    identity = ["-c", "user.name=Test", "-c", "user.email=test@localhost"]
    return subprocess.run(["git", *identity, *args], cwd=cwd, check=True, capture_output=True,
                          text=True).stdout.strip()


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clone = tmp_path_factory.mktemp("pristine") / "chef-multiserver-kit"
    git(KIT_ROOT, "clone", "--quiet", str(KIT_ROOT), str(clone))
    git(clone, "remote", "set-url", "origin", URL)
    for tag in git(clone, "tag", "--list").split():  # the tests make the tags they need
        git(clone, "tag", "--delete", tag)
    return clone


@pytest.fixture
def clone(pristine: Path, tmp_path: Path) -> Path:
    """A clone whose origin is URL and whose remote-tracking branch has its HEAD."""
    return Path(shutil.copytree(pristine, tmp_path / "chef-multiserver-kit", symlinks=True))


def pin(template: Path | str, tmp_path: Path, **answers: str) -> tuple[str, str]:
    """The (repo, rev) a repository generated from ``template`` pins, the same in both files."""
    repo = bake_into(tmp_path / "out", template=template, **answers)
    kit = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text("utf-8"))["repos"][0]
    variables = yaml.safe_load((repo / "buildspec.yml").read_text("utf-8"))["env"]["variables"]
    assert (variables["KIT_REPO_URL"], variables["KIT_REV"]) == (kit["repo"], kit["rev"])
    return kit["repo"], kit["rev"]


def warnings(capfd: pytest.CaptureFixture[str]) -> list[str]:
    return [line for line in capfd.readouterr().err.splitlines() if line.startswith("WARNING:")]


def test_a_clean_clone_pins_its_origin_at_its_commit(
    clone: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert pin(clone, tmp_path) == (URL, git(clone, "rev-parse", "HEAD"))
    assert warnings(capfd) == []


def test_the_release_tag_when_it_points_at_the_commit(
    clone: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    git(clone, "tag", "--annotate", "-m", "release", f"v{__version__}")

    assert pin(clone, tmp_path) == (URL, f"v{__version__}")
    assert warnings(capfd) == []


def test_not_a_release_tag_that_points_elsewhere(clone: Path, tmp_path: Path) -> None:
    git(clone, "tag", f"v{__version__}", "HEAD~1")

    assert pin(clone, tmp_path) == (URL, git(clone, "rev-parse", "HEAD"))


def test_a_commit_origin_does_not_have_pins_the_local_clone(
    clone: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    git(clone, "commit", "--quiet", "--allow-empty", "-m", "not pushed")
    head = git(clone, "rev-parse", "HEAD")

    assert pin(clone, tmp_path) == (clone.as_uri(), head)
    first, second = warnings(capfd)
    assert first == (
        f"WARNING: no branch of origin ({URL}) has commit {head}, so the hooks and the pipeline "
        f"install the kit from {clone} on this machine, at {head}"
    )
    assert "CodeBuild cannot reach this machine" in second


def test_a_dirty_clone_pins_the_local_clone(
    clone: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    readme = clone / "README.md"
    readme.write_text(readme.read_text("utf-8") + "\nedited\n", "utf-8")

    assert pin(clone, tmp_path) == (clone.as_uri(), git(clone, "rev-parse", "HEAD"))
    assert f"{clone} has changes that are not committed" in warnings(capfd)[0]


def test_a_clone_without_origin_pins_the_local_clone(
    clone: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    git(clone, "remote", "remove", "origin")

    assert pin(clone, tmp_path)[0] == clone.as_uri()
    assert f"{clone} has no origin remote" in warnings(capfd)[0]


def test_a_template_that_is_no_git_repository(
    clone: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    exported = tmp_path / "exported"
    shutil.copytree(clone, exported, ignore=shutil.ignore_patterns(".git"))

    assert pin(exported, tmp_path) == (exported.as_uri(), f"v{__version__}")
    (warning,) = warnings(capfd)
    assert f"{exported} is not a git repository, so no commit can be pinned" in warning


def test_a_git_url_pins_the_url_cookiecutter_cloned(
    pristine: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """cookiecutter clones a URL into its cookiecutters_dir (cookiecutter/vcs.py: a `git+` prefix
    names the tool, and is not part of the URL git clones); a file:// URL is one it clones without
    a network."""
    url = pristine.as_uri()

    assert pin(f"git+{url}", tmp_path) == (url, git(pristine, "rev-parse", "HEAD"))
    assert "on this machine" in warnings(capfd)[0]


def test_a_kit_repo_url_answer_replaces_the_url_not_the_commit(
    clone: Path, tmp_path: Path
) -> None:
    mirror = "https://git.example.com/platform/chef-multiserver-kit.git"

    assert pin(clone, tmp_path, kit_repo_url=mirror) == (mirror, git(clone, "rev-parse", "HEAD"))


def test_an_scp_like_url_is_pinned_in_the_form_pip_takes(clone: Path, tmp_path: Path) -> None:
    """pip reads `git+ssh://user@host/path` only (pip's VCS support docs); git reads both."""
    git(clone, "remote", "set-url", "origin", "git@git.example.com:platform/kit.git")

    assert pin(clone, tmp_path)[0] == "ssh://git@git.example.com/platform/kit.git"


def test_an_origin_url_a_shell_would_act_on_is_not_pinned(
    clone: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """The generated README shows the pin inside a pip command a user pastes into a shell."""
    git(clone, "remote", "set-url", "origin", "https://git.example.com/$(touch pwned)/kit.git")

    assert pin(clone, tmp_path)[0] == clone.as_uri()
    assert "is not one the kit can pin" in warnings(capfd)[0]
