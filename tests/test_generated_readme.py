"""The generated README is this repository's runbook: its first-deploy section, run block by block
in one bash, in order, with only the placeholder KEY_BUCKET replaced, against moto in server mode
(the AWS CLI and chef-multiserver reach it through AWS_ENDPOINT_URL, as they would AWS) and a local
bare git repository standing in for CodeCommit (git's own `url.<base>.insteadOf`, git-config(1),
sends the push for the stack's CloneUrlHttp there). Blocks marked `<!-- needs: ... -->` need a Chef
server, nodes or a person's AWS sign-in; the test does what the CA block leaves behind (a
certificate per server in .chef/ca_certs/) and skips the others."""

from __future__ import annotations

import os
import re
import subprocess
import textwrap
from pathlib import Path

import boto3
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.cli_fakes import KIT_URL, aws_client, make_ca, pem
from tests.conftest import bake_into

pytest_plugins = ("tests.cli_fixtures",)

# Servers in two regions, neither the kit's example names nor the region moto defaults to.
SERVERS = {
    "chef-dublin": {"server": "https://chef-dublin.example.com/organizations/ops",
                    "region": "eu-west-1"},
    "chef-ohio": {"server": "https://chef-ohio.example.com/organizations/ops",
                  "region": "us-east-2"},
}
STACK = "chef-runbook"
KEY_BUCKET = "chef-runbook-keys"
BLOCK = re.compile(r"(?:<!-- needs: (?P<needs>[^>]*?) -->\s*\n)?[ ]*```sh\n(?P<code>.*?)\n[ ]*```",
                   re.DOTALL)


def section(readme: str, title: str) -> str:
    return readme.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def shell_blocks(text: str) -> list[tuple[str | None, str]]:
    """Each ```sh block of ``text``: what it needs (its marker), and its code, dedented."""
    return [(found["needs"], textwrap.dedent(found["code"])) for found in BLOCK.finditer(text)]


@pytest.fixture
def generated(tmp_path: Path) -> Path:
    return bake_into(tmp_path / "out", repo_name=STACK, servers=SERVERS, kit_repo_url=KIT_URL,
                     init_git=True)


def test_examples_name_this_repositorys_servers(generated: Path) -> None:
    readme = (generated / "README.md").read_text("utf-8")

    assert "chef-east" not in readme and "chef-west" not in readme
    assert "export CHEF_SERVER=chef-dublin" in readme
    for name in SERVERS:
        assert f"chef-multiserver put-key {name} --key ~/keys/{name}.pem" in readme
    assert "aws s3 cp" not in readme and "aws cloudformation deploy" not in readme


def test_first_deploy_lists_every_step_in_order(generated: Path) -> None:
    steps = section((generated / "README.md").read_text("utf-8"), "First deploy")

    milestones = ["aws s3 mb", "chef-multiserver put-key", "knife ssl check",
                  "git add .chef/ca_certs", "chef-multiserver deploy",
                  "create-service-specific-credential", "git-remote-codecommit",
                  "AmazonSSMManagedInstanceCore", "aws ec2 create-tags", "git push codecommit"]
    positions = [steps.index(milestone) for milestone in milestones]
    assert positions == sorted(positions)


# moto warns of each resource type it records without modelling (CodeCommit, CodeBuild,
# CodePipeline, S3 bucket policies); its server thread would turn the warning into an error.
@pytest.mark.filterwarnings("ignore:Tried to parse AWS:UserWarning")
def test_the_first_deploy_runs_as_written(generated: Path, aws: str, tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "keys").mkdir(parents=True)
    for name in SERVERS:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (home / "keys" / f"{name}.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption()))
    remote = tmp_path / "codecommit.git"
    subprocess.run(["git", "init", "--quiet", "--bare", str(remote)], check=True)
    git_config = tmp_path / "gitconfig"
    codecommit = f"https://git-codecommit.eu-west-1.amazonaws.com/v1/repos/{STACK}"
    git_config.write_text(f'[user]\n\tname = Test\n\temail = test@localhost\n'
                          f'[url "{remote.as_uri()}"]\n\tinsteadOf = {codecommit}\n', "utf-8")

    readme = (generated / "README.md").read_text("utf-8")
    script = ["set -euo pipefail"]
    skipped = []
    for needs, code in shell_blocks(section(readme, "First deploy")):
        if needs is not None:
            skipped.append(needs)
            if "knife ssl check" in code:  # what the CA step leaves: a certificate per server
                for name in SERVERS:
                    ca = pem(make_ca(f"{name} CA").certificate).decode()
                    script.append(f"cat > .chef/ca_certs/{name}.crt <<'PEM'\n{ca}PEM")
            continue
        script.append(code.replace("KEY_BUCKET", KEY_BUCKET))
    environment = {**os.environ, "HOME": str(home), "GIT_CONFIG_GLOBAL": str(git_config),
                   "GIT_CONFIG_NOSYSTEM": "1"}
    environment.pop("AWS_REGION", None)

    run = subprocess.run(["bash", "-c", "\n".join(script)], cwd=generated, env=environment,
                         capture_output=True, text=True, timeout=600)

    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(set(skipped)) == ["the Chef servers", "the nodes", "your own AWS sign-in",
                                    "your own IAM user"]
    s3 = aws_client("s3")
    assert sorted(item["Key"] for item in s3.list_objects_v2(Bucket=KEY_BUCKET)["Contents"]) == [
        f"{name}/private.pem" for name in sorted(SERVERS)]
    assert s3.get_bucket_versioning(Bucket=KEY_BUCKET)["Status"] == "Enabled"
    # In the runbook's region (the first server's), through AWS_ENDPOINT_URL to moto.
    cloudformation = boto3.client("cloudformation", region_name="eu-west-1")
    stack = cloudformation.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    assert {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["KeyBucket"] == (
        KEY_BUCKET)
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=generated, check=True,
                          capture_output=True, text=True).stdout
    pushed = subprocess.run(["git", "rev-parse", "main"], cwd=remote, check=True,
                            capture_output=True, text=True).stdout
    assert pushed == head
    committed = subprocess.run(["git", "ls-tree", "--name-only", "main", ".chef/ca_certs/"],
                               cwd=remote, check=True, capture_output=True, text=True).stdout
    assert {f".chef/ca_certs/{name}.crt" for name in SERVERS} <= set(committed.split())
