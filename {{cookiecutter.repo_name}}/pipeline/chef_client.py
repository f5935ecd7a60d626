"""The pipeline's last step: run chef-client on every Chef server's nodes and wait for the result.

CodePipeline invokes ``handler`` asynchronously with CodeBuild's targets file as input artifact. The
first call counts each server's tagged managed nodes, gives each server's command a delivery
timeout that fits its worst-case number of waves, and sends one SSM command per server, each
command's comment naming the job and the server. A repeated first call (Lambda may deliver an event
twice) finds what was already sent and does not send it again; a send that fails cancels what was
sent. The call answers with a continuation token that says where and since when to look for the
commands (not their ids: a token holds 2048 characters, and any number of servers must fit).
CodePipeline calls again with that token until every command has finished; then the job succeeds,
or fails with exact counts per server and the nodes not reached and why. Every path ends in a job
result, within the function's time, so a job never hangs.

This module is the function's only source: cloudformation/pipeline.yml carries it inline, and inline
code is one file.
"""

from __future__ import annotations

import functools
import io
import json
import os
import re
import time
import zipfile
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

import boto3
from botocore.config import Config

TARGETS_FILE = "chef-targets.json"
TARGET_FIELDS = ("name", "region", "tag_key", "tag_value", "max_concurrency", "max_errors")
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]{1,2}")
DOCUMENT = "AWS-RunShellScript"
# SSM keeps a command's comment: the checks find a job's commands by it, and read which server each
# is for. "chef-client <job> <server>" stays within SSM's 100 characters.
COMMENT_PREFIX = "chef-client "
JOB_MARK_LENGTH = 8  # of the first job id: unique enough among the commands of a few minutes
# How long SSM may take to list a command it accepted before the job gives up on it.
LISTING_GRACE = timedelta(minutes=10)
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"  # SSM's InvokedAfter filter: whole seconds, UTC
# A repeated first call looks this far back for what an earlier delivery sent: CodePipeline waits
# 20 minutes for an answer, and the template drops events older than that.
RESEND_WINDOW = timedelta(minutes=30)
TIMEOUT_VARIABLE = "CHEF_CLIENT_TIMEOUT_SECONDS"
# SSM delivers to one node, then to more until MaxConcurrency run: allowed per wave for delivery.
WAVE_DELIVERY_SECONDS = 60
# CodePipeline fails a Lambda action after 24 hours; one of them is kept for listing and reports.
JOB_WAIT_SECONDS = 23 * 3600
# A dead endpoint costs a call at most ATTEMPTS x (connect + read) plus back-off (under 2^ATTEMPTS
# s); the function stops working early enough for one call still under way and every report attempt.
CONNECT_SECONDS, READ_SECONDS, ATTEMPTS = 5, 15, 3
CONFIG = Config(connect_timeout=CONNECT_SECONDS, read_timeout=READ_SECONDS,
                retries={"mode": "adaptive", "total_max_attempts": ATTEMPTS})
CALL_SECONDS = ATTEMPTS * (CONNECT_SECONDS + READ_SECONDS) + 2**ATTEMPTS
REPORT_ATTEMPTS = 3
ANSWERED = "InvalidJobStateException"  # CodePipeline's refusal of a second result for a job
RESERVE_SECONDS = CALL_SECONDS * (1 + REPORT_ATTEMPTS)
DEFAULT_SECONDS = 600  # the time a call has when its context does not say: the template's Timeout
PAGE_SIZE = 50  # the most SSM's List and Describe calls return at once
FINISHED = frozenset({"Success", "Failed", "TimedOut", "Cancelled"})
# Why a node did not succeed, by SSM's StatusDetails of its invocation.
REASONS = {
    "Failed": "chef-client failed",
    "Execution Timed Out": f"chef-client ran longer than {TIMEOUT_VARIABLE}",
    "Delivery Timed Out": "not reached: stopped, or SSM Agent offline, until the command expired",
    "Undeliverable": "not reached: the instance no longer exists, or does not respond",
    "Terminated": "not run: the rollout stopped at max_errors",
    "Cancelled": "cancelled",
    "InvalidPlatform": "not run: not Linux",
    "AccessDenied": "not run: the function may not send to it",
    # Not SSM's: an instance with the tag, running when the command was sent, that SSM did not
    # target (tag targets reach managed nodes only).
    "Not Managed": "not reached: running, but not a managed node when chef-client was sent (no "
    "SSM Agent or instance profile, or still registering)",
}
EXAMPLES = 20  # nodes named per reason in the job's summary; the log names all
# CodePipeline's limits on a job result's fields, in characters.
MESSAGE_LIMIT = 5000
SUMMARY_LIMIT = 2048


class JobError(Exception):
    """A reason the job fails, worded for the pipeline's console."""


class AlreadyAnswered(Exception):
    """CodePipeline refused a result because the job has one: a repeated delivery of this call."""


class OutOfTime(JobError):
    """The call is about to reach the function's timeout: it must report now."""

    def __init__(self) -> None:
        super().__init__("the function ran out of time")


@functools.cache
def client(service: Literal["codepipeline", "ssm", "ec2"], region: str | None = None) -> Any:
    """One client per service and region, kept between invocations of a warm function."""
    return boto3.client(service, region_name=region, config=CONFIG)


def handler(event: object, context: object) -> None:
    """CodePipeline's entry point. The event is never logged: it holds temporary credentials."""
    job = event.get("CodePipeline.job") if isinstance(event, dict) else None
    if not isinstance(job, dict) or not isinstance(job.get("id"), str) or not job["id"]:
        print("chef-client: the event holds no CodePipeline job id, so there is no job to end")
        return
    job_id: str = job["id"]
    arn = str(getattr(context, "invoked_function_arn", ""))
    home = (os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
            or (arn.split(":")[3] if arn.count(":") >= 6 else None))
    remaining = getattr(context, "get_remaining_time_in_millis", lambda: DEFAULT_SECONDS * 1000)
    deadline = time.monotonic() + remaining() / 1000 - RESERVE_SECONDS
    try:
        run_job(job, home, deadline)
    except AlreadyAnswered:
        print("chef-client: the job already has an answer")
    except Exception as error:
        message = str(error) if isinstance(error, JobError) else f"{type(error).__name__}: {error}"
        print(f"chef-client job failed: {message}")
        report_failure(job_id, home, clip(message, MESSAGE_LIMIT))


def error_code(error: BaseException) -> str | None:
    """The code of an AWS service's error, as botocore gives it."""
    response = getattr(error, "response", None)  # None on botocore's timeouts
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code if isinstance(code, str) else None


def report_failure(job_id: str, home: str | None, message: str) -> None:
    """Fail the job; when CodePipeline refuses even that, say so in the log and end."""
    for attempt in range(1, REPORT_ATTEMPTS + 1):
        try:
            client("codepipeline", home).put_job_failure_result(
                jobId=job_id, failureDetails={"type": "JobFailed", "message": message})
            return
        except Exception as error:
            print(f"chef-client: reporting the failure, attempt {attempt}: "
                  f"{type(error).__name__}: {error}")
            time.sleep(attempt if attempt < REPORT_ATTEMPTS else 0)


@dataclass(frozen=True)
class Target:
    """One server's nodes, as the targets file names them, and how many SSM counts."""

    name: str
    region: str
    tag_key: str
    tag_value: str
    max_concurrency: str
    max_errors: str
    allow_no_nodes: bool
    nodes: int = 0  # managed nodes carrying the tag, neither stopped nor terminated
    offline: int = 0  # of those, how many SSM Agent does not answer for (ConnectionLost)

    def waves(self) -> int:
        """The most waves SSM can take: a percentage rounded down, since SSM does not say how it
        rounds, and at least one node at a time."""
        concurrency = self.max_concurrency
        at_once = (self.nodes * int(concurrency[:-1]) // 100 if concurrency.endswith("%")
                   else int(concurrency))
        return -(-self.nodes // max(1, at_once))

    def delivery_seconds(self, per_node: int) -> int:
        """SSM's TimeoutSeconds: the last wave must have started before it runs out."""
        return max(30, (self.waves() - 1) * per_node + self.waves() * WAVE_DELIVERY_SECONDS)


def run_job(job: dict[str, Any], home: str | None, deadline: float) -> None:
    """Send chef-client (first call) or check on it (later calls); raise JobError when it failed."""
    data = job.get("data")
    if not isinstance(data, dict):
        raise JobError("the job holds no data: is this function CodePipeline's Lambda action?")
    if data.get("continuationToken") is None:
        start(job["id"], data, home, deadline)
    else:
        check(job["id"], SentCommands.decode(data["continuationToken"]), home, deadline)


def start(job_id: str, data: dict[str, Any], home: str | None, deadline: float) -> None:
    """Count, check, send; answer with the token the next calls look for the commands by."""
    per_node = timeout_seconds()
    targets = [count_nodes(target, deadline) for target in read_targets(data, home)]
    check_targets(targets, per_node)
    sent = send_chef_client(targets, per_node, job_id[:JOB_MARK_LENGTH], deadline)
    try:
        if not sent.per_region:
            return report_success(job_id, home, "no server has nodes: nothing to run")
        report_progress(job_id, home, sent, first_summary(targets), 0)
    except AlreadyAnswered:
        # A repeated delivery of a call that has answered: its commands are the job's.
        print(f"chef-client: the job already has an answer: {cancel_all(sent.new, deadline)}")
    except Exception as error:
        # A job that cannot be told must not leave chef-client running.
        raise JobError(f"{error}\n{cancel_all(sent.ids, deadline)}") from error


def check(job_id: str, sent: SentCommands, home: str | None, deadline: float) -> None:
    """Keep the job running while a command runs; then judge every node."""
    commands = [(region, command) for region in sent.per_region
                for command in listed_commands(region, sent, deadline)]
    unlisted = sent.count - len(commands)
    now = datetime.now(timezone.utc)
    if unlisted > 0 and now - parse_time(sent.since) > LISTING_GRACE:
        raise JobError(f"SSM does not list {unlisted} of the {sent.count} chef-client command(s) "
                       f"sent at {sent.since}: see Run Command's history in the console")
    running = [command for _, command in commands if command["Status"] not in FINISHED]
    if running and now.timestamp() > sent.until:
        raise JobError("SSM has not finished chef-client past the time its commands expire: "
                       + ", ".join(command["Comment"].split(" ", 2)[2] for command in running))
    if running or unlisted > 0:
        done = sum(command["CompletedCount"] for _, command in commands)
        total = sum(command["TargetCount"] for _, command in commands)
        return report_progress(job_id, home, sent, f"chef-client finished on {done} of "
                               f"{total} node(s); {len(running)} server(s) still running",
                               100 * done // max(total, 1))
    report = Report([ServerResult.read(region, command, deadline) for region, command in commands])
    print(report.text(0))
    if report.succeeded:
        report_success(job_id, home, report.text(SUMMARY_LIMIT))
    else:
        raise JobError(report.text(MESSAGE_LIMIT))


def read_targets(data: dict[str, Any], home: str | None) -> list[Target]:
    """The targets file of the job's input artifact, read with the job's own credentials."""
    artifacts = data.get("inputArtifacts") or []
    if not isinstance(artifacts, list) or len(artifacts) != 1:
        raise JobError(f"expected one input artifact (CodeBuild's {TARGETS_FILE})")
    location = artifacts[0]["location"]["s3Location"]
    credentials = data["artifactCredentials"]
    s3 = boto3.client(
        "s3",
        region_name=home,
        aws_access_key_id=credentials["accessKeyId"],
        aws_secret_access_key=credentials["secretAccessKey"],
        aws_session_token=credentials["sessionToken"],
        config=CONFIG,
    )
    body = s3.get_object(Bucket=location["bucketName"], Key=location["objectKey"])["Body"].read()
    try:
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            servers = json.loads(archive.read(TARGETS_FILE))["servers"]
        targets = [Target(**{key: server[key] for key in (*TARGET_FIELDS, "allow_no_nodes")})
                   for server in servers]
    except (zipfile.BadZipFile, KeyError, ValueError, TypeError) as error:
        raise JobError(f"the input artifact holds no readable {TARGETS_FILE}: {error!r}") from error
    if not targets or not all(
        all(isinstance(getattr(target, key), str) for key in TARGET_FIELDS)
        and isinstance(target.allow_no_nodes, bool) and REGION.fullmatch(target.region)
        and re.fullmatch(r"[1-9][0-9]{0,3}%?", target.max_concurrency) for target in targets
    ):
        raise JobError(f"{TARGETS_FILE} must list servers, each with a region, the strings "
                       f"{', '.join(TARGET_FIELDS)} and the boolean allow_no_nodes")
    return targets


def timeout_seconds() -> int:
    """How long chef-client may run on one node (SSM's executionTimeout)."""
    value = os.environ.get(TIMEOUT_VARIABLE, "")
    if not (value.isascii() and value.isdigit()) or not 30 <= int(value) <= JOB_WAIT_SECONDS:
        raise JobError(f"{TIMEOUT_VARIABLE}={value!r} must be a number of seconds, at least 30")
    return int(value)


def pages(call: Callable[..., dict[str, Any]], key: str, deadline: float, size: int = PAGE_SIZE,
          **params: Any) -> Iterator[Any]:
    """Every item of a paged list, ``size`` a call, while the call has time."""
    while True:
        if time.monotonic() > deadline:
            raise OutOfTime
        page = call(MaxResults=size, **params)
        yield from page[key]
        if not page.get("NextToken"):
            return
        params["NextToken"] = page["NextToken"]


def count_nodes(target: Target, deadline: float) -> Target:
    """``target`` with its managed nodes counted (SSM does not list stopped or terminated ones)."""
    ssm = client("ssm", target.region)
    found = Counter(node.get("PingStatus") for node in pages(
        ssm.describe_instance_information, "InstanceInformationList", deadline,
        Filters=[{"Key": f"tag:{target.tag_key}", "Values": [target.tag_value]}]))
    return Target(**{**target.__dict__, "nodes": found.total(), "offline": found["ConnectionLost"]})


def check_targets(targets: list[Target], per_node: int) -> None:
    """Refuse before anything is sent: a server without nodes, or a rollout longer than the job."""
    problems = [
        f"{target.name}: no running managed node in {target.region} carries the tag "
        f"{target.tag_key}={target.tag_value}: tag its nodes (with SSM Agent and an instance "
        "profile), or set allow_no_nodes: true in its config.yml"
        for target in targets if not target.nodes and not target.allow_no_nodes
    ] + [
        f"{target.name}: {target.nodes} node(s) in up to {target.waves()} wave(s) "
        f"(max_concurrency {target.max_concurrency}) of up to {per_node} s need "
        f"{(target.delivery_seconds(per_node) + per_node) / 3600:.1f} h, more than the job's "
        f"{JOB_WAIT_SECONDS // 3600} h (CodePipeline stops it at 24 h): raise max_concurrency or "
        f"lower {TIMEOUT_VARIABLE}"
        for target in targets
        if target.nodes and target.delivery_seconds(per_node) + per_node > JOB_WAIT_SECONDS
    ]
    if problems:
        raise JobError("chef-client was sent nowhere:\n" + "\n".join(problems))


@dataclass(frozen=True)
class SentCommands:
    """What a continuation token carries: which job's commands to look for, since when, how many
    were sent to each region, and when the last of them expires (seconds since the epoch)."""

    job_mark: str
    since: str  # in TIME_FORMAT
    per_region: dict[str, int]
    until: int
    ids: tuple[tuple[str, str, str], ...] = ()  # (server, region, command id): not in the token
    earlier: int = 0  # how many of ids an earlier delivery of the first call sent

    @property
    def new(self) -> tuple[tuple[str, str, str], ...]:
        return self.ids[self.earlier:]

    @property
    def count(self) -> int:
        return sum(self.per_region.values())

    def token(self) -> str:
        return json.dumps({"job": self.job_mark, "since": self.since, "sent": self.per_region,
                           "until": self.until}, separators=(",", ":"))

    @classmethod
    def decode(cls, token: object) -> SentCommands:
        try:
            fields: Any = json.loads(token) if isinstance(token, str) else None
            sent = cls(fields["job"], fields["since"], fields["sent"], fields["until"])
            parse_time(sent.since)
        except (ValueError, KeyError, TypeError) as error:
            raise JobError(f"the continuation token is not this function's: {error!r}") from error
        if not (isinstance(sent.job_mark, str) and isinstance(sent.per_region, dict)
                and sent.per_region and type(sent.until) is int and all(
                    isinstance(region, str) and REGION.fullmatch(region)
                    and type(count) is int and count > 0
                    for region, count in sent.per_region.items())):
            raise JobError("the continuation token is not this function's: expected the job, "
                           "the time the commands were sent, a positive count per region and "
                           "when they expire")
        return sent


def send_chef_client(targets: list[Target], per_node: int, job_mark: str,
                     deadline: float) -> SentCommands:
    """Send chef-client to each server's tagged nodes in its region, unless an earlier delivery of
    this call did; when a send fails, cancel every command of the job and fail it."""
    now = datetime.now(timezone.utc)
    lookback = SentCommands(job_mark, (now - RESEND_WINDOW).strftime(TIME_FORMAT), {}, 0)
    found = {command["Comment"].split(" ", 2)[2]: (region, command)
             for region in {target.region for target in targets}
             for command in listed_commands(region, lookback, deadline)}
    since = min([now, *(command["RequestedDateTime"] for _, command in found.values())])
    sent = [(name, region, command["CommandId"]) for name, (region, command) in found.items()]
    for target in targets:
        if target.name in found or not target.nodes:
            continue
        try:
            if time.monotonic() > deadline:
                raise OutOfTime
            command = client("ssm", target.region).send_command(
                DocumentName=DOCUMENT,
                Comment=f"{COMMENT_PREFIX}{job_mark} {target.name}",
                Targets=[{"Key": f"tag:{target.tag_key}", "Values": [target.tag_value]}],
                MaxConcurrency=target.max_concurrency,
                MaxErrors=target.max_errors,
                TimeoutSeconds=target.delivery_seconds(per_node),
                Parameters={"commands": ["chef-client"], "executionTimeout": [str(per_node)]},
            )["Command"]
        except Exception as error:
            raise JobError(f"{target.name}: chef-client could not be sent to the nodes tagged "
                           f"{target.tag_key}={target.tag_value} in {target.region}: {error}\n"
                           f"{cancel_all(sent, deadline)}") from error
        sent.append((target.name, target.region, command["CommandId"]))
        print(f"{target.name}: chef-client sent to {target.nodes} node(s) tagged "
              f"{target.tag_key}={target.tag_value} in {target.region} as command "
              f"{command['CommandId']}")
    expires = max([0, *(target.delivery_seconds(per_node) + per_node for target in targets)])
    return SentCommands(job_mark, since.strftime(TIME_FORMAT),
                        dict(Counter(region for _, region, _ in sent)),
                        int(since.timestamp() + expires + LISTING_GRACE.total_seconds()),
                        tuple(sent), len(found))


def cancel_all(sent: Iterable[tuple[str, str, str]], deadline: float) -> str:
    """Cancel the job's commands; say which were cancelled and which could not be."""
    lines = []
    for server, region, command_id in sent:
        try:
            if time.monotonic() > deadline + CALL_SECONDS:  # no other call is under way
                raise OutOfTime
            client("ssm", region).cancel_command(CommandId=command_id)
            lines.append(f"cancelled {server} ({region}) command {command_id}")
        except Exception as error:
            lines.append(f"NOT cancelled {server} ({region}) command {command_id}: {error}: "
                         "cancel it in Run Command's console")
    return "\n".join(lines) or "no command to cancel"


def first_summary(targets: list[Target]) -> str:
    lines = [f"{target.name} ({target.region}): {target.nodes} node(s)"
             + (f", {target.offline} not connected to SSM" if target.offline else "")
             + ("" if target.nodes else ", none: allowed by its config.yml")
             for target in targets]
    return "\n".join(["chef-client sent", *lines])


def listed_commands(region: str, sent: SentCommands, deadline: float) -> list[dict[str, Any]]:
    """The job's commands in ``region``, as SSM lists them."""
    mark = f"{COMMENT_PREFIX}{sent.job_mark} "
    return [command for command in pages(
        client("ssm", region).list_commands, "Commands", deadline,
        Filters=[{"key": "InvokedAfter", "value": sent.since}])
        if command.get("Comment", "").startswith(mark)]


@dataclass(frozen=True)
class ServerResult:
    """One server's finished command: its nodes counted by SSM's detailed status."""

    server: str
    region: str
    status: str
    target_count: int
    counts: Counter[str]
    examples: dict[str, list[str]]
    read_all: bool

    @classmethod
    def read(cls, region: str, command: dict[str, Any], deadline: float) -> ServerResult:
        """Every invocation of the command, and every running instance with its tag that SSM
        did not target (tag targets reach managed nodes only)."""
        counts: Counter[str] = Counter()
        examples: dict[str, list[str]] = {}
        targeted = set()
        [target] = command["Targets"]
        try:
            for invocation in pages(client("ssm", region).list_command_invocations,
                                    "CommandInvocations", deadline, CommandId=command["CommandId"]):
                targeted.add(invocation["InstanceId"])
                detail = invocation.get("StatusDetails") or invocation.get("Status", "?")
                counts[detail] += 1
                if detail != "Success":
                    examples.setdefault(detail, []).append(invocation["InstanceId"])
            for reservation in pages(
                    client("ec2", region).describe_instances, "Reservations", deadline, size=1000,
                    Filters=[{"Name": target["Key"], "Values": target["Values"]},
                             {"Name": "instance-state-name", "Values": ["running"]}]):
                for instance in reservation["Instances"]:
                    if (instance["InstanceId"] not in targeted
                            and instance["LaunchTime"] < command["RequestedDateTime"]):
                        counts["Not Managed"] += 1
                        examples.setdefault("Not Managed", []).append(instance["InstanceId"])
            read_all = True
        except OutOfTime:  # the job fails, saying so
            read_all = False
        return cls(command["Comment"].split(" ", 2)[2], region, command["Status"],
                   command["TargetCount"], counts, examples, read_all)

    @property
    def nodes(self) -> int:
        return max(self.target_count, self.counts.total())

    @property
    def succeeded(self) -> bool:
        return self.read_all and 0 < self.counts["Success"] == self.nodes

    def line(self) -> str:
        counted = ", ".join(f"{count} {detail}" for detail, count in self.counts.most_common())
        cut = "" if self.read_all else " (out of time: not every node was read)"
        return (f"{self.server} ({self.region}): {self.status}, {self.target_count} node(s) "
                f"targeted{': ' + counted if counted else ''}{cut}")


@dataclass(frozen=True)
class Report:
    results: list[ServerResult]

    @property
    def succeeded(self) -> bool:
        return all(result.succeeded for result in self.results)

    def text(self, limit: int) -> str:
        """Exact counts first, then the nodes that did not succeed, cut to ``limit`` (0: all)."""
        nodes = sum(result.nodes for result in self.results)
        good = sum(result.counts["Success"] for result in self.results)
        failed = [result.server for result in self.results if not result.succeeded]
        head = [f"chef-client succeeded on {good} of {nodes} node(s); "
                f"{len(failed)} of {len(self.results)} server(s) failed"]
        details = [f"{result.server}, {len(found)} {detail} ({REASONS.get(detail, detail)}): "
                   + ", ".join(found[:EXAMPLES] if limit else found)
                   + (f" and {len(found) - EXAMPLES} more" if limit and found[EXAMPLES:] else "")
                   for result in self.results for detail, found in result.examples.items()]
        text = "\n".join([*head, *(result.line() for result in self.results), *details])
        return clip(text, limit) if limit else text


def report_progress(job_id: str, home: str | None, sent: SentCommands, summary: str,
                    percent: int) -> None:
    """Keep the job running: CodePipeline calls again with the same token."""
    answer(job_id, home, continuationToken=sent.token(),
           executionDetails={"summary": clip(summary, SUMMARY_LIMIT), "percentComplete": percent})


def report_success(job_id: str, home: str | None, summary: str) -> None:
    answer(job_id, home, executionDetails={"summary": clip(summary, SUMMARY_LIMIT)})


def answer(job_id: str, home: str | None, **result: Any) -> None:
    """put_job_success_result; AlreadyAnswered only when CodePipeline itself says the job has its
    result (the same code from another service means nothing of the kind)."""
    try:
        client("codepipeline", home).put_job_success_result(jobId=job_id, **result)
    except Exception as error:
        if error_code(error) == ANSWERED:
            raise AlreadyAnswered from error
        raise


def parse_time(since: str) -> datetime:
    return datetime.strptime(since, TIME_FORMAT).replace(tzinfo=timezone.utc)


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, saying that it was cut."""
    return text if len(text) <= limit else text[: limit - 4] + "\n..."
