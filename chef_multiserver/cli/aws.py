"""AWS for chef-multiserver: one boto3 session per run, and one line for each way AWS can fail.

boto3 already does what the AWS CLI does with ``--profile``, ``--region``, the ``AWS_*``
environment variables (``AWS_ENDPOINT_URL``, ``AWS_MAX_ATTEMPTS``, ``AWS_RETRY_MODE``) and the
profile's ``max_attempts`` and ``retry_mode``, but not ``AWS_REGION``; this module adds that,
timeouts, a default attempt count where the user set none, a line on stderr before each wait, and
the messages.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError

from chef_multiserver.cli.repo import CommandError

# The names AWS takes, checked as the command line is read: a name AWS refuses would come back as
# one line, but one holding a character no request can carry (a lone surrogate from undecodable
# bytes) would end in a traceback inside botocore. S3 bucket names: 3 to 63 lower-case letters,
# digits, dots and hyphens, a letter or digit at each end (S3 User Guide, "General purpose bucket
# naming rules"); stack names: a letter, then letters, digits and hyphens, 128 at most
# (CloudFormation API Reference, CreateStack, StackName).
_BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")


def _checked_name(rule: re.Pattern[str], what: str) -> Callable[[str], str]:
    """An argparse type: the text itself if ``rule`` matches it whole, else what a valid one is."""

    def name(text: str) -> str:
        if not rule.fullmatch(text):
            raise argparse.ArgumentTypeError(f"{text!r} is no {what}")
        return text

    return name


bucket_name = _checked_name(
    _BUCKET_NAME,
    "S3 bucket name: 3 to 63 lower-case letters, digits, dots and hyphens, starting and ending "
    "with a letter or digit",
)
stack_name = _checked_name(
    _STACK_NAME, "stack name: a letter, then letters, digits and hyphens, 128 characters at most"
)


# Throttling and transient errors are retried with backoff by botocore itself; where the user sets
# no attempt count (AWS_MAX_ATTEMPTS, max_attempts in the profile), this one, botocore's own
# default for the standard retry mode. A Config naming an attempt count would hide the user's:
# botocore reads the environment and the profile only when the Config has none (botocore/args.py,
# _compute_retry_max_attempts).
DEFAULT_MAX_ATTEMPTS = 3
# botocore waits 60 s to connect and 60 s for each answer, on every attempt; no environment
# variable changes that. Every call this tool makes answers in well under a second, so a dead
# endpoint is reported within DEFAULT_MAX_ATTEMPTS * READ_TIMEOUT + backoff (about 50 s).
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 15.0

ACCESS_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"}
THROTTLED = {
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "SlowDown",
    "TooManyRequestsException",
}
EXPIRED = {"ExpiredToken", "ExpiredTokenException", "RequestExpired"}
BAD_CREDENTIALS = {
    "InvalidClientTokenId",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
}


# AWS CLI v2's order (https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html).
# botocore reads only the last two (botocore/configprovider.py: region <- AWS_DEFAULT_REGION, then
# the profile's region), so AWS_REGION is read here.
REGION_DEFAULTS = "AWS_REGION, then AWS_DEFAULT_REGION, then the profile's region"


def session(profile: str | None, region: str | None) -> boto3.Session:
    """The session every client of one run comes from, as the AWS CLI would make it."""
    return boto3.Session(
        profile_name=profile, region_name=region or os.environ.get("AWS_REGION") or None
    )


def client(aws: boto3.Session, service: str) -> Any:
    """A client of ``service`` with the timeouts, the user's retry settings (else the default
    attempt count), and a line on stderr before it waits for AWS."""
    try:
        user_attempts = aws._session.get_config_variable("max_attempts")
    except ValueError as error:  # botocore's int() of the setting
        raise CommandError(
            f"AWS_MAX_ATTEMPTS (or max_attempts in the profile) is not a whole number ({error})"
        ) from error
    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        retries=None if user_attempts is not None else {"total_max_attempts": DEFAULT_MAX_ATTEMPTS},
    )
    try:
        made = aws.client(service, config=config)  # type: ignore[call-overload]
    except ValueError as error:  # botocore's "Invalid endpoint: ..."
        raise CommandError(
            f"the AWS endpoint URL is not valid ({error}): set AWS_ENDPOINT_URL (or endpoint_url "
            "in the profile) to a URL such as https://s3.eu-west-1.amazonaws.com, or unset it"
        ) from error
    made.meta.events.register("request-created", _WaitAnnouncer(made))
    return made


class _WaitAnnouncer:
    """Says on stderr what is being waited for: the service and endpoint before the first
    request of a client, and each retry."""

    def __init__(self, made: Any) -> None:
        self.endpoint = made.meta.endpoint_url
        self.service = made.meta.service_model.service_id
        self.attempts = made.meta.config.retries.get("total_max_attempts")
        self.announced = False

    def __call__(self, request: Any, operation_name: str, **_: Any) -> None:
        attempt = request.context.get("retries", {}).get("attempt", 1)
        if attempt > 1:
            print(
                f"chef-multiserver: retrying {self.service} {operation_name} "
                f"(attempt {attempt} of {self.attempts})",
                file=sys.stderr,
            )
        elif not self.announced:
            self.announced = True
            print(
                f"chef-multiserver: waiting for {self.service} at {self.endpoint} ("
                f"{'1 attempt' if self.attempts == 1 else f'up to {self.attempts} attempts'}, "
                f"{CONNECT_TIMEOUT:g} s to connect and {READ_TIMEOUT:g} s to answer)",
                file=sys.stderr,
            )


def error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def error_message(error: BotoCoreError | ClientError | ResponseParserError) -> str:
    """One line saying what went wrong with AWS and what to do about it."""
    if isinstance(error, ResponseParserError):
        # What a proxy or a wrong AWS_ENDPOINT_URL sends: a page where AWS would answer.
        return ("the answer from AWS could not be read: check AWS_ENDPOINT_URL and any proxy "
                "between this machine and AWS")
    if isinstance(error, (NoCredentialsError, PartialCredentialsError)):
        return (
            "no AWS credentials found: run 'aws configure' (or 'aws sso login'), "
            "set AWS_PROFILE, or pass --profile"
        )
    if isinstance(error, ProfileNotFound):
        return f"{error}: pass a profile from 'aws configure list-profiles'"
    if isinstance(error, NoRegionError):
        return (
            "no AWS region: pass --region REGION, set AWS_REGION, or give the profile a region "
            "(aws configure set region REGION)"
        )
    if isinstance(error, (ConnectTimeoutError, ReadTimeoutError)):
        return (
            f"no answer from {error.kwargs.get('endpoint_url')} within "
            f"{CONNECT_TIMEOUT:g} s to connect and {READ_TIMEOUT:g} s to answer, on every "
            "attempt: check the network (proxy, firewall, VPC endpoint) and AWS_ENDPOINT_URL; "
            "AWS_MAX_ATTEMPTS sets the number of attempts"
        )
    if isinstance(error, EndpointConnectionError):
        return (
            f"cannot reach {error.kwargs.get('endpoint_url')}: check that the region exists "
            "(--region) and that this machine can reach AWS"
        )
    if isinstance(error, BotoCoreError):
        return f"AWS: {error}"
    code = error_code(error)
    details = error.response.get("Error", {})
    action = error.operation_name
    if code in ACCESS_DENIED:
        return (
            f"access denied to {action}: ask for that permission, or use another --profile "
            f"({details.get('Message', code)})"
        )
    if code in THROTTLED:
        return (
            f"AWS kept throttling {action} through every attempt: try again in a minute, or "
            "allow more attempts (AWS_MAX_ATTEMPTS, AWS_RETRY_MODE=adaptive)"
        )
    if code in EXPIRED:
        return "the AWS credentials have expired: refresh them ('aws sso login' or new keys)"
    if code in BAD_CREDENTIALS:
        return (
            f"AWS does not accept these credentials ({code}): check --profile and "
            "AWS_ACCESS_KEY_ID, and that the region is enabled for the account"
        )
    if code == "NoSuchBucket":
        return (
            f"bucket {details.get('BucketName', '')!r} does not exist: check the bucket name "
            "(and --profile: a bucket belongs to one account)"
        )
    return f"{action} failed: {code}: {details.get('Message', '')}"
