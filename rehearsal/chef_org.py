"""What one organization of the Chef server double holds, and how its endpoints answer
(rehearsal/chef_server.py serves them over HTTPS). Sources in that module's docstring."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Organization:
    """What one Chef server holds, and the writes it received (method, endpoint)."""

    users: dict[str, str] = field(default_factory=dict)  # name -> public key PEM
    cookbooks: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    roles: dict[str, dict[str, Any]] = field(default_factory=dict)
    environments: dict[str, dict[str, Any]] = field(
        default_factory=lambda: {"_default": environment({"name": "_default"})}
    )
    data_bags: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    writes: list[tuple[str, str]] = field(default_factory=list)
    requests: int = 0
    latency: float = 0.0
    # Statuses to answer the next requests with, before anything else (a proxy's 503, say).
    failures: list[int] = field(default_factory=list)

    def add_cookbook(
        self, name: str, version: str, files: Mapping[str, str], *, frozen: bool = True
    ) -> None:
        """A cookbook version as ``berks upload`` leaves it: ``files`` maps each path to its MD5
        checksum; uploads are frozen unless ``--no-freeze``."""
        self.cookbooks.setdefault(name, {})[version] = {
            "cookbook_name": name,
            "name": f"{name}-{version}",
            "version": version,
            "json_class": "Chef::CookbookVersion",
            "chef_type": "cookbook_version",
            "frozen?": frozen,
            "metadata": {"name": name, "version": version},
            "all_files": [
                {
                    "name": f"{_segment(path)}/{path.rsplit('/', 1)[-1]}",
                    "path": path,
                    "checksum": checksum,
                    "specificity": "default",
                }
                for path, checksum in sorted(files.items())
            ],
        }


def run_list(items: list[Any]) -> list[str]:
    """Run-list entries as Chef writes them: ``web`` and ``web::x`` are recipes."""
    return [
        item if re.match(r"^(recipe|role)\[", str(item)) else f"recipe[{item}]" for item in items
    ]


def role(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": value["name"],
        "description": value.get("description") or "",
        "json_class": "Chef::Role",
        "default_attributes": value.get("default_attributes") or {},
        "override_attributes": value.get("override_attributes") or {},
        "chef_type": "role",
        "run_list": run_list(value.get("run_list") or []),
        "env_run_lists": {
            name: run_list(items)
            for name, items in (value.get("env_run_lists") or {}).items()
            if name != "_default"
        },
    }


def environment(value: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": value["name"],
        "description": value.get("description") or "",
        "cookbook_versions": value.get("cookbook_versions") or {},
        "json_class": "Chef::Environment",
        "chef_type": "environment",
        "default_attributes": value.get("default_attributes") or {},
        "override_attributes": value.get("override_attributes") or {},
    }


def _segment(path: str) -> str:
    top = path.split("/", 1)[0]
    known = ("recipes", "attributes", "files", "templates", "libraries", "resources", "providers")
    return top if "/" in path and top in known else "root_files"


class Reply(Exception):
    def __init__(self, status: int, value: object) -> None:
        super().__init__(status)
        self.status = status
        self.value = value


def error(status: int, message: str) -> Reply:
    return Reply(status, {"error": [message]})


def route(org: Organization, method: str, parts: list[str], query: str, value: Any) -> Reply:
    kind, rest = parts[0], parts[1:]
    if kind == "cookbooks":
        return _cookbooks(org, method, rest, query)
    if kind in ("roles", "environments"):
        store = org.roles if kind == "roles" else org.environments
        return _collection(store, method, rest, value, role if kind == "roles" else environment)
    if kind == "data":
        return _data(org, method, rest, value)
    return error(404, f"no endpoint {'/'.join(parts)}")


def _cookbooks(org: Organization, method: str, rest: list[str], query: str) -> Reply:
    if method != "GET":
        return error(405, "cookbooks are uploaded with knife or berks")
    if not rest:
        every = parse_qs(query).get("num_versions") == ["all"]
        return Reply(
            200,
            {
                name: {
                    "versions": [
                        {"version": version}
                        for version in sorted(versions, reverse=True)[: None if every else 1]
                    ]
                }
                for name, versions in org.cookbooks.items()
            },
        )
    found = org.cookbooks.get(rest[0], {}).get(rest[1] if len(rest) > 1 else "")
    return Reply(200, found) if found else error(404, f"no cookbook {'/'.join(rest)}")


def _collection(
    store: dict[str, dict[str, Any]], method: str, rest: list[str], value: Any, normal: Any
) -> Reply:
    if not rest:
        if method == "GET":
            return Reply(200, {name: f"/{name}" for name in store})
        if method == "POST":
            if value["name"] in store:
                return error(409, "Object already exists")
            store[value["name"]] = normal(value)
            return Reply(201, {"uri": value["name"]})
        return error(405, "method not allowed")
    name = rest[0]
    if name == "_default" and method in ("PUT", "DELETE"):
        return error(405, "The '_default' environment cannot be modified.")
    if name not in store:
        return error(404, f"Cannot load {name}")
    if method == "GET":
        return Reply(200, store[name])
    if method == "PUT":
        if value.get("name", name) != name:
            return error(400, "Object name mismatch.")
        store[name] = normal({**value, "name": name})
        return Reply(200, store[name])
    if method == "DELETE":
        return Reply(200, store.pop(name))
    return error(405, "method not allowed")


def _data(org: Organization, method: str, rest: list[str], value: Any) -> Reply:
    if not rest:
        if method == "GET":
            return Reply(200, {bag: f"/data/{bag}" for bag in org.data_bags})
        if method == "POST":
            if value["name"] in org.data_bags:
                return error(409, "Data bag already exists")
            org.data_bags[value["name"]] = {}
            return Reply(201, {"uri": f"/data/{value['name']}"})
        return error(405, "method not allowed")
    bag = org.data_bags.get(rest[0])
    if bag is None:
        return error(404, f"Cannot load data bag {rest[0]}")
    stored = {**(value or {}), "chef_type": "data_bag_item", "data_bag": rest[0]}
    if len(rest) == 1:
        if method == "GET":
            return Reply(200, {item: f"/data/{rest[0]}/{item}" for item in bag})
        if method == "POST":
            if value["id"] in bag:
                return error(409, "Object already exists")
            bag[value["id"]] = stored
            return Reply(201, stored)
        if method == "DELETE":
            del org.data_bags[rest[0]]
            return Reply(200, {"name": rest[0]})
        return error(405, "method not allowed")
    item = rest[1]
    if item not in bag:
        return error(404, f"Cannot load data bag item {item} for data bag {rest[0]}")
    if method == "GET":
        return Reply(200, bag[item])
    if method == "PUT":
        bag[item] = {**stored, "id": item}
        return Reply(200, bag[item])
    if method == "DELETE":
        return Reply(200, bag.pop(item))
    return error(405, "method not allowed")
