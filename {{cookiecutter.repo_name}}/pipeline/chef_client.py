"""The pipeline's last step: run chef-client on every Chef server's nodes and wait for the result.

CodePipeline invokes ``handler`` with CodeBuild's targets file as input artifact. The first call
sends one SSM command per server, in that server's region, to the instances carrying the server's
tag, each command's comment naming the job and the server. It answers with a continuation token
that says where and since when to look for those commands (not their ids: a token holds 2048
characters, and any number of servers must fit). CodePipeline calls again with that token until
every command has finished; then the job succeeds, or fails with a summary per server and per
node. Every error ends in put_job_failure_result, so a job never hangs.

This module is the function's only source: cloudformation/pipeline.yml carries it inline.
"""

from __future__ import annotations

import functools
import io
import json
import os
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

TARGETS_FILE = "chef-targets.json"
TARGET_FIELDS = ("name", "region", "tag_key", "tag_value", "max_concurrency", "max_errors")
DOCUMENT = "AWS-RunShellScript"
# SSM keeps a command's comment: the progress checks find a job's commands by it, and read which
# server each is for. "chef-client <job> <server>" stays within SSM's 100 characters.
COMMENT_PREFIX = "chef-client "
JOB_MARK_LENGTH = 8  # of the first job id: unique enough among the commands of a few minutes
# How long SSM may take to list a command it accepted before the job gives up on it.
LISTING_GRACE = timedelta(minutes=10)
TIMEOUT_VARIABLE = "CHEF_CLIENT_TIMEOUT_SECONDS"
# Throttled calls are retried with client-side rate limiting.
RETRIES = Config(retries={"mode": "adaptive", "max_attempts": 10})
FINISHED = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})
# CodePipeline's limits on a job result's fields, in characters.
MESSAGE_LIMIT = 5000
SUMMARY_LIMIT = 2048


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


@dataclass(frozen=True)
class SentCommands:
    """What a continuation token carries: which job's commands to look for, since when, and how
    many were sent to each region."""

    job_mark: str
    since: str  # SSM's InvokedAfter filter: an ISO 8601 time in whole seconds, UTC
    per_region: dict[str, int]

    @property
    def count(self) -> int:
        return sum(self.per_region.values())

    def token(self) -> str:
        return json.dumps({"job": self.job_mark, "since": self.since, "sent": self.per_region},
                          separators=(",", ":"))


def run_job(job: dict[str, Any]) -> None:
    """Send chef-client (first call) or check on it (later calls); raise JobError when it failed."""
    data = job["data"]
    token = data.get("continuationToken")
    if token is None:
        sent = send_chef_client(read_targets(data), timeout_seconds(), job["id"][:JOB_MARK_LENGTH])
        report_progress(job["id"], sent, f"chef-client sent to {sent.count} server(s)", 0)
        return
    sent = decode_token(token)
    results = [command_result(region, command)
               for region in sent.per_region for command in listed_commands(region, sent)]
    unlisted = sent.count - len(results)
    if unlisted and datetime.now(timezone.utc) - parse_time(sent.since) > LISTING_GRACE:
        raise JobError(f"SSM does not list {unlisted} of the {sent.count} chef-client command(s) "
                       f"sent at {sent.since}: see Run Command's history in the console")
    report = "\n".join(result.line() for result in results)
    done = sum(result.finished for result in results)
    if done < sent.count:
        report_progress(job["id"], sent, f"chef-client finished on {done} of {sent.count} "
                        f"server(s)\n{report}", 100 * done // sent.count)
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


def send_chef_client(targets: list[dict[str, str]], timeout: int, job_mark: str) -> SentCommands:
    """Send chef-client to each server's tagged nodes in its region."""
    # Whole seconds, rounded down: the commands are sent after it, so the filter keeps them.
    since = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    per_region: dict[str, int] = {}
    for target in targets:
        tag = f"{target['tag_key']}={target['tag_value']}"
        try:
            command = client("ssm", target["region"]).send_command(
                DocumentName=DOCUMENT,
                Comment=f"{COMMENT_PREFIX}{job_mark} {target['name']}",
                Targets=[{"Key": f"tag:{target['tag_key']}", "Values": [target["tag_value"]]}],
                MaxConcurrency=target["max_concurrency"],
                MaxErrors=target["max_errors"],
                TimeoutSeconds=timeout,
                Parameters={"commands": ["chef-client"], "executionTimeout": [str(timeout)]},
            )["Command"]
        except (BotoCoreError, ClientError) as error:
            raise JobError(f"{target['name']}: chef-client could not be sent to the nodes tagged "
                           f"{tag} in {target['region']}: {error}") from error
        per_region[target["region"]] = per_region.get(target["region"], 0) + 1
        print(f"{target['name']}: chef-client sent to the nodes tagged {tag} in "
              f"{target['region']} as command {command['CommandId']}")
    return SentCommands(job_mark, since, per_region)


def listed_commands(region: str, sent: SentCommands) -> list[dict[str, Any]]:
    """The job's commands in ``region``, as SSM lists them."""
    mark = f"{COMMENT_PREFIX}{sent.job_mark} "
    pages = client("ssm", region).get_paginator("list_commands").paginate(
        Filters=[{"key": "InvokedAfter", "value": sent.since}])
    return [command for page in pages for command in page["Commands"]
            if command.get("Comment", "").startswith(mark)]


def command_result(region: str, command: dict[str, Any]) -> CommandResult:
    """One command's status; once it has finished, also which nodes did not succeed."""
    ssm = client("ssm", region)
    command_id = command["CommandId"]
    result = CommandResult(
        server=command["Comment"].split(" ", 2)[2],
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


def report_progress(job_id: str, sent: SentCommands, summary: str, percent: int) -> None:
    """Keep the job running: CodePipeline calls again with the same token."""
    client("codepipeline").put_job_success_result(
        jobId=job_id,
        continuationToken=sent.token(),
        executionDetails={"summary": clip(summary, SUMMARY_LIMIT), "percentComplete": percent},
    )


def decode_token(token: str) -> SentCommands:
    try:
        fields = json.loads(token)
        sent = SentCommands(fields["job"], fields["since"], fields["sent"])
        parse_time(sent.since)
    except (ValueError, KeyError, TypeError) as error:
        raise JobError(f"the continuation token is not this function's: {error!r}") from error
    if not (isinstance(sent.job_mark, str) and isinstance(sent.per_region, dict) and all(
            isinstance(region, str) and isinstance(count, int)
            for region, count in sent.per_region.items())):
        raise JobError("the continuation token is not this function's: expected the job, the "
                       "time the commands were sent and their number per region")
    return sent


def parse_time(since: str) -> datetime:
    return datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying that it was cut."""
    return text if len(text) <= limit else text[: limit - 4] + "\n..."
