"""The generated pipeline files: the template passes AWS's linters for 1, 2 and 20 servers, and none
of the source post's defects is back (each test names the defect it would have caught)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import cfnlint.api  # type: ignore[import-untyped]
import pytest
import yaml

from chef_multiserver import pipeline_targets, servers
from tests.conftest import KIT_ROOT, Bake, load_yaml, make_servers

TEMPLATE = Path("cloudformation/pipeline.yml")
LAMBDA = Path("pipeline/chef_client.py")
TEMPLATE_PIPELINE_DIR = KIT_ROOT / "{{cookiecutter.repo_name}}" / "pipeline"


def checkov_command() -> str:
    """$CHECKOV, else checkov on PATH, else the virtualenv that .ci/install-test-deps makes."""
    candidates = [
        os.environ.get("CHECKOV"),
        shutil.which("checkov"),
        str(Path.home() / ".cache/chef-multiserver-kit/checkov/bin/checkov"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    pytest.fail("checkov not found: set $CHECKOV, put checkov on PATH or run .ci/install-test-deps")


def resources(repo: Path) -> dict[str, Any]:
    found: dict[str, Any] = load_yaml((repo / TEMPLATE).read_text("utf-8"))["Resources"]
    return found


def statements(resource: dict[str, Any]) -> list[dict[str, Any]]:
    return [statement for policy in resource["Properties"]["Policies"]
            for statement in policy["PolicyDocument"]["Statement"]]


def by_sid(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {statement.get("Sid", ""): statement for statement in statements(resource)}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import bake_into

    return bake_into(tmp_path_factory.mktemp("template"), servers=make_servers(2))


@pytest.mark.parametrize("server_count", [1, 2, 20])
def test_template_passes_cfn_lint_and_checkov(bake: Bake, server_count: int) -> None:
    repo = bake(servers=make_servers(server_count))
    findings = [f"{match.rule.id} {match.message} (line {match.linenumber})"
                for match in cfnlint.api.lint_file(repo / TEMPLATE)
                if match.rule.id[0] in "EW"]  # errors and warnings; informational ones may stay
    assert findings == []
    scan = subprocess.run(
        [checkov_command(), "--file", str(repo / TEMPLATE), "--framework", "cloudformation",
         "--skip-download", "--output", "json"],
        capture_output=True, text=True, env={**os.environ, "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(scan.stdout)
    failed = report["results"]["failed_checks"]
    assert [(check["check_id"], check["resource"]) for check in failed] == [], scan.stdout
    assert report["summary"]["parsing_errors"] == 0
    # Every skip carries its reason next to it in the template.
    assert all(check["check_result"].get("suppress_comment")
               for check in report["results"]["skipped_checks"])


def test_lambda_in_template_is_the_module_byte_for_byte(repo: Path) -> None:
    inline = resources(repo)["ChefClientFunction"]["Properties"]["Code"]["ZipFile"]
    module = (repo / LAMBDA).read_text("utf-8")
    assert inline == module
    assert module == (TEMPLATE_PIPELINE_DIR / "chef_client.py").read_text("utf-8")
    # CloudFormation zips inline code itself; the package may not exceed 4 MB.
    assert len(inline.encode()) < 4 * 1024 * 1024


def test_lambda_runs_on_a_current_runtime_with_an_integer_timeout(repo: Path) -> None:
    # seed: runtime python2.7 (blocked since 2021) and "Timeout": "10" as a string
    function = resources(repo)["ChefClientFunction"]["Properties"]
    assert function["Runtime"] in {"python3.13", "python3.14"}
    assert function["Handler"] == "index.handler"
    assert isinstance(function["Timeout"], int)


def test_lambda_is_never_retried_and_answers_within_codepipelines_wait(repo: Path) -> None:
    """CodePipeline invokes the function asynchronously and Lambda retries a failed asynchronous
    call twice by default, which would send chef-client again
    (https://docs.aws.amazon.com/lambda/latest/dg/services-codepipeline.html,
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html); CodePipeline
    fails a Lambda action that does not answer within 20 minutes, or runs longer than 24 hours
    (https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html)."""
    found = resources(repo)
    [config] = [resource["Properties"] for resource in found.values()
                if resource["Type"] == "AWS::Lambda::EventInvokeConfig"]
    assert config["FunctionName"] == {"Ref": "ChefClientFunction"}
    assert config["Qualifier"] == "$LATEST"
    assert config["MaximumRetryAttempts"] == 0
    assert 60 <= config["MaximumEventAgeInSeconds"] <= 20 * 60
    assert found["ChefClientFunction"]["Properties"]["Timeout"] <= 20 * 60
    skips = found["ChefClientFunction"]["Metadata"]["checkov"]["skip"]
    assert "synchronously" not in json.dumps(skips).replace("asynchronously", "")
    timeout = load_yaml((repo / TEMPLATE).read_text("utf-8"))["Parameters"][
        "ChefClientTimeoutSeconds"]
    assert timeout["MaxValue"] < 24 * 3600


def test_function_role_may_count_nodes_and_cancel_commands(repo: Path) -> None:
    follow = by_sid(resources(repo)["FunctionRole"])["FollowCommands"]
    assert {"ssm:DescribeInstanceInformation", "ssm:CancelCommand",
            "ec2:DescribeInstances"} <= set(follow["Action"])


def test_pipeline_is_v2_with_its_own_role_started_by_a_push_rule(repo: Path) -> None:
    # seed: a pre-existing AWS-CodePipeline-Service role and a polling source
    found = resources(repo)
    pipeline = found["Pipeline"]["Properties"]
    assert pipeline["PipelineType"] == "V2"
    assert pipeline["RoleArn"] == {"Fn::GetAtt": ["PipelineRole", "Arn"]}
    source = pipeline["Stages"][0]["Actions"][0]["Configuration"]
    assert source["PollForSourceChanges"] is False
    assert source["BranchName"] == {"Ref": "Branch"}
    pattern = found["PushRule"]["Properties"]["EventPattern"]
    assert pattern["detail"]["referenceName"] == [{"Ref": "Branch"}]
    assert pattern["detail-type"] == ["CodeCommit Repository State Change"]
    parameters = load_yaml((repo / TEMPLATE).read_text("utf-8"))["Parameters"]
    assert parameters["Branch"]["Default"] == "main"


def test_lambda_gets_only_the_targets_artifact(repo: Path) -> None:
    stages = resources(repo)["Pipeline"]["Properties"]["Stages"]
    build, invoke = stages[1]["Actions"][0], stages[2]["Actions"][0]
    assert build["OutputArtifacts"] == invoke["InputArtifacts"] == [{"Name": "ChefTargets"}]


def test_build_runs_on_a_current_image(repo: Path) -> None:
    # seed: aws/codebuild/ubuntu-base:14.04, which no longer exists
    image = resources(repo)["BuildProject"]["Properties"]["Environment"]["Image"]
    assert image in {"aws/codebuild/standard:7.0", "aws/codebuild/amazonlinux-x86_64-standard:5.0"}


def test_artifact_bucket_is_encrypted_versioned_and_private(repo: Path) -> None:
    # seed: a bare AWS::S3::Bucket
    bucket = resources(repo)["ArtifactBucket"]["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert set(bucket["PublicAccessBlockConfiguration"].values()) == {True}


def test_build_role_reads_only_the_servers_keys(repo: Path) -> None:
    # seed: s3:Get* and s3:List* on the whole key bucket
    key_statements = [s for s in statements(resources(repo)["BuildRole"])
                      if "${KeyBucket}" in json.dumps(s)]
    assert key_statements == [{
        "Sid": "ReadServerKeys", "Effect": "Allow", "Action": "s3:GetObject",
        "Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${KeyBucket}/*/private.pem"},
    }]


def test_build_role_decrypts_only_with_a_given_key_arn(repo: Path) -> None:
    optional = [s for s in statements(resources(repo)["BuildRole"])
                if s.get("Fn::If", [None])[0] == "HasKeyBucketKmsKey"]
    assert len(optional) == 1
    condition, statement, otherwise = optional[0]["Fn::If"]
    assert condition == "HasKeyBucketKmsKey"
    assert statement["Action"] == "kms:Decrypt"
    assert statement["Resource"] == {"Ref": "KeyBucketKmsKeyArn"}
    assert otherwise == {"Ref": "AWS::NoValue"}


def test_send_command_is_limited_to_the_run_shell_document_and_tagged_nodes(repo: Path) -> None:
    # seed: ssm:SendCommand on "*"
    function_role = statements(resources(repo)["FunctionRole"])
    sends = [s for s in function_role if s["Action"] == "ssm:SendCommand"]
    documents = [s for s in sends if "document/" in s["Resource"]["Fn::Sub"]]
    instances = [s for s in sends if "instance/" in s["Resource"]["Fn::Sub"]]
    assert [s["Resource"]["Fn::Sub"].rsplit("/", 1)[1] for s in documents] == ["AWS-RunShellScript"]
    assert [s["Condition"] for s in instances] == [
        {"StringLike": {f"ssm:resourceTag/{servers.DEFAULT_TAG_KEY}": "*"}}]
    assert len(sends) == len(documents) + len(instances)


@pytest.mark.parametrize("as_json_text", [False, True], ids=["mapping", "json-text"])
def test_a_node_tag_given_at_generation_is_allowed_too(bake: Bake, as_json_text: bool) -> None:
    """However the servers were answered: a mapping, or JSON text (cookiecutter's command line)."""
    chosen: dict[str, Any] = make_servers(2)
    chosen["chef-01"] = {**chosen["chef-01"], "node_tag": {"key": "chef-role", "value": "web"}}
    repo = bake(servers=json.dumps(chosen) if as_json_text else chosen)
    conditions = [s["Condition"]["StringLike"] for s in statements(resources(repo)["FunctionRole"])
                  if "Condition" in s]
    assert conditions == [{"ssm:resourceTag/chef-server": "*"}, {"ssm:resourceTag/chef-role": "*"}]


def test_wildcard_resources_only_where_aws_has_nothing_narrower(repo: Path) -> None:
    text = (repo / TEMPLATE).read_text("utf-8")
    wildcards = {
        (name, statement.get("Sid"))
        for name, resource in resources(repo).items() if resource["Type"] == "AWS::IAM::Role"
        for optional in statements(resource)
        for statement in (optional["Fn::If"][1:2] if "Fn::If" in optional else [optional])
        if statement.get("Resource") == "*"
    }
    assert wildcards == {("FunctionRole", "FollowCommands"), ("FunctionRole", "ReportJobResult"),
                         ("BuildRole", "VpcInterfaces")}  # only with BuildVpcId
    lines = text.splitlines()
    comments = [lines[number - 1].strip() for number, line in enumerate(lines)
                if line.strip() == 'Resource: "*"']
    assert len(comments) == 3
    assert all(comment.startswith("#") for comment in comments), comments


def test_key_bucket_parameter_keeps_the_posts_constraints(repo: Path) -> None:
    parameter = load_yaml((repo / TEMPLATE).read_text("utf-8"))["Parameters"]["KeyBucket"]
    assert parameter["AllowedPattern"] == "^[a-z0-9][a-z0-9-.]*$"
    assert (parameter["MinLength"], parameter["MaxLength"]) == (3, 63)


def test_outputs_clone_urls_pipeline_name_and_console_link(repo: Path) -> None:
    outputs = load_yaml((repo / TEMPLATE).read_text("utf-8"))["Outputs"]
    assert {"CloneUrlHttp", "CloneUrlSsh", "CloneUrlGrc", "PipelineName",
            "PipelineConsoleUrl"} <= set(outputs)


def buildspec(repo: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((repo / "buildspec.yml").read_text("utf-8"))
    return loaded


def commands(repo: Path) -> list[str]:
    phases = buildspec(repo)["phases"]
    return [command for phase in phases.values()
            for part in ("commands", "finally") for command in phase.get(part, [])]


def test_buildspec_commands_are_lists_of_plain_ascii_commands(repo: Path) -> None:
    # seed: en dashes instead of "-", so each command list loaded as one string
    assert (repo / "buildspec.yml").read_text("utf-8").isascii()
    for phase in buildspec(repo)["phases"].values():
        for part in ("commands", "finally"):
            assert isinstance(phase.get(part, []), list)
    assert all(isinstance(command, str) for command in commands(repo))


def test_buildspec_keeps_tls_on_and_names_no_server(repo: Path) -> None:
    # seed: --no-ssl-verify, and servers written into the buildspec (one with a missing bracket)
    text = (repo / "buildspec.yml").read_text("utf-8")
    assert "no-ssl-verify" not in text
    assert not any(name in text for name in make_servers(2))


def test_buildspec_installs_berkshelf_from_the_gemfile_and_the_kit_the_hooks_pin(
    repo: Path
) -> None:
    # seed: ChefDK 1.5 from Chef's download site (now behind a license id)
    spec = buildspec(repo)
    install = " ".join(spec["phases"]["install"]["commands"])
    assert "bundle install" in install and 'export BUNDLE_GEMFILE="$PWD/Gemfile"' in install
    assert "chef.io" not in install and "dpkg" not in install
    kit_install = 'pip install --quiet "chef-multiserver-kit[cli] @ git+${KIT_REPO_URL}@${KIT_REV}"'
    assert kit_install in install
    (kit, _) = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text("utf-8"))["repos"]
    variables = spec["env"]["variables"]
    assert (variables["KIT_REPO_URL"], variables["KIT_REV"]) == (kit["repo"], kit["rev"])


def test_buildspec_checks_the_tree_before_the_build_and_ships_only_targets(repo: Path) -> None:
    spec = buildspec(repo)
    checks = " ".join(spec["phases"]["pre_build"]["commands"])
    for hook in ("forbid-chef-secrets", "check-chef-server-config", "check-chef-repo"):
        assert hook in checks
    assert spec["artifacts"]["files"] == [pipeline_targets.TARGETS_FILE]
