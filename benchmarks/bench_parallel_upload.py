"""Benchmark: the generated build against the source post's one-server-after-another build.

Both run in this one process, one after the other, on the same generated repository (20, then 100
servers), with the same moto S3 key bucket and the same ``berks``: the rehearsal's stand-in gem
(rehearsal/berkshelf/, installed through Bundler as the build installs Berkshelf), which loads its
Chef configuration through ruby-chef-config as Berkshelf 8 does and checks each upload's key
against its server. The post's build is its buildspec's commands for these servers: copy every
key with ``aws s3 cp`` (the real AWS CLI), ``berks install`` per server, then ``berks upload`` per
server, each a ``berks`` process. The kit's build is the generated buildspec.yml, rehearsed whole
(checks, one resolve, the uploads at the template's default parallelism, then ``chef-multiserver
sync`` against Chef server doubles, which the post's build does not do); its ``berks`` commands are
children forked from one Ruby process that loaded Berkshelf once (pipeline/berks_fleet.rb).

The cost model: requiring the stand-in burns ``--startup-seconds`` of CPU, Berkshelf's start-up
(requiring berkshelf and chef), which cannot be measured here: neither gem is installed or
installable offline, and Debian packages no chef. 1.0 s is what Berkshelf's maintainers measured
for a whole ``berks install`` started through Bundler, as the build starts it (github.com/berkshelf/
berkshelf issue 1709: 0.75 s user + 0.15 s system with ``bundle exec``, 4.3 s + 0.6 s without, for
Berkshelf 6.2 on Chef 13; Chef 18 has grown since); 0.5 and 2.0 bracket it. Ruby and chef-config
cost about 0.1 s more per ``berks`` process. Each upload then waits ``--upload-seconds``, a Chef
server's answer. The post pays the start-up twice per server; the kit once per build. Prints both
times, their CPU seconds and their ratio per server count and start-up; fails when a ratio is
above 0.2.

    python -m benchmarks.bench_parallel_upload [--servers 20 100] [--startup-seconds 0.5 1.0 2.0]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from functools import partial
from pathlib import Path

from benchmarks.timing import children_cpu
from rehearsal.buildspec import (
    BERKSHELF_STAND_IN,
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


def posts_berks(bin_dir: Path) -> Path:
    """``berks`` as the post's ``gem install berkshelf`` leaves it: started without Bundler, here
    the stand-in's bin/berks run directly (cheaper than RubyGems' wrapper, which activates the gem
    and its dependencies first: Berkshelf's issue 1709 measured 4.9 s against 0.9 s bundled)."""
    bin_dir.mkdir(parents=True)
    ruby = shutil.which("ruby") or "ruby"
    (bin_dir / "berks").write_text(
        f'#!/bin/sh\nexec "{ruby}" "{BERKSHELF_STAND_IN / "bin/berks"}" "$@"\n', "utf-8")
    (bin_dir / "berks").chmod(0o755)
    return bin_dir


def posts_build(servers: list[str]) -> str:
    """The post's buildspec commands for ``servers``, in its order, one server after another."""
    copy = [f"aws s3 cp s3://$KEY_BUCKET/{s}/private.pem ./.chef/{s}/private.pem" for s in servers]
    install = [f"CHEF_SERVER={s} berks install" for s in servers]
    upload = [f"CHEF_SERVER={s} berks upload" for s in servers]
    return "set -e\n" + "\n".join([*copy, *install, *upload]) + "\n"


def kits_build(repo: Path, env: dict[str, str], berks_log: Path) -> None:
    rehearsal = rehearse(repo, env, berks_log)
    if rehearsal.returncode != 0:
        raise SystemExit(f"the kit's build failed:\n{rehearsal.output}")


def one_after_another(servers: list[str], repo: Path, env: dict[str, str]) -> None:
    done = subprocess.run(["bash", "-c", posts_build(servers)], cwd=repo, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the post's build failed:\n{done.stdout}{done.stderr}")


def timed(run: Callable[[], None]) -> tuple[float, float]:
    """Wall seconds and the CPU seconds of the processes ``run`` started (and waited for)."""
    started, cpu = time.monotonic(), children_cpu()
    run()
    return time.monotonic() - started, children_cpu() - cpu


def compare(work: Path, endpoint: str, doubles: ExitStack, count: int, startups: list[float],
            upload: float) -> list[float]:
    """Both builds for ``count`` servers at each start-up cost; prints their times and returns the
    kit's ratios."""
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
                    BERKS_UPLOAD_SECONDS=str(upload), **chef.env())
    posts_path = f"{posts_berks(work / 'post-bin')}{os.pathsep}{env['PATH']}"
    print(f"servers: {count}, upload parallelism: {parallelism}")
    ratios = []
    for startup in startups:
        startup_env = {**env, "BERKS_STARTUP_SECONDS": str(startup)}
        kit_seconds, kit_cpu = timed(partial(kits_build, repo, startup_env, work / "berks.log"))
        if leftover_keys(repo, work / "build-tmp"):
            raise SystemExit("the kit's build left a key behind")
        post_seconds, post_cpu = timed(partial(one_after_another, list(servers), posts_repo,
                                               {**startup_env, "PATH": posts_path}))
        ratios.append(kit_seconds / post_seconds)
        print(f"  berks start-up {startup} s of CPU; load average (1 min) at the end: "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
        print(f"    post's build, one server after another: {post_seconds:6.1f} s "
              f"({post_cpu:.1f} s of CPU)")
        print(f"    kit's build, checks + parallel uploads + sync: {kit_seconds:6.1f} s "
              f"({kit_cpu:.1f} s of CPU)")
        print(f"    ratio: {ratios[-1]:.2f} (at most {MAX_RATIO})")
    return ratios


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, nargs="+", default=[20, 100])
    parser.add_argument("--startup-seconds", type=float, nargs="+", default=[0.5, 1.0, 2.0],
                        help="CPU seconds Berkshelf spends starting, one run each "
                             "(default 0.5 1.0 2.0)")
    parser.add_argument("--upload-seconds", type=float, default=2.0,
                        help="seconds each upload waits for its server (default 2.0)")
    args = parser.parse_args(argv)
    print(f"berks: {args.upload_seconds} s per upload")
    ratios = []
    with moto_endpoint() as endpoint:
        for count in args.servers:
            with tempfile.TemporaryDirectory() as scratch, ExitStack() as doubles:
                ratios += compare(Path(scratch), endpoint, doubles, count,
                                  args.startup_seconds, args.upload_seconds)
    return 0 if max(ratios) <= MAX_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
