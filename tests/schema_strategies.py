"""Hypothesis strategies read from the server config schema when the tests run, so that a key or a
rule added to chef_multiserver/schemas/server_config.schema.json is drawn without a test edit."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from hypothesis import strategies as st

from chef_multiserver import servers


def resolved(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    """``schema`` with its ``$ref`` (a file of the schemas folder) merged in."""
    if "$ref" in schema:
        return {**servers.referenced_schema(schema["$ref"]), **schema}
    return schema


def valid_values(schema: Mapping[str, Any]) -> st.SearchStrategy[Any]:
    """Values ``schema`` allows: every required key, any of the optional ones."""
    schema = resolved(schema)
    if schema["type"] == "object":
        properties = schema["properties"]
        return st.fixed_dictionaries(
            {key: valid_values(properties[key]) for key in schema["required"]},
            optional={
                key: valid_values(child) for key, child in properties.items()
                if key not in schema["required"]
            },
        )
    if schema["type"] == "boolean":
        return st.booleans()
    forbidden = set(schema.get("not", {}).get("enum", ()))
    strings = (
        st.sampled_from(schema["enum"]) if "enum" in schema
        else st.from_regex(schema["pattern"], fullmatch=True) if "pattern" in schema
        else st.text()
    )
    return strings.filter(lambda value: value not in forbidden)


def string_values(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    """A string ``schema`` allows, or one a character or two away from it."""
    return st.tuples(valid_values(schema), st.sampled_from(_NEAR_MISSES)).map(
        lambda drawn: drawn[1](drawn[0]))


_NEAR_MISSES = (
    lambda value: value, str.upper, lambda value: value[:-1], lambda value: f"{value}x",
    lambda value: f" {value}", lambda value: f"{value}\n", lambda value: value * 2,
)


# Scalars as YAML text that PyYAML's safe loader fails to build, or builds into something a config
# does not expect: the class of values a config reader must answer with a finding, not a crash.
HOSTILE_SCALARS = (
    "2020-13-45", "2001-02-29", "!!bool maybe", "!!int x", "!!float x", "!!timestamp x",
    "!!null x", "!!binary '@@'", "!!binary aGk=", "!!omap x", "!!set x", "!!str", "!!map x",
    "!!python/name:os.system x", "!!python/object/apply:os.system [id]", "!custom x", "!<tag:x> y",
    "1" * 4301, "0x" + "f" * 4000, "0b" + "1" * 20000, "1e99999", "-.inf", ".nan", "1:2:3:4",
    "0o777", "~", "null", "yes", "off", "<<", "=", "''", "'unterminated", '"\\x00"', '"\\ud800"',
    "&anchor x", "*alias", "[", "{", "]", "- x", "? x", "|", ">-", "@x", "`x", "%x", "#", "\t",
    "[" * 17 + "]" * 17, "[" * 20000 + "]" * 20000, "{a: " * 100 + "}" * 100,
)


def yaml_scalar(schema: Mapping[str, Any] | None = None) -> st.SearchStrategy[str]:
    """One scalar as YAML text: hostile, a string the schema allows or nearly so (plain or
    quoted), or any text, number or flag."""
    options = [
        st.sampled_from(HOSTILE_SCALARS),
        st.text(max_size=12).map(json.dumps),
        st.integers().map(str),
        st.sampled_from(["true", "false", "1.5", "-0", "0", "100%", "10%"]),
    ]
    if schema is not None and resolved(schema).get("type") == "string":
        strings = string_values(schema)
        options += [strings, strings.map(json.dumps)]
    return st.one_of(options)


def yaml_value(schema: Mapping[str, Any] | None = None, depth: int = 2) -> st.SearchStrategy[str]:
    """A value as flow-style YAML text: a scalar, a list or a mapping (of the schema's keys when
    ``schema`` is an object)."""
    options = [yaml_scalar(schema)]
    if depth:
        child = yaml_value(None, depth - 1)
        options.append(st.lists(child, max_size=3).map(lambda items: f"[{', '.join(items)}]"))
        options.append(flow_mapping(schema, depth - 1))
    return st.one_of(options)


def flow_mapping(schema: Mapping[str, Any] | None, depth: int) -> st.SearchStrategy[str]:
    keys = schema_keys(schema)
    pairs = st.lists(st.tuples(st.sampled_from(keys) if keys else st.text(max_size=6).map(
        json.dumps), st.deferred(lambda: yaml_value(None, depth))), max_size=3)
    return pairs.map(lambda items: "{" + ", ".join(f"{k}: {v}" for k, v in items) + "}")


def schema_keys(schema: Mapping[str, Any] | None) -> list[str]:
    return list(resolved(schema).get("properties", {})) if schema is not None else []


def config_documents(schema: Mapping[str, Any] = servers.SCHEMA) -> st.SearchStrategy[bytes]:
    """A config.yml as bytes: block-style lines, one per key, keys drawn from every key the schema
    has (read now, so keys added later are drawn too) and a few it does not, each value drawn for
    its key; sometimes a raw byte or a line of YAML syntax thrown in. Or a config the schema allows
    with one key's value drawn the same way."""
    properties = resolved(schema)["properties"]
    keys = [*sorted(properties), "regoin", "x", "- a"]
    pairs = st.one_of([st.tuples(st.just(key), yaml_value(properties.get(key))) for key in keys])
    lines = st.lists(pairs, max_size=len(keys)).map(
        lambda items: "\n".join(f"{key}: {value}" for key, value in items).encode())
    extra = st.one_of(st.just(b""), st.binary(max_size=4), st.sampled_from(
        [b"\n---\n", b"\n...\n", b"\n  indented: x", b"\xef\xbb\xbf", b"\x00", b"\r\n"]))
    noisy = st.tuples(lines, extra, st.booleans()).map(
        lambda parts: parts[0] + parts[1] if parts[2] else parts[1] + parts[0])
    spoiled = st.tuples(valid_values(schema), pairs).map(lambda drawn: "\n".join(
        f"{key}: {drawn[1][1] if key == drawn[1][0] else json.dumps(value)}"
        for key, value in {**drawn[0], drawn[1][0]: None}.items()).encode())
    return st.one_of(noisy, spoiled)
