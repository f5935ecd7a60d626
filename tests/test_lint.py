"""The project's own lint gates, and the lint of what the template renders (files with Jinja in them
are excluded from ruff and mypy; their rendered output is checked here instead)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cookiecutter.environment import StrictEnvironment

from tests.conftest import KIT_ROOT, Bake

YAMLLINT_CONFIG = """
extends: default
rules:
  document-start: disable
  line-length: {max: 120}
  truthy: {check-keys: false}
"""


def run(*command: str, cwd: Path = KIT_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


def test_ruff_passes() -> None:
    result = run(sys.executable, "-m", "ruff", "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_passes() -> None:
    # The template's plain Python (the Lambda, the upload script) is type-checked like the rest.
    template_python = "{{cookiecutter.repo_name}}/pipeline"
    packages = ("chef_multiserver", "pre_commit_hooks", "rehearsal", "tests", "benchmarks",
                "tools")
    result = run(sys.executable, "-m", "mypy", *packages, template_python)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def rendered_hooks(bake: Bake, tmp_path: Path) -> list[Path]:
    """hooks/*.py as cookiecutter renders them for a real generation (its replay file's context)."""
    repo = bake()
    (replay,) = repo.parent.with_name(repo.parent.name + ".cookiecutter").glob("replay/*.json")
    context = json.loads(replay.read_text("utf-8"))
    environment = StrictEnvironment(context=context, keep_trailing_newline=True)
    rendered = []
    for hook in sorted((KIT_ROOT / "hooks").glob("*.py")):
        target = tmp_path / "rendered" / hook.name
        target.parent.mkdir(exist_ok=True)
        target.write_text(
            environment.from_string(hook.read_text("utf-8")).render(
                cookiecutter=context["cookiecutter"]
            ),
            "utf-8",
        )
        rendered.append(target)
    return rendered


def test_rendered_template_hooks_pass_ruff_and_mypy(rendered_hooks: list[Path]) -> None:
    config = str(KIT_ROOT / "pyproject.toml")
    paths = [str(path) for path in rendered_hooks]
    assert [path.name for path in rendered_hooks] == ["post_gen_project.py"]

    ruff = run(sys.executable, "-m", "ruff", "check", "--config", config, *paths)
    mypy = run(sys.executable, "-m", "mypy", "--config-file", config, *paths)

    assert ruff.returncode == 0, ruff.stdout + ruff.stderr
    assert mypy.returncode == 0, mypy.stdout + mypy.stderr


def test_generated_yaml_passes_yamllint(bake: Bake, tmp_path: Path) -> None:
    repo = bake()
    config = tmp_path / "yamllint.yml"
    config.write_text(YAMLLINT_CONFIG, "utf-8")
    files = sorted(str(path) for path in repo.rglob("*") if path.suffix in (".yml", ".yaml"))
    assert len(files) >= 5

    result = run(sys.executable, "-m", "yamllint", "--strict", "--config-file", str(config), *files)

    assert result.returncode == 0, result.stdout + result.stderr
