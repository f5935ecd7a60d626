"""Rehearse a generated repository's buildspec.yml without CodeBuild or a Chef server.

The phases after ``install`` run in one bash, as CodeBuild runs them: a failed command skips the
rest of its phase, ``finally`` always runs, a failed pre_build ends the build (no build phase, no
artifacts), a failed build still runs post_build and uploads the artifacts. What ``install`` would
put on the image comes from a bin directory instead: this kit's console scripts (its real modules),
and Berkshelf as a recording stand-in gem (berkshelf/, on the load path through Bundler as the
install phase puts the real one, with a ``berks`` binstub), because no Chef server or Berkshelf is
available here.
AWS_ENDPOINT_URL points the build's AWS calls (boto3 in pipeline/upload_cookbooks.py, and the real
AWS CLI wherever a command uses it) at moto. Shared by the rehearsal tests and
benchmarks/bench_parallel_upload.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from rehearsal import moto_server

# The kit's console scripts the buildspec calls, and the modules behind them.
CONSOLE_SCRIPTS = {
    "forbid-chef-secrets": "pre_commit_hooks.forbid_chef_secrets",
    "check-chef-server-config": "pre_commit_hooks.check_chef_server_config",
    "check-chef-repo": "pre_commit_hooks.check_chef_repo",
    "chef-pipeline-targets": "chef_multiserver.pipeline_targets",
    "chef-multiserver": "chef_multiserver.cli",
}

# A stand-in for the Berkshelf gem that loads its Chef configuration as Berkshelf 8 does (see
# berkshelf/lib/berkshelf/cli.rb), installed as the buildspec's install phase installs the real one:
# through Bundler, from a Gemfile (BUNDLE_GEMFILE), where pipeline/berks_fleet.rb requires it.
BERKSHELF_STAND_IN = Path(__file__).with_name("berkshelf")
# `berks` for one command run by hand, as a user would with the same gems: what `bundle binstubs
# berkshelf` writes (Bundler's lib/bundler/templates/Executable, in github.com/rubygems/rubygems),
# without its bin/bundle indirection.
BERKS_BINSTUB = """#!{ruby}
ENV["BUNDLE_GEMFILE"] ||= File.expand_path("Gemfile", __dir__)
require "rubygems"
require "bundler/setup"
load Gem.bin_path("berkshelf", "berks")
"""


@dataclass(frozen=True)
class Rehearsal:
    """What a rehearsed build did."""

    returncode: int
    output: str
    artifacts: dict[str, bytes]  # empty when the build ended before uploading artifacts
    berks_calls: list[dict[str, Any]]


def make_bin(bin_dir: Path) -> Path:
    """The commands that the buildspec's install phase would provide, and its Bundler setup: a
    Gemfile (BUNDLE_GEMFILE, see build_env) naming the stand-in Berkshelf, resolved once here."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    scripts = {name: f'exec "{sys.executable}" -m {module} "$@"'
               for name, module in CONSOLE_SCRIPTS.items()}
    scripts["python3"] = f'exec "{sys.executable}" "$@"'
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n", "utf-8")
        (bin_dir / name).chmod(0o755)
    ruby = shutil.which("ruby") or "ruby"
    gemfile = bin_dir / "Gemfile"
    gemfile.write_text(f"gem 'berkshelf', path: {json.dumps(str(BERKSHELF_STAND_IN))}\n", "utf-8")
    # Bundler writes Gemfile.lock on first use: once here, not racing among parallel commands.
    subprocess.run([ruby, "-e", 'require "bundler/setup"'], check=True, capture_output=True,
                   env={**os.environ, "BUNDLE_GEMFILE": str(gemfile)})
    (bin_dir / "berks").write_text(BERKS_BINSTUB.format(ruby=ruby), "utf-8")
    (bin_dir / "berks").chmod(0o755)
    return bin_dir


def phase_script(buildspec: dict[str, Any]) -> str:
    """bash for pre_build, build and post_build, run by CodeBuild's rules (module docstring)."""
    lines = ["__status=0"]
    for name in ("pre_build", "build", "post_build"):
        phase = buildspec["phases"].get(name) or {}
        lines.append("__phase=0")
        for command in phase.get("commands", []):
            lines += ["if [ $__phase -eq 0 ]; then", command, "__phase=$?", "fi"]
        lines += phase.get("finally", [])
        if name == "pre_build":
            lines.append('if [ $__phase -ne 0 ]; then echo "[rehearsal] pre_build failed"; '
                         "exit $__phase; fi")
        else:
            lines.append("if [ $__phase -ne 0 ]; then __status=$__phase; fi")
    lines.append("exit $__status")
    return "\n".join(lines) + "\n"


def rehearse(repo: Path, env: dict[str, str], berks_log: Path) -> Rehearsal:
    """Run the repository's buildspec in ``repo`` with ``env``; what it did."""
    buildspec = yaml.safe_load((repo / "buildspec.yml").read_text("utf-8"))
    done = subprocess.run(["bash", "-c", phase_script(buildspec)], cwd=repo, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    artifacts = {}
    if "[rehearsal] pre_build failed" not in done.stdout:
        artifacts = {path.relative_to(repo).as_posix(): path.read_bytes()
                     for pattern in buildspec["artifacts"]["files"] for path in repo.glob(pattern)}
    calls = ([json.loads(line) for line in berks_log.read_text("utf-8").splitlines()]
             if berks_log.exists() else [])
    return Rehearsal(done.returncode, done.stdout, artifacts, calls)


def build_env(bin_dir: Path, kit_root: Path, endpoint: str, build_tmp: Path, berks_log: Path,
              chef_servers: Path, **variables: str) -> dict[str, str]:
    """The environment of a rehearsed build: CodeBuild's project variables are ``variables``;
    ``chef_servers`` (see chef_servers_file) are the Chef servers the ``berks`` stand-in plays."""
    build_tmp.mkdir(parents=True, exist_ok=True)
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "BUNDLE_GEMFILE": str(bin_dir / "Gemfile"),
        "PYTHONPATH": str(kit_root),
        **moto_server.environment(endpoint),
        "TMPDIR": str(build_tmp),
        "BERKS_LOG": str(berks_log),
        "BERKS_SERVERS": str(chef_servers),
        **variables,
    }


def chef_servers_file(path: Path, repo: Path, key_digests: dict[str, str]) -> Path:
    """Write the Chef servers of ``repo`` for the ``berks`` stand-in: each server's URL (its
    .chef/<server>/config.yml) and the sha256 of the only key that server accepts."""
    accepted = {}
    for server, digest in key_digests.items():
        config = yaml.safe_load((repo / ".chef" / server / "config.yml").read_text("utf-8"))
        accepted[config["server"]] = digest
    path.write_text(json.dumps(accepted), "utf-8")
    return path


def leftover_keys(*roots: Path) -> list[Path]:
    """Every private.pem still under ``roots``."""
    return [path for root in roots for path in root.rglob("private.pem")]


def git_commit(repo: Path, message: str, *paths: str) -> None:
    """Commit ``paths`` as a user would who skipped the hooks (``--no-verify``)."""
    git = shutil.which("git") or "git"
    identity = ["-c", "user.name=Rehearsal", "-c", "user.email=rehearsal@example.com"]
    subprocess.run([git, "add", "--force", "--", *paths], cwd=repo, check=True, capture_output=True)
    subprocess.run([git, *identity, "commit", "--quiet", "--no-verify", "-m", message],
                   cwd=repo, check=True, capture_output=True)


def private_key_pem() -> bytes:
    """A fresh RSA key in PEM, as a Chef user's private.pem is."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def store_keys(endpoint: str, bucket: str, servers: list[str]) -> dict[str, str]:
    """Put a fresh key per server into ``bucket`` as <server>/private.pem, encrypted with SSE-KMS
    under a key of its own; the sha256 of each key by server."""
    options = moto_server.client_options(endpoint)
    s3 = boto3.client("s3", **options)
    kms_key = boto3.client("kms", **options).create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket=bucket)
    digests = {}
    for server in servers:
        pem = private_key_pem()
        s3.put_object(Bucket=bucket, Key=f"{server}/private.pem", Body=pem,
                      ServerSideEncryption="aws:kms", SSEKMSKeyId=kms_key)
        digests[server] = hashlib.sha256(pem).hexdigest()
    return digests
