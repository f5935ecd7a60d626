"""What is wrong with one server's config.yml, seen against the other servers of its repository:
the check that the config hook, ``chef-multiserver add-server``, ``doctor`` and the pipeline's
targets share."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from chef_multiserver import repo_files, servers


class RepositoryServers:
    """The servers of one repository, each config.yml read once, indexed by what no two servers
    may share (a name up to case, an organization URL up to spelling), so that checking each of
    1,000 servers against the others costs a lookup, not a pass over them all."""

    def __init__(self, repo: Path) -> None:
        self.directories = servers.server_dirs(repo)
        self.configs: dict[str, repo_files.LoadedConfig | repo_files.ConfigError] = {}
        self.names_by_key: dict[str, list[str]] = {}
        self.names_by_url: dict[str, list[str]] = {}
        for name, directory in self.directories.items():
            try:
                self.configs[name] = repo_files.read_config(directory / servers.CONFIG_FILE)
            except repo_files.ConfigError as error:  # that config's own check reports it
                self.configs[name] = error
            self.names_by_key.setdefault(name.casefold(), []).append(name)
            url = self.url(name)
            if isinstance(url, str):
                self.names_by_url.setdefault(servers.server_key(url), []).append(name)

    def url(self, name: str) -> object:
        """The ``server`` value of a server's config, whatever its type; None when unreadable."""
        config = self.configs.get(name)
        return server_url(config) if isinstance(config, repo_files.LoadedConfig) else None

    def read(self, path: Path) -> repo_files.LoadedConfig:
        """The config at ``path``: the one already read when it is a server's of this repository."""
        config = self.configs.get(path.parent.name)
        if config is None or self.directories[path.parent.name] != path.parent:
            return repo_files.read_config(path)
        if isinstance(config, repo_files.ConfigError):
            raise config
        return config

    def same_name(self, name: str) -> list[str]:
        """The other servers whose name is ``name`` up to case."""
        return [other for other in self.names_by_key.get(name.casefold(), ()) if other != name]

    def same_url(self, name: str, url: str) -> list[str]:
        """The servers other than ``name`` whose URL names the organization ``url`` names."""
        return [other for other in self.names_by_url.get(servers.server_key(url), ()) if
                other != name]


def config_findings(
    path: Path, repository: RepositoryServers, shown: Path | None = None
) -> Iterator[str]:
    """Every problem of the config.yml at ``path`` (named ``shown`` in the findings), one
    ``path:line:col: message`` each where the problem has a place."""
    shown = shown or path
    name = path.parent.name
    name_problem = servers.server_name_problem(name)
    if name_problem:
        yield f"{shown}: server directory name {name_problem}"
    for other in repository.same_name(name):
        yield f"{shown}: servers {name!r} and {other!r} differ only in case: rename one"
    try:
        config = repository.read(path)
    except repo_files.ConfigError as error:
        yield error.finding(shown)
        return
    for problem in servers.problems(config.value):
        line, column = config.position(problem)
        # A problem of a value names its key; one of a key (unknown, say) names it in the message.
        at_value = problem.path and (line, column) == config.positions[problem.path][1]
        key = f"{'.'.join(problem.path)}: " if at_value else ""
        yield f"{shown}:{line}:{column}: {key}{problem.message}"
    url = server_url(config)
    if not isinstance(url, str):
        return
    line, column = config.positions[("server",)][1]
    for other in repository.same_url(name, url):
        yield (
            f"{shown}:{line}:{column}: {url!r} is also the URL of server {other!r} "
            f"({repository.url(other)!r}): each server needs a URL of its own"
        )


def server_url(config: repo_files.LoadedConfig) -> object:
    """The ``server`` value of a config, whatever its type; None when there is none."""
    return config.value.get("server") if isinstance(config.value, dict) else None


def repository_urls(repo: Path) -> dict[str, object]:
    """Every server of ``repo`` by name with its URL (None where its config cannot be read: that
    config's own check reports why)."""
    repository = RepositoryServers(repo)
    return {name: repository.url(name) for name in repository.directories}
