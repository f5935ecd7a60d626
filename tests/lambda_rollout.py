"""The pipeline's Lambda driven the way CodePipeline drives it, against the doubles of
tests/aws_doubles.py (SSM, CodePipeline's job results, the Lambda context) and moto's S3 for the
targets artifact: a first call, then one call per continuation token, each a new job, with the
doubles' clock moved between calls, until the job has a final result."""

from __future__ import annotations

import functools
import importlib.util
import io
import json
import sys
import time
import uuid
import zipfile
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest

from chef_multiserver import pipeline_targets
from tests.aws_doubles import Clock, CodePipelineDouble, LambdaContext, SsmDouble
from tests.conftest import KIT_ROOT

LAMBDA_SOURCE = KIT_ROOT / "{{cookiecutter.repo_name}}" / "pipeline" / "chef_client.py"
BUCKET = "pipeline-artifacts"
ARTIFACT_KEY = "chef-pipeline/ChefTargets/build.zip"
# CodePipeline fails a Lambda action after 24 hours in all:
# https://docs.aws.amazon.com/codepipeline/latest/userguide/limits.html
ACTION_LIMIT_SECONDS = 24 * 3600


@functools.cache
def load_chef_client() -> ModuleType:
    spec = importlib.util.spec_from_file_location("chef_client", LAMBDA_SOURCE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def target(name: str, region: str = "us-east-1", **config: Any) -> dict[str, Any]:
    """The target the build writes for a server with this config.yml."""
    return pipeline_targets.server_target(name, {"region": region, **config})


def put_artifact(servers: list[dict[str, Any]] | bytes) -> None:
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as artifact:
        body = servers if isinstance(servers, bytes) else json.dumps({"servers": servers})
        artifact.writestr(pipeline_targets.TARGETS_FILE, body)
    boto3.client("s3", region_name="us-east-1").put_object(
        Bucket=BUCKET, Key=ARTIFACT_KEY, Body=archive.getvalue())


def job_event(token: str | None = None, job_id: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "actionConfiguration": {"configuration": {"FunctionName": "chef-client"}},
        "inputArtifacts": [{"name": "ChefTargets", "location": {
            "type": "S3", "s3Location": {"bucketName": BUCKET, "objectKey": ARTIFACT_KEY}}}],
        "artifactCredentials": {"accessKeyId": "testing", "secretAccessKey": "testing",
                                "sessionToken": "testing"},
    }
    if token is not None:
        data["continuationToken"] = token
    return {"CodePipeline.job": {"id": job_id or str(uuid.uuid4()), "accountId": "123456789012",
                                 "data": data}}


class Rollout:
    """The Lambda with its AWS replaced by the doubles; S3 is moto's (the caller's mock_aws)."""

    def __init__(self, chef_client: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
        self.chef_client = chef_client
        self.clock = Clock()
        self.ssm: dict[str, SsmDouble] = {}
        self.pipeline = CodePipelineDouble()
        monkeypatch.setattr(chef_client, "client", self.client)
        monkeypatch.setattr(chef_client, "datetime", self.clock.datetime_class())
        # the Lambda's own view of the time module: no waiting between report attempts
        monkeypatch.setattr(chef_client, "time", SimpleNamespace(
            monotonic=time.monotonic, sleep=lambda seconds: None))
        monkeypatch.setenv("CHEF_CLIENT_TIMEOUT_SECONDS", "1800")

    def client(self, service: str, region: str | None = None) -> Any:
        if service == "codepipeline":
            return self.pipeline
        assert service in ("ssm", "ec2") and region  # one double answers both for a region
        return self.region(region)

    def region(self, region: str) -> SsmDouble:
        return self.ssm.setdefault(region, SsmDouble(region, self.clock))

    def invoke(self, event: Any) -> tuple[str, dict[str, Any]] | None:
        """One call; the job result it reported, if any."""
        before = len(self.pipeline.results)
        self.chef_client.handler(event, LambdaContext())
        reported = self.pipeline.results[before:]
        assert len(reported) <= 1
        return reported[0] if reported else None

    def run(self, step: float = 300) -> tuple[str, dict[str, Any]]:
        """The whole job: the first call, then a call per continuation token ``step`` seconds
        apart, within CodePipeline's 24 hours; the final result."""
        started = self.clock.now
        reported = self.invoke(job_event())
        while reported and "continuationToken" in reported[1]:
            self.clock.advance(step)
            assert self.clock.now - started <= ACTION_LIMIT_SECONDS, "CodePipeline gave up"
            reported = self.invoke(job_event(reported[1]["continuationToken"]))
        assert reported is not None
        return reported

    def calls(self, operation: str) -> int:
        return sum(ssm.calls[operation] for ssm in self.ssm.values())
