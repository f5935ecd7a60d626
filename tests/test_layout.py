"""The repository's layout keeps its promises: the kit's library never reaches up into the hooks,
no module imports itself round in a circle, and what the cookiecutter hooks load from the template
checkout is standard library only (cookiecutter runs them with whatever Python it has)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from tests.conftest import KIT_ROOT

PACKAGES = ("chef_multiserver", "pre_commit_hooks")
MAX_MODULE_LINES = 400  # a module is read in a screen or two; past this, split it by what it holds


def module_name(path: Path) -> str:
    parts = path.relative_to(KIT_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {
    module_name(path): path for package in PACKAGES for path in (KIT_ROOT / package).rglob("*.py")
}


def imports(name: str) -> set[str]:
    """The modules of this repository that module ``name`` imports, at any depth in its code."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(MODULES[name].read_text("utf-8"))):
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            candidates = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {candidate for candidate in candidates if candidate in MODULES}
    return found - {name}


def test_the_library_never_imports_a_hook() -> None:
    upward = {
        name: sorted(target for target in imports(name) if target.startswith("pre_commit_hooks"))
        for name in MODULES
        if name.startswith("chef_multiserver")
    }
    assert {name: targets for name, targets in upward.items() if targets} == {}


def test_no_import_cycles() -> None:
    graph = {name: imports(name) for name in MODULES}
    cycles = []

    def visit(name: str, path: tuple[str, ...]) -> None:
        for target in graph[name]:
            if target in path:
                cycles.append((*path[path.index(target):], target))
            elif not any(target in cycle for cycle in cycles):
                visit(target, (*path, target))

    for name in graph:
        visit(name, (name,))
    assert cycles == []


def test_template_hooks_load_only_the_standard_library() -> None:
    """hooks/*.py import chef_multiserver.generator from the template checkout: everything it
    loads, transitively, must come with Python."""
    seen, todo = set(), ["chef_multiserver.generator"]
    third_party = set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo += imports(name)
        for node in ast.walk(ast.parse(MODULES[name].read_text("utf-8"))):
            roots = []
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                roots = [node.module.split(".")[0]]
            third_party |= {
                root for root in roots
                if root not in sys.stdlib_module_names and root not in PACKAGES
            }
    assert third_party == set()


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_says_what_it_is_for(name: str) -> None:
    assert ast.get_docstring(ast.parse(MODULES[name].read_text("utf-8")))


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_stays_readable(name: str) -> None:
    assert len(MODULES[name].read_text("utf-8").splitlines()) <= MAX_MODULE_LINES
