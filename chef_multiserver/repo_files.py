"""Reading a repository's files for the hooks: safely, boundedly, and with positions to report.

Kept apart from ``servers`` (the rules), which the cookiecutter hooks import in a fresh interpreter
on every generation and which so needs neither PyYAML nor this module.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from chef_multiserver.servers import CA_CERTS_DIR, CHEF_DIR, KEY_FILE, SCHEMA, Problem

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

    def position(self, problem: Problem, schema: Mapping[str, Any] = SCHEMA) -> Position:
        """Where ``problem`` is: the key itself when the schema does not know it, else its value."""
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


class _CloudFormationLoader(yaml.SafeLoader):
    """A safe loader that also reads CloudFormation's short forms (!Sub, !GetAtt ...) as
    ``{"Fn::Sub": ...}``-style mappings, the way CloudFormation expands them."""


def _short_form(loader: yaml.SafeLoader, tag: str, node: yaml.Node) -> dict[str, Any]:
    function = "Ref" if tag == "Ref" else f"Fn::{tag}"
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
        if tag == "GetAtt":
            value = value.split(".", 1)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {function: value}


_CloudFormationLoader.add_multi_constructor("!", _short_form)


def load_cloudformation(text: str) -> Any:
    """A CloudFormation template (or any YAML), short forms read the way CloudFormation expands
    them: ``!GetAtt A.B`` is ``{"Fn::GetAtt": ["A", "B"]}``."""
    return yaml.load(text, Loader=_CloudFormationLoader)  # noqa: S506 (a SafeLoader subclass)
