"""``chef-multiserver drift``: does every Chef server hold what this repository asks for? A table
per server (or ``--json``), exit status 0 only when every server is in step.

Each server is reached as knife reaches it from here: the URL and user of its config.yml, the key
``.chef/<server>/private.pem``, TLS verified against ``.chef/ca_certs/`` only."""

from __future__ import annotations

import argparse
import json
import ssl
from collections.abc import Callable, Mapping, Sequence
from functools import cache, partial
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.hazmat.primitives.asymmetric import rsa

from chef_multiserver import chef_api, chef_state, repo_files, servers
from chef_multiserver import drift as fleet
from chef_multiserver.cli import tls as cli_tls
from chef_multiserver.cli.repo import CommandError, ca_cert_files, existing_server
from chef_multiserver.config_check import RepositoryServers, config_findings
from chef_multiserver.sync_settings import SettingsError, delete_extra_kinds

CELL_WIDTH = 48
KEY_MAX_BYTES = 64 * 1024
KeySource = Callable[[str], bytes]


class Plan(NamedTuple):
    """What a comparison needs: the servers' clients (made in their own threads), the state the
    repository asks for, and the kinds whose extra objects are drift."""

    clients: dict[str, Callable[[], chef_api.ChefServer]]
    state: chef_state.RepoState
    delete_extra: frozenset[str]


def drift(repo: Path, args: argparse.Namespace) -> int:
    plan = prepare(repo, args, local_key(repo))
    reports = fleet.compare_fleet(plan.clients, plan.state, plan.delete_extra)
    if args.json:
        print(json.dumps(as_json(reports), indent=2))
    else:
        print_tables(reports)
    return 0 if all(report.in_step for report in reports.values()) else 1


def prepare(repo: Path, args: argparse.Namespace, keys: KeySource) -> Plan:
    """The servers of ``--server`` (default: all), each with its key from ``keys``."""
    names = list(dict.fromkeys(args.server or servers.server_dirs(repo)))
    if not names:
        raise CommandError("no servers in .chef/: add one with chef-multiserver add-server")
    for name in names:
        existing_server(repo, name)
    try:
        state = chef_state.read_state(repo)
        delete_extra = delete_extra_kinds(repo)
    except (chef_state.StateError, SettingsError) as error:
        raise CommandError(str(error)) from error
    context = tls_context(repo)
    repository = RepositoryServers(repo)
    # Loading an RSA key checks it (about 35 ms of CPU): once per server, although the build's sync
    # makes each server's client twice, to write and then to compare.
    signing_keys = cache(lambda name: chef_api.load_key(keys(name), f"the key of {name}"))
    clients: dict[str, Callable[[], chef_api.ChefServer]] = {
        name: partial(server_client, repository, repo, name, context, args.connect_to, signing_keys)
        for name in names
    }
    return Plan(clients, state, delete_extra)


def local_key(repo: Path) -> KeySource:
    """Keys from .chef/<server>/private.pem, as knife takes them on a workstation."""

    def read(name: str) -> bytes:
        key_file = repo / servers.CHEF_DIR / name / servers.KEY_FILE
        try:
            return repo_files.read_regular_file(key_file, KEY_MAX_BYTES)
        except repo_files.ConfigError as error:
            raise chef_api.ChefAPIError(
                f"{key_file.relative_to(repo)} {error.message}: put the key of the server's Chef "
                "user there (it is never committed)"
            ) from error

    return read


def tls_context(repo: Path) -> ssl.SSLContext:
    """Trusting only the CAs of .chef/ca_certs/ (none there: no server is trusted)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ca_pem = "".join(path.read_text("utf-8", errors="replace") for path in ca_cert_files(repo))
    if ca_pem.strip():
        try:
            context.load_verify_locations(cadata=ca_pem)
        except ssl.SSLError as error:
            raise CommandError(
                f"a file in .chef/ca_certs/ is not a PEM certificate ({error.reason})"
            ) from error
    return context


def server_client(
    repository: RepositoryServers,
    repo: Path,
    name: str,
    context: ssl.SSLContext,
    connect_to: list[cli_tls.ConnectTo],
    signing_keys: Callable[[str], rsa.RSAPrivateKey],
) -> chef_api.ChefServer:
    """The client of server ``name``; ChefAPIError (that server's one line) when its config.yml
    or key cannot be used."""
    directory = repo / servers.CHEF_DIR / name
    config_file = directory / servers.CONFIG_FILE
    shown = config_file.relative_to(repo)
    problem = next(config_findings(config_file, repository, shown), None)
    if problem is not None:
        raise chef_api.ChefAPIError(problem)
    config: Any = repository.read(config_file).value
    key = signing_keys(name)
    host, port = cli_tls.endpoint(config["server"])
    return chef_api.ChefServer(
        config["server"],
        config["node_name"],
        key,
        context,
        address=cli_tls.route(host, port, connect_to),
    )


def as_json(reports: Mapping[str, fleet.ServerReport]) -> dict[str, Any]:
    return {
        "servers": {
            name: {
                "in_step": report.in_step,
                "error": report.error,
                "drift": [
                    {"kind": item.kind, "name": item.name, "repo": item.repo, "server": item.server}
                    for item in report.drift
                ],
            }
            for name, report in reports.items()
        }
    }


def print_tables(reports: Mapping[str, fleet.ServerReport]) -> None:
    for name, report in reports.items():
        if report.error is not None:
            print(f"{name}: error: {report.error}")
            continue
        count = len(report.drift)
        print(f"{name}: " + ("in step" if not count else f"{count} difference{'s' * (count > 1)}"))
        rows = [("kind", "name", "repository", "server")]
        rows += [(item.kind, item.name, *cells(item)) for item in report.drift]
        if count:
            _print_rows(rows)
        for item in report.drift:
            if item.note:
                print(f"  {item.kind} {item.name}: {item.note}")
        for item in report.extra:
            print(
                f"  {item.kind} {item.name}: only on the server (kept: .chef/sync.yml does not "
                "ask to delete it)"
            )


def cells(item: fleet.Drift) -> tuple[str, str]:
    """What the table shows of each side: absent, a version, or the fields that differ (only
    their names for data bag items, which may hold secrets)."""
    if item.repo is None or item.server is None:
        return tuple(  # type: ignore[return-value]
            "absent" if side is None else side if isinstance(side, str) else "present"
            for side in (item.repo, item.server)
        )
    if item.kind == fleet.COOKBOOK:
        files = ", ".join(item.repo["files"])
        return f"{item.repo['version']}: {files}", "other checksums"
    differing = sorted(
        key
        for key in item.repo.keys() | item.server.keys()
        if item.repo.get(key) != item.server.get(key)
    )
    if item.kind == fleet.DATA_BAG_ITEM:
        text = "differs in " + ", ".join(differing)
        return text, text
    return tuple(  # type: ignore[return-value]
        _clip("; ".join(f"{key}={json.dumps(side.get(key))}" for key in differing))
        for side in (item.repo, item.server)
    )


def _clip(text: str) -> str:
    return text if len(text) <= CELL_WIDTH else text[: CELL_WIDTH - 3] + "..."


def _print_rows(rows: Sequence[tuple[str, ...]]) -> None:
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print(
            "  "
            + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
