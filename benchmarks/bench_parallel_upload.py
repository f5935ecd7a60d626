"""Benchmark: the generated build against the source post's one-server-after-another build.

Both run in this one process, one after the other, on the same generated repository of 20 servers,
with the same moto S3 key bucket and the same stand-in ``berks`` whose upload takes
2 s per server (see tests/rehearsal/buildspec.py). The kit's build is the generated buildspec.yml,
rehearsed whole (checks included) at the template's default upload parallelism; the post's build is
its buildspec's commands for these servers: copy every key with ``aws s3 cp`` (the real AWS CLI),
``berks install`` per server, then ``berks upload`` per server. Prints both times and their
ratio; fails above a ratio of 0.2.

    python -m benchmarks.bench_parallel_upload
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from rehearsal.buildspec import build_env, leftover_keys, make_bin, rehearse, store_keys
from rehearsal.generate import KIT_ROOT, bake_into, load_yaml, make_servers
from rehearsal.moto_server import moto_endpoint

SERVER_COUNT = 20
UPLOAD_SECONDS = "2"
KEY_BUCKET = "chef-keys"
MAX_RATIO = 0.2


def posts_build(servers: list[str]) -> str:
    """The post's buildspec commands for ``servers``, in its order, one server after another."""
    copy = [f"aws s3 cp s3://$KEY_BUCKET/{s}/private.pem ./.chef/{s}/private.pem" for s in servers]
    install = [f"CHEF_SERVER={s} berks install" for s in servers]
    upload = [f"CHEF_SERVER={s} berks upload" for s in servers]
    return "set -e\n" + "\n".join([*copy, *install, *upload]) + "\n"


def timed(run: Callable[[], None]) -> float:
    started = time.monotonic()
    run()
    return time.monotonic() - started


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch, moto_endpoint() as endpoint:
        work = Path(scratch)
        servers = make_servers(SERVER_COUNT)
        store_keys(endpoint, KEY_BUCKET, list(servers))
        repo = bake_into(work / "kit", servers=servers, init_git=True)
        posts_repo = work / "post" / repo.name
        shutil.copytree(repo, posts_repo)
        template = load_yaml((repo / "cloudformation/pipeline.yml").read_text("utf-8"))
        parallelism = str(template["Parameters"]["UploadParallelism"]["Default"])
        env = build_env(make_bin(work / "bin"), KIT_ROOT, endpoint, work / "build-tmp",
                        work / "berks.log", KEY_BUCKET=KEY_BUCKET, UPLOAD_PARALLELISM=parallelism,
                        BERKS_UPLOAD_SECONDS=UPLOAD_SECONDS)

        def kits_build() -> None:
            rehearsal = rehearse(repo, env, work / "berks.log")
            if rehearsal.returncode != 0:
                raise SystemExit(f"the kit's build failed:\n{rehearsal.output}")

        def one_after_another() -> None:
            subprocess.run(["bash", "-c", posts_build(list(servers))], cwd=posts_repo, env=env,
                           check=True, capture_output=True)

        kit_seconds = timed(kits_build)
        post_seconds = timed(one_after_another)
        if leftover_keys(repo, work / "build-tmp"):
            raise SystemExit("the kit's build left a key behind")
    ratio = kit_seconds / post_seconds
    print(f"servers: {SERVER_COUNT}, berks upload: {UPLOAD_SECONDS} s each, "
          f"upload parallelism: {parallelism}")
    print(f"post's build, one server after another: {post_seconds:6.1f} s")
    print(f"kit's build, checks + parallel uploads: {kit_seconds:6.1f} s")
    print(f"ratio: {ratio:.2f} (at most {MAX_RATIO})")
    return 0 if ratio <= MAX_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
