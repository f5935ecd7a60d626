"""servers.problems agrees with the jsonschema library, on a schema that uses only what it knows."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import jsonschema
import pytest
import referencing
from hypothesis import given, settings
from hypothesis import strategies as st

from chef_multiserver import repo_files, servers, sync_settings
from tests.schema_strategies import string_values

# The keywords servers.problems applies, and those that only annotate.
APPLIED = {"type", "required", "properties", "additionalProperties", "pattern", "not", "enum",
           "$ref"}
ANNOTATIONS = {"description", "title", "$schema", "$id", "$defs"}
# The referenced schemas by their $id, against which a relative $ref resolves (JSON Schema 2020-12,
# 8.2.1): the jsonschema library needs no file or network access to follow them.
REGISTRY: referencing.Registry[Any] = referencing.Registry().with_resources(
    (schema["$id"], referencing.Resource.from_contents(schema))
    for schema in map(servers.referenced_schema, ["aws_region.schema.json"])
)
VALIDATOR = jsonschema.Draft202012Validator(servers.SCHEMA, registry=REGISTRY)


def subschemas(schema: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield schema
    for key in ("properties", "$defs"):
        for child in schema.get(key, {}).values():
            yield from subschemas(child)
    if "not" in schema:
        yield from subschemas(schema["not"])
    if "$ref" in schema:
        yield from subschemas(servers.referenced_schema(schema["$ref"]))


def test_schema_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(servers.SCHEMA)


@pytest.mark.parametrize("schema", list(subschemas(servers.SCHEMA)), ids=str)
def test_schema_uses_only_what_servers_applies(schema: Mapping[str, Any]) -> None:
    assert set(schema) <= APPLIED | ANNOTATIONS
    assert schema.get("type", "string") in ("object", "string", "boolean")
    assert schema.get("additionalProperties", False) is False
    if schema.get("type") == "object":
        assert "additionalProperties" in schema
    if "not" in schema:
        assert set(schema["not"]) == {"enum"}


def matching_or_not(schema: Mapping[str, Any]) -> st.SearchStrategy[object]:
    # No "\n" in made-up text: see test_trailing_newline.
    return st.one_of(
        string_values(schema).filter(lambda text: "\n" not in text),
        st.text(st.characters(exclude_characters="\n"), max_size=12),
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
        st.lists(st.integers(), max_size=2),
    )


def value_of(schema: Mapping[str, Any]) -> st.SearchStrategy[object]:
    if schema.get("type") == "object":
        return configs(schema)
    if schema.get("type") == "boolean":  # a right value, or any of the wrong ones
        return st.one_of(st.booleans(), matching_or_not({"type": "string"}))
    return matching_or_not(schema)


def configs(schema: Mapping[str, Any]) -> st.SearchStrategy[object]:
    values = {key: value_of(child) for key, child in schema["properties"].items()}
    known = st.fixed_dictionaries({}, optional=values)
    unknown = st.dictionaries(st.text(max_size=6), st.integers() | st.text(max_size=4), max_size=2)
    return st.one_of(
        st.tuples(known, unknown).map(lambda pair: {**pair[1], **pair[0]}),
        known,
        st.none(), st.text(max_size=5), st.lists(st.integers(), max_size=2),
    )


@settings(max_examples=500, database=None)  # database=None: no .hypothesis/ in the checkout
@given(configs(servers.SCHEMA))
def test_problems_agree_with_jsonschema(value: object) -> None:
    found = list(servers.problems(value))
    assert (not found) == VALIDATOR.is_valid(value), (found, list(VALIDATOR.iter_errors(value)))


@settings(max_examples=200, database=None)
@given(st.one_of(st.from_regex(servers.SERVER_NAME_SCHEMA["pattern"], fullmatch=True),
                 st.text(st.characters(exclude_characters="\n"), max_size=70),
                 st.sampled_from(sorted(servers.KIT_DIRS))))
def test_server_name_agrees_with_jsonschema(name: str) -> None:
    expected = jsonschema.Draft202012Validator(servers.SERVER_NAME_SCHEMA).is_valid(name)
    assert (servers.server_name_problem(name) is None) == expected


def test_trailing_newline() -> None:
    """The one known disagreement: jsonschema applies ``pattern`` with Python's re.search, whose
    ``$`` also matches before a final newline; JSON Schema means ECMA-262, where it does not.
    servers follows the standard, so a value cannot smuggle a newline into a generated file."""
    value = {"server": "https://a.example.com/organizations/o\n", "region": "us-east-1",
             "node_name": "me"}
    assert VALIDATOR.is_valid(value)
    assert [problem.path for problem in servers.problems(value)] == [("server",)]


def test_kit_dirs_are_the_names_no_server_may_take() -> None:
    assert {"ca_certs", "trusted_certs", "syntax_check_cache"} == servers.KIT_DIRS
    assert all(servers.server_name_problem(name) for name in servers.KIT_DIRS)


@pytest.mark.parametrize(("path", "is_key"), [
    (".chef/chef-east/private.pem", True), ("private.pem", True), ("a/b/Client.PEM", True),
    (".chef/ca_certs/chef-east.pem", False), (".chef/ca_certs/sub/x.pem", False),
    ("ca_certs/x.pem", True), ("x.p12", True), ("x.pfx", True), (".chef/x.pem", True),
    ("encrypted_data_bag_secret", True), ("data_bags/encrypted_data_bag_secret", True),
    ("README.md", False), ("pem", False), ("x.pem.md", False), ("x.crt", False),
])
def test_is_key_file(path: str, is_key: bool) -> None:
    assert repo_files.is_key_file(path) is is_key


ORG_URL = "https://chef.example.com/organizations/prod"


@pytest.mark.parametrize("spelling", [
    ORG_URL, "https://CHEF.Example.COM/organizations/prod",
    "https://chef.example.com:443/organizations/prod",
    "https://chef.example.com./organizations/prod", "https://chef.example.com/organizations/prod/",
    "HTTPS://chef.example.com:00443/organizations/prod//",
])
def test_spellings_of_one_organization_share_a_key(spelling: str) -> None:
    assert servers.server_key(spelling) == servers.server_key(ORG_URL)
    assert servers.duplicates([ORG_URL, spelling], servers.server_key) == [spelling]


@pytest.mark.parametrize("other", [
    "https://chef.example.com:8443/organizations/prod",
    "https://chef.example.com/organizations/Prod",
    "https://chef.example.org/organizations/prod", "https://chef.example.com/organizations/prod2",
    "https://chef.example.com:٤٤٣/organizations/prod", "https://[::1]/organizations/prod",
])
def test_other_organizations_have_other_keys(other: str) -> None:
    assert servers.server_key(other) != servers.server_key(ORG_URL)
# .chef/sync.yml is validated by the same engine, on a schema of its own with booleans.
SYNC_VALIDATOR = jsonschema.Draft202012Validator(sync_settings.SCHEMA)


def test_sync_schema_is_valid_and_uses_only_what_servers_applies() -> None:
    jsonschema.Draft202012Validator.check_schema(sync_settings.SCHEMA)
    for schema in subschemas(sync_settings.SCHEMA):
        assert set(schema) <= APPLIED | ANNOTATIONS
        assert schema["type"] in ("object", "boolean")
        if schema["type"] == "object":
            assert schema["additionalProperties"] is False


def sync_values(schema: Mapping[str, Any]) -> st.SearchStrategy[object]:
    anything = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=4))
    if schema["type"] == "boolean":
        return anything
    known = st.fixed_dictionaries(
        {}, optional={key: sync_values(child) for key, child in schema["properties"].items()}
    )
    unknown = st.dictionaries(st.text(max_size=6), anything, max_size=2)
    return st.one_of(known, st.tuples(known, unknown).map(lambda pair: {**pair[1], **pair[0]}),
                     anything, st.lists(st.integers(), max_size=2))


@settings(max_examples=300, database=None)
@given(sync_values(sync_settings.SCHEMA))
def test_sync_problems_agree_with_jsonschema(value: object) -> None:
    found = list(servers.problems(value, sync_settings.SCHEMA))
    assert (not found) == SYNC_VALIDATOR.is_valid(value), found
