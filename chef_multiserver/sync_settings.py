"""``.chef/sync.yml``: what the build may delete from the servers. The one committed place for it,
read by the build's sync, by ``chef-multiserver drift`` and checked by ``check-chef-repo``.

Without the file, or with a kind set to false, an object a server holds and the repository does
not is reported and kept: deleting is off by default. The file is read as a config.yml is (one
YAML document, no anchors, no duplicate keys) and every problem names its line and column::

    delete_extra:
      roles: true
      environments: false
      data_bag_items: false
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chef_multiserver import repo_files
from chef_multiserver.servers import CHEF_DIR

SETTINGS_FILE = f"{CHEF_DIR}/sync.yml"
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
        location = "" if error.position is None else ":{}:{}".format(*error.position)
        yield f"{SETTINGS_FILE}{location}: {error.message}"
        return
    value = loaded.value
    if value is None:
        return
    if not isinstance(value, dict):
        yield f"{SETTINGS_FILE}:1:1: must be a mapping with the key delete_extra"
        return
    for key, item in value.items():
        (line, column), (value_line, value_column) = loaded.positions[(key,)]
        if key != "delete_extra":
            yield f"{SETTINGS_FILE}:{line}:{column}: unknown key {key!r}: allowed: delete_extra"
        elif not isinstance(item, dict):
            yield (
                f"{SETTINGS_FILE}:{value_line}:{value_column}: delete_extra must map "
                f"{', '.join(KINDS)} to true or false"
            )
        else:
            for kind, flag in item.items():
                (line, column), (value_line, value_column) = loaded.positions[(key, kind)]
                if kind not in KINDS:
                    yield (
                        f"{SETTINGS_FILE}:{line}:{column}: unknown key {kind!r}: allowed: "
                        f"{', '.join(KINDS)}"
                    )
                elif not isinstance(flag, bool):
                    yield (
                        f"{SETTINGS_FILE}:{value_line}:{value_column}: delete_extra.{kind} must "
                        f"be true or false, not {flag!r}"
                    )


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
    value: Any = repo_files.read_config(path).value
    flags = (value or {}).get("delete_extra") or {}
    return frozenset(KINDS[key] for key, flag in flags.items() if flag is True)
