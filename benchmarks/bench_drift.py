"""Benchmark: ``chef-multiserver drift`` over 20 Chef servers against one server's comparison.

A generated repository of 20 servers holds 200 objects: 50 cookbook versions in Berksfile.lock
(its own cookbook among them), 50 roles, 50 environments and 50 data bag items in 5 bags. Each
server is a Chef server double (rehearsal/chef_server.py) holding exactly that, answering every
request after a fixed latency and verifying every signature with Chef's mixlib-authentication in
one long-running Ruby process shared by all 20. The comparison is the command itself, run
in-process: ``drift --server chef-00`` for one server, ``drift`` for all 20 (compared
concurrently). The doubles run in a process of their own, so that the command under test does
not wait for their interpreter lock. Prints the median of the runs of each, their ratio (it fails
at 2 or more) and, for what users would otherwise do (one server after the other: a loop over
knife, or grocery-delivery's per-server cron), 20 times the one-server time.

    python -m benchmarks.bench_drift [--runs 3] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chef_multiserver.cli import main as cli
from rehearsal import chef_fleet
from rehearsal.generate import bake_into, make_servers

SERVER_COUNT = 20
PER_KIND = 50
BAGS = 5
MAX_RATIO = 2.0


def fill_repository(repo: Path) -> dict[str, str]:
    """Add the 200 objects; the Supermarket cookbooks of Berksfile.lock, name -> version."""
    locked = {f"supermarket-{index:02d}": f"1.{index}.0" for index in range(PER_KIND - 1)}
    graph = "".join(
        f"  {name} ({version})\n" for name, version in {**locked, "example": "0.1.0"}.items()
    )
    (repo / "Berksfile.lock").write_text(
        "DEPENDENCIES\n  example\n    path: cookbooks/example\n\nGRAPH\n" + graph, "utf-8"
    )
    for index in range(PER_KIND):
        name = f"role-{index:02d}"
        role = {"name": name, "run_list": ["recipe[example]"], "default_attributes": {"n": index}}
        (repo / "roles" / f"{name}.json").write_text(json.dumps(role), "utf-8")
        name = f"env-{index:02d}"
        environment = {"name": name, "cookbook_versions": {"example": "= 0.1.0"}}
        (repo / "environments" / f"{name}.json").write_text(json.dumps(environment), "utf-8")
        bag = repo / "data_bags" / f"bag-{index % BAGS}"
        bag.mkdir(exist_ok=True)
        item = {"id": f"item-{index:02d}", "value": index}
        (bag / f"item-{index:02d}.json").write_text(json.dumps(item), "utf-8")
    return locked


def timed_drift(*argv: str) -> float:
    started = time.monotonic()
    with contextlib.redirect_stdout(io.StringIO()) as out:
        code = cli.main(argv)
    elapsed = time.monotonic() - started
    if code != 0:
        raise SystemExit(f"drift {' '.join(argv)} found drift:\n{out.getvalue()}")
    return elapsed


def serve(repo: Path, work: Path, latency: float) -> int:
    """The doubles, in a process of their own so that they and the command under test do not
    share one interpreter lock: one line of JSON with the --connect-to routes, then serve until
    stdin closes, then one line with the requests chef-00 answered."""
    locked = json.loads((work / "locked.json").read_text("utf-8"))
    with chef_fleet.chef_fleet(repo, work / "doubles", latency=latency) as fleet:
        for server in fleet.servers.values():
            chef_fleet.upload_repository(server.org, repo)
            for name, version in locked.items():
                server.org.add_cookbook(name, version, {"metadata.json": "0" * 32})
        print(json.dumps(fleet.options()), flush=True)
        sys.stdin.read()
        print(json.dumps(fleet.servers["chef-00"].org.requests), flush=True)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--serve", nargs=2, metavar=("REPO", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve(Path(args.serve[0]), Path(args.serve[1]), args.latency_ms / 1000)
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        repo = bake_into(work / "baked", servers=make_servers(SERVER_COUNT))
        (work / "locked.json").write_text(json.dumps(fill_repository(repo)), "utf-8")
        command = [sys.executable, "-m", "benchmarks.bench_drift", "--serve", str(repo), str(work)]
        command += ["--latency-ms", str(args.latency_ms)]
        with subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        ) as doubles:
            assert doubles.stdin is not None and doubles.stdout is not None
            options = json.loads(doubles.stdout.readline())
            os.chdir(repo)
            one, every = [], []
            for _ in range(args.runs):  # taking turns, so machine noise weighs on both alike
                one.append(timed_drift(*options, "drift", "--server", "chef-00"))
                every.append(timed_drift(*options, "drift"))
            doubles.stdin.close()
            # chef-00 is compared in both, every run.
            requests = json.loads(doubles.stdout.readline()) // (2 * args.runs)
    one_time, every_time = statistics.median(one), statistics.median(every)
    ratio = every_time / one_time
    print(
        f"{SERVER_COUNT} servers x {4 * PER_KIND} objects, {requests} requests per server, "
        f"{args.latency_ms:g} ms per request"
    )
    print(f"  one server (drift --server chef-00): {one_time:6.2f} s")
    print(f"  all {SERVER_COUNT} servers (drift), concurrently: {every_time:6.2f} s")
    print(f"  ratio all / one: {ratio:.2f} (must stay under {MAX_RATIO:g})")
    print(
        f"  one server after the other (knife loop, grocery-delivery per server): "
        f"{SERVER_COUNT * one_time:6.2f} s, {SERVER_COUNT * one_time / every_time:.1f}x slower"
    )
    return 0 if ratio < MAX_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
