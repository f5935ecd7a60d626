"""The Chef state a repository asks every server to hold: cookbook versions (Berksfile.lock), the
files of its own cookbooks, roles, environments and data bag items; and the form a server gives
each object back in, so that what a server fills in by itself is never taken for drift.

Folders as ``chef generate repo`` lays them out (chef/chef-cli,
lib/chef-cli/skeletons/code_generator/recipes/repo.rb): ``roles/NAME.json``,
``environments/NAME.json``, ``data_bags/BAG/ITEM.json``.

Ruby roles and environments (``.rb``) are refused, with the command that converts them: reading
them means running the repository's Ruby with Chef's classes, which the pre-commit hook and
``chef-multiserver drift`` on a workstation cannot count on, and which the build would run with
every server's key at hand. JSON is read the same way everywhere.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chef_multiserver import repo_files

OBJECT_MAX_BYTES = 1024 * 1024
COOKBOOK_FILE_MAX_BYTES = 64 * 1024 * 1024
# Chef's rules for names (lib/chef/role.rb, environment.rb: /^[\-[:alnum:]_]+$/; data bag items
# lib/chef/data_bag_item.rb VALID_ID /^[\.\-[:alnum:]_]+$/).
OBJECT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
ITEM_ID = re.compile(r"^[A-Za-z0-9_.-]+$")
METADATA_VERSION = re.compile(r"""^\s*version\s*\(?\s*(['"])(\d+(?:\.\d+){1,2})\1""", re.MULTILINE)
LOCK_GRAPH_ENTRY = re.compile(r"^  (\S+) \(([^)]+)\)$")
ROLES, ENVIRONMENTS, DATA_BAGS = "roles", "environments", "data_bags"
# The environment every organization has and nobody may change (docs.chef.io/environments/).
DEFAULT_ENVIRONMENT = "_default"


# What Chef's classes accept for each field (lib/chef/role.rb, environment.rb: set_or_return with
# kind_of; a run list is one entry or a list of them). Data bag items ("id") hold any JSON.
FIELD_TYPES: dict[str, dict[str, tuple[type, ...]]] = {
    "name": {
        "description": (str,),
        "run_list": (list, str),
        "env_run_lists": (dict,),
        "default_attributes": (dict,),
        "override_attributes": (dict,),
        "cookbook_versions": (dict,),
    },
}
TYPE_NAMES: dict[type, str] = {str: "a string", list: "a list", dict: "a JSON object"}


class StateError(ValueError):
    """A repository file that cannot be what its folder says; the text is ``path[:line:col]:
    message``."""


@dataclass(frozen=True)
class OwnCookbook:
    version: str
    files: dict[str, str]  # path inside the cookbook -> MD5 checksum, as Chef keeps them
    generated_metadata: bool  # metadata.json is what the upload makes of metadata.rb


@dataclass
class RepoState:
    cookbook_versions: dict[str, str] = field(default_factory=dict)  # name -> locked version
    own_cookbooks: dict[str, OwnCookbook] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    environments: dict[str, dict[str, Any]] = field(default_factory=dict)
    data_bag_items: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)


def run_list(items: object) -> list[str]:
    """Run-list entries as Chef writes them back (lib/chef/run_list/run_list_item.rb): a bare
    ``web`` or ``web::x`` is a recipe."""
    entries = [items] if isinstance(items, str) else items if isinstance(items, list) else []
    return [
        str(item) if re.match(r"^(recipe|role)\[", str(item)) else f"recipe[{item}]"
        for item in entries
    ]


def normal_role(value: Mapping[str, Any]) -> dict[str, Any]:
    """A role with every field Chef::Role#to_h writes (lib/chef/role.rb)."""
    env_run_lists = value.get("env_run_lists") or {}
    return {
        "name": value.get("name"),
        "description": value.get("description") or "",
        "json_class": "Chef::Role",
        "chef_type": "role",
        "default_attributes": value.get("default_attributes") or {},
        "override_attributes": value.get("override_attributes") or {},
        "run_list": run_list(value.get("run_list")),
        # Chef::Role#to_h leaves _default out: it is the role's run_list.
        "env_run_lists": {
            name: run_list(items) for name, items in env_run_lists.items() if name != "_default"
        },
    }


def normal_environment(value: Mapping[str, Any]) -> dict[str, Any]:
    """An environment with every field Chef::Environment#to_h writes (lib/chef/environment.rb)."""
    return {
        "name": value.get("name"),
        "description": value.get("description") or "",
        "json_class": "Chef::Environment",
        "chef_type": "environment",
        "cookbook_versions": value.get("cookbook_versions") or {},
        "default_attributes": value.get("default_attributes") or {},
        "override_attributes": value.get("override_attributes") or {},
    }


def normal_item(value: Mapping[str, Any]) -> dict[str, Any]:
    """A data bag item's own data: what Chef::DataBagItem.from_hash keeps of what a server sends
    (lib/chef/data_bag_item.rb drops chef_type, json_class and data_bag)."""
    raw = value.get("raw_data", value)
    return {
        key: item for key, item in raw.items() if key not in ("chef_type", "json_class", "data_bag")
    }


def read_state(repo: Path) -> RepoState:
    """The repository's Chef state; StateError at the first file that cannot be read as what
    its folder says."""
    state = RepoState(cookbook_versions=locked_versions(repo))
    for name, directory in own_cookbook_dirs(repo).items():
        files = cookbook_files(directory, repo)
        version = state.cookbook_versions.get(name) or metadata_version(directory)
        state.own_cookbooks[name] = OwnCookbook(
            version, files, "metadata.json" not in files and "metadata.rb" in files
        )
        state.cookbook_versions.setdefault(name, version)
    for path in sorted((repo / ROLES).glob("*.json")):
        state.roles[path.stem] = normal_role(read_object(path, "name", OBJECT_NAME, repo))
    for path in sorted((repo / ENVIRONMENTS).glob("*.json")):
        state.environments[path.stem] = normal_environment(
            read_object(path, "name", OBJECT_NAME, repo)
        )
    for bag in sorted(path for path in (repo / DATA_BAGS).glob("*") if path.is_dir()):
        state.data_bag_items[bag.name] = {
            path.stem: normal_item(read_object(path, "id", ITEM_ID, repo))
            for path in sorted(bag.glob("*.json"))
        }
    return state


def object_findings(repo: Path) -> Iterator[str]:
    """What check-chef-repo says about roles/, environments/ and data_bags/: every file that
    cannot be what its folder says."""
    checks = [(ROLES, "*.json", "name", OBJECT_NAME), (ENVIRONMENTS, "*.json", "name", OBJECT_NAME)]
    checks.append((DATA_BAGS, "*/*.json", "id", ITEM_ID))
    for folder, pattern, key, rule in checks:
        for path in sorted((repo / folder).glob(pattern)):
            try:
                read_object(path, key, rule, repo)
            except StateError as error:
                yield str(error)
    for path in sorted((repo / ENVIRONMENTS).glob(f"{DEFAULT_ENVIRONMENT}.json")):
        yield (
            f"{path.relative_to(repo)}: the {DEFAULT_ENVIRONMENT} environment cannot be changed "
            "on a Chef server: remove the file"
        )
    yield from _stray_findings(repo)
    for folder in (ROLES, ENVIRONMENTS):
        for path in sorted((repo / folder).glob("*.rb")):
            kind = "Role" if folder == ROLES else "Environment"
            yield (
                f"{path.relative_to(repo)}: Ruby {folder} are not uploaded: convert it to JSON "
                "with Chef's own class, then delete the .rb file: "
                f"ruby -rchef -e 'o = Chef::{kind}.new; "
                f'o.name("{path.stem}"); o.from_file("{folder}/{path.name}"); '
                f"puts Chef::JSONCompat.to_json_pretty(o)' > {folder}/{path.stem}.json"
            )


def _stray_findings(repo: Path) -> Iterator[str]:
    """Files and folders that cannot be uploaded as what their place says, nor are notes."""
    notes = {"README.md", ".gitkeep"}
    places: list[tuple[Path, str, tuple[str, ...]]] = [
        (repo / ROLES, "*", (".json", ".rb")),
        (repo / ENVIRONMENTS, "*", (".json", ".rb")),
    ]
    places += [(repo / DATA_BAGS, "*/*", (".json",))]
    for folder, pattern, suffixes in places:
        for path in sorted(folder.glob(pattern)):
            if path.name in notes or (path.is_file() and path.suffix in suffixes):
                continue
            yield (
                f"{path.relative_to(repo)}: not a {' or '.join(suffixes)} file, so never "
                f"uploaded: {folder.name}/ holds only those (and README.md)"
            )
    for path in sorted((repo / DATA_BAGS).glob("*")):
        if path.is_file() and path.name not in notes:
            yield (
                f"{path.relative_to(repo)}: a data bag item belongs in a folder named for its "
                f"bag: {DATA_BAGS}/BAG/{path.name}"
            )
        elif path.is_dir() and not OBJECT_NAME.fullmatch(path.name):
            yield (
                f"{path.relative_to(repo)}/: {path.name!r} is not a data bag name Chef allows "
                "(letters, digits, _ -)"
            )


def read_object(path: Path, key: str, rule: re.Pattern[str], repo: Path) -> dict[str, Any]:
    """A JSON object whose ``key`` is its file name (``roles/web.json`` holds role web); errors
    name the file relative to ``repo``."""
    shown = path.relative_to(repo)
    try:
        data = repo_files.read_regular_file(path, OBJECT_MAX_BYTES)
    except repo_files.ConfigError as error:
        raise StateError(f"{shown}: {error.message}") from error
    try:
        value = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as error:
        raise StateError(f"{shown}: is not UTF-8 text (byte {error.start + 1})") from error
    except RecursionError as error:
        raise StateError(f"{shown}: nested too deeply to be a Chef object") from error
    except json.JSONDecodeError as error:
        raise StateError(
            f"{shown}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}"
        ) from error
    if not isinstance(value, dict):
        raise StateError(f"{shown}:1:1: must be a JSON object, not {type(value).__name__}")
    if value.get(key) != path.stem:
        raise StateError(
            f"{shown}: its {key!r} is {value.get(key)!r}, not {path.stem!r} as its file name says: "
            "make them the same"
        )
    for field_name, expected in FIELD_TYPES.get(key, {}).items():
        if field_name in value and not isinstance(value[field_name], expected):
            names = " or ".join(TYPE_NAMES[kind] for kind in expected)
            raise StateError(
                f"{shown}: {field_name!r} must be {names}, not {type(value[field_name]).__name__}"
            )
    if not rule.fullmatch(path.stem):
        raise StateError(f"{shown}: {path.stem!r} is not a name Chef allows (letters, digits, _ -)")
    return value


def locked_versions(repo: Path) -> dict[str, str]:
    """Every cookbook version Berksfile.lock's GRAPH section holds (none without a lock)."""
    path = repo / "Berksfile.lock"
    if not path.is_file():
        return {}
    try:
        text = repo_files.read_regular_file(path, OBJECT_MAX_BYTES).decode("utf-8", "replace")
    except repo_files.ConfigError as error:
        raise StateError(f"{path}: {error.message}") from error
    versions, in_graph = {}, False
    for line in text.splitlines():
        if line and not line.startswith(" "):
            in_graph = line.strip() == "GRAPH"
        elif in_graph and (match := LOCK_GRAPH_ENTRY.match(line)):
            versions[match[1]] = match[2]
    return versions


def own_cookbook_dirs(repo: Path) -> dict[str, Path]:
    return {path.parent.name: path.parent for path in sorted(repo.glob("cookbooks/*/metadata.rb"))}


def metadata_version(directory: Path) -> str:
    path = directory / "metadata.rb"
    match = METADATA_VERSION.search(path.read_text("utf-8", errors="replace"))
    if match is None:
        raise StateError(f"{path}: no version 'X.Y.Z' line: give the cookbook a version")
    return match[2]


def cookbook_files(directory: Path, repo: Path) -> dict[str, str]:
    """The files an upload sends, with their MD5 checksums: all but what the nearest chefignore
    names, looked for from the cookbook's folder upwards as Chef does (chef/chef
    lib/chef/cookbook/chefignore.rb, ``find_ignore_file``; ``File.fnmatch?`` without flags, so
    ``*`` also matches ``/``), here no higher than the repository."""
    chefignore = next(
        (
            folder / "chefignore"
            for folder in (directory, *directory.parents)
            if folder.is_relative_to(repo) and (folder / "chefignore").is_file()
        ),
        None,
    )
    lines = chefignore.read_text("utf-8", "replace").splitlines() if chefignore else []
    patterns = [
        line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
    ]
    files = {}
    for path in sorted(directory.rglob("*")):
        relative = path.relative_to(directory).as_posix()
        if not path.is_file() or path.is_symlink():
            continue
        if any(fnmatch.fnmatchcase(relative, pattern) for pattern in patterns):
            continue
        try:
            data = repo_files.read_regular_file(path, COOKBOOK_FILE_MAX_BYTES)
        except repo_files.ConfigError as error:
            raise StateError(f"{path.relative_to(repo)}: {error.message}") from error
        files[relative] = hashlib.md5(data, usedforsecurity=False).hexdigest()
    return files
