"""The generated buildspec.yml, rehearsed (see rehearsal/buildspec.py): its commands run in bash
against moto's S3, where each server's key is stored with SSE-KMS, with this kit's real hooks, and
with a stand-in for the Berkshelf gem (rehearsal/berkshelf/: its ``berkshelf/cli`` library and
``bin/berks``, shaped like Berkshelf 8.0.7's, loaded through Bundler; the build's
pipeline/berks_fleet.rb requires it once and forks each command) that loads its Chef
configuration through Debian's ruby-chef-config exactly as Berkshelf 8 does
(github.com/berkshelf/berkshelf @ 602dd4b, lib/berkshelf.rb `chef_config`,
lib/berkshelf/chef_config_compat.rb:
``ChefConfig::WorkstationConfigLoader.new(ENV["BERKSHELF_CHEF_CONFIG"]).load``; github.com/chef/chef
chef-config/lib/chef-config/workstation_config_loader.rb: .chef/ searched upwards from ENV["PWD"])
and plays Chef servers that accept only their own client's key.

The hooks forbid-chef-secrets, check-chef-server-config and check-chef-repo run in pre_build, so
every test here needs them importable from this checkout."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from chef_multiserver import pipeline_targets
from chef_multiserver.cli.main import main as chef_multiserver
from rehearsal import moto_server
from rehearsal.buildspec import (
    Rehearsal,
    build_env,
    chef_servers_file,
    git_commit,
    leftover_keys,
    make_bin,
    private_key_pem,
    rehearse,
    store_keys,
)
from rehearsal.chef_build import BuildServers, bucket_keys, build_servers
from rehearsal.moto_server import moto_endpoint
from tests.conftest import KIT_ROOT, Bake, load_yaml, make_servers

KEY_BUCKET = "chef-keys"
SERVERS = list(make_servers(3))
KEYED_SERVERS = list(make_servers(20))  # every server a test may bake has a key in the bucket


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


@pytest.fixture(scope="module")
def key_digests(endpoint: str) -> dict[str, str]:
    return store_keys(endpoint, KEY_BUCKET, KEYED_SERVERS)


def ca_certificate_pem() -> bytes:
    """A self-signed CA certificate, as a Chef server's .chef/ca_certs/ entry is."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Chef servers' CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


@dataclass
class Build:
    repo: Path
    build_tmp: Path
    berks_log: Path
    env: dict[str, str]
    ca_pem: str
    servers: list[str]
    chef: BuildServers

    def run(self, **variables: str) -> Rehearsal:
        return rehearse(self.repo, {**self.env, **variables}, self.berks_log)


BuildFactory = Callable[..., Build]


@pytest.fixture
def build_of(bake: Bake, tmp_path: Path, endpoint: str,
             key_digests: dict[str, str]) -> Iterator[BuildFactory]:
    """``build_of(count)``: a generated repository of ``count`` servers, committed, each with a Chef
    server double (rehearsal/chef_build.py)."""
    with ExitStack() as doubles:

        def _build(count: int = 3) -> Build:
            work = tmp_path / str(count)
            repo = bake(servers=make_servers(count), init_git=True)
            ca_pem = ca_certificate_pem()
            (repo / ".chef/ca_certs/chef-ca.crt").write_bytes(ca_pem)
            servers = list(make_servers(count))
            chef = doubles.enter_context(build_servers(
                repo, work / "doubles", bucket_keys(endpoint, KEY_BUCKET, servers)))
            git_commit(repo, "Trust the Chef servers' CA; the servers' ports", ".chef")
            accepted = chef_servers_file(work / "chef-servers.json", repo,
                                         {name: key_digests[name] for name in servers})
            env = build_env(make_bin(work / "bin"), KIT_ROOT, endpoint,
                            work / "build-tmp", work / "berks.log", accepted,
                            KEY_BUCKET=KEY_BUCKET, UPLOAD_PARALLELISM="8", **chef.env())
            return Build(repo, work / "build-tmp", work / "berks.log", env, ca_pem.decode(),
                         servers, chef)

        yield _build


@pytest.fixture
def build(build_of: BuildFactory) -> Build:
    return build_of(3)


def uploads(rehearsal: Rehearsal) -> dict[str, dict[str, Any]]:
    calls = [call for call in rehearsal.berks_calls if call["argv"][0] == "upload"]
    assert len(calls) == len({call["chef_server"] for call in calls}), "a server got two uploads"
    return {call["chef_server"]: call for call in calls}


def result_table(output: str, servers: list[str] = SERVERS) -> dict[str, str]:
    """The build's per-server table: server -> ok or FAILED."""
    lines = output.splitlines()
    header = next(n for n, line in enumerate(lines) if line.split()[:2] == ["server", "result"])
    rows = [line.split() for line in lines[header + 1:]]
    return {row[0]: row[1] for row in rows if row and row[0] in servers}


@pytest.mark.parametrize("count", [1, 2, 20])
def test_each_server_gets_one_upload_with_its_own_config_and_key_over_verified_tls(
    build_of: BuildFactory, key_digests: dict[str, str], count: int
) -> None:
    """Each upload loads its own copy's knife.rb, so it signs with its own key for its own server,
    although every upload is a child forked from one Ruby process (pipeline/berks_fleet.rb) that
    runs in the checkout with the checkout's PWD; the keys are 0600 while they exist and gone when
    the build ends."""
    build = build_of(count)
    rehearsal = build.run()
    assert rehearsal.returncode == 0, rehearsal.output
    installs = [call for call in rehearsal.berks_calls if call["argv"][0] == "install"]
    assert [Path(call["cwd"]) for call in installs] == [build.repo]  # once, in the checkout
    assert Path(installs[0]["config_file"]) == build.repo / ".chef/knife.rb"
    done = uploads(rehearsal)
    assert sorted(done) == build.servers
    for server, call in done.items():
        workspace = Path(call["cwd"])
        config = load_yaml((build.repo / f".chef/{server}/config.yml").read_text("utf-8"))
        assert call["argv"] == ["upload", "--berksfile", str(workspace / "Berksfile")]
        assert Path(call["config_file"]) == workspace / ".chef/knife.rb"
        assert call["chef_server_url"] == config["server"]
        assert Path(call["key"]) == workspace / f".chef/{server}/private.pem"
        assert call["key_sha256"] == key_digests[server]
        assert call["key_mode"] == "0o600"
        assert build.ca_pem in call["ca_bundle"]  # the servers' CA...
        assert call["ca_bundle"].count("BEGIN CERTIFICATE") > 1  # ...and the system's
        assert not workspace.is_relative_to(build.repo)
        assert not Path(call["key"]).exists()
    assert len({call["cwd"] for call in done.values()}) == count
    assert len({call["berkshelf_path"] for call in done.values()}) == count
    assert result_table(rehearsal.output, build.servers) == dict.fromkeys(build.servers, "ok")
    assert leftover_keys(build.repo, build.build_tmp) == []


def test_an_upload_that_loads_the_checkouts_knife_rb_fails_like_berkshelf(build: Build) -> None:
    """The stand-in is not our code's echo: a berks run inside a copy of the checkout, with the
    checkout's PWD inherited (what the upload did before it named its knife.rb), loads the
    checkout's knife.rb, whose key was never written, and fails as Chef's signing does."""
    copy = build.build_tmp / "copy"
    shutil.copytree(build.repo, copy)
    (copy / ".chef/chef-00/private.pem").write_bytes(private_key_pem())
    (copy / "Berksfile.lock").write_text("DEPENDENCIES\n", "utf-8")
    env = {**build.env, "PWD": str(build.repo), "CHEF_SERVER": "chef-00"}
    done = subprocess.run(["berks", "upload", "--berksfile", str(copy / "Berksfile")], cwd=copy,
                          env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert (f"I cannot read {build.repo}/.chef/chef-00/private.pem, which you told me to use to "
            "sign requests!") in done.stderr


def load_upload_cookbooks(repo: Path) -> ModuleType:
    """The generated repository's pipeline/upload_cookbooks.py as a module (its berks_fleet.rb is
    the one beside it)."""
    spec = importlib.util.spec_from_file_location("generated_upload_cookbooks",
                                                  repo / "pipeline/upload_cookbooks.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def test_each_forked_upload_loads_its_own_servers_config_not_its_parents(
    build: Build, endpoint: str
) -> None:
    """pipeline/berks_fleet.rb requires Berkshelf once and forks a child per command. Berkshelf
    keeps its Chef configuration for the whole process once a command has read it (Berkshelf 8.0.7,
    github.com/berkshelf/berkshelf @ 602dd4b, lib/berkshelf.rb: ``@chef_config ||=
    ChefConfigCompat.new(ENV["BERKSHELF_CHEF_CONFIG"])``; the stand-in keeps it the same way), so
    each child must read it after taking its own environment and directory. Here the driver itself
    runs in the checkout, with the checkout's PWD and a BERKSHELF_CHEF_CONFIG naming the checkout's
    knife.rb, and three uploads run side by side, then three more after them: each must sign with
    its own copy's knife.rb, URL and key. A driver that read the configuration before forking, or
    ran commands in its own process, or passed the parent's environment, fails here. Requiring
    Berkshelf copies HTTPS_PROXY to https_proxy, the only name Chef reads (lib/berkshelf.rb
    ``fix_proxies``): a child that takes its own environment must get that copy too."""
    module = load_upload_cookbooks(build.repo)
    keys = bucket_keys(endpoint, KEY_BUCKET, build.servers)
    parent_env = {**build.env, "PWD": str(build.repo), "CHEF_SERVER": build.servers[0],
                  "BERKSHELF_CHEF_CONFIG": str(build.repo / ".chef/knife.rb"),
                  "BERKS_UPLOAD_SECONDS": "0.5", "HTTPS_PROXY": "http://proxy.example.com:3128"}
    copies = {}
    for server in build.servers:
        copy = build.build_tmp / server / "repo"
        shutil.copytree(build.repo, copy)
        (copy / f".chef/{server}/private.pem").write_bytes(keys[server])
        (copy / "Berksfile.lock").write_text("DEPENDENCIES\n  example\n", "utf-8")
        copies[server] = copy
    fleet = module.BerksFleet(parent_env)
    try:
        with ThreadPoolExecutor(len(copies)) as pool:
            for _ in range(2):
                results = pool.map(lambda server: fleet.run(
                    ["upload", "--berksfile", str(copies[server] / "Berksfile")], copies[server],
                    module.berks_env(parent_env, copies[server], server),
                    copies[server].parent / "berks.log"), copies)
                assert [status for status, _ in results] == [0] * len(copies)
    finally:
        fleet.close()
    calls = [json.loads(line) for line in build.berks_log.read_text("utf-8").splitlines()]
    assert len(calls) == 2 * len(copies)
    assert len({call["pid"] for call in calls}) == len(calls)  # a child each
    for call in calls:
        server = call["chef_server"]
        config = load_yaml((build.repo / f".chef/{server}/config.yml").read_text("utf-8"))
        assert call["failure"] is None
        assert Path(call["config_file"]) == copies[server] / ".chef/knife.rb"
        assert call["chef_server_url"] == config["server"]
        assert Path(call["key"]) == copies[server] / f".chef/{server}/private.pem"
        assert call["pwd_env"] == call["cwd"] == str(copies[server])
        assert call["https_proxy"] == "http://proxy.example.com:3128"  # fix_proxies, again
    spans = [(call["started"], call["ended"]) for call in calls[:len(copies)]]
    assert max(start for start, _ in spans) < min(end for _, end in spans)  # side by side


def test_sigterm_stops_every_upload_and_empties_the_workspace(build: Build) -> None:
    """CodeBuild stops a build with SIGTERM (the build's timeout, or a user's Stop build). The
    script then stops the driver, which stops the uploads it forked, and empties the workspace,
    keys included, within seconds, not when the slowest upload would have ended; no process of
    the build is left behind."""
    workspace = build.build_tmp / "workspace"
    workspace.mkdir()
    command = [sys.executable, "pipeline/upload_cookbooks.py", "--key-bucket", KEY_BUCKET,
               "--parallel", "8", "--workspace", str(workspace)]
    upload = subprocess.Popen(command, cwd=build.repo, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True,
                              env={**build.env, "BERKS_UPLOAD_SECONDS": "120"})
    try:
        deadline = time.monotonic() + 60
        while len(leftover_keys(workspace)) < len(build.servers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(leftover_keys(workspace)) == len(build.servers)
        time.sleep(1)  # the uploads have been handed to the driver and forked
        upload.send_signal(signal.SIGTERM)
        output, _ = upload.communicate(timeout=30)
        assert upload.returncode == 128 + signal.SIGTERM, output
        assert list(workspace.iterdir()) == []
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:  # the stopped children are reaped by then
            try:
                os.killpg(upload.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.1)
        else:
            pytest.fail("a process of the stopped build is still running")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(upload.pid, signal.SIGKILL)  # whatever a failure left running


def test_berkshelf_that_cannot_be_loaded_fails_the_build_with_bundlers_reason(
    build: Build
) -> None:
    """When the driver cannot load Berkshelf (here Bundler finds no Gemfile), the build says why
    (Bundler's own message, then which step could not finish) and ends: no hang, no traceback, no
    key fetched."""
    rehearsal = build.run(BUNDLE_GEMFILE=str(build.build_tmp / "no-such-Gemfile"))
    assert rehearsal.returncode != 0
    assert (f"berks_fleet.rb: Berkshelf cannot be loaded with the Gemfile's gems "
            f"(BUNDLE_GEMFILE={build.build_tmp}/no-such-Gemfile): ") in rehearsal.output
    assert ("ERROR: berks install did not finish: berks_fleet.rb ended (its error is above): "
            "no server was uploaded to") in rehearsal.output
    assert "Traceback" not in rehearsal.output  # Python's
    assert ":in `" not in rehearsal.output  # Ruby's
    assert rehearsal.berks_calls == []
    assert leftover_keys(build.repo, build.build_tmp) == []


def test_keys_are_gone_and_the_artifact_holds_only_the_targets(build: Build) -> None:
    rehearsal = build.run()
    assert rehearsal.returncode == 0, rehearsal.output
    assert all(not Path(call["key"]).exists() for call in uploads(rehearsal).values())
    assert leftover_keys(build.repo, build.build_tmp) == []
    assert list(rehearsal.artifacts) == [pipeline_targets.TARGETS_FILE]
    assert b"PRIVATE KEY" not in rehearsal.artifacts[pipeline_targets.TARGETS_FILE]
    assert b'"name": "chef-02"' in rehearsal.artifacts[pipeline_targets.TARGETS_FILE]


def test_a_failing_server_fails_the_build_is_named_and_keys_are_still_removed(build: Build) -> None:
    rehearsal = build.run(BERKS_FAIL_FOR="chef-01")
    assert rehearsal.returncode != 0
    assert sorted(uploads(rehearsal)) == SERVERS  # the others were still uploaded to
    assert result_table(rehearsal.output) == {"chef-00": "ok", "chef-01": "FAILED", "chef-02": "ok"}
    assert "the upload failed for 1 of 3 server(s): chef-01" in rehearsal.output
    assert leftover_keys(build.repo, build.build_tmp) == []


def test_a_server_without_a_key_in_the_bucket_fails_alone(build: Build) -> None:
    (build.repo / ".chef/chef-nokey").mkdir()
    config = (build.repo / ".chef/chef-02/config.yml").read_text("utf-8")
    (build.repo / ".chef/chef-nokey/config.yml").write_text(
        config.replace("chef-02", "chef-nokey").replace("org2", "org9"), "utf-8")
    git_commit(build.repo, "Add chef-nokey before its key", ".chef/chef-nokey/config.yml")
    rehearsal = build.run()
    assert rehearsal.returncode != 0
    assert sorted(uploads(rehearsal)) == SERVERS
    assert f"no key copied from s3://{KEY_BUCKET}/chef-nokey/private.pem" in rehearsal.output
    assert leftover_keys(build.repo, build.build_tmp) == []


def test_a_committed_key_stops_the_build_before_any_upload(build: Build) -> None:
    key = build.repo / "cookbooks/example/files/default/deploy.pem"
    key.parent.mkdir(parents=True)
    key.write_bytes(private_key_pem())
    git_commit(build.repo, "A key that skipped the hooks", str(key.relative_to(build.repo)))
    rehearsal = build.run()
    assert rehearsal.returncode != 0
    assert "cookbooks/example/files/default/deploy.pem" in rehearsal.output
    assert rehearsal.berks_calls == []
    assert rehearsal.artifacts == {}


@pytest.mark.parametrize("decoy", ["--help", "--version"])
def test_a_file_named_like_an_option_does_not_let_a_committed_key_through(
    build: Build, decoy: str
) -> None:
    """The buildspec's `git ls-files -z | xargs -0 forbid-chef-secrets` hands every tracked name
    to the hook: a file named --help made it print its usage and exit 0 (xargs(1): the names
    become arguments in the order read)."""
    key = build.repo / "cookbooks/example/files/default/deploy_key"
    key.parent.mkdir(parents=True)
    key.write_bytes(private_key_pem())
    (build.repo / decoy).write_text("# notes\n", "utf-8")
    git_commit(build.repo, "A key and a decoy", "cookbooks/example/files/default/deploy_key", decoy)
    rehearsal = build.run()
    assert rehearsal.returncode != 0
    assert "cookbooks/example/files/default/deploy_key:1: private key" in rehearsal.output
    assert rehearsal.berks_calls == []


def test_uploads_run_side_by_side(build: Build) -> None:
    rehearsal = build.run(BERKS_UPLOAD_SECONDS="1")
    assert rehearsal.returncode == 0, rehearsal.output
    spans = [(call["started"], call["ended"]) for call in uploads(rehearsal).values()]
    assert max(start for start, _ in spans) < min(end for _, end in spans)


def test_a_server_added_with_chef_multiserver_gets_its_upload_too(
    build: Build, endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    key_digests: dict[str, str]
) -> None:
    """The lifecycle a user follows: add-server and put-key, commit, push; the build finds the new
    server by itself and uploads to it with the key put-key stored."""
    aws = {**moto_server.environment(endpoint), "AWS_CONFIG_FILE": str(tmp_path / "aws-config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "aws-credentials")}
    for variable, value in aws.items():
        monkeypatch.setenv(variable, value)
    boto3.client("s3").put_public_access_block(Bucket=KEY_BUCKET, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True})
    key = tmp_path / "chef-new.pem"
    key.write_bytes(private_key_pem())
    monkeypatch.chdir(build.repo / "cookbooks")  # anywhere inside the repository

    assert chef_multiserver(["add-server", "chef-new", "--server-region", "eu-west-1",
                             "--url", "https://chef-new.example.com/organizations/default"]) == 0
    assert chef_multiserver(["put-key", "chef-new", "--key", str(key), "--bucket", KEY_BUCKET]) == 0
    build.chef.add(build.repo, "chef-new", key.read_bytes())
    git_commit(build.repo, "Add chef-new", ".chef/chef-new/config.yml")
    chef_servers_file(Path(build.env["BERKS_SERVERS"]), build.repo, {
        **{name: key_digests[name] for name in SERVERS},
        "chef-new": hashlib.sha256(key.read_bytes()).hexdigest()})
    rehearsal = build.run(**build.chef.env())

    assert rehearsal.returncode == 0, rehearsal.output
    done = uploads(rehearsal)
    assert sorted(done) == sorted([*SERVERS, "chef-new"])
    assert done["chef-new"]["key_sha256"] == hashlib.sha256(key.read_bytes()).hexdigest()
    assert result_table(rehearsal.output, [*SERVERS, "chef-new"]) == dict.fromkeys(done, "ok")


def test_a_changed_cookbook_whose_version_did_not_rise_stops_the_build(build: Build) -> None:
    """Not started by a pipeline (no CODEBUILD_INITIATOR), the build compares with the previous
    commit; a server would keep its frozen 0.1.0 and Berkshelf would skip the change."""
    recipe = build.repo / "cookbooks/example/recipes/default.rb"
    recipe.write_text(recipe.read_text("utf-8") + "log 'changed'\n", "utf-8")
    git_commit(build.repo, "Change example, forget the version", "cookbooks/example")
    rehearsal = build.run()
    assert rehearsal.returncode != 0
    assert ("cookbooks/example/metadata.rb:6:1: cookbook 'example' changed since "
            in rehearsal.output)
    assert rehearsal.berks_calls == []
    assert rehearsal.artifacts == {}


def test_a_pipeline_history_that_cannot_be_read_stops_the_build(build: Build) -> None:
    """Started by a pipeline that moto does not know, ListPipelineExecutions fails: the check
    fails closed rather than compare with nothing."""
    rehearsal = build.run(CODEBUILD_INITIATOR="codepipeline/no-such-pipeline")
    assert rehearsal.returncode != 0
    assert "cannot read the pipeline's executions" in rehearsal.output
    assert rehearsal.berks_calls == []


# --- After the upload: roles, environments and data bag items synced, then drift refused --------
# The Chef servers are doubles (rehearsal/chef_build.py) verifying every request's signature with
# Chef's mixlib-authentication, reached by their own names over TLS verified against
# .chef/ca_certs/; what a server holds after an upload and which writes Chef's classes make are
# modelled as tests/test_cli_sync.py says.


def test_the_build_brings_every_server_in_step_writing_only_what_differs(build: Build) -> None:
    drifted = build.chef.running["chef-01"].org
    drifted.roles["example"]["description"] = "changed by hand"
    del drifted.environments["example"]
    del drifted.data_bags["example"]
    build.chef.running["chef-02"].org.roles["stray"] = {"name": "stray"}
    rehearsal = build.run()
    assert rehearsal.returncode == 0, rehearsal.output
    assert drifted.writes == [("PUT", "roles/example"), ("POST", "environments"),
                              ("POST", "data/example"), ("POST", "data"), ("POST", "data/example")]
    assert build.chef.running["chef-00"].org.writes == []
    assert build.chef.running["chef-02"].org.writes == []  # the stray role is reported, kept
    assert "chef-02: nothing to write; kept, only on the server" in rehearsal.output
    check = rehearsal.output[rehearsal.output.index("Check:"):]
    assert [line for line in check.splitlines() if line.startswith("chef-")] == [
        f"{server}: in step" for server in SERVERS]
    assert all(not server.rejections for server in build.chef.running.values())
    assert leftover_keys(build.repo, build.build_tmp) == []


def test_drift_left_after_the_build_fails_it_with_a_table_per_server(build: Build) -> None:
    cookbook = build.chef.running["chef-02"].org.cookbooks["example"]["0.1.0"]
    cookbook["all_files"][-1]["checksum"] = "0" * 32  # someone uploaded other files, same version
    rehearsal = build.run()
    assert rehearsal.returncode != 0
    check = rehearsal.output[rehearsal.output.index("Check:"):]
    assert "chef-00: in step" in check
    assert "chef-02: 1 difference" in check
    assert "frozen-version case: example 0.1.0 is frozen on the server" in check


@pytest.mark.parametrize("count", [2, 20])
def test_the_sync_and_drift_steps_for_a_fleet(
    count: int, bake: Bake, tmp_path: Path, endpoint: str
) -> None:
    names = list(make_servers(count))
    bucket = f"fleet-keys-{count}"
    digests = store_keys(endpoint, bucket, names)
    repo = bake(servers=make_servers(count), init_git=True)
    with build_servers(repo, tmp_path / "doubles", bucket_keys(endpoint, bucket, names)) as chef:
        git_commit(repo, "The servers' CA and ports", ".chef")
        for server in chef.running.values():
            server.org.roles["example"]["run_list"] = []
        accepted = chef_servers_file(tmp_path / "chef-servers.json", repo, digests)
        env = build_env(make_bin(tmp_path / "bin"), KIT_ROOT, endpoint, tmp_path / "build-tmp",
                        tmp_path / "berks.log", accepted, KEY_BUCKET=bucket,
                        UPLOAD_PARALLELISM="8", **chef.env())
        rehearsal = rehearse(repo, env, tmp_path / "berks.log")
        assert rehearsal.returncode == 0, rehearsal.output
        assert [server.org.writes for server in chef.running.values()] == [
            [("PUT", "roles/example")]] * count
        check = rehearsal.output[rehearsal.output.index("Check:"):]
        assert check.count(": in step") == count
