"""AWS access key ids with their secret access keys, in plain text and in base64."""

from __future__ import annotations

import re

from pre_commit_hooks.key_detection.rows import UPPER_OR_DIGIT, Budget, Finding, WhenUsed, nested
from pre_commit_hooks.key_detection.text import decoded

AWS_KEY_ID = rb"A[KS]IA[A-Z0-9]{16}(?![A-Z0-9])"  # AKIA: long-term key, ASIA: temporary
# bytes either side of a key id its secret may be (a credentials file puts them on adjacent lines,
# a .env file may have a screen of settings between them)
AWS_PAIR_DISTANCE = 4096
# Key ids less than that apart are one cluster, looked at once: a file of a million ids costs a
# pass over the file, not a million windows.
AWS_KEY_IDS = WhenUsed(AWS_KEY_ID + rb"(?:[\s\S]{0,%d}?" % AWS_PAIR_DISTANCE + AWS_KEY_ID + rb")*")
_AWS_SECRET_KEY = rb"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])"
# A secret access key is 30 random bytes in base64: it mixes cases and digits (a SHA-1 does not).
# (Upper and lower case first: a private number in base64 mixes those.)
MIXED = (rb"[A-Z]", rb"[a-z]", rb"[0-9]")


_AWS_ESCAPES = rb"\\/|%2[FfBb]"


def _aws_unescaped(match: re.Match[bytes]) -> bytes:
    return b"+" if match[0][-1:] in b"Bb" else b"/"


def aws_key_pairs(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    """Each access key id with a secret access key near it (AWS's documented EXAMPLE pair is
    none). The bytes between the ids stay open to the other detectors."""
    start, end = max(0, match.start() - AWS_PAIR_DISTANCE), match.end() + AWS_PAIR_DISTANCE
    # A secret's "/" may be escaped (PHP's JSON writes "\/") or URL-encoded, as its "+" may be; the
    # few bytes that takes out shift positions too little to matter.
    near = re.sub(_AWS_ESCAPES, _aws_unescaped, data[start:end])
    secrets = [
        start + secret.start()
        for secret in re.finditer(_AWS_SECRET_KEY, near)
        if b"EXAMPLE" not in secret[0] and all(re.search(kind, secret[0]) for kind in MIXED)
    ]
    from bisect import bisect_left

    findings = []
    for key_id in re.compile(AWS_KEY_ID).finditer(data, match.start(), match.end()):
        glued = key_id.start() > 0 and data[key_id.start() - 1] in UPPER_OR_DIGIT  # a longer word
        nearest = bisect_left(secrets, key_id.start() - AWS_PAIR_DISTANCE)
        paired = nearest < len(secrets) and secrets[nearest] <= key_id.end() + AWS_PAIR_DISTANCE
        if paired and not glued and b"EXAMPLE" not in key_id[0]:
            findings.append(
                Finding(key_id.start(), "AWS access key id with its secret access key", False)
            )
    return findings, match.start() + 1


# A Kubernetes Secret keeps its values in base64: a secret access key (40 characters) is 56 of
# them, a key id (20) 28. Secrets less than AWS_PAIR_DISTANCE apart are one cluster.
_AWS_SECRET_IN_BASE64 = rb"AWS_SECRET_ACCESS_KEY[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9+/]{54}=="
AWS_SECRETS_IN_BASE64 = WhenUsed(
    _AWS_SECRET_IN_BASE64
    + rb"(?:[\s\S]{0,%d}?" % AWS_PAIR_DISTANCE
    + _AWS_SECRET_IN_BASE64
    + rb")*"
)
_BASE64_AWS_VALUE = (
    rb"(?<![A-Za-z0-9+/])(?:[A-Za-z0-9+/]{27}=|[A-Za-z0-9+/]{54}==)(?![A-Za-z0-9+/=])"
)


def base64_aws_key_pairs(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    """Secret access keys in base64 and, near them, the values of a key id's length, decoded and
    searched as a credentials file is (each secret under its name)."""
    start, end = max(0, match.start() - AWS_PAIR_DISTANCE), match.end() + AWS_PAIR_DISTANCE
    values = [
        decoded(value.decode()) for value in re.compile(_BASE64_AWS_VALUE).findall(data, start, end)
    ]
    # a secret's value keeps its name: without a key id beside it, the name alone tells it
    named = [b"AWS_SECRET_ACCESS_KEY=" + value if len(value) == 40 else value for value in values]
    return nested(b"\n".join(named), depth, budget, match.start(), "base64-encoded"), match.end()


# A secret access key assigned by one of its well-known names, as git-secrets finds it:
# AWS_SECRET_ACCESS_KEY=... (shell, .env), aws_secret_access_key = ... (INI, YAML),
# "SecretAccessKey": "..." (JSON, as `aws iam create-access-key` prints it), knife[:aws_secret_
# access_key] = '...' or secret_access_key: '...' (Ruby), secretAccessKey: '...' (JavaScript).
# Each pattern opens with the name, which sre finds fast by its literal opening (an optional
# "aws_" before it had sre try the pattern at every byte: 35 ms per MB).
_ASSIGNED = rb"[\"'\]\\]*\s*(?::|=>|=)\s*[\"'\\]*([A-Za-z0-9+/]{40})(?![A-Za-z0-9+/=])"
SECRETS_NAMED_IN_CAPITALS = WhenUsed(rb"S(?:ECRET_ACCESS_KEY|ecretAccessKey)" + _ASSIGNED)
SECRETS_NAMED_IN_LOWER_CASE = WhenUsed(rb"secret(?:_access_key|AccessKey)" + _ASSIGNED)


def aws_secrets_by_name(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    """A secret access key assigned by its name, with no key id near it (the pairs report those;
    AWS's documented EXAMPLEKEY is none)."""
    secret = match[1]
    if b"EXAMPLE" in secret or not all(re.search(kind, secret) for kind in MIXED):
        return [], match.end()
    start, end = max(0, match.start() - AWS_PAIR_DISTANCE), match.end() + AWS_PAIR_DISTANCE
    key_ids = re.compile(AWS_KEY_ID).finditer(data, start, end)
    if any(b"EXAMPLE" not in key_id[0] for key_id in key_ids):
        return [], match.end()
    return [Finding(match.start(), "AWS secret access key (assigned by its name)", False)], (
        match.end()
    )
