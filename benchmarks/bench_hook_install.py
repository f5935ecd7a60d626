"""How long pre-commit takes to install the kit's hooks the first time a repository uses them.

For each revision asked for (default: this checkout's HEAD), a clone of this checkout is pinned in
a fresh repository's .pre-commit-config.yaml and ``pre-commit install-hooks`` runs with an empty
PRE_COMMIT_HOME, as on a new machine or CI runner (pre-commit then builds the hooks' virtualenv:
``pip install .`` of the kit, with its dependencies, from the package index). Prints the seconds
and the packages that environment holds, so a revision before the hooks' dependencies were cut
down can be compared with one after.

    python benchmarks/bench_hook_install.py [--rev REV ...] [--runs 1]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def install_seconds(clone: Path, sha: str, scratch: Path) -> tuple[float, list[str]]:
    """Seconds for ``pre-commit install-hooks`` from nothing, and the packages it installed."""
    repo, home = scratch / "repo", scratch / "home"
    subprocess.run(["git", "init", "--quiet", str(repo)], check=True)
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {clone}\n    rev: {sha}\n    hooks:\n"
        "      - id: forbid-chef-secrets\n      - id: check-chef-server-config\n"
        "      - id: check-chef-repo\n",
        "utf-8",
    )
    env = {**os.environ, "PRE_COMMIT_HOME": str(home)}
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pre_commit", "install-hooks"],
        cwd=repo, env=env, check=True, capture_output=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    pythons = sorted(home.glob("repo*/py_env-*/bin/python"))
    listed = subprocess.run(
        [str(pythons[0]), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
        check=True, capture_output=True, text=True,
    ).stdout.split()  # fmt: skip
    return elapsed, [line.split("==")[0] for line in listed]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rev", action="append", default=[], help="revisions to compare")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="hook-install-") as directory:
        clone = Path(directory) / "kit"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        for rev in args.rev or ["HEAD"]:
            sha = subprocess.run(
                ["git", "rev-parse", rev], cwd=clone, check=True, capture_output=True, text=True
            ).stdout.strip()
            times: list[float] = []
            packages: list[str] = []
            for run in range(args.runs):
                scratch = Path(directory) / f"{sha[:12]}-{run}"
                scratch.mkdir()
                elapsed, packages = install_seconds(clone, sha, scratch)
                times.append(elapsed)
            print(f"{rev} ({sha[:12]}): {min(times):.1f} s (best of {args.runs}), "
                  f"{len(packages)} packages: {', '.join(packages)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
