"""chef-multiserver doctor: a row per server (config, CA certificate, key in the bucket, TLS) and
the stack, against moto and two local TLS servers, one of them signed by a CA the repository does
not trust."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.cli_fakes import (
    KIT_URL,
    SERVERS,
    Result,
    aws_client,
    make_ca,
    make_server_cert,
    pem,
    private_bucket,
    run,
    tls_server,
)
from tests.conftest import bake_into

pytest_plugins = ("tests.cli_fixtures",)

BUCKET = "chef-keys"
STACK = "chef-pipeline"
TEMPLATE = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"KeyBucket": {"Type": "String"}},
    "Resources": {"ArtifactBucket": {"Type": "AWS::S3::Bucket"}},
}


def host(name: str) -> str:
    return SERVERS[name]["server"].split("/")[2]


def doctor(capsys: pytest.CaptureFixture[str], *extra: str, ports: dict[str, int]) -> Result:
    routes = [f"--connect-to={host(name)}:443:127.0.0.1:{port}" for name, port in ports.items()]
    return run(capsys, "doctor", *routes, *extra)


def upload_key(name: str, **encryption: str) -> None:
    aws_client("s3").put_object(
        Bucket=BUCKET, Key=f"{name}/private.pem", Body=b"stand-in for a key", **encryption
    )


def row(out: str, name: str) -> list[str]:
    (line,) = [line for line in out.splitlines() if line.startswith(f"{name} ")]
    return line.split()


def test_all_well(repo: Path, aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = make_ca("Chef Servers CA")
    for name in SERVERS:
        (repo / f".chef/ca_certs/{name}.crt").write_bytes(pem(ca.certificate))
    private_bucket(BUCKET)
    for name in SERVERS:
        upload_key(name, ServerSideEncryption="AES256")
    aws_client("cloudformation").create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(TEMPLATE),
        Parameters=[{"ParameterKey": "KeyBucket", "ParameterValue": BUCKET}],
    )
    east = make_server_cert(ca, host("chef-east"))
    west = make_server_cert(ca, host("chef-west"))

    with (
        tls_server(east, [ca.certificate], tmp_path / "east") as east_port,
        tls_server(west, [], tmp_path / "west") as west_port,
    ):
        code, out, err = doctor(
            capsys, "--stack", STACK, ports={"chef-east": east_port, "chef-west": west_port}
        )

    assert code == 0, out + err
    assert out.splitlines()[0].split() == ["server", "config", "CA", "key", "TLS"]
    assert row(out, "chef-east") == ["chef-east", "ok", "ok", "ok", "ok"]
    assert row(out, "chef-west") == ["chef-west", "ok", "ok", "ok", "ok"]
    assert "status: CREATE_COMPLETE" in out
    assert f"parameter KeyBucket: {BUCKET}" in out  # where the keys were looked for
    assert "All checks passed." in out


def test_flags_a_server_whose_certificate_the_stored_ca_does_not_sign(
    repo: Path, aws: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    trusted = make_ca("Chef Servers CA")
    other = make_ca("Someone Else's CA")
    for name in SERVERS:
        (repo / f".chef/ca_certs/{name}.crt").write_bytes(pem(trusted.certificate))
    private_bucket(BUCKET)
    upload_key("chef-east", ServerSideEncryption="aws:kms")

    with (
        tls_server(make_server_cert(trusted, host("chef-east")), [], tmp_path / "e") as east_port,
        tls_server(make_server_cert(other, host("chef-west")), [], tmp_path / "w") as west_port,
    ):
        code, out, _ = doctor(
            capsys, "--key-bucket", BUCKET, ports={"chef-east": east_port, "chef-west": west_port}
        )

    assert code == 1
    assert row(out, "chef-east") == ["chef-east", "ok", "ok", "ok", "ok"]
    assert row(out, "chef-west") == ["chef-west", "ok", "ok", "missing", "FAIL"]
    advice = out.split("To do:")[1]
    assert "chef-west: TLS to https://chef-west.example.com" in advice
    assert "certificate not trusted" in advice
    assert f"chef-multiserver put-key chef-west --key PATH --bucket {BUCKET}" in advice
    assert "chef-east" not in advice


def test_offline_with_a_broken_config_a_missing_ca_and_an_unencrypted_key(
    repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / ".chef/ca_certs/chef-east.crt").write_bytes(pem(make_ca("CA").certificate))
    west_config = repo / ".chef/chef-west/config.yml"
    west_config.write_text(west_config.read_text("utf-8").replace("us-west-2", "mars-1"))
    private_bucket(BUCKET)
    upload_key("chef-east")  # moto, unlike S3 since 2023, stores an object unencrypted
    upload_key("chef-west", ServerSideEncryption="AES256")

    code, out, _ = doctor(capsys, "--offline", "--key-bucket", BUCKET, ports={})

    assert code == 1
    assert row(out, "chef-east") == ["chef-east", "ok", "ok", "unencrypted", "skipped"]
    assert row(out, "chef-west") == ["chef-west", "FAIL", "missing", "ok", "skipped"]
    advice = out.split("To do:")[1]
    # The config column says what check-chef-server-config says.
    assert "chef-west: .chef/chef-west/config.yml:2:9: region: 'mars-1' is not allowed" in advice
    assert "chef-west: no .chef/ca_certs/chef-west.crt" in advice
    assert "s3://chef-keys/chef-east/private.pem is not encrypted" in advice


def test_a_stack_that_does_not_exist(
    repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = doctor(capsys, "--offline", "--stack", STACK, ports={})

    assert code == 1
    assert row(out, "chef-east")[3] == "skipped"  # no bucket given, none from a stack
    assert f"stack {STACK}: create it with chef-multiserver deploy --stack {STACK}" in out


@pytest.mark.parametrize(
    ("make_bucket", "message"),
    [
        (False, "key bucket: bucket chef-keys does not exist"),
        (True, "key bucket: bucket chef-keys does not block all public access"),
    ],
    ids=["missing", "public"],
)
def test_a_key_bucket_that_is_missing_or_not_private(
    repo: Path, aws: str, capsys: pytest.CaptureFixture[str], make_bucket: bool, message: str
) -> None:
    if make_bucket:
        aws_client("s3").create_bucket(Bucket=BUCKET)

    code, out, _ = doctor(capsys, "--offline", "--key-bucket", BUCKET, ports={})

    assert code == 1
    assert row(out, "chef-east")[3] == "FAIL"
    assert message in out
    assert "put-key" not in out  # the bucket is what needs fixing


def test_reports_a_kit_source_the_pipeline_cannot_reach(
    aws: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A repository generated with the kit taken from a directory of this machine: its buildspec
    installs from a file:// URL, which CodeBuild cannot fetch."""
    kit_copy = tmp_path / "kit-clone"
    kit_copy.mkdir()
    repo = bake_into(tmp_path / "out", servers=SERVERS, kit_repo_url=str(kit_copy))
    for name in SERVERS:
        (repo / f".chef/ca_certs/{name}.crt").write_bytes(pem(make_ca("CA").certificate))
    monkeypatch.chdir(repo)

    code, out, _ = run(capsys, "doctor", "--offline")

    assert code == 1
    assert f"Kit: {kit_copy.as_uri()} at " in out
    (advice,) = [line for line in out.split("To do:")[1].splitlines() if "kit:" in line]
    assert "CodeBuild cannot reach" in advice
    assert "KIT_REPO_URL in buildspec.yml" in advice


def test_a_kit_url_the_pipeline_can_reach_passes(
    repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in SERVERS:
        (repo / f".chef/ca_certs/{name}.crt").write_bytes(pem(make_ca("CA").certificate))

    code, out, err = run(capsys, "doctor", "--offline")

    assert code == 0, out + err
    assert f"Kit: {KIT_URL} at " in out


def test_reports_hooks_and_pipeline_that_install_different_kits(
    repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in SERVERS:
        (repo / f".chef/ca_certs/{name}.crt").write_bytes(pem(make_ca("CA").certificate))
    config = repo / ".pre-commit-config.yaml"
    pinned = yaml.safe_load(config.read_text("utf-8"))["repos"][0]["rev"]
    config.write_text(config.read_text("utf-8").replace(pinned, "v9.9.9"), "utf-8")

    code, out, _ = run(capsys, "doctor", "--offline")

    assert code == 1
    assert (
        f"kit: .pre-commit-config.yaml installs the hooks from {KIT_URL} at v9.9.9, "
        f"buildspec.yml the kit from {KIT_URL} at {pinned}: make them the same"
    ) in out


def test_configs_yaml_cannot_build_are_each_one_finding(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, old, new in (("chef-east", '"us-east-1"', "2020-13-45"),
                           ("chef-west", '"chef-pipeline"', "!!int x")):
        config = repo / f".chef/{name}/config.yml"
        config.write_text(config.read_text("utf-8").replace(old, new), "utf-8")

    code, out, err = doctor(capsys, "--offline", ports={})

    assert code == 1
    assert [row(out, name)[1] for name in ("chef-east", "chef-west")] == ["FAIL", "FAIL"]
    advice = out.split("To do:")[1]
    assert ("chef-east: .chef/chef-east/config.yml:2:9: invalid YAML: '2020-13-45' is not a valid "
            "timestamp") in advice
    assert ("chef-west: .chef/chef-west/config.yml:3:12: invalid YAML: 'x' is not a valid "
            "int") in advice
    assert "Traceback" not in err
