"""The Lambda on real fleets' terms: rolling waves against SSM's timeouts, Lambda delivering an
event twice, sends that fail part-way, servers without nodes, nodes SSM cannot reach, 10,000 nodes.

SSM, CodePipeline's job results and the Lambda context are the doubles of tests/aws_doubles.py,
written from AWS's documentation (cited there), because moto models none of this: it runs every
command at once on every node, and has no DescribeInstanceInformation, CancelCommand,
ListCommandInvocations or CodePipeline job API. The targets artifact is in moto's S3.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timezone
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import NoRegionError, ReadTimeoutError
from moto import mock_aws

from tests.aws_doubles import LambdaContext, client_error
from tests.lambda_rollout import BUCKET, Rollout, job_event, load_chef_client, put_artifact, target

TAG = "chef-server"


@pytest.fixture
def chef_client() -> ModuleType:
    return load_chef_client()


@pytest.fixture
def rollout(chef_client: ModuleType, monkeypatch: pytest.MonkeyPatch) -> Iterator[Rollout]:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield Rollout(chef_client, monkeypatch)


def servers(rollout: Rollout, count: int, nodes: int = 2, **config: Any) -> list[str]:
    """``count`` servers in us-east-1 with ``nodes`` online nodes each; their names."""
    names = [f"chef-{n:02d}" for n in range(count)]
    for name in names:
        rollout.region("us-east-1").add_nodes(nodes, {TAG: name})
    put_artifact([target(name, **config) for name in names])
    return names


class LambdaTimedOut(BaseException):
    """The runtime stopping the function: no except clause of the handler sees it."""


def test_the_same_event_delivered_twice_sends_one_command_per_server(
    rollout: Rollout, capsys: pytest.CaptureFixture[str]
) -> None:
    """Lambda may deliver an asynchronous event more than once even without retries:
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-error-handling.html"""
    names = servers(rollout, 2)
    event = job_event()
    first = rollout.invoke(event)
    second = rollout.invoke(event)
    assert first and "continuationToken" in first[1]
    assert second is None  # CodePipeline refused a second result for the job: nothing more sent
    ssm = rollout.region("us-east-1")
    assert sorted(ssm.sent_comments()) == [
        f"chef-client {event['CodePipeline.job']['id'][:8]} {name}" for name in names]
    assert all(command.cancelled_at is None for command in ssm.commands)
    assert rollout.pipeline.attempts[-1] == (  # and no failure sent
        "put_job_success_result", "InvalidJobStateException")
    assert capsys.readouterr().out.endswith(
        "chef-client: the job already has an answer: no command to cancel\n")


def test_a_repeated_progress_check_ends_quietly(
    rollout: Rollout, capsys: pytest.CaptureFixture[str]
) -> None:
    servers(rollout, 1)
    first = rollout.invoke(job_event())
    assert first
    check = job_event(first[1]["continuationToken"])
    assert rollout.invoke(check)
    capsys.readouterr()
    assert rollout.invoke(check) is None
    assert rollout.pipeline.attempts[-1] == ("put_job_success_result", "InvalidJobStateException")
    assert capsys.readouterr().out == "chef-client: the job already has an answer\n"


def test_a_retried_first_call_sends_only_what_the_first_did_not(rollout: Rollout) -> None:
    """The first delivery sent to one server and was stopped before it could report."""
    names = servers(rollout, 3)
    ssm = rollout.region("us-east-1")
    ssm.faults["SendCommand"] = {2: LambdaTimedOut()}
    event = job_event()
    with pytest.raises(LambdaTimedOut):
        rollout.invoke(event)
    reported = rollout.invoke(event)
    assert reported and json.loads(reported[1]["continuationToken"])["sent"] == {"us-east-1": 3}
    assert [comment.rsplit(" ", 1)[1] for comment in ssm.sent_comments()] == names
    assert ssm.calls["SendCommand"] == 4  # 1 sent, 1 stopped, then the other 2: none twice


def test_a_send_failing_on_the_third_of_five_servers_cancels_the_first_two(
    rollout: Rollout,
) -> None:
    servers(rollout, 5)
    ssm = rollout.region("us-east-1")
    ssm.faults["SendCommand"] = {3: client_error("InternalServerError", "SendCommand")}
    operation, reported = rollout.run()
    assert operation == "put_job_failure_result"
    message = reported["failureDetails"]["message"]
    assert message.startswith("chef-02: chef-client could not be sent to the nodes tagged "
                              "chef-server=chef-02 in us-east-1")
    first_two = ssm.commands[:2]
    assert [f"cancelled chef-0{n} (us-east-1) command {command.command_id}"
            for n, command in enumerate(first_two)] == message.splitlines()[1:]
    assert all(command.cancelled_at is not None for command in first_two)
    assert ssm.calls["SendCommand"] == 3 and ssm.calls["CancelCommand"] == 2


def test_a_command_that_cannot_be_cancelled_is_named(rollout: Rollout) -> None:
    servers(rollout, 2)
    ssm = rollout.region("us-east-1")
    ssm.faults["SendCommand"] = {2: client_error("InternalServerError", "SendCommand")}
    ssm.faults["CancelCommand"] = {1: client_error("AccessDeniedException", "CancelCommand")}
    operation, reported = rollout.run()
    assert operation == "put_job_failure_result"
    assert (f"NOT cancelled chef-00 (us-east-1) command {ssm.commands[0].command_id}"
            in reported["failureDetails"]["message"])


@pytest.mark.parametrize("allowed", [False, True], ids=["required", "allowed"])
def test_a_server_with_no_tagged_nodes_fails_the_job_unless_allowed(
    rollout: Rollout, allowed: bool
) -> None:
    rollout.region("us-east-1").add_nodes(2, {TAG: "chef-east"})
    rollout.region("eu-west-1").add_nodes(1, {TAG: "chef-eu"}, state="stopped")
    put_artifact([target("chef-east"),
                  target("chef-eu", "eu-west-1", allow_no_nodes=allowed)])
    operation, reported = rollout.run()
    if allowed:
        assert operation == "put_job_success_result"
        assert rollout.calls("SendCommand") == 1
        assert "chef-client succeeded on 2 of 2 node(s)" in reported["executionDetails"]["summary"]
    else:
        assert operation == "put_job_failure_result"
        assert reported["failureDetails"]["message"] == (
            "chef-client was sent nowhere:\nchef-eu: no running managed node in eu-west-1 "
            "carries the tag chef-server=chef-eu: tag its nodes (with SSM Agent and an instance "
            "profile), or set allow_no_nodes: true in its config.yml")
        assert rollout.calls("SendCommand") == 0


def test_chef_client_at_60_percent_of_the_timeout_in_10_waves_succeeds(rollout: Rollout) -> None:
    servers(rollout, 1, nodes=100, max_concurrency="10%")
    for node in rollout.region("us-east-1").nodes:
        node.run_seconds = 0.6 * 1800
    operation, reported = rollout.run()
    assert operation == "put_job_success_result", reported
    assert reported["executionDetails"]["summary"].startswith(
        "chef-client succeeded on 100 of 100 node(s)")
    [command] = rollout.region("us-east-1").commands
    assert command.params["TimeoutSeconds"] == 9 * 1800 + 10 * 60
    assert command.params["Parameters"]["executionTimeout"] == ["1800"]


def test_the_double_times_out_waves_sent_with_one_timeout_for_both(rollout: Rollout) -> None:
    """What the issue reports of the old Lambda, which gave TimeoutSeconds and executionTimeout the
    same value: in the double, waves after the first few never start."""
    ssm = rollout.region("us-east-1")
    ssm.add_nodes(100, {TAG: "chef-00"}, run_seconds=1080)
    ssm.send_command(DocumentName="AWS-RunShellScript", MaxConcurrency="10%", MaxErrors="0",
                     Targets=[{"Key": f"tag:{TAG}", "Values": ["chef-00"]}], TimeoutSeconds=1800,
                     Parameters={"commands": ["chef-client"], "executionTimeout": ["1800"]})
    rollout.clock.advance(3601)
    described = ssm.commands[0].describe(rollout.clock.now)
    assert described["Status"] == "TimedOut"
    assert described["DeliveryTimedOutCount"] == 80


def test_a_rollout_longer_than_codepipeline_waits_is_refused_before_sending(
    rollout: Rollout,
) -> None:
    servers(rollout, 1, nodes=100, max_concurrency="1")
    operation, reported = rollout.run()
    assert operation == "put_job_failure_result"
    assert "chef-00: 100 node(s) in up to 100 wave(s) (max_concurrency 1) of up to 1800 s need " \
        "51.7 h, more than the job's 23 h (CodePipeline stops it at 24 h)" in (
            reported["failureDetails"]["message"])
    assert rollout.calls("SendCommand") == 0


def test_nodes_ssm_cannot_reach_are_named_with_why(rollout: Rollout) -> None:
    ssm = rollout.region("us-east-1")
    ssm.add_nodes(3, {TAG: "chef-00"})
    [stopped] = ssm.add_nodes(1, {TAG: "chef-00"}, state="stopped")
    [gone] = ssm.add_nodes(1, {TAG: "chef-00"}, state="terminated")
    [offline] = ssm.add_nodes(1, {TAG: "chef-00"}, state="offline")
    [unmanaged] = ssm.add_nodes(1, {TAG: "chef-00"}, state="unmanaged")  # SSM does not target it
    put_artifact([target("chef-00")])
    first = rollout.invoke(job_event())
    assert first and "chef-00 (us-east-1): 4 node(s), 1 not connected to SSM" in (
        first[1]["executionDetails"]["summary"])
    _, reported = rollout.run()
    message = reported["failureDetails"]["message"]
    assert message.splitlines()[:2] == [
        "chef-client succeeded on 3 of 7 node(s); 1 of 1 server(s) failed",
        "chef-00 (us-east-1): TimedOut, 6 node(s) targeted: 3 Success, 2 Delivery Timed Out, "
        "1 Undeliverable, 1 Not Managed"]
    assert message.splitlines()[2:] == [
        "chef-00, 2 Delivery Timed Out (not reached: stopped, or SSM Agent offline, until the "
        f"command expired): {stopped.instance_id}, {offline.instance_id}",
        "chef-00, 1 Undeliverable (not reached: the instance no longer exists, or does not "
        f"respond): {gone.instance_id}",
        "chef-00, 1 Not Managed (not reached: running, but not a managed node when chef-client "
        "was sent (no SSM Agent or instance profile, or still registering)): "
        f"{unmanaged.instance_id}"]


def test_an_instance_launched_during_the_rollout_is_not_counted_against_it(
    rollout: Rollout,
) -> None:
    """An instance started after the command was sent (a scaling group growing) is no node the
    command could have reached."""
    servers(rollout, 1)
    first = rollout.invoke(job_event())
    assert first
    [late] = rollout.region("us-east-1").add_nodes(1, {TAG: "chef-00"}, state="unmanaged")
    late.launched = datetime.fromtimestamp(rollout.clock.now + 1, timezone.utc)
    rollout.clock.advance(600)
    reported = rollout.invoke(job_event(first[1]["continuationToken"]))
    assert reported and reported[0] == "put_job_success_result"
    assert "continuationToken" not in reported[1]


def test_ten_thousand_nodes_one_send_exact_counts_within_limits(rollout: Rollout) -> None:
    ssm = rollout.region("us-east-1")
    ssm.add_nodes(9940, {TAG: "chef-00"}, run_seconds=600)
    ssm.add_nodes(30, {TAG: "chef-00"}, run_seconds=600, succeeds=False)
    ssm.add_nodes(25, {TAG: "chef-00"}, state="stopped")
    ssm.add_nodes(5, {TAG: "chef-00"}, state="terminated")
    put_artifact([target("chef-00", max_concurrency="10%", max_errors="1%")])
    operation, reported = rollout.run(step=600)
    message = reported["failureDetails"]["message"]
    assert operation == "put_job_failure_result"
    assert len(message) <= 5000
    assert message.splitlines()[:2] == [
        "chef-client succeeded on 9940 of 10000 node(s); 1 of 1 server(s) failed",
        "chef-00 (us-east-1): TimedOut, 10000 node(s) targeted: 9940 Success, 30 Failed, "
        "25 Delivery Timed Out, 5 Undeliverable"]
    failed = [node.instance_id for node in ssm.nodes if not node.succeeds]
    assert f"chef-00, 30 Failed (chef-client failed): {', '.join(failed[:20])} and 10 more" in (
        message.splitlines())
    assert ssm.calls["SendCommand"] == 1
    assert ssm.calls["DescribeInstanceInformation"] == 200  # 9,970 running nodes, 50 a page
    assert ssm.calls["ListCommandInvocations"] == 200  # once, after the command finished
    assert ssm.calls["DescribeInstances"] == 10  # the running tagged instances, 1,000 a page
    assert ssm.calls["CancelCommand"] == 0


def test_a_call_near_its_timeout_reports_what_it_read(rollout: Rollout) -> None:
    """The function's clock jumps past its deadline once the first page of nodes is read."""
    servers(rollout, 1, nodes=120)
    ssm = rollout.region("us-east-1")
    rollout.chef_client.time.monotonic = lambda: 1000.0 * ssm.calls["ListCommandInvocations"]
    _, reported = rollout.run()
    assert ssm.calls["ListCommandInvocations"] == 1
    assert reported["failureDetails"]["message"].splitlines()[1] == (
        "chef-00 (us-east-1): Success, 120 node(s) targeted: 50 Success (out of time: not every "
        "node was read)")


ERROR_PATHS = {
    "count": ("DescribeInstanceInformation", 1),
    "look back": ("ListCommands", 1),
    "check": ("ListCommands", 2),
    "read nodes": ("ListCommandInvocations", 1),
}


@pytest.mark.parametrize("where", ERROR_PATHS)
# InvalidJobStateException from SSM is not CodePipeline saying the job has its answer (found by
# tests/test_chef_client_fuzz.py): it fails the job like any other error.
@pytest.mark.parametrize("error", [client_error("ThrottlingException", "x"),
                                   client_error("AccessDeniedException", "x"),
                                   client_error("InvalidJobStateException", "x"), NoRegionError(),
                                   ReadTimeoutError(endpoint_url="https://ssm.example"),
                                   ValueError("unexpected")], ids=repr)
def test_every_error_path_ends_the_job(rollout: Rollout, where: str, error: Exception) -> None:
    servers(rollout, 1)
    operation, number = ERROR_PATHS[where]
    rollout.region("us-east-1").faults[operation] = {number: error}
    reported_operation, reported = rollout.run()
    assert reported_operation == "put_job_failure_result"
    assert type(error).__name__ in reported["failureDetails"]["message"]


def test_a_failed_report_is_retried_then_the_call_ends(
    rollout: Rollout, capsys: pytest.CaptureFixture[str]
) -> None:
    servers(rollout, 1)
    refused: list[Exception] = [
        client_error("ThrottlingException", "PutJobFailureResult") for _ in range(3)]
    rollout.pipeline.faults = {"put_job_success_result": [
        client_error("AccessDeniedException", "PutJobSuccessResult")],
        "put_job_failure_result": refused}
    assert rollout.invoke(job_event()) is None
    assert rollout.pipeline.faults["put_job_failure_result"] == []
    log = capsys.readouterr().out
    assert log.count("reporting the failure, attempt") == 3
    # what was sent was cancelled: the job that would have followed it could not be told
    assert rollout.region("us-east-1").commands[0].cancelled_at is not None


def test_a_report_that_succeeds_on_retry_fails_the_job(rollout: Rollout) -> None:
    put_artifact(b"not json")
    rollout.pipeline.faults = {"put_job_failure_result": [
        client_error("ThrottlingException", "PutJobFailureResult")]}
    reported = rollout.invoke(job_event())
    assert reported and reported[0] == "put_job_failure_result"


@pytest.mark.parametrize("sent", [{}, {"us-east-1": -1}, {"us-east-1": 0}, {"us-east-1": True},
                                  {"": 1}], ids=str)
def test_a_token_without_positive_counts_fails_the_job(rollout: Rollout, sent: object) -> None:
    token = json.dumps({"job": "0", "since": "2026-01-01T00:00:00Z", "sent": sent, "until": 0})
    reported = rollout.invoke(job_event(token))
    assert reported and reported[0] == "put_job_failure_result"
    assert "continuation token is not this function's" in reported[1]["failureDetails"]["message"]


@pytest.mark.parametrize("event", [{}, {"CodePipeline.job": {}}, {"CodePipeline.job": {"id": 5}},
                                   [], None, "x"], ids=repr)
def test_an_event_without_a_job_id_logs_one_line(
    chef_client: ModuleType, event: object, capsys: pytest.CaptureFixture[str]
) -> None:
    chef_client.handler(event, LambdaContext())
    assert capsys.readouterr().out == (
        "chef-client: the event holds no CodePipeline job id, so there is no job to end\n")
