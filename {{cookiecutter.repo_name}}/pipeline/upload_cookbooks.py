"""Upload the cookbooks to every Chef server at once: resolve once, then upload per server.

The build runs it from the checkout's root (see buildspec.yml):
    python3 pipeline/upload_cookbooks.py --key-bucket BUCKET --parallel N --workspace EMPTY_DIR

Parallel uploads must not race on shared files. Every ``berks upload`` reads, and may rewrite,
Berksfile.lock and writes into its cookbook cache (BERKSHELF_PATH). So the dependencies are resolved
once, in the checkout (``berks install`` writes Berksfile.lock and fills a cookbook cache in the
workspace); then each server gets a workspace of its own: a copy of the checkout with that
lockfile, a copy of the cache, and its key as .chef/<server>/private.pem. Each upload runs inside
its own copy, so its knife.rb, lockfile, cache and key are its alone, and no upload waits for
another.

Berkshelf is loaded once: requiring it and Chef costs about a second of CPU, which a ``berks``
process per server would pay again for every server, on a build host of two cores. The ``berks``
commands are run by pipeline/berks_fleet.rb, one Ruby process that requires Berkshelf through
Bundler (the BUNDLE_GEMFILE the install phase used) and forks a child per command, which takes
that command's environment, working directory and output file before running what ``berks`` runs.

Which knife.rb an upload loads is not decided by its working directory: Berkshelf 8 loads knife's
settings with ChefConfig::WorkstationConfigLoader.new(ENV["BERKSHELF_CHEF_CONFIG"]), which without
that variable searches .chef/ upwards from ENV["PWD"], the checkout's, which this process and the
driver inherit. Each berks is therefore told its own copy's knife.rb (BERKSHELF_CHEF_CONFIG) and
given a PWD that names its copy.
Berkshelf reads that configuration when a command first needs it, so a child forked before any
command reads its own (berks_fleet.rb cites where).

Keys are read with boto3 (the kit's own dependency) in this one process: an ``aws s3 cp`` per
server would start the AWS CLI once per server, seconds of CPU on a small build host. They never
enter the checkout, so no build artifact can carry one; each is created mode 0600 and the workspace
is emptied when the script ends, however it ends.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chef_multiserver import servers

RESOLVED_CACHE = "berkshelf"
BERKS_FLEET = Path(__file__).with_name("berks_fleet.rb")
BERKS_OUTPUT = "berks.log"
CA_BUNDLE = "ca-bundle.pem"
# Where the system CA bundle lives, by OS layout (each CodeBuild image's Dockerfile in
# aws/aws-codebuild-docker-images installs its OS's ca-certificates package).
SYSTEM_CA_BUNDLES = (
    "etc/ssl/certs/ca-certificates.crt",  # Debian, Ubuntu: aws/codebuild/standard:7.0 and 8.0
    "etc/pki/tls/certs/ca-bundle.crt",  # Amazon Linux 2023, RHEL: amazonlinux-*-standard
    "etc/ssl/ca-bundle.pem",  # SUSE
    "etc/ssl/cert.pem",  # Alpine
)


class UploadError(Exception):
    """A problem that stops every upload."""


@dataclass(frozen=True)
class Upload:
    """How one server's upload went."""

    server: str
    failure: str  # empty when the upload succeeded
    seconds: float
    output: str


class BerksFleet:
    """``berks`` commands run by one Ruby process that has loaded Berkshelf (berks_fleet.rb): each
    in a child of its own, with the environment, directory and output file it is given. Used from
    many threads at once."""

    def __init__(self, env: dict[str, str]) -> None:
        try:
            self.driver = subprocess.Popen(["ruby", str(BERKS_FLEET)], env=env, text=True,
                                           stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        except OSError as error:
            raise UploadError(f"ruby cannot be started: {error.strerror}") from error
        self.jobs = cast("IO[str]", self.driver.stdin)
        self.statuses = cast("IO[str]", self.driver.stdout)
        self.ids = itertools.count()
        self.lock = threading.Lock()
        self.running: dict[int, Future[int]] = {}
        self.ended = False  # the driver's reports have ended: it runs no more commands
        self.reader = threading.Thread(target=self.read_statuses, daemon=True)
        self.reader.start()

    def run(self, argv: list[str], cwd: Path, env: dict[str, str], output: Path) -> tuple[int, str]:
        """``berks argv`` in ``cwd`` with exactly ``env``; its exit status and what it wrote
        (status -1 when the driver ended first)."""
        job_id, finished = next(self.ids), Future[int]()
        job = {"id": job_id, "argv": argv, "env": env, "dir": str(cwd), "output": str(output)}
        with self.lock:
            try:
                if self.ended:
                    raise BrokenPipeError
                self.jobs.write(json.dumps(job) + "\n")
                self.jobs.flush()
            except (OSError, ValueError):  # a closed pipe, or closed by close()
                return -1, f"berks was not run: {BERKS_FLEET.name} has ended\n"
            self.running[job_id] = finished
        status = finished.result()
        if status < 0:
            return status, f"berks did not finish: {BERKS_FLEET.name} ended first\n"
        try:
            return status, output.read_text("utf-8", errors="replace")
        except OSError as error:
            return status, f"berks's output cannot be read: {error}\n"

    def read_statuses(self) -> None:
        """Each finished command's status, as the driver reports it; -1 for those still running
        when it ends."""
        for line in self.statuses:
            report = json.loads(line)
            with self.lock:
                self.running.pop(report["id"]).set_result(report["status"])
        with self.lock:
            self.ended = True
            for unfinished in self.running.values():
                unfinished.set_result(-1)
            self.running.clear()

    def close(self, stop: bool = False) -> None:
        """No more commands; wait for the driver to end, after stopping its commands if ``stop``
        (it then stops their children: berks_fleet.rb)."""
        with self.lock:
            if stop:
                self.driver.terminate()
            with contextlib.suppress(OSError):  # it has ended already
                self.jobs.close()
        self.driver.wait()
        self.reader.join()
        self.statuses.close()


def system_ca_file(root: Path = Path("/")) -> Path:
    """The CA bundle Ruby would trust without SSL_CERT_FILE (the Supermarket needs it):
    SSL_CERT_FILE if set, else what this Python's OpenSSL names, else the bundle of the image's OS
    layout (a pyenv-built Python on Ubuntu 22.04 names /usr/lib/ssl/cert.pem, which does not exist
    there)."""
    if "SSL_CERT_FILE" in os.environ:
        named = Path(os.environ["SSL_CERT_FILE"])
        if not named.is_file():
            raise UploadError(f"SSL_CERT_FILE={named} is not a file: point it at a CA bundle")
        return named
    defaults = ssl.get_default_verify_paths()
    candidates = [Path(path) for path in (defaults.cafile, defaults.openssl_cafile) if path]
    candidates += [root / layout for layout in SYSTEM_CA_BUNDLES]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise UploadError("no system CA bundle found in "
                      f"{', '.join(str(path) for path in candidates)}: set SSL_CERT_FILE to one")


def write_ca_bundle(repo: Path, bundle: Path) -> None:
    """System CAs plus .chef/ca_certs/*: Berkshelf ignores knife's trusted_certs_dir, but its
    Ruby honours SSL_CERT_FILE, so TLS to the Chef servers stays verified."""
    ca_dir = repo / servers.CHEF_DIR / servers.CA_CERTS_DIR
    server_cas = sorted(path for path in ca_dir.glob("*") if path.suffix in {".pem", ".crt"})
    try:
        parts = [system_ca_file().read_bytes(), *(path.read_bytes() for path in server_cas)]
        bundle.write_bytes(b"\n".join(part.rstrip(b"\n") for part in parts) + b"\n")
    except OSError as error:
        raise UploadError(f"the CA bundle for Berkshelf cannot be written: {error}") from error


def berks_env(env: dict[str, str], tree: Path, server: str) -> dict[str, str]:
    """``env`` for a berks run inside ``tree`` as ``server``: the knife.rb Berkshelf loads is
    ``tree``'s, whatever PWD the build had (module docstring)."""
    knife_rb = str(tree / servers.KNIFE_RB)
    return {**env, "CHEF_SERVER": server, "BERKSHELF_CHEF_CONFIG": knife_rb, "PWD": str(tree)}


def berks_failure(command: str, status: int) -> str:
    """Why ``berks command`` failed with ``status`` (-1: the driver ended first)."""
    if status < 0:
        return f"berks {command} did not finish: {BERKS_FLEET.name} ended (its error is above)"
    return f"berks {command} exited with {status}"


def resolve(fleet: BerksFleet, repo: Path, workspace: Path, env: dict[str, str]) -> None:
    """``berks install`` once for every server: they all get the same cookbooks."""
    status, output = fleet.run(["install"], repo, env, workspace / BERKS_OUTPUT)
    print(output, end="")
    if status != 0:
        raise UploadError(f"{berks_failure('install', status)}: no server was uploaded to")


def fetch_key(s3: Any, bucket: str, server: str, key: Path) -> str:
    """Copy the server's key from the bucket to ``key``, mode 0600 from its creation; the reason
    it could not, or an empty string."""
    key_url = f"s3://{bucket}/{server}/{servers.KEY_FILE}"
    try:
        pem = s3.get_object(Bucket=bucket, Key=f"{server}/{servers.KEY_FILE}")["Body"].read()
        with os.fdopen(os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as file:
            file.write(pem)
    except (BotoCoreError, ClientError, OSError) as error:
        return f"no key copied from {key_url}: {error}"
    return ""


def upload(fleet: BerksFleet, server: str, repo: Path, workspace: Path, s3: Any, bucket: str,
           env: dict[str, str]) -> Upload:
    """Copy the resolved tree and cache into ``workspace``, fetch the key, run berks upload."""
    started = time.monotonic()
    tree = workspace / "repo"
    cache = workspace / RESOLVED_CACHE
    try:
        shutil.copytree(repo, tree, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", servers.KEY_FILE))
        shutil.copytree(Path(env["BERKSHELF_PATH"]), cache, symlinks=True)
    except OSError as error:
        return Upload(server, f"no workspace: {error}", time.monotonic() - started, "")
    failure = fetch_key(s3, bucket, server, tree / servers.CHEF_DIR / server / servers.KEY_FILE)
    if failure:
        return Upload(server, failure, time.monotonic() - started, "")
    server_env = berks_env({**env, "BERKSHELF_PATH": str(cache)}, tree, server)
    status, output = fleet.run(["upload", "--berksfile", str(tree / "Berksfile")], tree,
                               server_env, workspace / BERKS_OUTPUT)
    failure = berks_failure("upload", status) if status else ""
    return Upload(server, failure, time.monotonic() - started, output)


def upload_all(repo: Path, workspace: Path, bucket: str, parallel: int) -> list[Upload]:
    """Resolve once, then upload to every server, at most ``parallel`` at a time."""
    names = list(servers.server_dirs(repo))
    if not names:
        raise UploadError(f"no server found: add {servers.CHEF_DIR}/<server>/{servers.CONFIG_FILE}")
    env = {
        **os.environ,
        "SSL_CERT_FILE": str(workspace / CA_BUNDLE),
        "BERKSHELF_PATH": str(workspace / RESOLVED_CACHE),
    }
    fleet = BerksFleet(dict(os.environ))  # Berkshelf loads while the workspaces are prepared
    with ThreadPoolExecutor(max_workers=parallel) as pool:
        try:
            write_ca_bundle(repo, workspace / CA_BUNDLE)
            (workspace / RESOLVED_CACHE).mkdir()
            # knife.rb needs a server to load at all; resolving contacts only the Supermarket.
            resolve(fleet, repo, workspace, berks_env(env, repo, names[0]))
            s3 = boto3.client("s3", config=Config(retries={"mode": "standard"}))
            running = [pool.submit(upload, fleet, name, repo, workspace / "servers" / name, s3,
                                   bucket, env) for name in names]
            uploads = []
            for finished in as_completed(running):
                result = finished.result()
                print(f"----- {result.server} -----\n{result.output}", end="")
                uploads.append(result)
        except BaseException:  # SIGTERM too: start nothing more, stop what runs
            pool.shutdown(wait=False, cancel_futures=True)
            fleet.close(stop=True)
            raise
        fleet.close()
    return sorted(uploads, key=lambda result: result.server)


def table(uploads: list[Upload]) -> str:
    """One line per server: its name, ok or FAILED, the time it took and why it failed."""
    width = max(len("server"), *(len(result.server) for result in uploads))
    rows = [f"{'server':<{width}}  result  seconds  detail"]
    rows += [
        f"{result.server:<{width}}  {'FAILED' if result.failure else 'ok':<6}  "
        f"{result.seconds:7.1f}  {result.failure}".rstrip()
        for result in uploads
    ]
    return "\n".join(rows)


def stop_on_sigterm(signum: int, frame: object) -> None:
    """CodeBuild stops a build with SIGTERM: exit through the ``finally`` that removes the keys."""
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key-bucket", required=True,
                        help="the bucket holding <server>/private.pem")
    parser.add_argument("--parallel", type=int, required=True, help="uploads at the same time")
    parser.add_argument("--workspace", type=Path, required=True,
                        help="an empty directory outside the checkout; emptied at the end")
    parser.add_argument("--repo", type=Path, default=Path(), help="the checkout (default: .)")
    args = parser.parse_args(argv)
    if args.parallel < 1:
        parser.error(f"--parallel must be at least 1, not {args.parallel}")
    if not args.workspace.is_dir() or any(args.workspace.iterdir()):
        parser.error(f"--workspace {args.workspace} must be an empty directory")
    signal.signal(signal.SIGTERM, stop_on_sigterm)
    os.umask(0o077)  # every file written from here on, keys included, is private from the start
    try:
        uploads = upload_all(args.repo.resolve(), args.workspace, args.key_bucket, args.parallel)
    except UploadError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    finally:
        for leftover in args.workspace.iterdir():
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
    print(table(uploads))
    failed = [result.server for result in uploads if result.failure]
    if failed:
        print(f"ERROR: the upload failed for {len(failed)} of {len(uploads)} server(s): "
              f"{', '.join(failed)}", file=sys.stderr)
        return 1
    print(f"Uploaded to all {len(uploads)} server(s).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
