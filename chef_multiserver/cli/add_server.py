"""``chef-multiserver add-server``: a new .chef/<name>/config.yml, and its CA certificate.

The pipeline derives everything from the config.yml files (the stack needs no update: its roles
reach every region), so the rest is for the user: the key, the nodes' tag and the commit.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding

from chef_multiserver import repo_files, servers
from chef_multiserver.cli import tls as cli_tls
from chef_multiserver.cli.repo import CommandError
from chef_multiserver.config_check import repository_urls

# The tag the pipeline finds a server's nodes by when its config.yml sets no node_tag.
# Which option sets which key of config.yml, to name the option in a message.
OPTION_OF_KEY = {"server": "--url", "region": "--server-region", "node_name": "--node-name"}


def add_server(repo: Path, args: argparse.Namespace) -> int:
    name: str = args.name
    config = {"server": args.url, "region": args.server_region, "node_name": args.node_name}
    if config["node_name"] is None:
        config["node_name"] = _shared_node_name(repo)
    _check_new_server(name, config, repository_urls(repo))

    # Every path is checked before anything is fetched or written, so that a refusal leaves
    # nothing half-written; the files are opened with "x": nothing is ever overwritten.
    ca_file = repo / servers.CHEF_DIR / servers.CA_CERTS_DIR / f"{name}.crt"
    server_dir = repo / servers.CHEF_DIR / name
    config_file = server_dir / servers.CONFIG_FILE
    directories = [server_dir, *([ca_file.parent] if args.fetch_ca else [])]
    files = [config_file, *([ca_file] if args.fetch_ca else [])]
    for path in directories:
        if path.is_symlink() or (path.exists() and not path.is_dir()):
            raise CommandError(
                f"{path.relative_to(repo)} is not a directory: move it away and run add-server "
                "again; nothing written"
            )
    for path in files:
        if path.exists() or path.is_symlink():
            raise CommandError(f"{path.relative_to(repo)} already exists: nothing written")
    ca_pem = _fetch_ca(name, args.url, args.connect_to, args.yes) if args.fetch_ca else None
    for path in directories:
        path.mkdir(exist_ok=True)
    with config_file.open("x", encoding="utf-8") as stream:
        stream.write(servers.render_config(config))
    print(f"Wrote {config_file.relative_to(repo)}")
    if ca_pem is not None:
        with ca_file.open("xb") as stream:
            stream.write(ca_pem)
        print(f"Wrote {ca_file.relative_to(repo)}")
    _print_next_steps(name, args.server_region, repo, [config_file, *([ca_file] if ca_pem else [])])
    return 0


def _shared_node_name(repo: Path) -> str:
    names = set()
    for server_dir in servers.server_dirs(repo).values():
        with suppress(repo_files.ConfigError):  # check-chef-server-config reports it
            config = repo_files.read_config(server_dir / servers.CONFIG_FILE).value
            if isinstance(config, dict):
                names.add(config.get("node_name"))
    if len(names) == 1 and isinstance(shared := names.pop(), str):
        print(f"Chef user: {shared} (as on the other servers)")
        return shared
    why = "the servers use different ones" if names else "there is no other server to copy"
    raise CommandError(f"--node-name is required: {why} (give the Chef user whose key you upload)")


def _check_new_server(name: str, config: dict[str, str], urls: dict[str, object]) -> None:
    """The checks of check-chef-server-config, on the command line's values."""
    name_problem = servers.server_name_problem(name)
    if name_problem:
        raise CommandError(f"server name {name_problem}")
    if servers.duplicates([*urls, name]):
        raise CommandError(
            f"a server named {name!r} already exists (names are compared ignoring case): "
            "choose another name"
        )
    found = [
        f"{OPTION_OF_KEY.get(problem.path[0], problem.path[0]) if problem.path else 'config'}: "
        f"{problem.message}"
        for problem in servers.problems(config)
    ]
    if found:
        raise CommandError("; ".join(found))
    for other, url in urls.items():
        if isinstance(url, str) and servers.duplicates([url, config["server"]], servers.server_key):
            raise CommandError(
                f"--url: server {other!r} already has the URL {config['server']}: one directory "
                "per Chef organization"
            )


def _fetch_ca(
    name: str, url: str, connect_to: Sequence[cli_tls.ConnectTo], assume_yes: bool
) -> bytes:
    chain = cli_tls.fetch_chain(url, connect_to)
    print(f"{url} sent {len(chain)} certificate(s):")
    for certificate in chain:
        print(f"  subject: {certificate.subject.rfc4514_string()}")
        print(f"  SHA-256: {cli_tls.fingerprint(certificate)}")
    top = chain[-1]
    if len(chain) == 1:
        print(
            "The server sent only its own certificate: storing it as trusted, as knife ssl fetch "
            "does. Ask the server's administrator for the CA certificate if it has one."
        )
    elif not cli_tls.is_self_signed(top):
        print(
            "The last certificate is not a root (it is not self-signed): TLS verification will "
            "fail until .chef/ca_certs/ holds the root CA that signed it."
        )
    question = (
        f"Trust {top.subject.rfc4514_string()} (SHA-256 {cli_tls.fingerprint(top)}) "
        f"for {name}? Compare the fingerprint with the server's administrator. [y/N] "
    )
    if not (assume_yes or _confirm(question)):
        raise CommandError(
            "certificate not trusted, nothing written: run again and answer y, "
            "or add the server without --fetch-ca"
        )
    return top.public_bytes(Encoding.PEM)


def _confirm(question: str) -> bool:
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:  # no terminal to answer from: only --yes can say yes
        print()
        return False


def _print_next_steps(name: str, region: str, repo: Path, written: list[Path]) -> None:
    files = " ".join(str(path.relative_to(repo)) for path in written)
    steps = [
        f"upload the key of its Chef user: chef-multiserver put-key {name} --key PATH "
        "--bucket KEY_BUCKET",
        f"tag its nodes in {region} with {servers.DEFAULT_TAG_KEY}={name} "
        "(the pipeline runs chef-client on the instances with that tag)",
    ]
    if len(written) == 1:
        steps.append(
            f"put its CA certificate in .chef/{servers.CA_CERTS_DIR}/{name}.crt "
            "(from the server's administrator), so TLS to it is verified"
        )
    steps.append(f"commit and push: git add {files} && git commit -m 'Add Chef server {name}'")
    print("Next steps:")
    for number, step in enumerate(steps, 1):
        print(f"  {number}. {step}")
