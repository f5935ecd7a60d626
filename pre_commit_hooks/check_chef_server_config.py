"""Check each .chef/<server>/config.yml: its own content, and that no other server shares its name
(case-insensitively) or its URL. The other servers are all those of the repository, not only the
files being committed, so a new server cannot take the URL of one that is already there."""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from chef_multiserver import repo_files, servers
from chef_multiserver.config_check import RepositoryServers, config_findings


def main(argv: Sequence[str] | None = None) -> int:
    # Every argument is a file name (no option): a file name that looks like one is still checked.
    filenames = sys.argv[1:] if argv is None else argv
    known: dict[Path, RepositoryServers] = {}

    def findings() -> Iterator[str]:
        for filename in filenames:
            path = Path(filename)
            if path.name != servers.CONFIG_FILE or path.parent.parent.name != servers.CHEF_DIR:
                yield f"{path}: not a server config: a server's config is .chef/<server>/config.yml"
                continue
            repo = path.parent.parent.parent
            if repo not in known:
                known[repo] = RepositoryServers(repo)
            yield from config_findings(path, known[repo])

    return repo_files.print_findings(findings())


if __name__ == "__main__":
    raise SystemExit(main())
