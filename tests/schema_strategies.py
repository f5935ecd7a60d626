"""Hypothesis strategies read from the server config schema when the tests run, so that a key or a
rule added to chef_multiserver/schemas/server_config.schema.json is drawn without a test edit."""

from __future__ import annotations

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
    forbidden = set(schema.get("not", {}).get("enum", ()))
    strings = (
        st.sampled_from(schema["enum"]) if "enum" in schema
        else st.from_regex(schema["pattern"], fullmatch=True)
    )
    return strings.filter(lambda value: value not in forbidden)


def string_values(schema: Mapping[str, Any]) -> st.SearchStrategy[str]:
    """A string ``schema`` allows, or one a character or two away from it."""
    return valid_values(schema).flatmap(lambda value: st.sampled_from([
        value, value.upper(), value[:-1], f"{value}x", f" {value}", f"{value}\n", value * 2,
    ]))
