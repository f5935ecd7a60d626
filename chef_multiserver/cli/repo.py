"""The generated repository chef-multiserver works in, and the error every subcommand stops with."""

from __future__ import annotations

from pathlib import Path

from chef_multiserver import servers


class CommandError(Exception):
    """A problem the user can fix; its text is the one line chef-multiserver prints."""


def find_repo(start: Path) -> Path:
    """The generated repository holding ``start``: the nearest directory with .chef/knife.rb."""
    repo = servers.enclosing_repo(start)
    if repo is None:
        raise CommandError(
            f"{start} is not inside a chef-multiserver repository (no {servers.KNIFE_RB} "
            "here or above): cd into one"
        )
    return repo


def existing_server(repo: Path, name: str) -> Path:
    """The directory of server ``name``, which must exist."""
    found = servers.server_dirs(repo)
    if name not in found:
        known = ", ".join(found) or "none yet"
        raise CommandError(
            f"unknown server {name!r} (servers: {known}): "
            "check the name, or add it with chef-multiserver add-server"
        )
    return found[name]


def ca_cert_files(repo: Path) -> list[Path]:
    """The CA certificates knife and the pipeline trust, as ``.chef/ca_certs/README.md`` says."""
    ca_dir = repo / servers.CHEF_DIR / servers.CA_CERTS_DIR
    return sorted(path for suffix in ("crt", "pem") for path in ca_dir.glob(f"*.{suffix}"))
