"""``chef-multiserver deploy``: create or update the pipeline stack through a change set.

A change set rather than create_stack/update_stack: one path for both, and "nothing to change"
is an answer CloudFormation gives before anything is touched.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from chef_multiserver import repo_files
from chef_multiserver.cli import aws as cli_aws
from chef_multiserver.cli.repo import CommandError

TEMPLATE = Path("cloudformation") / "pipeline.yml"
CAPABILITIES = ["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"]
POLL_SECONDS = 5.0
# The largest template CloudFormation takes in the request itself; a larger one must be read from
# S3 (TemplateURL): https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/cloudformation-limits.html
TEMPLATE_BODY_LIMIT = 51_200
# How CloudFormation says a change set would change nothing: the change set's StatusReason, and
# the error of create_change_set where it answers at once (moto does).
NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
SUCCEEDED = {"CREATE_COMPLETE", "UPDATE_COMPLETE"}


def parse_parameter(text: str) -> tuple[str, str]:
    """An argparse ``type``: KEY=VALUE."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE (for example Branch=main)")
    return key, value


def deploy(repo: Path, args: argparse.Namespace, aws: Any) -> int:
    cloudformation = cli_aws.client(aws, "cloudformation")
    template_path = repo / TEMPLATE
    try:
        raw = repo_files.read_regular_file(template_path, repo_files.TEMPLATE_MAX_BYTES)
        template = raw.decode("utf-8")
    except repo_files.ConfigError as error:  # "cannot read: <reason>", or what the file "is"
        reason = error.message.removeprefix("cannot read: ")
        reason = reason if reason != error.message else f"it {reason}"
        raise CommandError(f"cannot read {TEMPLATE}: {reason}") from error
    except UnicodeDecodeError as error:
        raise CommandError(f"cannot read {TEMPLATE}: it is not UTF-8 text") from error
    stack = describe_stack(cloudformation, args.stack)
    if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        _print_failures(_failed_events(args.stack, _latest_events(cloudformation, args.stack)))
        if not args.replace_failed:
            raise CommandError(_rollback_complete_advice(args.stack, aws, args.profile))
        _delete(cloudformation, args.stack)
        stack = None
    elif (
        stack is not None
        and stack["StackStatus"].endswith("_IN_PROGRESS")
        and (stack["StackStatus"] != "REVIEW_IN_PROGRESS")
    ):
        raise CommandError(
            f"stack {args.stack} is busy ({stack['StackStatus']}): wait until it settles, "
            "then run deploy again"
        )
    # A stack in REVIEW_IN_PROGRESS was only ever the target of a change set: it is still created.
    update = stack is not None and stack["StackStatus"] != "REVIEW_IN_PROGRESS"
    source = _template_source(aws, template, args.key_bucket, args.stack)
    parameters = _parameters(cloudformation, source, args, stack if update else None)

    change_set = _create_change_set(cloudformation, args.stack, source, parameters, update)
    if change_set is None:
        print(f"Nothing to change: stack {args.stack} already matches {TEMPLATE}.")
        _print_outputs(describe_stack(cloudformation, args.stack))
        return 0
    _print_changes(change_set)
    seen = {event["EventId"] for event in _latest_events(cloudformation, args.stack)}
    cloudformation.execute_change_set(ChangeSetName=change_set["ChangeSetId"])
    print(f"{'Updating' if update else 'Creating'} stack {args.stack}:")
    status, events = _follow(cloudformation, args.stack, seen)
    if status in SUCCEEDED:
        print(f"Stack {args.stack}: {status}")
        _print_outputs(describe_stack(cloudformation, args.stack))
        return 0
    print(f"Stack {args.stack}: {status}: the deploy failed.")
    _print_failures(_failed_events(args.stack, events))
    if status == "ROLLBACK_COMPLETE":
        print(_rollback_complete_advice(args.stack, aws, args.profile))
    return 1


def describe_stack(cloudformation: Any, name: str) -> dict[str, Any] | None:
    try:
        stacks: list[dict[str, Any]] = cloudformation.describe_stacks(StackName=name)["Stacks"]
    except ClientError as error:
        if cli_aws.error_code(error) == "ValidationError" and "does not exist" in str(error):
            return None
        raise
    return stacks[0]


def _rollback_complete_advice(name: str, aws: Any, profile: str | None) -> str:
    command = f"aws cloudformation delete-stack --stack-name {name} --region {aws.region_name}"
    if profile:
        command += f" --profile {profile}"
    return (
        f"stack {name} is in ROLLBACK_COMPLETE: its creation failed and was rolled back, and "
        f"such a stack cannot be updated, only deleted and created again: run '{command}', "
        "then deploy again (or deploy with --replace-failed to do both)"
    )


def _delete(cloudformation: Any, name: str) -> None:
    print(f"Deleting stack {name} (ROLLBACK_COMPLETE, --replace-failed) ...")
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(
        StackName=name, WaiterConfig={"Delay": POLL_SECONDS, "MaxAttempts": 360}
    )


def _template_source(aws: Any, template: str, bucket: str, stack: str) -> dict[str, str]:
    """How CloudFormation gets the template: in the request, or (too large for that) from the key
    bucket, under a name of its own content, beside the keys but never one of them."""
    body = template.encode("utf-8")
    if len(body) <= TEMPLATE_BODY_LIMIT:
        return {"TemplateBody": template}
    key = f"cloudformation/{stack}/{hashlib.sha256(body).hexdigest()}.yml"
    s3 = cli_aws.client(aws, "s3")
    region = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    print(f"{TEMPLATE} is {len(body):,} bytes, over CloudFormation's {TEMPLATE_BODY_LIMIT:,} for "
          f"a template sent inline: it is read from s3://{bucket}/{key}")
    return {"TemplateURL": f"https://{bucket}.s3.{region}.amazonaws.com/{key}"}


def _parameters(
    cloudformation: Any,
    source: dict[str, str],
    args: argparse.Namespace,
    stack: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    """The stack's parameters: those given, and on an update the previous value of every other
    parameter the template still has (as ``aws cloudformation deploy`` keeps them)."""
    summary = cloudformation.get_template_summary(**source)
    declared = {parameter["ParameterKey"] for parameter in summary.get("Parameters", [])}
    overrides = dict(args.parameter or [])
    if "KeyBucket" in overrides:
        raise CommandError("--parameter KeyBucket=...: give the key bucket with --key-bucket")
    given = {"KeyBucket": args.key_bucket, **overrides}
    unknown = sorted(set(given) - declared)
    if unknown:
        raise CommandError(
            f"{TEMPLATE} has no parameter {', '.join(unknown)}: its parameters are "
            f"{', '.join(sorted(declared))}"
        )
    previous = {parameter["ParameterKey"] for parameter in (stack or {}).get("Parameters", [])}
    return [
        *({"ParameterKey": key, "ParameterValue": value} for key, value in given.items()),
        *(
            {"ParameterKey": key, "UsePreviousValue": True}
            for key in sorted((previous & declared) - set(given))
        ),
    ]


def _create_change_set(
    cloudformation: Any,
    name: str,
    source: dict[str, str],
    parameters: list[dict[str, Any]],
    update: bool,
) -> dict[str, Any] | None:
    """The change set, ready to execute; None when it would change nothing (and is deleted)."""
    try:
        created = cloudformation.create_change_set(
            StackName=name,
            ChangeSetName=f"chef-multiserver-{time.strftime('%Y%m%d-%H%M%S')}",
            ChangeSetType="UPDATE" if update else "CREATE",
            **source,
            Parameters=parameters,
            Capabilities=CAPABILITIES,
        )
    except ClientError as error:
        if any(text in str(error) for text in NO_CHANGES):
            return None
        raise
    while True:
        change_set: dict[str, Any] = cloudformation.describe_change_set(ChangeSetName=created["Id"])
        if not change_set["Status"].endswith(("_PENDING", "_IN_PROGRESS")):
            break
        time.sleep(POLL_SECONDS)
    if change_set["Status"] == "FAILED":
        reason = change_set.get("StatusReason", "")
        cloudformation.delete_change_set(ChangeSetName=created["Id"])
        if any(text in reason for text in NO_CHANGES):
            return None
        raise CommandError(f"CloudFormation refused the change set: {reason}")
    return change_set


def _print_changes(change_set: dict[str, Any]) -> None:
    print("Changes:")
    for change in change_set.get("Changes", []):
        resource = change["ResourceChange"]
        replace = " (replaced)" if resource.get("Replacement") == "True" else ""
        print(
            f"  {resource['Action']:<8} {resource['LogicalResourceId']} "
            f"({resource['ResourceType']}){replace}"
        )


def _latest_events(cloudformation: Any, name: str) -> list[dict[str, Any]]:
    """The stack's newest events, newest first (one page)."""
    events: list[dict[str, Any]] = cloudformation.describe_stack_events(StackName=name)[
        "StackEvents"
    ]
    return events


def _follow(cloudformation: Any, name: str, seen: set[str]) -> tuple[str, list[dict[str, Any]]]:
    """Print the stack's events as they arrive until it settles; its final status and the events
    of this deploy."""
    events: list[dict[str, Any]] = []
    while True:
        status = describe_stack(cloudformation, name)
        new = [
            event for event in _latest_events(cloudformation, name) if event["EventId"] not in seen
        ]
        for event in reversed(new):
            seen.add(event["EventId"])
            events.append(event)
            reason = event.get("ResourceStatusReason")
            print(
                f"  {event['Timestamp']:%H:%M:%S} {event['ResourceStatus']:<20} "
                f"{event['LogicalResourceId']} ({event['ResourceType']})"
                + (f": {reason}" if reason else "")
            )
        if status is None:
            return "DELETE_COMPLETE", events
        if not status["StackStatus"].endswith("_IN_PROGRESS"):
            return str(status["StackStatus"]), events
        time.sleep(POLL_SECONDS)


def _failed_events(name: str, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        event
        for event in events
        if event["ResourceStatus"].endswith("_FAILED") and event["LogicalResourceId"] != name
    ]


def _print_failures(failed: list[dict[str, Any]]) -> None:
    if failed:
        print("Failed resources:")
    for event in failed:
        print(
            f"  {event['LogicalResourceId']} ({event['ResourceType']}): "
            f"{event.get('ResourceStatusReason', 'no reason given')}"
        )


def _print_outputs(stack: dict[str, Any] | None) -> None:
    outputs = (stack or {}).get("Outputs", [])
    if outputs:
        print("Outputs:")
    for output in outputs:
        print(f"  {output['OutputKey']}: {output['OutputValue']}")
