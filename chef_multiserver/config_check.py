"""What is wrong with one server's config.yml, seen against the other servers of its repository:
the check that the config hook, ``chef-multiserver add-server`` and ``doctor`` share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from chef_multiserver import repo_files, servers


def config_findings(path: Path, others: dict[str, object]) -> Iterator[str]:
    """Every problem of the config.yml at ``path``; ``others``: the URLs of the repository's other
    servers by name (None where a config cannot be read)."""
    name = path.parent.name
    name_problem = servers.server_name_problem(name)
    if name_problem:
        yield f"{path}: server directory name {name_problem}"
    for other in others:
        if servers.duplicates([name, other]):
            yield f"{path}: servers {name!r} and {other!r} differ only in case: rename one"
    try:
        config = repo_files.read_config(path)
    except repo_files.ConfigError as error:
        location = "" if error.position is None else ":{}:{}".format(*error.position)
        yield f"{path}{location}: {error.message}"
        return
    for problem in servers.problems(config.value):
        line, column = config.position(problem)
        # A problem of a value names its key; one of a key (unknown, say) names it in the message.
        at_value = problem.path and (line, column) == config.positions[problem.path][1]
        key = f"{'.'.join(problem.path)}: " if at_value else ""
        yield f"{path}:{line}:{column}: {key}{problem.message}"
    url = server_url(config)
    if not isinstance(url, str):
        return
    line, column = config.positions[("server",)][1]
    for other, other_url in others.items():
        if isinstance(other_url, str) and servers.duplicates([url, other_url]):
            yield (
                f"{path}:{line}:{column}: {url!r} is also the URL of server {other!r}: "
                "each server needs a URL of its own"
            )


def server_url(config: repo_files.LoadedConfig) -> object:
    """The ``server`` value of a config, whatever its type; None when there is none."""
    return config.value.get("server") if isinstance(config.value, dict) else None


def repository_urls(repo: Path) -> dict[str, object]:
    """Every server of ``repo`` by name with its URL (None where its config cannot be read: that
    config's own check reports why)."""
    urls: dict[str, object] = {}
    for name, server_dir in servers.server_dirs(repo).items():
        try:
            urls[name] = server_url(repo_files.read_config(server_dir / servers.CONFIG_FILE))
        except repo_files.ConfigError:
            urls[name] = None
    return urls
