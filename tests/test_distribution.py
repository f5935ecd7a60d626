"""The kit as a release ships it: `python -m build` (the release procedure in README.md) makes the
sdist and, from it, the wheel, once per test run; the wheel with its `cli` extra goes into a new
virtual environment with its dependencies from the package index, where the console scripts run;
the sdist, unpacked, is a cookiecutter template that this environment's `cookiecutter` generates a
repository from."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

from chef_multiserver import __version__
from tests.conftest import KIT_ROOT, user_config
from tests.test_packaging import SCRIPTS

TEMPLATE_PARTS = ("cookiecutter.json", "hooks/", "{{cookiecutter.repo_name}}/")


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The sdist and the wheel built from it. No build isolation: the build backend is the
    setuptools pinned in requirements/test.lock, and the build needs no network. The build runs in
    a copy of the tracked files, as a release builds from a clean checkout: it writes egg-info and
    build/ where it runs, which other tests (run side by side) must not see in the kit."""
    source = tmp_path_factory.mktemp("source")
    for name in tracked_files():
        if (KIT_ROOT / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(KIT_ROOT / name, source / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out),
                    str(source)], check=True, capture_output=True, timeout=300)
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return sdist, wheel


@pytest.fixture(scope="module")
def fresh_venv(dists: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new virtual environment with the wheel and its `cli` extra (cookiecutter, the command's
    dependencies), and what they depend on from the package index."""
    home = tmp_path_factory.mktemp("venv") / "kit"
    venv.create(home, with_pip=True)
    _, wheel = dists
    subprocess.run([str(home / "bin" / "python"), "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", f"{wheel}[cli]"], check=True, timeout=600)
    return home / "bin"


def tracked_files(*parts: str) -> list[str]:
    return subprocess.run(["git", "ls-files", "--", *parts], cwd=KIT_ROOT, check=True,
                          capture_output=True, text=True).stdout.split()


def test_the_sdist_carries_the_template_and_no_half_test_suite(dists: tuple[Path, Path]) -> None:
    sdist, _ = dists
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}

    assert [path for path in tracked_files(*TEMPLATE_PARTS) if path not in names] == []
    assert not any(name.startswith("tests/") for name in names)


def test_the_wheel_holds_the_packages_and_their_data_only(dists: tuple[Path, Path]) -> None:
    _, wheel = dists
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()

    assert {name.split("/", 1)[0] for name in names} == {
        "chef_multiserver", "pre_commit_hooks", f"chef_multiserver_kit-{__version__}.dist-info"}
    assert "chef_multiserver/schemas/server_config.schema.json" in names


# The hooks that take file names read every argument as one (no --help): given none, they check
# nothing and pass.
FILE_TAKING_HOOKS = {"forbid-chef-secrets", "check-chef-server-config"}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_each_console_script_runs(fresh_venv: Path, script: str) -> None:
    arguments = [] if script in FILE_TAKING_HOOKS else ["--help"]
    result = subprocess.run([str(fresh_venv / script), *arguments], capture_output=True,
                            text=True, timeout=60, check=False)

    assert (result.returncode, result.stderr) == (0, "")
    assert script in FILE_TAKING_HOOKS or result.stdout.startswith("usage:")


def test_the_unpacked_sdist_generates_a_repository_with_only_the_wheel(
    dists: tuple[Path, Path], fresh_venv: Path, tmp_path: Path
) -> None:
    sdist, _ = dists
    with tarfile.open(sdist) as archive:
        archive.extractall(tmp_path, filter="data")
    (template,) = tmp_path.glob("chef_multiserver_kit-*")
    environment = {"PATH": f"{fresh_venv}:/usr/bin:/bin", "HOME": str(tmp_path),
                   "COOKIECUTTER_CONFIG": str(user_config(tmp_path / "cookiecutter-home"))}

    result = subprocess.run(
        [str(fresh_venv / "cookiecutter"), "--no-input", str(template), "--output-dir",
         str(tmp_path / "out")], env=environment, capture_output=True, text=True, timeout=300,
        check=False)

    assert result.returncode == 0, result.stderr
    repo = tmp_path / "out" / "owca-multi-region-repo"
    # Not a git checkout, so no commit to pin: the generation says so (chef_multiserver.kit_source).
    assert f"WARNING: {template} is not a git repository" in result.stderr
    check = subprocess.run([str(fresh_venv / "check-chef-server-config"),
                            *sorted(str(path) for path in repo.glob(".chef/*/config.yml"))],
                           cwd=repo, env=environment, capture_output=True, text=True, timeout=60,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    assert len(list(repo.glob(".chef/*/config.yml"))) == 2
