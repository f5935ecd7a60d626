"""A bounded fuzz of the Lambda's handler: hostile events and continuation tokens, broken targets
artifacts, fleets with stopped, terminated and offline nodes, and faults on every SSM and
CodePipeline call, against the doubles of tests/aws_doubles.py (written from AWS's documentation,
cited there) with moto's S3 for the artifact.

The job-result invariant: the handler never raises; a call with a job id ends in
put_job_success_result (final, or with a continuation token) or put_job_failure_result; when
CodePipeline refuses, either the job already had its answer (a repeated delivery) or the call has
tried to report the failure three times; a call without a job id reports nothing; no job is left
running past CodePipeline's 24 hours.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError, NoRegionError, ReadTimeoutError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from tests.aws_doubles import client_error
from tests.lambda_rollout import (
    ACTION_LIMIT_SECONDS,
    ARTIFACT_KEY,
    BUCKET,
    Rollout,
    job_event,
    load_chef_client,
    put_artifact,
    target,
)

SSM_OPERATIONS = ("DescribeInstanceInformation", "SendCommand", "ListCommands",
                  "ListCommandInvocations", "CancelCommand", "DescribeInstances")
REPORTS = ("put_job_success_result", "put_job_failure_result")
TAG = "chef-server"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                               max_size=3),
    max_leaves=8,
)
errors = st.sampled_from([
    client_error("ThrottlingException", "x"), client_error("AccessDeniedException", "x"),
    client_error("InternalServerError", "x"), client_error("InvalidJobStateException", "x"),
    NoRegionError(), EndpointConnectionError(endpoint_url="https://ssm.example"),
    ReadTimeoutError(endpoint_url="https://ssm.example"), ValueError("odd"), KeyError("odd"),
])
tokens = st.one_of(
    st.text(max_size=20),
    json_values.map(json.dumps),
    st.fixed_dictionaries({
        "job": st.text(max_size=8), "since": st.sampled_from(["2026-01-01T00:00:00Z", "x"]),
        "sent": st.dictionaries(st.sampled_from(["us-east-1", "", "mars"]),
                                st.integers(-2, 3) | st.booleans() | st.none(), max_size=2),
        "until": st.integers(-1, 2**40) | st.none()}).map(json.dumps),
)
servers = st.lists(st.fixed_dictionaries({
    "nodes": st.lists(st.sampled_from(["online", "offline", "stopped", "terminated", "unmanaged"]),
                      max_size=4),
    "fails": st.booleans(),
    "allow_no_nodes": st.booleans(),
    "max_concurrency": st.sampled_from(["1", "10%", "50"]),
    "max_errors": st.sampled_from(["0", "1", "50%"]),
}), max_size=3)


@pytest.fixture(scope="module")
def s3() -> Iterator[None]:
    """moto's S3 with the artifact bucket, once for all examples (starting moto takes a while)."""
    with pytest.MonkeyPatch.context() as monkeypatch, mock_aws():
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_DEFAULT_REGION", "us-east-1")):
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket=BUCKET)
        yield


def assert_ended(rollout: Rollout, event: Any, reports_before: int,
                 reported: tuple[str, dict[str, Any]] | None) -> None:
    attempts = rollout.pipeline.attempts[reports_before:]
    job = event.get("CodePipeline.job") if isinstance(event, dict) else None
    if not (isinstance(job, dict) and isinstance(job.get("id"), str) and job["id"]):
        assert attempts == []
    elif reported is None:  # CodePipeline refused: the job had its answer, or the failure thrice
        assert attempts[-1] == ("put_job_success_result", "InvalidJobStateException") or (
            [operation for operation, outcome in attempts[-3:] if outcome != "taken"]
            == ["put_job_failure_result"] * 3)
    else:
        assert reported[0] in REPORTS


@settings(max_examples=120, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    fleet=servers,
    artifact=st.sampled_from(["targets", "junk", "missing"]),
    first=st.one_of(st.just("job"), json_values, tokens.map(lambda token: ("token", token))),
    ssm_faults=st.dictionaries(st.sampled_from(SSM_OPERATIONS),
                               st.dictionaries(st.integers(1, 3), errors, max_size=2), max_size=3),
    report_faults=st.dictionaries(st.sampled_from(REPORTS), st.lists(errors, max_size=4),
                                  max_size=2),
    step=st.sampled_from([60, 900, 3600]),
)
def test_every_call_ends_its_job(s3: None, fleet: list[dict[str, Any]], artifact: str,
                                 first: Any, ssm_faults: dict[str, dict[int, Exception]],
                                 report_faults: dict[str, list[Exception]], step: int) -> None:
    chef_client = load_chef_client()
    with pytest.MonkeyPatch.context() as monkeypatch:
        rollout = Rollout(chef_client, monkeypatch)
        ssm = rollout.region("us-east-1")
        for number, server in enumerate(fleet):
            for state in server["nodes"]:
                ssm.add_nodes(1, {TAG: f"chef-{number}"}, state=state,
                              succeeds=not server["fails"])
        if artifact == "missing":
            boto3.client("s3", region_name="us-east-1").delete_object(
                Bucket=BUCKET, Key=ARTIFACT_KEY)
        else:
            put_artifact(b"{" if artifact == "junk" else [
                target(f"chef-{number}", **{key: server[key] for key in (
                    "allow_no_nodes", "max_concurrency", "max_errors")})
                for number, server in enumerate(fleet)])
        ssm.faults = {operation: dict(faults) for operation, faults in ssm_faults.items()}
        rollout.pipeline.faults = {operation: list(faults)
                                   for operation, faults in report_faults.items()}

        event = (job_event() if first == "job" else job_event(first[1])
                 if isinstance(first, tuple) else first)
        started = rollout.clock.now
        while True:
            before = len(rollout.pipeline.attempts)
            reported = rollout.invoke(event)
            assert_ended(rollout, event, before, reported)
            if not reported or "continuationToken" not in reported[1]:
                break
            rollout.clock.advance(step)
            assert rollout.clock.now - started <= ACTION_LIMIT_SECONDS + step
            event = job_event(reported[1]["continuationToken"])
