"""Benchmark: the generated build against the source post's one-server-after-another build.

Both run in this one process, one after the other, on the same generated repository (20, then 100
servers), with the same moto S3 key bucket and the same ``berks`` stand-in (rehearsal/berks.rb),
which loads its Chef configuration through ruby-chef-config as Berkshelf 8 does and checks each
upload's key against its server. Each ``berks`` run first burns ``--startup-seconds`` of CPU, the
stand-in for Berkshelf's own start-up (requiring berkshelf and chef; the stand-in itself costs about
0.1 s more, chef-config and Ruby), and each upload then waits ``--upload-seconds``, a Chef server's
answer. On a busy machine the ratio of wall times tends to the ratio of CPU seconds (printed too),
since start-up is CPU and the waits are what parallel uploads overlap. The kit's build is the
generated buildspec.yml, rehearsed whole (checks included) at the template's default upload
parallelism; the post's build is its buildspec's commands for these servers: copy every key with
``aws s3 cp`` (the real AWS CLI), ``berks install`` per server, then ``berks upload`` per server.
Prints both times and their ratio per server count; fails when a ratio is above 0.2.

    python -m benchmarks.bench_parallel_upload [--servers 20 100] [--startup-seconds 1.0]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from rehearsal.buildspec import (
    build_env,
    chef_servers_file,
    git_commit,
    leftover_keys,
    make_bin,
    rehearse,
    store_keys,
)
from rehearsal.chef_build import bucket_keys, build_servers
from rehearsal.generate import KIT_ROOT, bake_into, load_yaml, make_servers
from rehearsal.moto_server import moto_endpoint

KEY_BUCKET = "chef-keys"
MAX_RATIO = 0.2


def posts_build(servers: list[str]) -> str:
    """The post's buildspec commands for ``servers``, in its order, one server after another."""
    copy = [f"aws s3 cp s3://$KEY_BUCKET/{s}/private.pem ./.chef/{s}/private.pem" for s in servers]
    install = [f"CHEF_SERVER={s} berks install" for s in servers]
    upload = [f"CHEF_SERVER={s} berks upload" for s in servers]
    return "set -e\n" + "\n".join([*copy, *install, *upload]) + "\n"


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """Wall seconds and the CPU seconds of the processes ``run`` started (and waited for)."""
    started, cpu = time.monotonic(), children_cpu()
    run()
    return time.monotonic() - started, children_cpu() - cpu


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compare(work: Path, endpoint: str, doubles: ExitStack, count: int, startup: float,
            upload: float) -> float:
    """Both builds for ``count`` servers; prints their times and returns the kit's ratio."""
    servers = make_servers(count)
    bucket = f"{KEY_BUCKET}-{count}"
    digests = store_keys(endpoint, bucket, list(servers))
    repo = bake_into(work / "kit", servers=servers, init_git=True)
    # The build's last step syncs roles, environments and data bags with each server: Chef server
    # doubles answer it (rehearsal/chef_build.py); their ports go into each config.yml.
    chef = doubles.enter_context(build_servers(repo, work / "doubles",
                                               bucket_keys(endpoint, bucket, list(servers))))
    git_commit(repo, "The servers' CA and ports", ".chef")
    posts_repo = work / "post" / repo.name
    shutil.copytree(repo, posts_repo)
    template = load_yaml((repo / "cloudformation/pipeline.yml").read_text("utf-8"))
    parallelism = str(template["Parameters"]["UploadParallelism"]["Default"])
    env = build_env(make_bin(work / "bin"), KIT_ROOT, endpoint, work / "build-tmp",
                    work / "berks.log", chef_servers_file(work / "servers.json", repo, digests),
                    KEY_BUCKET=bucket, UPLOAD_PARALLELISM=parallelism,
                    BERKS_STARTUP_SECONDS=str(startup), BERKS_UPLOAD_SECONDS=str(upload),
                    **chef.env())

    def kits_build() -> None:
        rehearsal = rehearse(repo, env, work / "berks.log")
        if rehearsal.returncode != 0:
            raise SystemExit(f"the kit's build failed:\n{rehearsal.output}")

    def one_after_another() -> None:
        done = subprocess.run(["bash", "-c", posts_build(list(servers))], cwd=posts_repo, env=env,
                              capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"the post's build failed:\n{done.stdout}{done.stderr}")

    kit_seconds, kit_cpu = timed(kits_build)
    if leftover_keys(repo, work / "build-tmp"):
        raise SystemExit("the kit's build left a key behind")
    post_seconds, post_cpu = timed(one_after_another)
    ratio = kit_seconds / post_seconds
    print(f"servers: {count}, upload parallelism: {parallelism}, load average (1 min) at the end: "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"  post's build, one server after another: {post_seconds:6.1f} s "
          f"({post_cpu:.1f} s of CPU)")
    print(f"  kit's build, checks + parallel uploads: {kit_seconds:6.1f} s "
          f"({kit_cpu:.1f} s of CPU)")
    print(f"  ratio: {ratio:.2f} (at most {MAX_RATIO})")
    return ratio


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--startup-seconds", type=float, default=1.0,
                        help="CPU seconds each berks run spends starting (default 1.0)")
    parser.add_argument("--upload-seconds", type=float, default=2.0,
                        help="seconds each upload waits for its server (default 2.0)")
    args = parser.parse_args(argv)
    print(f"berks: {args.startup_seconds} s of CPU to start, {args.upload_seconds} s per upload")
    ratios = []
    with moto_endpoint() as endpoint:
        for count in args.servers:
            with tempfile.TemporaryDirectory() as scratch, ExitStack() as doubles:
                ratios.append(compare(Path(scratch), endpoint, doubles, count,
                                      args.startup_seconds, args.upload_seconds))
    return 0 if max(ratios) <= MAX_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
