"""How long generating a chef repository takes for 1, 20 and 100 servers, against cookiecutter
rendering a trivial 20-file template with no hooks, measured side by side in this one process.

Target: 100 servers cost no more than 2x the trivial render. Both go through cookiecutter's API with
no prompts into a fresh temp directory; generation runs with init_git=False, since the trivial
template makes no git commit either. A last row renders 100 servers with hooks off, to show how much
of the cost is cookiecutter starting a new interpreter for the post-generation hook.

    python benchmarks/bench_generate.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cookiecutter.main import cookiecutter

KIT_ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 2.0


def trivial_template(root: Path) -> Path:
    """A 20-file template, one variable rendered in each file and in the directory name."""
    template = root / "trivial-template"
    project = template / "{{cookiecutter.name}}"
    project.mkdir(parents=True)
    (template / "cookiecutter.json").write_text(json.dumps({"name": "trivial"}), "utf-8")
    for index in range(20):
        (project / f"file{index:02d}.txt").write_text(
            f"File {index} of {{{{ cookiecutter.name }}}}.\n", "utf-8"
        )
    return template


def servers(count: int) -> dict[str, dict[str, str]]:
    return {
        f"chef-{index:03d}": {
            "server": f"https://chef-{index:03d}.example.com/organizations/default",
            "region": "us-east-1",
        }
        for index in range(count)
    }


def median_seconds(generate: Callable[[Path], object], root: Path, runs: int) -> float:
    times = []
    for run in range(runs):
        output = root / f"out-{time.monotonic_ns()}-{run}"
        start = time.perf_counter()
        generate(output)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="runs per case (median is reported)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        config = root / "cookiecutterrc.yml"
        config.write_text(f"replay_dir: {json.dumps(str(root / 'replay'))}\n", "utf-8")
        template = trivial_template(root)

        def trivial(output: Path) -> object:
            return cookiecutter(
                str(template), no_input=True, output_dir=str(output), config_file=str(config)
            )

        def kit(count: int, hooks: bool = True) -> Callable[[Path], object]:
            return lambda output: cookiecutter(
                str(KIT_ROOT),
                no_input=True,
                output_dir=str(output),
                config_file=str(config),
                extra_context={"servers": servers(count), "init_git": False},
                accept_hooks=hooks,
            )

        trivial(root / "warm-up")
        kit(1)(root / "warm-up-kit")
        baseline = median_seconds(trivial, root, args.runs)
        print(f"{'case':<34}{'median s':>10}{'x trivial':>11}")
        print(f"{'trivial 20-file template':<34}{baseline:>10.3f}{1:>11.2f}")
        ratio = 0.0
        for count in (1, 20, 100):
            seconds = median_seconds(kit(count), root, args.runs)
            ratio = seconds / baseline
            print(f"{f'chef repo, {count} servers':<34}{seconds:>10.3f}{ratio:>11.2f}")
        hookless = median_seconds(kit(100, hooks=False), root, args.runs)
        hookless_row = f"{'chef repo, 100 servers, hooks off':<34}{hookless:>10.3f}"
        print(f"{hookless_row}{hookless / baseline:>11.2f}")
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(f"100 servers: {ratio:.2f}x the trivial render, {verdict} the {TARGET_RATIO}x target")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
