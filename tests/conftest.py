"""Shared fixtures: a chef repository generated from this template through cookiecutter's API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chef_multiserver import __version__
from rehearsal.generate import KIT_ROOT, bake_into, load_yaml, make_servers, user_config

__all__ = [
    "KIT_ROOT", "Bake", "bake_into", "load_yaml", "make_servers", "pinned_rev", "user_config",
]

Bake = Callable[..., Path]

# The command-line tools the tests run (aws, cfn-lint, pre-commit...) come from the environment that
# runs the tests, .venv in CI, whether or not it is activated.
os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"


@pytest.fixture
def bake(tmp_path: Path) -> Bake:
    """``bake(**answers)`` generates a repository under the test's tmp_path."""
    counter = iter(range(1000))

    def _bake(**extra_context: Any) -> Path:
        return bake_into(tmp_path / f"bake{next(counter)}", **extra_context)

    return _bake


def pinned_rev(checkout: Path) -> str:
    """What a repository generated from ``checkout`` pins: the release tag of this version when it
    points at the checkout's HEAD (as on a release commit), else HEAD's commit id."""

    def rev_parse(name: str) -> str:
        return subprocess.run(["git", "rev-parse", "--verify", "--quiet", name], cwd=checkout,
                              capture_output=True, text=True, check=False).stdout.strip()

    head = rev_parse("HEAD^{commit}")
    return f"v{__version__}" if rev_parse(f"refs/tags/v{__version__}^{{commit}}") == head else head
