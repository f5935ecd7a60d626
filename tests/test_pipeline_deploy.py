"""The generated template deploys through CloudFormation, here moto's, to CREATE_COMPLETE; then the
roles, buckets and Lambda that moto created are what a user relies on.

moto does not model AWS::CodeCommit::Repository, AWS::CodeBuild::Project,
AWS::CodePipeline::Pipeline, AWS::S3::BucketPolicy or AWS::Lambda::EventInvokeConfig: it skips them
(their properties are asserted on the template in test_pipeline_template.py). A Fn::GetAtt on a
skipped resource would break moto's create_stack, so the template builds every ARN and URL of those
resources with Fn::Sub, and this test deploys the template as generated, with no stand-in values.
moto leaves a Ref to a skipped resource unresolved, so the outputs made from the pipeline's name
are not checked. Where moto models a resource only in part, the test says so and the template test
covers the rest.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from rehearsal.moto_server import ClientOptions, client_options, moto_endpoint
from tests.conftest import bake_into, make_servers

# moto warns about each resource type it skips (listed in the module docstring).
pytestmark = pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")
SKIPPED_BY_MOTO = {"AWS::CodeCommit::Repository", "AWS::CodeBuild::Project",
                   "AWS::CodePipeline::Pipeline", "AWS::S3::BucketPolicy",
                   "AWS::Lambda::EventInvokeConfig"}


@pytest.fixture(scope="module")
def aws() -> Iterator[ClientOptions]:
    with moto_endpoint() as endpoint:
        yield client_options(endpoint)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> str:
    repo = bake_into(tmp_path_factory.mktemp("deploy"), servers=make_servers(2))
    return (repo / "cloudformation/pipeline.yml").read_text("utf-8")


def deploy(aws: ClientOptions, template: str, name: str, **parameters: str) -> dict[str, str]:
    """Create the stack; its resources' physical ids by logical id."""
    cloudformation = boto3.client("cloudformation", **aws)
    cloudformation.create_stack(
        StackName=name,
        TemplateBody=template,
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    summaries = cloudformation.list_stack_resources(StackName=name)["StackResourceSummaries"]
    return {s["LogicalResourceId"]: s["PhysicalResourceId"] for s in summaries
            if s["ResourceType"] not in SKIPPED_BY_MOTO}


def role_statements(aws: ClientOptions, role: str) -> dict[str, dict[str, Any]]:
    iam = boto3.client("iam", **aws)
    found = {}
    for policy in iam.list_role_policies(RoleName=role)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]
        if isinstance(document, str):
            # moto keeps a policy that CloudFormation gave it as the Python repr of the document.
            document = ast.literal_eval(document)
        # moto keeps an Fn::If that chose AWS::NoValue as None; CloudFormation drops it.
        found.update({statement.get("Sid", ""): statement
                      for statement in document["Statement"] if statement is not None})
    return found


@pytest.fixture(scope="module")
def stack(aws: ClientOptions, template: str) -> dict[str, str]:
    return deploy(aws, template, "chef-pipeline", KeyBucket="chef-keys")


def test_stack_creates_every_resource_moto_models(stack: dict[str, str]) -> None:
    assert {"ArtifactBucket", "BuildRole", "FunctionRole", "PipelineRole", "PushRuleRole",
            "ChefClientFunction", "PushRule", "BuildLogGroup", "FunctionLogGroup"} <= set(stack)


def test_artifact_bucket_is_encrypted(aws: ClientOptions, stack: dict[str, str]) -> None:
    """moto's CloudFormation applies only a bucket's encryption and tags; versioning and the public
    access block are asserted on the template (test_pipeline_template.py)."""
    rules = boto3.client("s3", **aws).get_bucket_encryption(
        Bucket=stack["ArtifactBucket"])["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"


def test_lambda_is_python_313_with_its_timeout_setting(
    aws: ClientOptions, stack: dict[str, str]
) -> None:
    function = boto3.client("lambda", **aws).get_function_configuration(
        FunctionName=stack["ChefClientFunction"])
    assert function["Runtime"] == "python3.13"
    assert function["Handler"] == "index.handler"
    # CloudFormation passes a Number parameter on as a string; moto keeps the number.
    timeout = function["Environment"]["Variables"]["CHEF_CLIENT_TIMEOUT_SECONDS"]
    assert str(timeout) == "1800"


def test_build_role_reads_keys_only_and_has_no_kms_without_a_key_arn(
    aws: ClientOptions, stack: dict[str, str]
) -> None:
    statements = role_statements(aws, stack["BuildRole"])
    assert statements["ReadServerKeys"]["Resource"] == "arn:aws:s3:::chef-keys/*/private.pem"
    assert not any("kms:" in json.dumps(statement["Action"]) for statement in statements.values())


def test_build_role_decrypts_with_the_given_key_only_through_s3(
    aws: ClientOptions, template: str
) -> None:
    key_arn = boto3.client("kms", **aws).create_key()["KeyMetadata"]["Arn"]
    resources = deploy(aws, template, "chef-pipeline-kms", KeyBucket="chef-keys",
                       KeyBucketKmsKeyArn=key_arn)
    decrypt = role_statements(aws, resources["BuildRole"])["DecryptServerKeys"]
    assert decrypt["Action"] == "kms:Decrypt"
    assert decrypt["Resource"] == key_arn
    via_s3 = {"kms:ViaService": "s3.us-east-1.amazonaws.com"}
    assert decrypt["Condition"] == {"StringEquals": via_s3}


def test_function_role_sends_only_run_shell_script_to_tagged_nodes(
    aws: ClientOptions, stack: dict[str, str]
) -> None:
    statements = role_statements(aws, stack["FunctionRole"])
    assert statements["SendRunShellScript"]["Resource"] == (
        "arn:aws:ssm:*::document/AWS-RunShellScript")
    tagged = statements["SendToNodesTagged1"]
    assert tagged["Resource"] == "arn:aws:ec2:*:123456789012:instance/*"
    assert tagged["Condition"] == {"StringLike": {"ssm:resourceTag/chef-server": "*"}}


def test_outputs_give_the_clone_urls(aws: ClientOptions, stack: dict[str, str]) -> None:
    stacks = boto3.client("cloudformation", **aws).describe_stacks(StackName="chef-pipeline")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks["Stacks"][0]["Outputs"]}
    assert outputs["CloneUrlHttp"] == (
        "https://git-codecommit.us-east-1.amazonaws.com/v1/repos/owca-multi-region-repo")
    assert outputs["CloneUrlGrc"] == "codecommit::us-east-1://owca-multi-region-repo"
