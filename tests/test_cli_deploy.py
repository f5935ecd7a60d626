"""chef-multiserver deploy: create, update, nothing to change, a failed deploy and a stack left in
ROLLBACK_COMPLETE.

moto's CloudFormation runs change sets, but it never fails one (its execute_change_set has no
rollback) and leaves the Outputs of change-set stacks empty. So moto serves create, update,
no-change and (with the stack's status set in moto's backend, as CloudFormation leaves a failed
create) ROLLBACK_COMPLETE; a failed deploy and the printed outputs use botocore's Stubber.
The template is a small one with S3 and IAM resources only, which moto creates for real.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto.cloudformation.models import cloudformation_backends
from moto.core.models import DEFAULT_ACCOUNT_ID

from chef_multiserver.cli import aws as cli_aws
from chef_multiserver.cli import deploy as cli_deploy
from rehearsal.moto_server import REGION
from tests.cli_fakes import Result, aws_client, private_bucket, run

pytest_plugins = ("tests.cli_fixtures",)

STACK = "chef-pipeline"


def template(*, with_role: bool = False) -> str:
    resources: dict[str, Any] = {"ArtifactBucket": {"Type": "AWS::S3::Bucket"}}
    if with_role:
        resources["BuildRole"] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {
                            "Effect": "Allow",
                            "Principal": {"Service": "codebuild.amazonaws.com"},
                            "Action": "sts:AssumeRole",
                        }
                    ],
                }
            },
        }
    return json.dumps(
        {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Parameters": {
                "KeyBucket": {"Type": "String"},
                "Branch": {"Type": "String", "Default": "main"},
            },
            "Resources": resources,
            "Outputs": {"PipelineName": {"Value": {"Fn::Sub": "${AWS::StackName}-pipeline"}}},
        }
    )


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli_deploy, "POLL_SECONDS", 0)


@pytest.fixture
def pipeline_repo(repo: Path) -> Path:
    (repo / "cloudformation/pipeline.yml").write_text(template(), "utf-8")
    return repo


def deploy(capsys: pytest.CaptureFixture[str], *extra: str) -> Result:
    return run(capsys, "deploy", "--stack", STACK, "--key-bucket", "chef-keys", *extra)


def stack() -> dict[str, Any]:
    found: dict[str, Any] = aws_client("cloudformation").describe_stacks(StackName=STACK)["Stacks"][
        0
    ]
    return found


def parameters() -> dict[str, str]:
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack()["Parameters"]}


def test_creates_the_stack_through_a_change_set(
    pipeline_repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = deploy(capsys)

    assert code == 0, err
    assert stack()["StackStatus"] == "CREATE_COMPLETE"
    assert parameters() == {"KeyBucket": "chef-keys", "Branch": "main"}
    assert "Add      ArtifactBucket (AWS::S3::Bucket)" in out
    assert f"Stack {STACK}: CREATE_COMPLETE" in out
    assert "CREATE_COMPLETE" in out.split("Creating stack")[1]  # the events, as they came


def test_a_template_over_the_inline_limit_is_read_from_the_key_bucket(
    pipeline_repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """CloudFormation refuses a TemplateBody over 51,200 bytes ("must be deployed via an S3
    Bucket", cloudformation-limits.html): the template goes to the key bucket, read by TemplateURL
    (which moto's CloudFormation resolves from its own S3)."""
    private_bucket("chef-keys")
    path = pipeline_repo / "cloudformation/pipeline.yml"
    padded = path.read_text("utf-8") + "# why this line is here\n" * 2_500
    path.write_text(padded, "utf-8")
    assert len(padded.encode()) > cli_deploy.TEMPLATE_BODY_LIMIT

    code, out, err = deploy(capsys)

    assert code == 0, err
    assert stack()["StackStatus"] == "CREATE_COMPLETE"
    (stored,) = aws_client("s3").list_objects_v2(Bucket="chef-keys")["Contents"]
    assert stored["Key"].startswith(f"cloudformation/{STACK}/")
    assert f"it is read from s3://chef-keys/{stored['Key']}" in out


def test_updates_keeping_the_parameters_not_given(
    pipeline_repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy(capsys, "--parameter", "Branch=release").code == 0
    (pipeline_repo / "cloudformation/pipeline.yml").write_text(template(with_role=True), "utf-8")

    code, out, err = deploy(capsys)

    assert code == 0, err
    assert stack()["StackStatus"] == "UPDATE_COMPLETE"
    assert parameters() == {"KeyBucket": "chef-keys", "Branch": "release"}
    assert "Add      BuildRole (AWS::IAM::Role)" in out
    role = aws_client("cloudformation").describe_stack_resource(
        StackName=STACK, LogicalResourceId="BuildRole"
    )["StackResourceDetail"]["PhysicalResourceId"]
    assert aws_client("iam").get_role(RoleName=role)["Role"]["RoleName"] == role


def test_says_so_when_there_is_nothing_to_change(
    pipeline_repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy(capsys).code == 0

    code, out, err = deploy(capsys)

    assert code == 0, err
    assert f"Nothing to change: stack {STACK} already matches" in out
    assert stack()["StackStatus"] == "CREATE_COMPLETE"
    change_sets = aws_client("cloudformation").list_change_sets(StackName=STACK)["Summaries"]
    assert all(summary["ExecutionStatus"] == "EXECUTE_COMPLETE" for summary in change_sets)


def test_refuses_a_parameter_the_template_does_not_have(
    pipeline_repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = deploy(capsys, "--parameter", "Brnach=main")

    assert code == 1
    assert "has no parameter Brnach: its parameters are Branch, KeyBucket" in err


def set_status_in_moto(status: str) -> None:
    backend = cloudformation_backends[DEFAULT_ACCOUNT_ID][REGION]
    (found,) = [s for s in backend.stacks.values() if s.name == STACK]
    found.status = status


def test_explains_a_stack_in_rollback_complete_and_leaves_it(
    pipeline_repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy(capsys).code == 0
    set_status_in_moto("ROLLBACK_COMPLETE")

    code, _out, err = deploy(capsys)

    assert code == 1
    assert "ROLLBACK_COMPLETE: its creation failed" in err
    assert f"aws cloudformation delete-stack --stack-name {STACK} --region {REGION}" in err
    assert "--replace-failed" in err
    # One line of advice, after the line saying what it waited for.
    assert err.splitlines()[0].startswith("chef-multiserver: waiting for CloudFormation at ")
    assert len(err.strip().splitlines()) == 2
    assert stack()["StackStatus"] == "ROLLBACK_COMPLETE"


def test_replace_failed_deletes_and_creates_again(
    pipeline_repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert deploy(capsys).code == 0
    set_status_in_moto("ROLLBACK_COMPLETE")

    code, out, err = deploy(capsys, "--replace-failed")

    assert code == 0, err
    assert f"Deleting stack {STACK}" in out
    assert stack()["StackStatus"] == "CREATE_COMPLETE"


def test_missing_template(repo: Path, aws: str, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "cloudformation/pipeline.yml").unlink()

    code, _, err = deploy(capsys)

    assert code == 1
    assert "cannot read cloudformation/pipeline.yml" in err


def test_a_template_that_is_a_fifo_is_refused_without_waiting(
    repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    template = repo / "cloudformation/pipeline.yml"
    template.unlink()
    os.mkfifo(template)  # reading it would wait for a writer forever

    code, _, err = deploy(capsys)

    assert code == 1
    assert "cannot read cloudformation/pipeline.yml: it is not a regular file" in err


# --- What moto cannot do: fail, and report outputs (botocore Stubber) ----------------------------

STACK_ID = f"arn:aws:cloudformation:{REGION}:{DEFAULT_ACCOUNT_ID}:stack/{STACK}/1"
CHANGE_SET_ID = f"arn:aws:cloudformation:{REGION}:{DEFAULT_ACCOUNT_ID}:changeSet/cs/1"
START = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.timezone.utc)


def event(number: int, resource: str, status: str, reason: str = "") -> dict[str, Any]:
    return {
        "StackId": STACK_ID,
        "EventId": f"event-{number}",
        "StackName": STACK,
        "LogicalResourceId": resource,
        "ResourceType": "AWS::CloudFormation::Stack" if resource == STACK else "AWS::S3::Bucket",
        "Timestamp": START + datetime.timedelta(seconds=number),
        "ResourceStatus": status,
        **({"ResourceStatusReason": reason} if reason else {}),
    }


def stack_description(status: str, outputs: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {
        "Stacks": [
            {
                "StackId": STACK_ID,
                "StackName": STACK,
                "CreationTime": START,
                "StackStatus": status,
                "Outputs": outputs or [],
            }
        ]
    }


@pytest.fixture
def stubbed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubber]:
    """The CloudFormation client of the CLI, answering only what the test queues."""
    client = boto3.client(
        "cloudformation",
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    monkeypatch.setattr(cli_aws, "client", lambda _aws, _service: client)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def queue_change_set(stubber: Stubber, events_before: list[dict[str, Any]]) -> None:
    stubber.add_client_error(
        "describe_stacks",
        "ValidationError",
        f"Stack with id {STACK} does not exist",
    )
    stubber.add_response("get_template_summary", {"Parameters": [{"ParameterKey": "KeyBucket"}]})
    stubber.add_response("create_change_set", {"Id": CHANGE_SET_ID, "StackId": STACK_ID})
    stubber.add_response(
        "describe_change_set",
        {"ChangeSetId": CHANGE_SET_ID, "Status": "CREATE_PENDING", "Changes": []},
    )
    stubber.add_response(
        "describe_change_set",
        {
            "ChangeSetId": CHANGE_SET_ID,
            "Status": "CREATE_COMPLETE",
            "Changes": [
                {
                    "Type": "Resource",
                    "ResourceChange": {
                        "Action": "Add",
                        "LogicalResourceId": "ArtifactBucket",
                        "ResourceType": "AWS::S3::Bucket",
                    },
                }
            ],
        },
    )
    stubber.add_response("describe_stack_events", {"StackEvents": events_before})
    stubber.add_response("execute_change_set", {})


def test_a_failed_create_prints_each_failed_resources_reason(
    pipeline_repo: Path, stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    review = event(1, STACK, "REVIEW_IN_PROGRESS", "User Initiated")
    queue_change_set(stubbed, [review])
    progress = [
        event(3, "ArtifactBucket", "CREATE_IN_PROGRESS"),
        event(2, STACK, "CREATE_IN_PROGRESS", "User Initiated"),
    ]
    stubbed.add_response("describe_stacks", stack_description("CREATE_IN_PROGRESS"))
    stubbed.add_response("describe_stack_events", {"StackEvents": [*progress, review]})
    failed = [
        event(6, STACK, "ROLLBACK_COMPLETE"),
        event(5, "ArtifactBucket", "DELETE_COMPLETE"),
        event(4, "ArtifactBucket", "CREATE_FAILED", "chef-artifacts already exists"),
    ]
    stubbed.add_response("describe_stacks", stack_description("ROLLBACK_COMPLETE"))
    stubbed.add_response("describe_stack_events", {"StackEvents": [*failed, *progress, review]})

    code, out, _err = deploy(capsys)

    assert code == 1
    # Each event once, oldest first, as it arrived; the one before the deploy not at all.
    assert out.count("CREATE_IN_PROGRESS") == 2
    assert "REVIEW_IN_PROGRESS" not in out
    assert (
        out.index("CREATE_IN_PROGRESS") < out.index("CREATE_FAILED") < out.index("DELETE_COMPLETE")
    )
    assert (
        "Failed resources:\n  ArtifactBucket (AWS::S3::Bucket): chef-artifacts already exists"
        in out
    )
    assert f"aws cloudformation delete-stack --stack-name {STACK}" in out


def test_prints_the_outputs(
    pipeline_repo: Path, stubbed: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    queue_change_set(stubbed, [])
    outputs = [
        {"OutputKey": "CloneUrlHttp", "OutputValue": "https://git.example/v1/repos/chef"},
        {"OutputKey": "PipelineName", "OutputValue": "chef-pipeline"},
    ]
    stubbed.add_response("describe_stacks", stack_description("CREATE_COMPLETE", outputs))
    stubbed.add_response(
        "describe_stack_events", {"StackEvents": [event(1, STACK, "CREATE_COMPLETE")]}
    )
    stubbed.add_response("describe_stacks", stack_description("CREATE_COMPLETE", outputs))

    code, out, err = deploy(capsys)

    assert code == 0, err
    assert (
        "Outputs:\n  CloneUrlHttp: https://git.example/v1/repos/chef\n  PipelineName: chef-pipeline"
        in out
    )


# moto warns of each resource type it records without modelling (CodeCommit, CodeBuild,
# CodePipeline, S3 bucket policies); its server thread would turn the warning into an error.
@pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")
def test_deploys_the_generated_pipeline_template(
    repo: Path, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The repository's own cloudformation/pipeline.yml, as generated; moto creates its buckets,
    roles and Lambda, and records but does not model CodeCommit, CodeBuild and CodePipeline."""
    code, out, err = deploy(capsys)

    assert code == 0, err
    assert stack()["StackStatus"] == "CREATE_COMPLETE"
    assert parameters()["KeyBucket"] == "chef-keys"
    assert "Add      ChefClientFunction (AWS::Lambda::Function)" in out
