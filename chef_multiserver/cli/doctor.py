"""``chef-multiserver doctor``: is every server ready for the pipeline? One row per server, then
the stack, then what to do about each failure."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import yaml
from botocore.exceptions import ClientError

from chef_multiserver import kit_source, servers
from chef_multiserver.cli import aws as cli_aws
from chef_multiserver.cli import tls as cli_tls
from chef_multiserver.cli.deploy import describe_stack
from chef_multiserver.cli.put_key import check_public_access_blocked, key_object
from chef_multiserver.cli.repo import CommandError, ca_cert_files
from chef_multiserver.config_check import RepositoryServers, config_findings

COLUMNS = ("config", "CA", "key", "TLS")
OK = "ok"
FAIL = "FAIL"
SKIPPED = "skipped"


class Check(NamedTuple):
    """One cell of the table, and the advice that goes with a failure."""

    cell: str
    advice: str = ""


def doctor(repo: Path, args: argparse.Namespace, aws: Any) -> int:
    found = servers.server_dirs(repo)
    if not found:
        raise CommandError("no servers in .chef/: add one with chef-multiserver add-server")
    stack = (
        describe_stack(cli_aws.client(aws, "cloudformation"), args.stack) if args.stack else None
    )
    stack_parameters = {
        parameter["ParameterKey"]: parameter.get("ParameterValue")
        for parameter in (stack or {}).get("Parameters", [])
    }
    key_bucket = args.key_bucket or stack_parameters.get("KeyBucket")
    s3 = cli_aws.client(aws, "s3") if key_bucket else None
    bucket_problem = _bucket_problem(s3, key_bucket) if s3 and key_bucket else None
    ca_files = [Path(os.path.relpath(path)) for path in ca_cert_files(repo)]
    ca_bundle = cli_tls.load_ca_bundle(ca_files)

    repository = RepositoryServers(repo)
    rows = {}
    for name, directory in found.items():
        # What check-chef-server-config says, paths as seen from here.
        config_file = directory / servers.CONFIG_FILE
        shown = Path(os.path.relpath(config_file))
        config_problems = list(config_findings(config_file, repository, shown))
        rows[name] = (
            Check(FAIL, "; ".join(config_problems)) if config_problems else Check(OK),
            _ca_check(repo, name),
            Check(FAIL) if bucket_problem else _key_check(s3, key_bucket, name),
            _tls_check(repository.url(name), config_problems, ca_bundle.pem, args),
        )
    _print_table(rows)
    advice = [
        f"{name}: {check.advice}" for name, row in rows.items() for check in row if check.advice
    ]
    if bucket_problem:
        advice.append(f"key bucket: {bucket_problem}")
    advice += ca_bundle.problems
    kit_problem = _kit_problem(repo)
    if kit_problem:
        advice.append(f"kit: {kit_problem}")
    if args.stack:
        advice += _stack_section(args.stack, stack, args.key_bucket, stack_parameters)
    if advice:
        print("\nTo do:")
        for line in advice:
            print(f"  {line}")
        return 1
    print("\nAll checks passed.")
    return 0


def _kit_problem(repo: Path) -> str | None:
    """Print where the pipeline installs the kit from; what stops it from doing so, or the hooks
    from installing the same one."""
    try:
        variables = yaml.safe_load((repo / "buildspec.yml").read_text("utf-8"))["env"]["variables"]
        url, rev = str(variables["KIT_REPO_URL"]), str(variables["KIT_REV"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        print("\nKit: unknown")
        return "buildspec.yml names no env variables KIT_REPO_URL and KIT_REV: restore them"
    print(f"\nKit: {url} at {rev}")
    hooks = _hooks_pin(repo)
    if hooks not in (None, (url, rev)):
        return (
            f".pre-commit-config.yaml installs the hooks from {hooks[0]} at {hooks[1]}, "
            f"buildspec.yml the kit from {url} at {rev}: make them the same"
        )
    return kit_source.pipeline_problem(url)


def _hooks_pin(repo: Path) -> tuple[str, str] | None:
    """The repo and rev the kit's hooks come from in .pre-commit-config.yaml, if it names them."""
    try:
        config = yaml.safe_load((repo / ".pre-commit-config.yaml").read_text("utf-8"))
        return next(
            (str(entry["repo"]), str(entry["rev"]))
            for entry in config["repos"]
            if any(hook.get("id") == "forbid-chef-secrets" for hook in entry["hooks"])
        )
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, StopIteration):
        return None


def _ca_check(repo: Path, name: str) -> Check:
    ca_dir = repo / servers.CHEF_DIR / servers.CA_CERTS_DIR
    if any((ca_dir / f"{name}.{suffix}").is_file() for suffix in ("crt", "pem")):
        return Check(OK)
    return Check(
        "missing",
        f"no .chef/{servers.CA_CERTS_DIR}/{name}.crt: put the server's CA certificate there "
        "and commit it",
    )


def _bucket_problem(s3: Any, bucket: str) -> str | None:
    """What is wrong with the key bucket as a whole: missing, out of reach, or not private."""
    try:
        s3.head_bucket(Bucket=bucket)
        check_public_access_blocked(s3, bucket)
    except ClientError as error:
        if cli_aws.error_code(error) in ("404", "NoSuchBucket"):
            return f"bucket {bucket} does not exist: check --key-bucket (or the stack's KeyBucket)"
        return cli_aws.error_message(error)
    except CommandError as error:
        return str(error)
    return None


def _key_check(s3: Any, bucket: str | None, name: str) -> Check:
    if s3 is None or bucket is None:
        return Check(SKIPPED)
    try:
        head = s3.head_object(Bucket=bucket, Key=key_object(name))
    except ClientError as error:
        if cli_aws.error_code(error) not in ("404", "NoSuchKey"):
            return Check(FAIL, f"key: {cli_aws.error_message(error)}")
        return Check(
            "missing",
            f"no s3://{bucket}/{key_object(name)}: "
            f"chef-multiserver put-key {name} --key PATH --bucket {bucket}",
        )
    if not head.get("ServerSideEncryption"):
        return Check(
            "unencrypted",
            f"s3://{bucket}/{key_object(name)} is not encrypted: upload it again with "
            f"chef-multiserver put-key {name} --key PATH --bucket {bucket}",
        )
    return Check(OK)


def _tls_check(
    url: object, config_problems: list[str], ca_pem: str, args: argparse.Namespace
) -> Check:
    if args.offline or config_problems or not isinstance(url, str):
        return Check(SKIPPED)
    problem = cli_tls.verify_problem(url, ca_pem, args.connect_to)
    if problem is None:
        return Check(OK)
    return Check(FAIL, f"TLS to {url}: {problem}")


def _print_table(rows: Mapping[str, tuple[Check, ...]]) -> None:
    table = [
        ("server", *COLUMNS),
        *((name, *(check.cell for check in row)) for name, row in rows.items()),
    ]
    widths = [max(len(line[column]) for line in table) for column in range(len(table[0]))]
    for line in table:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        )


def _stack_section(
    name: str,
    stack: dict[str, Any] | None,
    key_bucket: str | None,
    parameters: dict[str, Any],
) -> list[str]:
    """Print the stack; the advice for what is wrong with it."""
    print(f"\nStack {name}:")
    if stack is None:
        print("  does not exist")
        return [
            f"stack {name}: create it with "
            f"chef-multiserver deploy --stack {name} --key-bucket BUCKET"
        ]
    status = stack["StackStatus"]
    print(f"  status: {status}")
    for key, value in parameters.items():
        print(f"  parameter {key}: {value}")
    for output in stack.get("Outputs", []):
        print(f"  output {output['OutputKey']}: {output['OutputValue']}")
    advice = []
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        advice.append(
            f"stack {name} is {status}: run chef-multiserver deploy --stack {name} (it explains "
            "what failed and what to do)"
        )
    if key_bucket and parameters.get("KeyBucket") not in (None, key_bucket):
        advice.append(
            f"stack {name} reads keys from {parameters['KeyBucket']}, not {key_bucket}: deploy "
            f"with --key-bucket {key_bucket}, or check that bucket"
        )
    return advice
