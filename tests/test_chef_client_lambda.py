"""The pipeline's Lambda, imported from the template, against moto: tagged EC2 instances in two
regions, SSM's send_command and list_commands, and the build's targets artifact in S3.
(tests/test_chef_client_rollout.py drives it against an SSM double of the documented waves,
timeouts and statuses, which moto does not model.)

Faked where moto is silent, and only there:
- CodePipeline's job API (put_job_success_result, put_job_failure_result) goes to botocore's
  Stubber, which records what the function reported;
- moto has no ssm list_command_invocations or describe_instance_information: a before-call hook on
  each answers it from moto's own record (of the command's invocations; of the running EC2
  instances carrying the tag, as SSM lists no stopped node); a Stubber would take over the whole
  client;
- moto finishes every command at once with Success on every node: to play a chef-client that is
  still running, or that fails on a node, a test edits that command in moto's backend.

The job event and the results are CodePipeline's own: the event's ``CodePipeline.job`` (id,
data.inputArtifacts with their S3 location, continuationToken) as
https://docs.aws.amazon.com/codepipeline/latest/userguide/actions-invoke-lambda-function.html shows
it; PutJobSuccessResult / PutJobFailureResult as
https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PutJobSuccessResult.html and
API_PutJobFailureResult.html define them. What moto leaves out: its SSM coverage list,
https://docs.getmoto.org/en/latest/docs/services/ssm.html.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.stub import Stubber
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.ssm.models import ssm_backends

from chef_multiserver import pipeline_targets
from tests.conftest import bake_into, load_yaml
from tests.lambda_rollout import LAMBDA_SOURCE, load_chef_client

JOB_ID = "11111111-2222-3333-4444-555555555555"
BUCKET = "pipeline-artifacts"
ARTIFACT_KEY = "chef-pipeline/ChefTargets/build.zip"
ARTIFACT_SECRET = "artifact-secret-never-logged"
AMI = "ami-12c6146b"
NODES = {"us-east-1": ("chef-east", 2), "us-west-2": ("chef-west", 1)}


@pytest.fixture(scope="module")
def chef_client() -> ModuleType:
    return load_chef_client()


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, str]]:
    """What the build hands the Lambda for the template's example servers, east and west."""
    repo = bake_into(tmp_path_factory.mktemp("lambda"))
    output = repo / pipeline_targets.TARGETS_FILE
    assert pipeline_targets.main(["--repo", str(repo), "--output", str(output)]) == 0
    servers: list[dict[str, str]] = json.loads(output.read_text("utf-8"))["servers"]
    return servers


def put_artifact(servers: list[dict[str, str]]) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as artifact:
        artifact.writestr(pipeline_targets.TARGETS_FILE, json.dumps({"servers": servers}))
    boto3.client("s3").put_object(Bucket=BUCKET, Key=ARTIFACT_KEY, Body=archive.getvalue())


def list_invocations_from_moto(
    params: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]]:
    region = params["context"]["client_region"]
    command = ssm_backends[DEFAULT_ACCOUNT_ID][region].get_command_by_id(
        json.loads(params["body"])["CommandId"])
    return AWSResponse("", 200, HTTPHeaders(), None), {"CommandInvocations": command.invocations}


def describe_instances_from_moto(
    params: dict[str, Any], **_: Any
) -> tuple[AWSResponse, dict[str, Any]]:
    region = params["context"]["client_region"]
    [tag] = json.loads(params["body"])["Filters"]
    key = tag["Key"].removeprefix("tag:")
    nodes = [{"InstanceId": instance.id, "PingStatus": "Online"}
             for instance in ec2_backends[DEFAULT_ACCOUNT_ID][region].all_instances()
             if instance.state == "running" and any(
                 t["key"] == key and t["value"] in tag["Values"] for t in instance.get_tags())]
    return AWSResponse("", 200, HTTPHeaders(), None), {"InstanceInformationList": nodes}


@pytest.fixture
def aws(
    chef_client: ModuleType, targets: list[dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("CHEF_CLIENT_TIMEOUT_SECONDS", "1800")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        chef_client.client.cache_clear()
        for region, (server, count) in NODES.items():
            ec2 = boto3.client("ec2", region_name=region)
            ec2.run_instances(ImageId=AMI, MinCount=count, MaxCount=count, TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "chef-server", "Value": server}]}])
            ec2.run_instances(ImageId=AMI, MinCount=1, MaxCount=1)  # a node of no Chef server
            events = chef_client.client("ssm", region).meta.events
            events.register("before-call.ssm.ListCommandInvocations", list_invocations_from_moto)
            events.register("before-call.ssm.DescribeInstanceInformation",
                            describe_instances_from_moto)
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        put_artifact(targets)
        yield
    chef_client.client.cache_clear()


def job_event(token: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "actionConfiguration": {"configuration": {"FunctionName": "chef-client"}},
        "inputArtifacts": [{"name": "ChefTargets", "location": {
            "type": "S3", "s3Location": {"bucketName": BUCKET, "objectKey": ARTIFACT_KEY}}}],
        "artifactCredentials": {"accessKeyId": "testing", "secretAccessKey": ARTIFACT_SECRET,
                                "sessionToken": "artifact-session"},
    }
    if token is not None:
        data["continuationToken"] = token
    return {"CodePipeline.job": {"id": JOB_ID, "accountId": DEFAULT_ACCOUNT_ID, "data": data}}


def invoke(chef_client: ModuleType, event: dict[str, Any], reported: str) -> dict[str, Any]:
    """Run the handler, expecting it to report the job once with ``reported``; its parameters."""
    pipeline = chef_client.client("codepipeline", "us-east-1")
    calls: list[dict[str, Any]] = []
    pipeline.meta.events.register("provide-client-params.codepipeline.*",
                                  lambda params, **_: calls.append(params))
    with Stubber(pipeline) as stub:
        stub.add_response(reported, {})
        chef_client.handler(event, None)
        stub.assert_no_pending_responses()
    pipeline.meta.events.unregister("provide-client-params.codepipeline.*")
    assert len(calls) == 1
    return calls[0]


def commands(region: str) -> list[Any]:
    return list(boto3.client("ssm", region_name=region).list_commands()["Commands"])


def moto_command(region: str) -> Any:
    [command] = ssm_backends[DEFAULT_ACCOUNT_ID][region]._commands
    return command


def test_first_call_sends_one_command_per_server_in_its_region(
    chef_client: ModuleType, aws: None, capsys: pytest.CaptureFixture[str]
) -> None:
    reported = invoke(chef_client, job_event(), "put_job_success_result")
    token = json.loads(reported["continuationToken"])
    for region, (server, count) in NODES.items():
        [command] = commands(region)
        assert command["DocumentName"] == "AWS-RunShellScript"
        assert command["Parameters"]["commands"] == ["chef-client"]
        assert command["Targets"] == [{"Key": "tag:chef-server", "Values": [server]}]
        assert (command["MaxConcurrency"], command["MaxErrors"]) == ("10%", "0")
        # 10% of 2 nodes or of 1: one node at a time, so 2 waves or 1, a minute each to deliver
        assert command["TimeoutSeconds"] == {2: 1800 + 2 * 60, 1: 60}[count]
        assert command["Parameters"]["executionTimeout"] == ["1800"]
        assert command["TargetCount"] == count  # moto resolved the tag to this region's nodes
        assert command["Comment"] == f"chef-client {JOB_ID[:8]} {server}"
    assert token["job"] == JOB_ID[:8]
    assert token["sent"] == {"us-east-1": 1, "us-west-2": 1}
    assert ARTIFACT_SECRET not in capsys.readouterr().out


def test_running_commands_keep_the_job_in_progress(chef_client: ModuleType, aws: None) -> None:
    token = invoke(chef_client, job_event(), "put_job_success_result")["continuationToken"]
    moto_command("us-west-2").status = "InProgress"
    reported = invoke(chef_client, job_event(token), "put_job_success_result")
    assert reported["continuationToken"] == token
    assert reported["executionDetails"]["summary"].endswith("; 1 server(s) still running")


def test_finished_commands_succeed_the_job_with_a_summary(
    chef_client: ModuleType, aws: None
) -> None:
    token = invoke(chef_client, job_event(), "put_job_success_result")["continuationToken"]
    reported = invoke(chef_client, job_event(token), "put_job_success_result")
    assert "continuationToken" not in reported
    summary = reported["executionDetails"]["summary"]
    assert "chef-east (us-east-1): Success, 2 node(s)" in summary
    assert "chef-west (us-west-2): Success, 1 node(s)" in summary


def test_a_failed_node_fails_the_job_naming_its_server_and_node(
    chef_client: ModuleType, aws: None
) -> None:
    token = invoke(chef_client, job_event(), "put_job_success_result")["continuationToken"]
    command = moto_command("us-east-1")
    command.status = "Failed"
    failed_node = command.invocations[0]
    failed_node.update(Status="Failed", StatusDetails="Failed")
    reported = invoke(chef_client, job_event(token), "put_job_failure_result")
    message = reported["failureDetails"]["message"]
    assert message.splitlines() == [
        "chef-client succeeded on 2 of 3 node(s); 1 of 2 server(s) failed",
        "chef-east (us-east-1): Failed, 2 node(s) targeted: 1 Failed, 1 Success",
        "chef-west (us-west-2): Success, 1 node(s) targeted: 1 Success",
        f"chef-east, 1 Failed (chef-client failed): {failed_node['InstanceId']}"]


def test_an_error_fails_the_job_with_its_message(chef_client: ModuleType, aws: None) -> None:
    boto3.client("s3").delete_object(Bucket=BUCKET, Key=ARTIFACT_KEY)
    reported = invoke(chef_client, job_event(), "put_job_failure_result")
    assert reported["failureDetails"] == {
        "type": "JobFailed", "message": reported["failureDetails"]["message"]}
    assert "NoSuchKey" in reported["failureDetails"]["message"]
    assert commands("us-east-1") == []


def test_a_bad_timeout_fails_the_job_before_anything_is_sent(
    chef_client: ModuleType, aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHEF_CLIENT_TIMEOUT_SECONDS", "ten")
    reported = invoke(chef_client, job_event(), "put_job_failure_result")
    assert reported["failureDetails"]["message"] == (
        "CHEF_CLIENT_TIMEOUT_SECONDS='ten' must be a number of seconds, at least 30")
    assert commands("us-east-1") == commands("us-west-2") == []


def test_a_hundred_servers_fit_in_one_job(chef_client: ModuleType, aws: None) -> None:
    """The token says where to look for the commands, not which they are: its 2048 characters
    would hold the ids of about 50."""
    east_nodes = {"key": "chef-server", "value": "chef-east"}
    put_artifact([pipeline_targets.server_target(
        f"chef-{n:03d}", {"region": "us-east-1", "node_tag": east_nodes}) for n in range(100)])
    token = invoke(chef_client, job_event(), "put_job_success_result")["continuationToken"]
    assert len(token) < 100
    reported = invoke(chef_client, job_event(token), "put_job_success_result")
    assert "continuationToken" not in reported
    assert len(commands("us-east-1")) == 100


def test_commands_ssm_never_lists_fail_the_job(chef_client: ModuleType, aws: None) -> None:
    """A token whose commands SSM has not listed for longer than it ever takes."""
    sent = {"job": "00000000", "since": "2026-01-01T00:00:00Z", "sent": {"us-east-1": 2},
            "until": 1767229200}
    token = json.dumps(sent)
    reported = invoke(chef_client, job_event(token), "put_job_failure_result")
    assert reported["failureDetails"]["message"].startswith(
        "SSM does not list 2 of the 2 chef-client command(s) sent at 2026-01-01T00:00:00Z")


def test_a_foreign_continuation_token_fails_the_job(chef_client: ModuleType, aws: None) -> None:
    reported = invoke(chef_client, job_event("not json"), "put_job_failure_result")
    assert "continuation token is not this function's" in reported["failureDetails"]["message"]


def test_throttled_calls_are_retried_adaptively(chef_client: ModuleType, aws: None) -> None:
    for service, region in (("ssm", "us-east-1"), ("codepipeline", None)):
        assert chef_client.client(service, region).meta.config.retries["mode"] == "adaptive"


def test_a_dead_endpoint_leaves_time_to_report(chef_client: ModuleType, tmp_path: Path) -> None:
    """Every call gives up within CALL_SECONDS (botocore's connect and read timeouts, per
    attempt); the function stops working RESERVE_SECONDS before its timeout, time for one call
    under way and every report attempt, and still has most of its time to work."""
    config = chef_client.client("ssm", "us-east-1").meta.config
    attempts = config.retries["total_max_attempts"]
    assert attempts * (config.connect_timeout + config.read_timeout) < chef_client.CALL_SECONDS
    assert chef_client.RESERVE_SECONDS == chef_client.CALL_SECONDS * (
        1 + chef_client.REPORT_ATTEMPTS)
    template = load_yaml((bake_into(tmp_path) / "cloudformation/pipeline.yml").read_text("utf-8"))
    timeout = template["Resources"]["ChefClientFunction"]["Properties"]["Timeout"]
    assert timeout == chef_client.DEFAULT_SECONDS <= 20 * 60
    assert timeout - chef_client.RESERVE_SECONDS >= timeout / 2


def test_the_module_is_the_generated_repositorys_lambda(
    chef_client: ModuleType, tmp_path: Path
) -> None:
    """The file the tests import is the one every generated repository gets."""
    repo = bake_into(tmp_path)
    assert chef_client.__file__ == str(LAMBDA_SOURCE)
    assert (repo / "pipeline/chef_client.py").read_bytes() == LAMBDA_SOURCE.read_bytes()
