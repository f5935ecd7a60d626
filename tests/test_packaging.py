"""What other repositories and users consume: the hooks as pre-commit sees them, the console scripts
as pip installs them, and a README that names them all."""

from __future__ import annotations

from importlib import metadata
from typing import Any

import pytest
import yaml

from tests.conftest import KIT_ROOT

HOOKS: list[dict[str, Any]] = yaml.safe_load(
    (KIT_ROOT / ".pre-commit-hooks.yaml").read_text("utf-8")
)
SCRIPTS = {
    entry.name: entry
    for entry in metadata.distribution("chef-multiserver-kit").entry_points
    if entry.group == "console_scripts"
}


@pytest.mark.parametrize("hook", HOOKS, ids=[hook["id"] for hook in HOOKS])
def test_each_hook_is_its_own_console_script(hook: dict[str, Any]) -> None:
    assert hook["entry"] == hook["id"]
    assert hook["language"] == "python"
    assert hook["name"]
    assert hook["description"].endswith(".")
    assert callable(SCRIPTS[hook["id"]].load())


def test_every_console_script_loads() -> None:
    assert set(SCRIPTS) == {hook["id"] for hook in HOOKS} | {"chef-multiserver",
                                                               "chef-pipeline-targets"}
    assert all(callable(entry.load()) for entry in SCRIPTS.values())


def test_readme_names_every_hook_and_command() -> None:
    readme = (KIT_ROOT / "README.md").read_text("utf-8")

    assert [name for name in SCRIPTS if f"`{name}`" not in readme] == []
