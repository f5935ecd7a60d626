"""How forbid-chef-secrets' time grows on files crafted to slow it down (rehearsal/crafted.py).

For each family, a file of each size is written and scanned by the hook's own reader
(``file_findings``, in this process: the interpreter start is no part of a per-MB cost), best of
``--runs``. Prints seconds per MB at each size, how the time grew against the size (1.0: linear;
quadratic would be the size ratio again), what the file was reported for, and pre-commit-hooks'
``detect-private-key`` on the largest file (its console script, started once) for scale. The
clean corpus of bench_forbid_chef_secrets.py scans at about 0.004 s per MB.

    python benchmarks/bench_crafted_inputs.py [--sizes 1 4] [--runs 3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from the repository root, like the others

from benchmarks.bench_forbid_chef_secrets import DEFAULT_VENVS, venv_tool  # noqa: E402
from pre_commit_hooks.forbid_chef_secrets import file_findings  # noqa: E402
from rehearsal.crafted import FAMILIES  # noqa: E402

MB = 1024 * 1024


def best_seconds(path: Path, runs: int) -> tuple[float, str]:
    """The fastest of ``runs`` scans of ``path``, and what the last one reported."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        found = file_findings(str(path))
        times.append(time.perf_counter() - started)
    kinds = sorted({finding.kind.split(":")[0] for _, finding in found})
    return min(times), f"{len(found)}: {'; '.join(kinds)[:60]}" if found else "0"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=float, nargs="+", default=[1, 4], help="MB")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--venvs", type=Path, default=DEFAULT_VENVS)
    args = parser.parse_args()
    detect_private_key = venv_tool(args.venvs, "pre-commit-hooks", "detect-private-key")
    sizes = [int(size * MB) for size in args.sizes]
    header = "".join(f"{f's/MB @{size / MB:g} MB':>13}" for size in sizes)
    print(f"{'family':<36}{header}{'growth':>8}{'d-p-k s':>9}  reported (largest)")
    worst = 0.0
    with tempfile.TemporaryDirectory(prefix="crafted-") as directory:
        path = Path(directory) / "crafted"
        for family, make in FAMILIES.items():
            per_mb, seconds, report = [], [], ""
            for size in sizes:
                path.write_bytes(make(size))
                elapsed, report = best_seconds(path, args.runs)
                seconds.append(elapsed)
                per_mb.append(elapsed / (size / MB))
            started = time.perf_counter()
            subprocess.run([*detect_private_key, str(path)], capture_output=True, check=False)
            theirs = time.perf_counter() - started
            growth = (seconds[-1] / max(seconds[0], 1e-6)) / (sizes[-1] / sizes[0])
            worst = max(worst, *per_mb)
            cells = "".join(f"{value:>13.3f}" for value in per_mb)
            print(f"{family:<36}{cells}{growth:>8.2f}{theirs:>9.2f}  {report}")
    print(f"worst: {worst:.3f} s per MB (sizes are what the file unpacks to for the zip family)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
