"""The rules of a Chef server entry, written once for the generator, the hooks and the pipeline.

The rules themselves are data: ``schemas/server_config.schema.json``, a JSON Schema that editors can
use too. This module applies the part of JSON Schema that file uses (``type``, ``required``,
``properties``, ``additionalProperties: false``, ``pattern``, ``not``/``enum``) with the standard
library only, because the cookiecutter hooks import it from the template checkout, where nothing but
cookiecutter's interpreter is promised. ``tests/test_servers.py`` checks that it agrees with the
``jsonschema`` library and that the schema uses no other keyword.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

CHEF_DIR = ".chef"
CONFIG_FILE = "config.yml"
KEY_FILE = "private.pem"
CA_CERTS_DIR = "ca_certs"

SCHEMA: dict[str, Any] = json.loads(
    resources.files("pre_commit_hooks").joinpath("schemas/server_config.schema.json").read_text("utf-8")
)
SERVER_NAME_SCHEMA: dict[str, Any] = SCHEMA["$defs"]["server_name"]
# The folders the kit itself keeps under .chef/: the names no server may take.
KIT_DIRS = frozenset(SERVER_NAME_SCHEMA["not"]["enum"])
# The keys a config.yml is written with, in this order; the rest of the schema's keys follow.
KEY_ORDER = ("server", "region", "node_name")

# What to tell a user instead of a bare regular expression.
ALLOWED = {
    "server": "https://FQDN[:port]/organizations/ORG (ORG: lower-case letters, digits, '-', '_')",
    "region": "an AWS region name such as us-east-1 or eu-central-1",
    "node_name": "a Chef user or client name: lower-case letters, digits, '.', '-', '_'",
    "key": "an EC2 tag key: 1 to 128 letters, digits, spaces and _ . : / = + @ -",
    "value": "an EC2 tag value: up to 256 letters, digits, spaces and _ . : / = + @ -",
    "max_concurrency": "an SSM MaxConcurrency: a count (1-9999) or a percentage (1%-100%)",
    "max_errors": "an SSM MaxErrors: a count (0-9999) or a percentage (0%-100%)",
    "server_name": "letters, digits, '-' and '_', starting with a letter or digit, at most 63 "
    "characters, not ca_certs, trusted_certs or syntax_check_cache",
}


@dataclass(frozen=True)
class Problem:
    """One way a value breaks the rules; ``path`` is the key path inside the value (empty: the value
    itself)."""

    path: tuple[str, ...]
    message: str


def problems(
    value: object, schema: Mapping[str, Any] = SCHEMA, name: str = ""
) -> Iterator[Problem]:
    """Every way ``value`` breaks ``schema``, not only the first."""
    expected = schema.get("type")
    if expected == "object":
        if not isinstance(value, dict):
            yield Problem((), f"must be a mapping of keys to values, not {_describe(value)}")
            return
        yield from _object_problems(value, schema)
    elif expected == "string":
        if not isinstance(value, str):
            yield Problem((), f"must be a string ({ALLOWED[name]}), not {_describe(value)}")
        elif not re.fullmatch(schema["pattern"], value) or value in schema.get("not", {}).get(
            "enum", ()
        ):
            yield Problem((), f"{value!r} is not allowed: use {ALLOWED[name]}")


def _object_problems(value: dict[Any, Any], schema: Mapping[str, Any]) -> Iterator[Problem]:
    properties: dict[str, Any] = schema["properties"]
    for key in schema.get("required", ()):
        if key not in value:
            yield Problem((), f"missing key {key!r} ({ALLOWED.get(key, key)})")
    for key, item in value.items():
        key_text = str(key)
        if key_text not in properties:
            guess = difflib.get_close_matches(key_text, properties, n=1)
            hint = f"did you mean {guess[0]!r}?" if guess else f"allowed: {', '.join(properties)}"
            yield Problem((key_text,), f"unknown key {key_text!r}: {hint}")
            continue
        for problem in problems(item, properties[key_text], key_text):
            yield Problem((key_text, *problem.path), problem.message)


def _describe(value: object) -> str:
    return "nothing" if value is None else f"a {type(value).__name__} ({value!r:.40})"


def server_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a server, or None when it can."""
    found = next(problems(name, SERVER_NAME_SCHEMA, "server_name"), None)
    return None if found is None else found.message


def duplicates(names: list[str]) -> list[str]:
    """The names that repeat another (case-insensitively: macOS and Windows checkouts fold case)."""
    seen: set[str] = set()
    repeated = []
    for name in names:
        if name.casefold() in seen:
            repeated.append(name)
        seen.add(name.casefold())
    return repeated


def render_config(config: Mapping[str, Any]) -> str:
    """The text of a ``config.yml``: one ``key: value`` line each, values JSON-quoted (JSON is
    YAML), so no value can break the file or inject a key."""
    ordered = [*KEY_ORDER, *(key for key in SCHEMA["properties"] if key not in KEY_ORDER)]
    lines = [
        f"{key}: {json.dumps(config[key], ensure_ascii=False)}" for key in ordered if key in config
    ]
    return "\n".join(lines) + "\n"


def server_dirs(repo: Path) -> dict[str, Path]:
    """The servers of a repository, name -> directory: every ``.chef/<name>/`` with a config.yml.

    This is the one list of servers; everything else derives from it."""
    chef_dir = repo / CHEF_DIR
    found = sorted(chef_dir.glob(f"*/{CONFIG_FILE}")) if chef_dir.is_dir() else []
    return {path.parent.name: path.parent for path in found}


# A config.yml is a few lines. The bounds keep a stray or hostile file (100 MB, a billion nested
# brackets) from slowing down or crashing every commit; PyYAML's composer recurses once per level.
CONFIG_MAX_BYTES = 64 * 1024
CONFIG_MAX_DEPTH = 16

Position = tuple[int, int]
"""1-based line and column in a file."""


class ConfigError(ValueError):
    """A file that cannot be read as a config.yml at all; ``position`` is where, when known."""

    def __init__(self, message: str, position: Position | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


@dataclass(frozen=True)
class LoadedConfig:
    """A config.yml's value with, for each key path, the positions of its key and of its value."""

    value: object
    positions: dict[tuple[str, ...], tuple[Position, Position]]

    def position(self, problem: Problem) -> Position:
        """Where ``problem`` is: the key itself when the schema does not know it, else its value."""
        schema: Mapping[str, Any] = SCHEMA
        for depth, key in enumerate(problem.path, 1):
            if key not in schema.get("properties", {}):
                return self.positions[problem.path[:depth]][0]
            schema = schema["properties"][key]
        return self.positions[problem.path][1]


def read_regular_file(path: Path, max_bytes: int) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes``.

    Symlinks are refused, not followed: one could point at a key outside the repository, and the
    hooks quote what they read. A FIFO would block the read forever: only regular files are read."""
    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            kind = "a symlink" if path.is_symlink() else "not a regular file"
            raise ConfigError(f"is {kind}: commit the file itself")
        with path.open("rb") as file:
            data = file.read(max_bytes + 1)
    except OSError as error:
        raise ConfigError(f"cannot read: {error.strerror or error}") from error
    if len(data) > max_bytes:
        raise ConfigError(f"is larger than {max_bytes // 1024} KiB: that is no {path.name}")
    return data


def read_config(path: Path) -> LoadedConfig:
    """Load a config.yml, or raise ConfigError saying why it is none."""
    return load_config(read_regular_file(path, CONFIG_MAX_BYTES))


def load_config(data: bytes) -> LoadedConfig:
    """Parse the YAML of a config.yml, keeping where each key and value is.

    Stricter than YAML itself where a config.yml needs no more: one document, no duplicate keys,
    no anchors or aliases (so no alias bomb), plain-text keys, bounded nesting."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        valid = data[: error.start].decode("utf-8")
        raise ConfigError("is not UTF-8 text", _offset_position(valid, len(valid))) from error
    positions: dict[tuple[str, ...], tuple[Position, Position]] = {}
    try:
        loader = _ConfigLoader(text)
        node = loader.get_single_node()
        value = None if node is None else _construct(loader, node, (), positions)
    except yaml.reader.ReaderError as error:
        raise ConfigError(
            f"character U+{error.character:04X} is not allowed in YAML (binary content?)",
            _offset_position(text, error.position),
        ) from error
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = None if mark is None else _mark_position(mark)
        raise ConfigError(f"invalid YAML: {error.problem or error.context}", position) from error
    positions.setdefault((), ((1, 1), (1, 1) if node is None else _mark_position(node.start_mark)))
    return LoadedConfig(value, positions)


class _ConfigLoader(yaml.SafeLoader):
    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ConfigError(
                "YAML anchors and aliases (& and *) are not allowed: write each value out",
                _mark_position(event.start_mark),
            )
        if self.depth >= CONFIG_MAX_DEPTH:
            raise ConfigError("nested too deeply", _mark_position(event.start_mark))
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _construct(
    loader: _ConfigLoader,
    node: yaml.Node,
    path: tuple[str, ...],
    positions: dict[tuple[str, ...], tuple[Position, Position]],
) -> object:
    if not isinstance(node, yaml.ScalarNode) and node.tag not in (_MAP_TAG, _SEQ_TAG):
        # Built here, not by PyYAML's constructor, so a tag would be dropped silently; none is
        # needed in a config.yml (scalars' tags go through PyYAML's safe constructor).
        raise ConfigError(f"YAML tag {node.tag!r} is not allowed", _mark_position(node.start_mark))
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, object] = {}
        for key_node, value_node in node.value:
            key_position = _mark_position(key_node.start_mark)
            if not isinstance(key_node, yaml.ScalarNode):
                raise ConfigError("a key must be plain text, not a list or mapping", key_position)
            key = key_node.value
            key_path = (*path, key)
            if key in mapping:
                first = positions[key_path][0][0]
                raise ConfigError(f"duplicate key {key!r} (first on line {first})", key_position)
            positions[key_path] = (key_position, _mark_position(value_node.start_mark))
            mapping[key] = _construct(loader, value_node, key_path, positions)
        return mapping
    if isinstance(node, yaml.SequenceNode):
        return [_construct(loader, item, path, positions) for item in node.value]
    return loader.construct_object(node)


_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


def _mark_position(mark: yaml.Mark) -> Position:
    return mark.line + 1, mark.column + 1


def _offset_position(text: str, offset: int) -> Position:
    before = text[:offset]
    return before.count("\n") + 1, offset - before.rfind("\n")


def is_key_file(path: str) -> bool:
    """Whether a repository path names a file that holds a secret key by its name alone: a client
    key, any PEM outside .chef/ca_certs/ (those are public CA certificates), PKCS#12, a data bag
    secret."""
    name = path.rsplit("/", 1)[-1].casefold()
    in_ca_certs = path.startswith(f"{CHEF_DIR}/{CA_CERTS_DIR}/")
    return (
        name in (KEY_FILE, "encrypted_data_bag_secret")
        or (name.endswith(".pem") and not in_ca_certs)
        or name.endswith((".p12", ".pfx"))
    )


def print_findings(findings: Iterable[str]) -> int:
    """Print one finding a line on stdout; 1 if there was any, else 0.

    A file name need not be valid UTF-8: it is shown escaped rather than crash the hook."""
    found = 0
    for finding in findings:
        print(finding.encode("utf-8", "backslashreplace").decode("utf-8"))
        found = 1
    return found
