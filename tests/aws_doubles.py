"""Doubles of SSM Run Command, CodePipeline's job results and the Lambda runtime, for the pipeline's
Lambda, written from AWS's documentation of what moto does not model (moto 5 runs every command at
once, with no waves, timeouts or expiry, and has no DescribeInstanceInformation, CancelCommand,
ListCommandInvocations or CodePipeline job API).

What the SSM double does, and where AWS says so:
- https://docs.aws.amazon.com/systems-manager/latest/userguide/monitor-commands.html ("Understanding
  command statuses" and "Understanding command timeout values"; the same text is in
  github.com/awsdocs/aws-systems-manager-user-guide, doc_source/monitor-commands.md): the command
  expires after the sum of TimeoutSeconds and executionTimeout, when every invocation still Pending,
  In Progress or Delayed becomes Delivery Timed Out; a node whose agent is not running keeps its
  invocation In Progress until the execution timeout, then it ends; Execution Timed Out and Failed
  count against MaxErrors, Delivery Timed Out and Undeliverable do not; Undeliverable: the node
  does not exist or does not respond; Terminated: not sent because MaxErrors was exceeded; a command
  whose only other invocations are Undeliverable is a Success, one with only Undeliverable ones is
  Failed.
- https://docs.aws.amazon.com/systems-manager/latest/userguide/send-commands-multiple.html ("Run
  commands at scale"): targets by tag reach the managed nodes carrying it; MaxConcurrency is a count
  or a percentage of the target set; SSM sends to one node, then, once it acknowledges, to two
  more, and so on up to MaxConcurrency, and to the next nodes as others finish (modelled as slots:
  a node starts when one frees, plus a delivery delay); MaxErrors as a count or a percentage
  (10% of 50 nodes: stops at the sixth error); invocations already running may complete.
- The API reference, as botocore's service model carries it (botocore/data/ssm/2014-11-06/
  service-2.json): SendCommand TimeoutSeconds "If this time is reached and the command hasn't
  already started running, it won't run" (30 to 2,592,000), Comment at most 100 characters;
  ListCommands and ListCommandInvocations return at most 50 items a call,
  DescribeInstanceInformation 5 to 50, and it "does not return information for nodes that are
  either Stopped or Terminated"; its tag filter is "tag:{keyname}"; PingStatus Online or
  ConnectionLost; CancelCommand cancels the command on every node it has not finished on.
- https://github.com/meteor-up/mup-aws-beanstalk/issues/87: commands by tag also reach tagged
  instances that are no longer running, and wait there until they time out.
Where AWS is silent the double takes the slower or stricter choice and says so: percentages round
down (at least one node); the Status of a command with nodes not reached is TimedOut or Failed.

CodePipelineDouble follows the API reference of PutJobSuccessResult and PutJobFailureResult
(https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_PutJobSuccessResult.html): a
continuation token and a summary hold at most 2048 characters, a failure message 5000, and a job
takes one final result. LambdaContext has what the runtime's context object offers the handler
(https://docs.aws.amazon.com/lambda/latest/dg/python-context.html).
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from botocore.exceptions import ClientError

DELIVERY_DELAY = 5.0  # seconds from a free slot to a node running the command


def client_error(code: str, operation: str, message: str = "") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message or code}}, operation)


class Clock:
    """The time the doubles and the Lambda agree on; tests move it."""

    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc).replace(microsecond=0).timestamp()

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def datetime_class(self) -> type[datetime]:
        clock = self

        class ClockDatetime(datetime):
            @classmethod
            def now(cls, tz: Any = None) -> Any:
                return datetime.fromtimestamp(clock.now, tz or timezone.utc)

        return ClockDatetime


@dataclass
class Node:
    """An instance carrying a server's tag. ``state``: online, offline (managed, agent not
    connected), stopped, terminated (its tag still visible) or unmanaged (no agent or role)."""

    instance_id: str
    tags: dict[str, str]
    state: str = "online"
    run_seconds: float = 60.0
    succeeds: bool = True
    launched: datetime = datetime(2026, 1, 1, tzinfo=timezone.utc)


@dataclass
class Invocation:
    node: Node
    start: float  # when chef-client starts on the node (inf: never)
    end: float  # when the invocation reaches its final status
    final: str  # the StatusDetails it ends with


FINAL_STATUS = {"Success": "Success", "Failed": "Failed", "Execution Timed Out": "TimedOut",
                "Delivery Timed Out": "TimedOut", "Undeliverable": "Failed",
                "Terminated": "Failed", "Cancelled": "Cancelled"}
ERRORS = {"Failed", "Execution Timed Out"}


def share(value: str, total: int, least: int) -> int:
    """A count, or a percentage of ``total`` rounded down (AWS does not say how it rounds)."""
    return max(least, total * int(value[:-1]) // 100) if value.endswith("%") else int(value)


@dataclass
class Command:
    command_id: str
    params: dict[str, Any]
    requested: float
    invocations: list[Invocation]
    cancelled_at: float | None = None

    @property
    def expires(self) -> float:
        return float(self.requested + self.params["TimeoutSeconds"]
                     + int(self.params["Parameters"]["executionTimeout"][0]))

    def details(self, invocation: Invocation, now: float) -> str:
        if self.cancelled_at is not None and self.cancelled_at <= now and (
                invocation.end > self.cancelled_at):
            return "Cancelled"
        if now >= invocation.end:
            return invocation.final
        if now < invocation.start:
            return "Pending"
        return "Delayed" if invocation.node.state == "stopped" else "In Progress"

    def describe(self, now: float) -> dict[str, Any]:
        found = Counter(self.details(invocation, now) for invocation in self.invocations)
        done = sum(count for detail, count in found.items() if detail in FINAL_STATUS)
        errors = found["Failed"] + found["Execution Timed Out"]
        allowed = share(self.params["MaxErrors"], len(self.invocations), 0)
        if self.cancelled_at is not None and self.cancelled_at <= now:
            status = "Cancelled"
        elif done < len(self.invocations):
            status = "InProgress" if done or found["In Progress"] else "Pending"
        elif errors > allowed or found["Undeliverable"] == len(self.invocations):
            status = "Failed"
        elif found["Delivery Timed Out"]:
            status = "TimedOut"
        else:
            status = "Success" if found["Success"] else "Failed"
        return {
            "CommandId": self.command_id, "Comment": self.params.get("Comment", ""),
            "DocumentName": self.params["DocumentName"], "Status": status,
            "StatusDetails": status, "Targets": self.params["Targets"],
            "RequestedDateTime": datetime.fromtimestamp(self.requested, timezone.utc),
            "ExpiresAfter": datetime.fromtimestamp(self.expires, timezone.utc),
            "TimeoutSeconds": self.params["TimeoutSeconds"],
            "MaxConcurrency": self.params["MaxConcurrency"], "MaxErrors": self.params["MaxErrors"],
            "Parameters": self.params["Parameters"], "TargetCount": len(self.invocations),
            "CompletedCount": done, "ErrorCount": errors,
            "DeliveryTimedOutCount": found["Delivery Timed Out"],
        }


def schedule(params: dict[str, Any], nodes: list[Node], now: float) -> list[Invocation]:
    """When each targeted node runs chef-client and how it ends, MaxConcurrency nodes at a time."""
    delivery = params["TimeoutSeconds"]
    execution = int(params["Parameters"]["executionTimeout"][0])
    expires = now + delivery + execution
    # One node first, then two more once it acknowledges, then four... up to MaxConcurrency.
    slots = [now + DELIVERY_DELAY * ((slot + 1).bit_length() - 1) for slot in range(
        min(share(params["MaxConcurrency"], len(nodes), 1), max(len(nodes), 1)))]
    allowed = share(params["MaxErrors"], len(nodes), 0)
    error_ends: list[float] = []
    invocations = []
    for node in nodes:
        if node.state == "terminated":
            invocations.append(
                Invocation(node, float("inf"), now + DELIVERY_DELAY, "Undeliverable"))
            continue
        free = heapq.heappop(slots)
        start = free + DELIVERY_DELAY
        if sum(end <= start for end in error_ends) > allowed:
            heapq.heappush(slots, free)
            invocations.append(Invocation(node, float("inf"), start, "Terminated"))
            continue
        if start > now + delivery:  # never started: it waits for the command to expire
            heapq.heappush(slots, free)
            invocations.append(Invocation(node, float("inf"), expires, "Delivery Timed Out"))
            continue
        if node.state in ("stopped", "offline"):
            end, final = start + execution, "Delivery Timed Out"
        elif node.run_seconds > execution:
            end, final = start + execution, "Execution Timed Out"
        else:
            end, final = start + node.run_seconds, "Success" if node.succeeds else "Failed"
        if final in ERRORS:
            error_ends.append(end)
        heapq.heappush(slots, end)
        invocations.append(Invocation(node, start, min(end, expires), final))
    return invocations


def paged(items: list[Any], key: str, params: dict[str, Any], operation: str,
          most: int = 50, least: int = 1) -> dict[str, Any]:
    size = params.get("MaxResults", most)
    if not least <= size <= most:
        raise client_error("ValidationException", operation, f"MaxResults {size}")
    offset = int(params.get("NextToken") or 0)
    page: dict[str, Any] = {key: items[offset:offset + size]}
    if offset + size < len(items):
        page["NextToken"] = str(offset + size)
    return page


class SsmDouble:
    """One region's Run Command. ``faults`` maps an operation to {call number: error}."""

    def __init__(self, region: str, clock: Clock) -> None:
        self.region = region
        self.clock = clock
        self.nodes: list[Node] = []
        self.commands: list[Command] = []
        self.calls: Counter[str] = Counter()
        self.faults: dict[str, dict[int, BaseException]] = {}

    def add_nodes(self, count: int, tags: dict[str, str], **behaviour: Any) -> list[Node]:
        added = [Node(f"i-{self.region[:2]}{len(self.nodes) + n:015x}", tags, **behaviour)
                 for n in range(count)]
        self.nodes += added
        return added

    def _call(self, operation: str) -> None:
        self.calls[operation] += 1
        fault = self.faults.get(operation, {}).get(self.calls[operation])
        if fault is not None:
            raise fault

    def _tagged(self, key: str, values: list[str]) -> list[Node]:
        return [node for node in self.nodes if node.tags.get(key) in values]

    def describe_instance_information(self, **params: Any) -> dict[str, Any]:
        self._call("DescribeInstanceInformation")
        [tag_filter] = params["Filters"]
        if not tag_filter["Key"].startswith("tag:"):
            raise client_error("InvalidFilterKey", "DescribeInstanceInformation")
        found = [{"InstanceId": node.instance_id,
                  "PingStatus": "ConnectionLost" if node.state == "offline" else "Online"}
                 for node in self._tagged(tag_filter["Key"][4:], tag_filter["Values"])
                 if node.state in ("online", "offline")]
        return paged(found, "InstanceInformationList", params, "DescribeInstanceInformation",
                     least=5)

    def describe_instances(self, **params: Any) -> dict[str, Any]:
        """EC2's DescribeInstances over the same fleet: a tag filter, a state filter, pages of 5
        to 1000 instances (https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_DescribeInstances.html)."""
        self._call("DescribeInstances")
        tag, state = params["Filters"]
        states = {"online": "running", "offline": "running", "unmanaged": "running"}
        found = [{"Instances": [{"InstanceId": node.instance_id, "LaunchTime": node.launched,
                                 "State": {"Name": states.get(node.state, node.state)}}]}
                 for node in self._tagged(tag["Name"][4:], tag["Values"])
                 if states.get(node.state, node.state) in state["Values"]]
        return paged(found, "Reservations", params, "DescribeInstances", most=1000, least=5)

    def send_command(self, **params: Any) -> dict[str, Any]:
        self._call("SendCommand")
        if not 30 <= params["TimeoutSeconds"] <= 2592000 or len(params.get("Comment", "")) > 100:
            raise client_error("ValidationException", "SendCommand")
        [target] = params["Targets"]
        nodes = [node for node in self._tagged(target["Key"][4:], target["Values"])
                 if node.state != "unmanaged"]
        command = Command(f"{len(self.commands):08x}-0000-4000-8000-{self.region[:12]:0>12}",
                          params, self.clock.now, schedule(params, nodes, self.clock.now))
        self.commands.append(command)
        return {"Command": command.describe(self.clock.now)}

    def list_commands(self, **params: Any) -> dict[str, Any]:
        self._call("ListCommands")
        after = next((f["value"] for f in params.get("Filters", []) if f["key"] == "InvokedAfter"),
                     None)
        since = datetime.strptime(after, "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=timezone.utc).timestamp() if after else 0
        found = [command.describe(self.clock.now) for command in reversed(self.commands)
                 if command.requested >= since]
        return paged(found, "Commands", params, "ListCommands")

    def list_command_invocations(self, **params: Any) -> dict[str, Any]:
        self._call("ListCommandInvocations")
        command = self.command(params["CommandId"])
        found = [{"CommandId": command.command_id, "InstanceId": invocation.node.instance_id,
                  "Comment": command.params.get("Comment", ""),
                  "Status": FINAL_STATUS.get(detail, re.sub(" ", "", detail)),
                  "StatusDetails": detail}
                 for invocation in command.invocations
                 for detail in [command.details(invocation, self.clock.now)]]
        return paged(found, "CommandInvocations", params, "ListCommandInvocations")

    def cancel_command(self, **params: Any) -> dict[str, Any]:
        self._call("CancelCommand")
        command = self.command(params["CommandId"])
        if command.cancelled_at is None:
            command.cancelled_at = self.clock.now
        return {}

    def command(self, command_id: str) -> Command:
        found = [command for command in self.commands if command.command_id == command_id]
        if not found:
            raise client_error("InvalidCommandId", "ListCommandInvocations")
        return found[0]

    def sent_comments(self) -> list[str]:
        return [command.params["Comment"] for command in self.commands]


@dataclass
class CodePipelineDouble:
    """Job results as CodePipeline takes them: one final result per job."""

    results: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    faults: dict[str, list[Exception]] = field(default_factory=dict)
    finished: set[str] = field(default_factory=set)
    # (operation, "taken" or the error it met), a row per attempt
    attempts: list[tuple[str, str]] = field(default_factory=list)

    def _record(self, operation: str, params: dict[str, Any]) -> None:
        try:
            self._take(operation, params)
        except Exception as error:
            response = getattr(error, "response", None)
            code = response["Error"]["Code"] if isinstance(response, dict) else None
            self.attempts.append((operation, code or type(error).__name__))
            raise
        self.attempts.append((operation, "taken"))

    def _take(self, operation: str, params: dict[str, Any]) -> None:
        queued = self.faults.get(operation)
        if queued:
            raise queued.pop(0)
        if params["jobId"] in self.finished:
            raise client_error("InvalidJobStateException", operation)
        details = params.get("executionDetails", {})
        if (len(params.get("continuationToken", "")) > 2048
                or len(details.get("summary", "")) > 2048
                or len(params.get("failureDetails", {}).get("message", "")) > 5000):
            raise client_error("ValidationException", operation)
        self.results.append((operation, params))
        self.finished.add(params["jobId"])

    def put_job_success_result(self, **params: Any) -> dict[str, Any]:
        self._record("put_job_success_result", params)
        return {}

    def put_job_failure_result(self, **params: Any) -> dict[str, Any]:
        self._record("put_job_failure_result", params)
        return {}


@dataclass
class LambdaContext:
    """The parts of the runtime's context the handler reads."""

    remaining_ms: int = 600_000
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:chef-client"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms
