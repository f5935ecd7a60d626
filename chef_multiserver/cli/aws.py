"""AWS for chef-multiserver: one boto3 session per run, and one line for each way AWS can fail.

boto3 already does what the AWS CLI does with ``--profile``, ``--region``, the ``AWS_*``
environment variables and ``AWS_ENDPOINT_URL``, except ``AWS_REGION``; this module adds that, the
retry policy and the messages.
"""

from __future__ import annotations

import os
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError

# Throttling and transient errors are retried with backoff by botocore itself (standard mode);
# only what is still failing after these attempts reaches the user.
MAX_ATTEMPTS = 8

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
    """A client of ``service`` with the retry policy."""
    retries = Config(retries={"mode": "standard", "total_max_attempts": MAX_ATTEMPTS})
    return aws.client(service, config=retries)  # type: ignore[call-overload]


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
        return f"AWS kept throttling {action} after {MAX_ATTEMPTS} attempts: try again in a minute"
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
