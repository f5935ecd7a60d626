"""Shared fixtures: a chef repository generated from this template through cookiecutter's API."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rehearsal.generate import KIT_ROOT, bake_into, load_yaml, make_servers, user_config

__all__ = ["KIT_ROOT", "Bake", "bake_into", "load_yaml", "make_servers", "user_config"]

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
