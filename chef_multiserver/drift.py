"""Compare Chef servers with the repository: what each server holds that differs from what the
repository asks for, every server at once.

A server is read over one connection, a request after the other; the servers are read
concurrently, each in a thread of its own (the time goes into waiting for answers).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from chef_multiserver import chef_state
from chef_multiserver.chef_api import ChefAPIError, ChefServer

COOKBOOK, ROLE, ENVIRONMENT, DATA_BAG_ITEM = "cookbook", "role", "environment", "data_bag_item"
KINDS = (COOKBOOK, ROLE, ENVIRONMENT, DATA_BAG_ITEM)
MAX_SERVERS_AT_ONCE = 32
# What reading an answer of another shape than the API documents raises.
UNEXPECTED_ANSWER = (KeyError, TypeError, AttributeError, ValueError)


def unexpected_answer(error: Exception) -> str:
    return (
        "the server's answer is not what the Chef Infra Server API documents "
        f"({type(error).__name__}: {error})"
    )


@dataclass(frozen=True)
class Drift:
    """One object a server holds otherwise than the repository; ``repo`` / ``server``: what each
    side holds (None: absent). ``note``: what the table says besides."""

    kind: str
    name: str
    repo: Any
    server: Any
    note: str = ""


@dataclass(frozen=True)
class ServerReport:
    drift: list[Drift]
    # Objects only the server holds, of kinds the repository does not ask to delete: reported,
    # not drift.
    extra: list[Drift]
    error: str | None = None

    @property
    def in_step(self) -> bool:
        return self.error is None and not self.drift


def compare(
    client: ChefServer, state: chef_state.RepoState, delete_extra: Collection[str] = ()
) -> ServerReport:
    """How the server behind ``client`` differs from ``state``. Objects only the server holds
    are drift for the kinds in ``delete_extra``, else only reported."""
    found = [*_cookbook_drift(client, state)]
    found += _objects(
        client, ROLE, "roles", state.roles, chef_state.normal_role, lambda name: f"roles/{name}"
    )
    found += _objects(
        client,
        ENVIRONMENT,
        "environments",
        state.environments,
        chef_state.normal_environment,
        lambda name: f"environments/{name}",
        skip=chef_state.DEFAULT_ENVIRONMENT,
    )
    found += _data_bag_drift(client, state.data_bag_items)
    drift = [item for item in found if item.repo is not None or item.kind in delete_extra]
    extra = [item for item in found if item.repo is None and item.kind not in delete_extra]
    return ServerReport(drift, extra)


def compare_fleet(
    clients: Mapping[str, Callable[[], ChefServer]],
    state: chef_state.RepoState,
    delete_extra: Collection[str] = (),
) -> dict[str, ServerReport]:
    """``compare`` for every server at once; a server that cannot be read gets its error, and the
    others are still compared. ``clients``: how to make each server's client (a bad key or
    config fails that server only)."""

    def one(name: str) -> ServerReport:
        try:
            client = clients[name]()
        except ChefAPIError as error:
            return ServerReport([], [], str(error))
        try:
            return compare(client, state, delete_extra)
        except ChefAPIError as error:
            return ServerReport([], [], str(error))
        except UNEXPECTED_ANSWER as error:
            return ServerReport([], [], unexpected_answer(error))
        finally:
            client.close()

    if not clients:
        return {}
    with ThreadPoolExecutor(min(len(clients), MAX_SERVERS_AT_ONCE)) as pool:
        return dict(zip(clients, pool.map(one, clients), strict=True))


def _cookbook_drift(client: ChefServer, state: chef_state.RepoState) -> Iterator[Drift]:
    listing = client.get("cookbooks?num_versions=all") or {}
    held = {
        name: [str(entry.get("version")) for entry in value.get("versions", [])]
        for name, value in listing.items()
    }
    for name, version in sorted(state.cookbook_versions.items()):
        if version not in held.get(name, []):
            note = f"the server holds {', '.join(held[name])}" if held.get(name) else ""
            yield Drift(COOKBOOK, name, version, None, note)
        elif name in state.own_cookbooks:
            yield from _own_cookbook_drift(client, name, state.own_cookbooks[name])


def _own_cookbook_drift(
    client: ChefServer, name: str, cookbook: chef_state.OwnCookbook
) -> Iterator[Drift]:
    held = client.get(f"cookbooks/{name}/{cookbook.version}")
    files = {entry["path"]: entry["checksum"] for entry in held.get("all_files", [])}
    if cookbook.generated_metadata:
        files.pop("metadata.json", None)
    differing = sorted(
        path
        for path in files.keys() | cookbook.files.keys()
        if files.get(path) != cookbook.files.get(path)
    )
    if not differing:
        return
    frozen = bool(held.get("frozen?"))
    note = (
        f"frozen-version case: {name} {cookbook.version} is frozen on the server with other "
        "files; raise the version in metadata.rb"
        if frozen
        else f"{name} {cookbook.version} holds other files on the server"
    )
    yield Drift(
        COOKBOOK,
        name,
        {
            "version": cookbook.version,
            "files": {path: cookbook.files.get(path) for path in differing},
        },
        {
            "version": cookbook.version,
            "frozen": frozen,
            "files": {path: files.get(path) for path in differing},
        },
        note,
    )


def _objects(
    client: ChefServer,
    kind: str,
    collection: str,
    wanted: Mapping[str, dict[str, Any]],
    normal: Callable[[Mapping[str, Any]], dict[str, Any]],
    endpoint: Callable[[str], str],
    skip: str = "",
) -> Iterator[Drift]:
    held = set(client.get(collection) or {}) - {skip}
    for name in sorted(held | wanted.keys()):
        found = client.get_optional(endpoint(name)) if name in held else None
        value = None if found is None else normal(found)
        if value != wanted.get(name):
            yield Drift(kind, name, wanted.get(name), value)


def _data_bag_drift(
    client: ChefServer, wanted: Mapping[str, Mapping[str, dict[str, Any]]]
) -> Iterator[Drift]:
    bags = set(client.get("data") or {})
    for bag in sorted(bags | wanted.keys()):
        held = set(client.get(f"data/{bag}") or {}) if bag in bags else set()
        items = wanted.get(bag, {})
        for item in sorted(held | items.keys()):
            found = client.get_optional(f"data/{bag}/{item}") if item in held else None
            value = None if found is None else chef_state.normal_item(found)
            if value != items.get(item):
                yield Drift(DATA_BAG_ITEM, f"{bag}/{item}", items.get(item), value)
