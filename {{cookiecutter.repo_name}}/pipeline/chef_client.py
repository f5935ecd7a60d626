"""The pipeline's last step: run chef-client on every Chef server's nodes and wait for the result.

CodePipeline invokes ``handler`` with CodeBuild's targets file as input artifact. The first call
sends one SSM command per server, in that server's region, to the instances carrying the server's
tag, and answers with a continuation token holding the command ids. CodePipeline calls again with
that token until every command has finished; then the job succeeds, or fails with a summary per
server and per node. Every error ends in put_job_failure_result, so a job never hangs.

This module is the function's only source: cloudformation/pipeline.yml carries it inline.
"""

from __future__ import annotations

import functools
import io
import json
import os
import zipfile
from dataclasses import dataclass
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TARGETS_FILE = "chef-targets.json"
TARGET_FIELDS = ("name", "region", "tag_key", "tag_value", "max_concurrency", "max_errors")
DOCUMENT = "AWS-RunShellScript"
# SSM keeps a command's comment: the progress checks read from it which server a command is for.
COMMENT_PREFIX = "chef-client for "
TIMEOUT_VARIABLE = "CHEF_CLIENT_TIMEOUT_SECONDS"
# Throttled calls are retried with client-side rate limiting.
RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 10})
FINISHED = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})
# CodePipeline's limits on a job result's fields, in characters.
TOKEN_LIMIT = 2048
MESSAGE_LIMIT = 5000
SUMMARY_LIMIT = 2048
COMMAND_ID_LENGTH = 36


class JobError(Exception):
    """A reason the job fails, worded for the pipeline's console."""


@dataclass(frozen=True)
class CommandResult:
    """Where one server's chef-client command stands."""

    server: str
    region: str
    status: str
    node_count: int
    failed_nodes: tuple[str, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    def line(self) -> str:
        nodes = f"{self.node_count} node(s)" if self.node_count else "no node carries its tag"
        return "\n".join([f"{self.server} ({self.region}): {self.status}, {nodes}",
                          *(f"  {node}" for node in self.failed_nodes)])


@functools.cache
def client(service: Literal["codepipeline", "ssm"], region: str | None = None) -> Any:
    """One client per service and region, kept between invocations of a warm function."""
    return boto3.client(service, region_name=region, config=RETRIES)


def handler(event: dict[str, Any], context: object) -> None:
    """CodePipeline's entry point. The event is never logged: it holds temporary credentials."""
    job = event["CodePipeline.job"]
    try:
        run_job(job)
    except Exception as error:
        message = str(error) if isinstance(error, JobError) else f"{type(error).__name__}: {error}"
        print(f"chef-client job failed: {message}")
        failure = {"type": "JobFailed", "message": clip(message, MESSAGE_LIMIT)}
        client("codepipeline").put_job_failure_result(jobId=job["id"], failureDetails=failure)


def run_job(job: dict[str, Any]) -> None:
    """Send chef-client (first call) or check on it (later calls); raise JobError when it failed."""
    data = job["data"]
    token = data.get("continuationToken")
    if token is None:
        commands = send_chef_client(read_targets(data), timeout_seconds())
        report_progress(job["id"], commands, f"chef-client sent to {count(commands)} server(s)", 0)
        return
    commands = decode_token(token)
    results = [command_result(region, command_id)
               for region, command_ids in commands.items() for command_id in command_ids]
    report = "\n".join(result.line() for result in results)
    done = sum(result.finished for result in results)
    if done < len(results):
        report_progress(job["id"], commands, f"chef-client finished on {done} of {len(results)} "
                        f"server(s)\n{report}", 100 * done // len(results))
    elif all(result.status == "Success" for result in results):
        print(report)
        client("codepipeline").put_job_success_result(
            jobId=job["id"], executionDetails={"summary": clip(report, SUMMARY_LIMIT)})
    else:
        failed = sum(result.status != "Success" for result in results)
        raise JobError(f"chef-client failed for {failed} of {len(results)} server(s)\n{report}")


def read_targets(data: dict[str, Any]) -> list[dict[str, str]]:
    """The targets file of the job's input artifact, read with the job's own credentials."""
    artifacts = data.get("inputArtifacts") or []
    if len(artifacts) != 1:
        raise JobError(f"expected one input artifact (CodeBuild's {TARGETS_FILE}), "
                       f"got {len(artifacts)}")
    location = artifacts[0]["location"]["s3Location"]
    credentials = data["artifactCredentials"]
    s3 = boto3.client(
        "s3",
        aws_access_key_id=credentials["accessKeyId"],
        aws_secret_access_key=credentials["secretAccessKey"],
        aws_session_token=credentials["sessionToken"],
        config=RETRIES,
    )
    body = s3.get_object(Bucket=location["bucketName"], Key=location["objectKey"])["Body"].read()
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            servers = json.loads(archive.read(TARGETS_FILE))["servers"]
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
        raise JobError(f"the input artifact holds no readable {TARGETS_FILE}: {error!r}") from error
    if not isinstance(servers, list) or not servers or not all(
        isinstance(target, dict) and all(isinstance(target.get(key), str) for key in TARGET_FIELDS)
        for target in servers
    ):
        raise JobError(f"{TARGETS_FILE} must list servers, each with the strings "
                       f"{', '.join(TARGET_FIELDS)}")
    return servers


def timeout_seconds() -> int:
    """How long chef-client may take on a node, and may wait to start there."""
    value = os.environ.get(TIMEOUT_VARIABLE, "")
    if not value.isdigit() or int(value) < 30:
        raise JobError(f"{TIMEOUT_VARIABLE}={value!r} must be a number of seconds, at least 30")
    return int(value)


def send_chef_client(targets: list[dict[str, str]], timeout: int) -> dict[str, list[str]]:
    """Send chef-client to each server's tagged nodes in its region; the command ids by region."""
    worst_case: dict[str, list[str]] = {target["region"]: [] for target in targets}
    for target in targets:
        worst_case[target["region"]].append("0" * COMMAND_ID_LENGTH)
    if len(encode_token(worst_case)) > TOKEN_LIMIT:
        raise JobError(f"{len(targets)} servers are more than one job can follow (its continuation "
                       f"token holds {TOKEN_LIMIT} characters); split them over two pipelines")
    commands: dict[str, list[str]] = {}
    for target in targets:
        tag = f"{target['tag_key']}={target['tag_value']}"
        try:
            command = client("ssm", target["region"]).send_command(
                DocumentName=DOCUMENT,
                Comment=COMMENT_PREFIX + target["name"],
                Targets=[{"Key": f"tag:{target['tag_key']}", "Values": [target["tag_value"]]}],
                MaxConcurrency=target["max_concurrency"],
                MaxErrors=target["max_errors"],
                TimeoutSeconds=timeout,
                Parameters={"commands": ["chef-client"], "executionTimeout": [str(timeout)]},
            )["Command"]
        except (BotoCoreError, ClientError) as error:
            raise JobError(f"{target['name']}: chef-client could not be sent to the nodes tagged "
                           f"{tag} in {target['region']}: {error}") from error
        commands.setdefault(target["region"], []).append(command["CommandId"])
        print(f"{target['name']}: chef-client sent to the nodes tagged {tag} in "
              f"{target['region']} as command {command['CommandId']}")
    return commands


def command_result(region: str, command_id: str) -> CommandResult:
    """One command's status; once it has finished, also which nodes did not succeed."""
    ssm = client("ssm", region)
    command = ssm.list_commands(CommandId=command_id)["Commands"][0]
    result = CommandResult(
        server=command["Comment"].removeprefix(COMMENT_PREFIX),
        region=region,
        status=command["Status"],
        node_count=command["TargetCount"],
    )
    if not result.finished:
        return result
    failed_nodes = tuple(
        f"{invocation['InstanceId']}: {invocation['StatusDetails']}"
        for page in ssm.get_paginator("list_command_invocations").paginate(CommandId=command_id)
        for invocation in page["CommandInvocations"]
        if invocation["Status"] != "Success"
    )
    return CommandResult(result.server, region, result.status, result.node_count, failed_nodes)


def report_progress(
    job_id: str, commands: dict[str, list[str]], summary: str, percent: int
) -> None:
    """Keep the job running: CodePipeline calls again with the same commands."""
    client("codepipeline").put_job_success_result(
        jobId=job_id,
        continuationToken=encode_token(commands),
        executionDetails={"summary": clip(summary, SUMMARY_LIMIT), "percentComplete": percent},
    )


def encode_token(commands: dict[str, list[str]]) -> str:
    return json.dumps(commands, separators=(",", ":"))


def decode_token(token: str) -> dict[str, list[str]]:
    try:
        commands = json.loads(token)
    except ValueError as error:
        raise JobError(f"the continuation token is not this function's: {error}") from error
    if not isinstance(commands, dict) or not all(
        isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in commands.values()
    ):
        raise JobError("the continuation token is not this function's: "
                       "expected region -> command ids")
    return commands


def count(commands: dict[str, list[str]]) -> int:
    return sum(len(command_ids) for command_ids in commands.values())


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying that it was cut."""
    return text if len(text) <= limit else text[: limit - 4] + "\n..."
