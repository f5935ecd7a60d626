"""The generated buildspec.yml, rehearsed (see rehearsal/buildspec.py): its commands run in bash
against moto's S3, where each server's key is stored with SSE-KMS, with this kit's real hooks, and
with a recording stand-in for ``berks`` in place of a Chef server.

The hooks forbid-chef-secrets, check-chef-server-config and check-chef-repo run in pre_build, so
every test here needs them importable from this checkout."""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
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
    git_commit,
    leftover_keys,
    make_bin,
    private_key_pem,
    rehearse,
    store_keys,
)
from rehearsal.chef_build import BuildServers, bucket_keys, build_servers
from rehearsal.moto_server import moto_endpoint
from tests.conftest import KIT_ROOT, Bake, make_servers

KEY_BUCKET = "chef-keys"
SERVERS = list(make_servers(3))


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    with moto_endpoint() as url:
        yield url


@pytest.fixture(scope="module")
def key_digests(endpoint: str) -> dict[str, str]:
    return store_keys(endpoint, KEY_BUCKET, SERVERS)


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
    chef: BuildServers

    def run(self, **variables: str) -> Rehearsal:
        return rehearse(self.repo, {**self.env, **variables}, self.berks_log)


@pytest.fixture
def build(
    bake: Bake, tmp_path: Path, endpoint: str, key_digests: dict[str, str]
) -> Iterator[Build]:
    repo = bake(servers=make_servers(3), init_git=True)
    ca_pem = ca_certificate_pem()
    (repo / ".chef/ca_certs/chef-ca.crt").write_bytes(ca_pem)
    keys = bucket_keys(endpoint, KEY_BUCKET, SERVERS)
    with build_servers(repo, tmp_path / "doubles", keys) as chef:
        git_commit(repo, "Trust the Chef servers' CA; the servers' ports", ".chef")
        berks_log = tmp_path / "berks.log"
        env = build_env(make_bin(tmp_path / "bin"), KIT_ROOT, endpoint, tmp_path / "build-tmp",
                        berks_log, KEY_BUCKET=KEY_BUCKET, UPLOAD_PARALLELISM="3", **chef.env())
        yield Build(repo, tmp_path / "build-tmp", berks_log, env, ca_pem.decode(), chef)


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


def test_each_server_gets_one_upload_with_its_own_key_over_verified_tls(
    build: Build, key_digests: dict[str, str]
) -> None:
    rehearsal = build.run()
    assert rehearsal.returncode == 0, rehearsal.output
    installs = [call for call in rehearsal.berks_calls if call["argv"][0] == "install"]
    assert [Path(call["cwd"]) for call in installs] == [build.repo]  # once, in the checkout
    done = uploads(rehearsal)
    assert sorted(done) == SERVERS
    for server, call in done.items():
        workspace = Path(call["cwd"])
        assert call["argv"] == ["upload", "--berksfile", str(workspace / "Berksfile")]
        assert call["key_sha256"] == key_digests[server]
        assert call["key_mode"] == "0o600"
        assert build.ca_pem in call["ca_bundle"]  # the servers' CA...
        assert call["ca_bundle"].count("BEGIN CERTIFICATE") > 1  # ...and the system's
        assert not workspace.is_relative_to(build.repo)
    assert len({call["cwd"] for call in done.values()}) == len(SERVERS)
    assert len({call["berkshelf_path"] for call in done.values()}) == len(SERVERS)
    assert result_table(rehearsal.output) == dict.fromkeys(SERVERS, "ok")


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
    (build.repo / ".chef/chef-03").mkdir()
    config = (build.repo / ".chef/chef-02/config.yml").read_text("utf-8")
    (build.repo / ".chef/chef-03/config.yml").write_text(
        config.replace("chef-02", "chef-03").replace("org2", "org3"), "utf-8")
    git_commit(build.repo, "Add chef-03 before its key", ".chef/chef-03/config.yml")
    rehearsal = build.run()
    assert rehearsal.returncode != 0
    assert sorted(uploads(rehearsal)) == SERVERS
    assert f"no key copied from s3://{KEY_BUCKET}/chef-03/private.pem" in rehearsal.output
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
    build: Build, endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
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
    rehearsal = build.run(**build.chef.env())

    assert rehearsal.returncode == 0, rehearsal.output
    done = uploads(rehearsal)
    assert sorted(done) == sorted([*SERVERS, "chef-new"])
    assert done["chef-new"]["key_sha256"] == hashlib.sha256(key.read_bytes()).hexdigest()
    assert result_table(rehearsal.output, [*SERVERS, "chef-new"]) == dict.fromkeys(done, "ok")


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
    store_keys(endpoint, bucket, names)
    repo = bake(servers=make_servers(count), init_git=True)
    with build_servers(repo, tmp_path / "doubles", bucket_keys(endpoint, bucket, names)) as chef:
        git_commit(repo, "The servers' CA and ports", ".chef")
        for server in chef.running.values():
            server.org.roles["example"]["run_list"] = []
        env = build_env(make_bin(tmp_path / "bin"), KIT_ROOT, endpoint, tmp_path / "build-tmp",
                        tmp_path / "berks.log", KEY_BUCKET=bucket, UPLOAD_PARALLELISM="8",
                        **chef.env())
        rehearsal = rehearse(repo, env, tmp_path / "berks.log")
        assert rehearsal.returncode == 0, rehearsal.output
        assert [server.org.writes for server in chef.running.values()] == [
            [("PUT", "roles/example")]] * count
        check = rehearsal.output[rehearsal.output.index("Check:"):]
        assert check.count(": in step") == count
