"""How long check-chef-server-config takes on a repository of 1,000 servers, against
chef-pipeline-targets reading the same .chef/*/config.yml files.

Target: validating 1,000 servers takes under 1 s. chef-pipeline-targets is the reference: it reads
and checks the same files for the pipeline, and is what a user could run instead to see whether the
servers are valid. Both run as the console scripts pip writes, in new processes (interpreter start
and imports included, as pre-commit runs a hook), taking turns run by run so that what else the
machine does weighs on both alike; the hook gets every config.yml on its command line, as
``pre-commit run --all-files`` gives them to one process.

    python benchmarks/bench_check_server_config.py [--servers 1000] [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chef_multiserver import servers

TARGET_SECONDS = 1.0
SCRIPTS = Path(sys.executable).parent


def write_repository(repo: Path, count: int) -> list[str]:
    """``count`` valid servers, each with the optional keys, in the order add-server writes them;
    the config.yml paths relative to ``repo``."""
    names = []
    for index in range(count):
        name = f"chef-{index:04d}"
        directory = repo / servers.CHEF_DIR / name
        directory.mkdir(parents=True)
        config = {
            "server": f"https://{name}.example.com/organizations/org{index}",
            "region": ("us-east-1", "eu-west-1", "ap-southeast-2")[index % 3],
            "node_name": "pivotal",
            "node_tag": {"key": "chef-server", "value": name},
            "max_concurrency": "10%",
            "max_errors": "0",
        }
        (directory / servers.CONFIG_FILE).write_text(servers.render_config(config), "utf-8")
        names.append(f"{servers.CHEF_DIR}/{name}/{servers.CONFIG_FILE}")
    return names


def seconds(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--servers", type=int, default=1000, help="servers in the repository")
    parser.add_argument("--runs", type=int, default=7, help="runs per tool (median is reported)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        repo = Path(temp) / "repo"
        configs = write_repository(repo, args.servers)
        hook = [str(SCRIPTS / "check-chef-server-config"), *configs]
        targets = [str(SCRIPTS / "chef-pipeline-targets"), "--output", str(Path(temp) / "t.json")]
        hook_times, target_times = [], []
        for _ in range(args.runs):
            hook_times.append(seconds(hook, repo))
            target_times.append(seconds(targets, repo))
    hook_median = statistics.median(hook_times)
    targets_median = statistics.median(target_times)
    print(f"{'tool, ' + str(args.servers) + ' servers':<40}{'median s':>10}{'x targets':>11}")
    print(f"{'check-chef-server-config':<40}{hook_median:>10.3f}"
          f"{hook_median / targets_median:>11.2f}")
    print(f"{'chef-pipeline-targets (same files)':<40}{targets_median:>10.3f}{1:>11.2f}")
    verdict = "meets" if hook_median < TARGET_SECONDS else "MISSES"
    print(f"check-chef-server-config: {hook_median:.2f} s, {verdict} the "
          f"{TARGET_SECONDS:.0f} s target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
