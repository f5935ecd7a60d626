"""``.chef/sync.yml``: what the build may delete from the servers. The one committed place for it,
read by ``chef-multiserver sync`` (the build) and ``drift``, and checked by ``check-chef-repo``.

Without the file, or with a kind left out or false, an object a server holds and the repository
does not is reported and kept: deleting is off by default. The file is validated as a config.yml
is: the same loader (one YAML document, no anchors, no duplicate keys) and the same rules engine
(``servers.problems``) on a JSON Schema editors can use too,
``schemas/sync_settings.schema.json``; every problem names its line and column::

    delete_extra:
      roles: true
      environments: false
      data_bag_items: false
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chef_multiserver import repo_files, servers

SETTINGS_FILE = f"{servers.CHEF_DIR}/sync.yml"
SCHEMA: dict[str, Any] = json.loads(
    (servers.SCHEMA_FILE.parent / "sync_settings.schema.json").read_text("utf-8")
)
# The keys under delete_extra, and the kind of drift each stands for.
KINDS = {"roles": "role", "environments": "environment", "data_bag_items": "data_bag_item"}


class SettingsError(ValueError):
    """The settings file is not usable; the text is ``path:line:col: message``."""


def settings_findings(repo: Path) -> Iterator[str]:
    """Every problem of .chef/sync.yml (none when there is no such file)."""
    path = repo / SETTINGS_FILE
    if not path.exists() and not path.is_symlink():
        return
    try:
        loaded = repo_files.read_config(path)
    except repo_files.ConfigError as error:
        yield error.finding(SETTINGS_FILE)
        return
    # An empty file asks for nothing, as no file does.
    for problem in servers.problems({} if loaded.value is None else loaded.value, SCHEMA):
        line, column = loaded.position(problem, SCHEMA) if problem.path else (1, 1)
        at_value = problem.path and (line, column) == loaded.positions[problem.path][1]
        key = f"{'.'.join(problem.path)}: " if at_value else ""
        yield f"{SETTINGS_FILE}:{line}:{column}: {key}{problem.message}"


def delete_extra_kinds(repo: Path) -> frozenset[str]:
    """The kinds of object (``role``, ...) the repository asks to delete where only a server
    holds them; SettingsError when the file breaks the rules (never a guess: deleting is
    irreversible)."""
    problem = next(settings_findings(repo), None)
    if problem is not None:
        raise SettingsError(problem)
    path = repo / SETTINGS_FILE
    if not path.exists():
        return frozenset()
    value: Any = repo_files.read_config(path).value or {}
    flags = value.get("delete_extra") or {}
    return frozenset(KINDS[key] for key, flag in flags.items() if flag is True)
