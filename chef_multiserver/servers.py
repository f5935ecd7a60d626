"""The rules of a Chef server entry, written once for the generator, the hooks and the pipeline.

The rules themselves are data: ``schemas/server_config.schema.json``, a JSON Schema that editors can
use too. This module applies the part of JSON Schema that file uses (``type``, ``required``,
``properties``, ``additionalProperties: false``, ``pattern``, ``not``/``enum``; types object,
string and boolean) with the standard library only, because the cookiecutter hooks import it from
the template checkout, where nothing but cookiecutter's interpreter is promised.
``tests/test_servers.py`` checks that it agrees with the ``jsonschema`` library and that the schema
uses no other keyword.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from chef_multiserver.layout import CA_CERTS_DIR as CA_CERTS_DIR
from chef_multiserver.layout import CHEF_DIR as CHEF_DIR
from chef_multiserver.layout import CONFIG_FILE as CONFIG_FILE
from chef_multiserver.layout import KEY_FILE as KEY_FILE
from chef_multiserver.layout import KNIFE_RB as KNIFE_RB

# The EC2 tag that marks a server's nodes, unless its config.yml names another: chef-server=<name>.
DEFAULT_TAG_KEY = "chef-server"

# Package data next to this file (what importlib.resources would find, at a fraction of its import
# time: every cookiecutter hook run starts a new interpreter that imports this module).
SCHEMA_FILE = Path(__file__).with_name("schemas") / "server_config.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text("utf-8"))
SERVER_NAME_SCHEMA: dict[str, Any] = SCHEMA["$defs"]["server_name"]
# The folders the kit itself keeps under .chef/: the names no server may take.
KIT_DIRS = frozenset(SERVER_NAME_SCHEMA["not"]["enum"])
# The keys a config.yml is written with, in this order; the rest of the schema's keys follow.
KEY_ORDER = ("server", "region", "node_name")

# What to tell a user instead of a bare regular expression.
ALLOWED = {
    "server": "https://FQDN[:port]/organizations/ORG (FQDN: at most 253 characters; ORG: "
    "lower-case letters, digits, '-', '_')",
    "region": "an AWS region name such as us-east-1 or eu-central-1",
    "node_name": "a Chef user or client name: lower-case letters, digits, '.', '-', '_'",
    "key": "an EC2 tag key: 1 to 128 letters, digits, spaces and _ . : / = + @ -",
    "value": "an EC2 tag value: up to 256 letters, digits, spaces and _ . : / = + @ -",
    "max_concurrency": "an SSM MaxConcurrency: a count (1-9999) or a percentage (1%-100%)",
    "max_errors": "an SSM MaxErrors: a count (0-9999) or a percentage (0%-100%)",
    "server_name": "letters, digits, '-' and '_', starting with a letter or digit, at most 63 "
    "characters, not ca_certs, trusted_certs or syntax_check_cache",
}


class Problem(NamedTuple):
    """One way a value breaks the rules; ``path`` is the key path inside the value (empty: the value
    itself)."""

    path: tuple[str, ...]
    message: str


def referenced_schema(reference: str) -> dict[str, Any]:
    """The schema a ``$ref`` names: a file of the schemas folder (a relative reference resolves
    against the referring schema's ``$id``, which names that folder). aws_region.schema.json, the
    region names, is written from botocore's partition data by tools/refresh_aws_regions.py."""
    if reference not in _REFERENCED:
        _REFERENCED[reference] = json.loads((SCHEMA_FILE.parent / reference).read_text("utf-8"))
    return _REFERENCED[reference]


_REFERENCED: dict[str, dict[str, Any]] = {}


def problems(
    value: object, schema: Mapping[str, Any] = SCHEMA, name: str = ""
) -> Iterator[Problem]:
    """Every way ``value`` breaks ``schema``, not only the first."""
    if "$ref" in schema:
        schema = {**referenced_schema(schema["$ref"]), **schema}
    expected = schema.get("type")
    if expected == "object":
        if not isinstance(value, dict):
            yield Problem((), f"must be a mapping of keys to values, not {_describe(value)}")
            return
        yield from _object_problems(value, schema)
    elif expected == "boolean":
        if not isinstance(value, bool):
            yield Problem((), f"must be true or false, not {_describe(value)}")
    elif expected == "string":
        if not isinstance(value, str):
            yield Problem((), f"must be a string ({ALLOWED[name]}), not {_describe(value)}")
        elif not _string_allowed(value, schema):
            guess = _guess(value, schema)
            yield Problem((), f"{value!r} is not allowed: use {ALLOWED[name]}{guess}")


def _string_allowed(value: str, schema: Mapping[str, Any]) -> bool:
    return (
        ("pattern" not in schema or re.fullmatch(schema["pattern"], value) is not None)
        and ("enum" not in schema or value in schema["enum"])
        and value not in schema.get("not", {}).get("enum", ())
    )


def _guess(value: str, schema: Mapping[str, Any]) -> str:
    """A did-you-mean from a list of allowed values (a region name with a typo, say)."""
    if "enum" not in schema or len(value) > 100:
        return ""
    import difflib  # here, not at the top: see SCHEMA_FILE

    guess = difflib.get_close_matches(value.lower(), schema["enum"], n=1)
    return f" (did you mean {guess[0]!r}?)" if guess else ""


def _object_problems(value: dict[Any, Any], schema: Mapping[str, Any]) -> Iterator[Problem]:
    properties: dict[str, Any] = schema["properties"]
    for key in schema.get("required", ()):
        if key not in value:
            yield Problem((), f"missing key {key!r} ({ALLOWED.get(key, key)})")
    for key, item in value.items():
        key_text = str(key)
        if key_text not in properties:
            import difflib  # here, not at the top: see SCHEMA_FILE

            guess = difflib.get_close_matches(key_text, properties, n=1)
            hint = f"did you mean {guess[0]!r}?" if guess else f"allowed: {', '.join(properties)}"
            yield Problem((key_text,), f"unknown key {key_text!r}: {hint}")
            continue
        for problem in problems(item, properties[key_text], key_text):
            yield Problem((key_text, *problem.path), problem.message)


def _describe(value: object) -> str:
    if value is None:
        return "nothing"
    try:
        shown = f"{value!r:.40}"
    except ValueError:  # an int beyond sys.get_int_max_str_digits(), as YAML's 0x... can build
        shown = "too many digits to show"
    return f"a {type(value).__name__} ({shown})"


def server_name_problem(name: object) -> str | None:
    """Why ``name`` cannot name a server, or None when it can."""
    found = next(problems(name, SERVER_NAME_SCHEMA, "server_name"), None)
    return None if found is None else found.message


def duplicates(names: list[str], key: Callable[[str], str] = str.casefold) -> list[str]:
    """The names that repeat an earlier one: by default case-insensitively (macOS and Windows
    checkouts fold case); URLs with ``key=server_key``."""
    seen: set[str] = set()
    repeated = []
    for name in names:
        if key(name) in seen:
            repeated.append(name)
        seen.add(key(name))
    return repeated


def server_key(url: str) -> str:
    """What identifies the Chef organization at ``url`` however it is spelled: the same for
    ``https://Chef.Example.com.:443/organizations/prod/`` as for
    ``https://chef.example.com/organizations/prod``. Every tool compares servers' URLs by this key.

    Host names are case-insensitive and may end in the root's dot (RFC 4343, RFC 1034 3.1); 443 is
    https's port when none is given (RFC 9110 4.2.2); Chef's HTTP client strips a server URL's final
    slashes before it adds a request's path (chef/chef lib/chef/http.rb, ``create_url``)."""
    scheme, _, rest = url.partition("://")
    authority, _, path = rest.partition("/")
    host, colon, port = authority.rpartition(":")
    if not colon or not (port.isascii() and port.isdigit()):
        host, port = authority, ""
    port = port.lstrip("0") or ("0" if port else "")
    if port == {"https": "443", "http": "80"}.get(scheme.lower()):
        port = ""
    host = host.rstrip(".").lower() + (f":{port}" if port else "")
    return f"{scheme.lower()}://{host}/{path.rstrip('/')}"


def render_config(config: Mapping[str, Any]) -> str:
    """The text of a ``config.yml``: a ``key: value`` line each, values JSON-quoted (JSON is
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


def enclosing_repo(start: Path) -> Path | None:
    """The nearest directory at or above ``start`` with a .chef/knife.rb: the repository's root."""
    return next((path for path in (start, *start.parents) if (path / KNIFE_RB).is_file()), None)
