"""The build's side of cloudformation/pipeline.yml: what a first deploy that fails leaves behind,
private Chef servers (an optional VPC), and the one CodePipeline read the build makes.

moto skips AWS::CodeCommit::Repository, AWS::CodeBuild::Project and AWS::CodePipeline::Pipeline, so
a create that fails and is retried cannot be replayed here: these tests assert on the template what
CloudFormation's documentation says the settings do. DeletionPolicy RetainExceptOnCreate "retains
the resource on stack deletion, but deletes it when the stack creation fails and is rolled back"
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html);
a build in a VPC needs its role to create network interfaces
(https://docs.aws.amazon.com/codebuild/latest/userguide/vpc-support.html and the service-role
example "create a VPC network interface" in the CodeBuild user guide).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import bake_into, load_yaml, make_servers

TEMPLATE = "cloudformation/pipeline.yml"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake_into(tmp_path_factory.mktemp("build-project"), servers=make_servers(2))


def template(repo: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = load_yaml((repo / TEMPLATE).read_text("utf-8"))
    return loaded


def build_role_statements(repo: Path) -> list[Any]:
    role = template(repo)["Resources"]["BuildRole"]["Properties"]
    statements: list[Any] = role["Policies"][0]["PolicyDocument"]["Statement"]
    return statements


def test_a_failed_first_create_removes_the_repository_so_a_retry_can_create_it(repo: Path) -> None:
    resources = template(repo)["Resources"]
    assert resources["Repo"]["DeletionPolicy"] == "RetainExceptOnCreate"
    assert resources["Repo"]["UpdateReplacePolicy"] == "Retain"
    for stateful in ("ArtifactBucket", "BuildLogGroup", "FunctionLogGroup"):
        assert resources[stateful]["DeletionPolicy"] == "RetainExceptOnCreate", stateful
        assert resources[stateful]["UpdateReplacePolicy"] == "Retain", stateful


def test_cfn_lint_reports_nothing_even_informational(repo: Path) -> None:
    done = subprocess.run(["cfn-lint", "--include-checks", "I", "--", str(repo / TEMPLATE)],
                          capture_output=True, text=True)
    assert (done.returncode, done.stdout) == (0, "")


def test_the_readme_says_what_stack_deletion_keeps(repo: Path) -> None:
    readme = (repo / "README.md").read_text("utf-8")
    section = readme.split("## Deleting the stack", 1)[1].split("\n## ", 1)[0]
    for kept in ("CodeCommit repository", "log groups", "artifact bucket", "--replace-failed"):
        assert kept in section


def test_the_build_project_joins_a_vpc_only_when_one_is_given(repo: Path) -> None:
    loaded = template(repo)
    parameters = loaded["Parameters"]
    assert {parameters[name]["Default"] for name in (
        "BuildVpcId", "BuildSubnetIds", "BuildSecurityGroupIds")} == {""}
    assert loaded["Conditions"]["HasBuildVpc"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "BuildVpcId"}, ""]}]}
    vpc = loaded["Resources"]["BuildProject"]["Properties"]["VpcConfig"]
    assert vpc == {"Fn::If": ["HasBuildVpc", {
        "VpcId": {"Ref": "BuildVpcId"}, "Subnets": {"Ref": "BuildSubnetIds"},
        "SecurityGroupIds": {"Ref": "BuildSecurityGroupIds"}}, {"Ref": "AWS::NoValue"}]}


def test_in_a_vpc_the_build_role_may_manage_its_network_interfaces_and_nothing_more(
    repo: Path
) -> None:
    conditional = {statement["Fn::If"][1]["Sid"]: statement["Fn::If"]
                   for statement in build_role_statements(repo) if "Fn::If" in statement}
    interfaces = conditional["VpcInterfaces"]
    attach = conditional["VpcAttach"]
    assert interfaces[0] == attach[0] == "HasBuildVpc"
    assert interfaces[2] == attach[2] == {"Ref": "AWS::NoValue"}
    # AWS's example lists five Describe actions; the template names them ec2:Describe* (read
    # only) to stay under CloudFormation's 51,200-byte TemplateBody limit.
    assert set(interfaces[1]["Action"]) == {
        "ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:Describe*"}
    assert attach[1]["Action"] == "ec2:CreateNetworkInterfacePermission"
    assert attach[1]["Condition"] == {
        "StringEquals": {"ec2:AuthorizedService": "codebuild.amazonaws.com"}}


def test_the_readme_lists_what_a_vpc_build_must_reach(repo: Path) -> None:
    readme = (repo / "README.md").read_text("utf-8")
    section = readme.split("## Private Chef servers", 1)[1].split("\n## ", 1)[0]
    for needed in ("port 443 of every Chef server", "S3", "CloudWatch Logs", "CodeCommit",
                   "NAT gateway", "RubyGems", "Supermarket", "Python package index"):
        assert needed in section


def test_the_build_may_read_its_own_pipelines_executions_only(repo: Path) -> None:
    loaded = template(repo)
    statement = next(s for s in build_role_statements(repo)
                     if s.get("Sid") == "PipelineHistory")
    assert statement["Action"] == "codepipeline:ListPipelineExecutions"
    assert statement["Resource"] == {"Fn::Sub": (
        "arn:${AWS::Partition}:codepipeline:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}")}
    assert loaded["Resources"]["Pipeline"]["Properties"]["Name"] == {"Ref": "AWS::StackName"}
