"""Bring every Chef server in step with the repository's roles, environments and data bag items,
writing only what differs: create what a server lacks, update what it holds otherwise, delete what
only it holds where ``.chef/sync.yml`` asks for it (otherwise that is reported and kept).

Cookbooks are not written here: ``berks upload`` puts them on the servers before this runs, and
the check that follows reports any cookbook still out of step. Writes go as Chef's own classes
send them (chef/chef lib/chef/role.rb, environment.rb, data_bag_item.rb: ``save`` PUTs to the
object and POSTs to the collection when the server has none); encrypted data bag items are sent
as the repository holds them, never decrypted.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from chef_multiserver import chef_state
from chef_multiserver import drift as fleet
from chef_multiserver.chef_api import ChefAPIError, ChefServer


@dataclass
class SyncReport:
    """What was written to one server (``kind name`` each), what was kept, or why it failed."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    error: str | None = None


def collection_of(item: fleet.Drift) -> tuple[str, str]:
    """The collection an object is created in and the endpoint it lives at."""
    if item.kind == fleet.DATA_BAG_ITEM:
        bag, item_id = item.name.split("/", 1)
        return f"data/{bag}", f"data/{bag}/{item_id}"
    collection = {fleet.ROLE: "roles", fleet.ENVIRONMENT: "environments"}[item.kind]
    return collection, f"{collection}/{item.name}"


def sync_server(
    client: ChefServer, state: chef_state.RepoState, delete_extra: Collection[str] = ()
) -> SyncReport:
    found = fleet.compare(client, state, delete_extra)
    report = SyncReport(kept=[f"{item.kind} {item.name}" for item in found.extra])
    for item in found.drift:
        if item.kind == fleet.COOKBOOK:
            continue
        collection, endpoint = collection_of(item)
        label = f"{item.kind} {item.name}"
        if item.repo is None:
            client.request("DELETE", endpoint)
            report.deleted.append(label)
        elif item.server is None:
            _create(client, item, collection, endpoint)
            report.created.append(label)
        else:
            client.request("PUT", endpoint, item.repo)
            report.updated.append(label)
    return report


def _create(client: ChefServer, item: fleet.Drift, collection: str, endpoint: str) -> None:
    try:
        client.request("POST", collection, item.repo)
    except ChefAPIError as error:
        if error.status == 409:  # created meanwhile (by an earlier attempt): make it ours
            client.request("PUT", endpoint, item.repo)
        elif error.status == 404 and item.kind == fleet.DATA_BAG_ITEM:
            client.request("POST", "data", {"name": collection.split("/", 1)[1]})
            client.request("POST", collection, item.repo)
        else:
            raise


def sync_fleet(
    clients: Mapping[str, Callable[[], ChefServer]],
    state: chef_state.RepoState,
    delete_extra: Collection[str] = (),
) -> dict[str, SyncReport]:
    """``sync_server`` for every server at once; a server that fails gets its error."""

    def one(name: str) -> SyncReport:
        try:
            with clients[name]() as client:
                return sync_server(client, state, delete_extra)
        except ChefAPIError as error:
            return SyncReport(error=str(error))
        except fleet.UNEXPECTED_ANSWER as error:
            return SyncReport(error=fleet.unexpected_answer(error))

    if not clients:
        return {}
    with ThreadPoolExecutor(min(len(clients), fleet.MAX_SERVERS_AT_ONCE)) as pool:
        return dict(zip(clients, pool.map(one, clients), strict=True))


def print_sync(reports: Mapping[str, SyncReport]) -> None:
    for name, report in reports.items():
        if report.error is not None:
            print(f"{name}: sync failed: {report.error}")
            continue
        writes = [
            ("created", report.created),
            ("updated", report.updated),
            ("deleted (.chef/sync.yml delete_extra)", report.deleted),
        ]
        done = [f"{what}: {', '.join(labels)}" for what, labels in writes if labels]
        if report.kept:
            kept = "kept, only on the server (.chef/sync.yml does not ask to delete it)"
            done_or_none = done or ["nothing to write"]
            done = [*done_or_none, f"{kept}: {', '.join(report.kept)}"]
        print(f"{name}: " + ("; ".join(done) or "nothing to write"))
