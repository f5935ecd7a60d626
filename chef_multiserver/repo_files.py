"""Reading a repository's files for the hooks: safely, boundedly, and with positions to report.

Kept apart from ``servers`` (the rules), which the cookiecutter hooks import in a fresh interpreter
on every generation and which so needs neither PyYAML nor this module.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from chef_multiserver.servers import CA_CERTS_DIR, CHEF_DIR, KEY_FILE, SCHEMA, Problem

# A config.yml is a few lines. The bounds keep a stray or hostile file (100 MB, a billion nested
# brackets) from slowing down or crashing every commit; PyYAML's composer recurses once per level.
CONFIG_MAX_BYTES = 64 * 1024
CONFIG_MAX_DEPTH = 16
# CloudFormation's own limit on a template's body (uploaded through S3): 1 MB.
TEMPLATE_MAX_BYTES = 1024 * 1024

Position = tuple[int, int]
"""1-based line and column in a file."""


class ConfigError(ValueError):
    """A file that cannot be read as a config.yml at all; ``position`` is where, when known."""

    def __init__(self, message: str, position: Position | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position

    def finding(self, path: object) -> str:
        """``path[:line:col]: message``, the form every reader reports it in."""
        location = "" if self.position is None else ":{}:{}".format(*self.position)
        return f"{path}{location}: {self.message}"


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
    """Load a config.yml, or raise ConfigError saying why it is none.

    Its directory, .chef/<server>/, must be a real directory inside the repository: through a
    symlink, git sees no files (``git add`` refuses a path beyond a symbolic link), so the server
    would be checked here but never committed, and its key never protected by .gitignore."""
    for directory in (path.parent, path.parent.parent):
        if directory.is_symlink():
            raise ConfigError(
                f"{directory.name}/ is a symlink: a server is a real directory inside the "
                "repository: replace the link with the directory itself"
            )
    return load_config(read_regular_file(path, CONFIG_MAX_BYTES))


def load_config(data: bytes) -> LoadedConfig:
    """Parse the YAML of a config.yml, keeping where each key and value is.

    Stricter than YAML itself where a config.yml needs no more: one document, no duplicate keys,
    no anchors or aliases (so no alias bomb), plain-text keys, bounded nesting."""
    text = _utf8(data)
    positions: dict[tuple[str, ...], tuple[Position, Position]] = {}
    with _yaml_errors(text, _ConfigLoader.max_depth):
        loader = _ConfigLoader(text)
        node = loader.get_single_node()
        value = None if node is None else _construct(loader, node, (), positions)
    positions.setdefault((), ((1, 1), (1, 1) if node is None else _mark_position(node.start_mark)))
    return LoadedConfig(value, positions)


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        valid = data[: error.start].decode("utf-8")
        raise ConfigError("is not UTF-8 text", _offset_position(valid, len(valid))) from error


@contextmanager
def _yaml_errors(text: str, max_depth: int) -> Iterator[None]:
    """Whatever PyYAML raises about ``text``, as a ConfigError at its place."""
    try:
        yield
    except yaml.reader.ReaderError as error:
        offset = error.position
        if _OFFSETS_IN_BYTES:
            offset = len(text.encode("utf-8")[:offset].decode("utf-8", "ignore"))
        raise ConfigError(
            f"character U+{error.character:04X} is not allowed in YAML (binary content?)",
            _offset_position(text, offset),
        ) from error
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        position = None if mark is None else _mark_position(mark)
        problem = error.problem or error.context
        if problem == "exceeded maximum nesting depth":  # libyaml's own bound: 1,000 levels
            problem = f"nested too deeply (more than {max_depth} levels)"
        elif problem == "found character that cannot start any token" and mark is not None:
            # libyaml does not say which, and a tab looks like spaces: PyYAML's words.
            line = (text.splitlines()[mark.line :] or [""])[0]
            shown = line[mark.column : mark.column + 1]
            problem = f"found character {shown!r} that cannot start any token"
        raise ConfigError(f"invalid YAML: {problem}", position) from error


class _PythonParser(yaml.reader.Reader, yaml.scanner.Scanner, yaml.parser.Parser):
    """PyYAML's own parser, where its C extension (libyaml) is missing."""

    def __init__(self, text: str) -> None:
        yaml.reader.Reader.__init__(self, text)
        yaml.scanner.Scanner.__init__(self)
        yaml.parser.Parser.__init__(self)


# PyYAML's wheels carry libyaml, whose parser turns text into events ten times faster than PyYAML's
# Python one: most of what checking 1,000 configs costs. The composer above it stays PyYAML's
# Python one, so nesting is bounded and anchors are seen (yaml.CSafeLoader composes in C).
if TYPE_CHECKING or not yaml.__with_libyaml__:  # both have the same methods; these are typed
    _Parser = _PythonParser
else:
    from yaml._yaml import CParser as _Parser
# libyaml counts a reader error's offset in UTF-8 bytes, PyYAML in characters.
_OFFSETS_IN_BYTES = _Parser is not _PythonParser


class _BoundedLoader(
    yaml.composer.Composer, _Parser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver
):
    """A safe loader that any text leaves with a value or a ``yaml.MarkedYAMLError`` at a place:
    nesting is bounded (PyYAML's composer recurses once per level), and a value its constructors
    cannot build (``2020-13-45``, ``!!bool maybe``, an int of 5,000 digits) is an error at that
    value, not whatever Python error the constructor happened to raise."""

    max_depth = 64
    depth = 0

    def __init__(self, text: str) -> None:
        _Parser.__init__(self, text)
        yaml.composer.Composer.__init__(self)
        yaml.constructor.SafeConstructor.__init__(self)
        yaml.resolver.Resolver.__init__(self)

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        if self.depth >= self.max_depth:
            mark = self.peek_event().start_mark  # type: ignore[no-untyped-call]  # untyped stubs
            raise yaml.composer.ComposerError(
                None, None, f"nested too deeply (more than {self.max_depth} levels)", mark
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except yaml.MarkedYAMLError:
            raise
        except Exception as error:  # PyYAML's constructors raise whatever the value trips
            raise yaml.constructor.ConstructorError(
                None, None, _unreadable(node, error), node.start_mark
            ) from error


def _unreadable(node: yaml.Node, error: Exception) -> str:
    kind = node.tag.rsplit(":", 1)[-1]
    shown = f"{node.value!r:.40}" if isinstance(node, yaml.ScalarNode) else "this value"
    # A ValueError's own words say what is wrong (month must be in 1..12, too many digits); a
    # KeyError's or TypeError's only repeat the value.
    reason = f" ({error})" if isinstance(error, (ValueError, OverflowError)) else ""
    return f"{shown} is not a valid {kind}{reason}: write it in quotes if it is text"


class _ConfigLoader(_BoundedLoader):
    max_depth = CONFIG_MAX_DEPTH

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]  # untyped in types-PyYAML
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise ConfigError(
                "YAML anchors and aliases (& and *) are not allowed: write each value out",
                _mark_position(event.start_mark),
            )
        return super().compose_node(parent, index)


def _construct(
    loader: _ConfigLoader,
    node: yaml.Node,
    path: tuple[str, ...],
    positions: dict[tuple[str, ...], tuple[Position, Position]],
) -> object:
    if node.tag not in (_SCALAR_TAGS if isinstance(node, yaml.ScalarNode) else _COLLECTION_TAGS):
        # Collections are built here, not by PyYAML, so their tag would be dropped silently; no
        # other tag has a use in a config.yml (!!binary, !!omap, !!python/..., !custom).
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
    if node.tag in _YAML11_SYMBOL_TAGS:
        return node.value
    return loader.construct_object(node)


_COLLECTION_TAGS = frozenset(f"tag:yaml.org,2002:{kind}" for kind in ("map", "seq"))
# The tags YAML gives plain scalars by itself, the only ones a scalar of a config.yml may carry.
_SCALAR_TAGS = frozenset(
    f"tag:yaml.org,2002:{kind}"
    for kind in ("str", "int", "float", "bool", "null", "timestamp", "merge", "value")
)
# YAML 1.1 reads a plain << or = as these, which PyYAML's safe loader cannot build: text here.
_YAML11_SYMBOL_TAGS = frozenset(("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value"))


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


class _CloudFormationLoader(_BoundedLoader):
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
    them: ``!GetAtt A.B`` is ``{"Fn::GetAtt": ["A", "B"]}``; ConfigError if it is not YAML. The
    value can have any shape: its reader checks each part's type before using it."""
    with _yaml_errors(text, _CloudFormationLoader.max_depth):
        return _CloudFormationLoader(text).get_single_data()


def read_cloudformation(path: Path) -> Any:
    """Load the CloudFormation template at ``path`` (a regular file of a template's size)."""
    return load_cloudformation(_utf8(read_regular_file(path, TEMPLATE_MAX_BYTES)))
