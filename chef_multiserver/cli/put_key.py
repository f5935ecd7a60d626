"""``chef-multiserver put-key``: a server's Chef key into the key bucket, encrypted, nowhere else.

The key's content is never printed, nor put in any message: only its path.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from chef_multiserver import servers
from chef_multiserver.cli import aws as cli_aws
from chef_multiserver.cli import key_file
from chef_multiserver.cli.repo import CommandError, existing_server

PUBLIC_ACCESS_FLAGS = (
    "BlockPublicAcls",
    "IgnorePublicAcls",
    "BlockPublicPolicy",
    "RestrictPublicBuckets",
)


def key_object(name: str) -> str:
    """Where the pipeline looks for server ``name``'s key in the key bucket."""
    return f"{name}/{servers.KEY_FILE}"


def put_key(repo: Path, args: argparse.Namespace, aws: Any) -> int:
    name: str = args.name
    existing_server(repo, name)
    key_path = Path(args.key)
    pem = key_file.chef_key_pem(key_path, key_file.read_key_file(key_path))
    s3 = cli_aws.client(aws, "s3")
    check_public_access_blocked(s3, args.bucket)
    encryption = _encryption(s3, args.bucket, args.kms_key_id)
    s3.put_object(Bucket=args.bucket, Key=key_object(name), Body=pem, **encryption)
    how = encryption["ServerSideEncryption"]
    if "SSEKMSKeyId" in encryption:
        how += f" with KMS key {encryption['SSEKMSKeyId']}"
    print(f"Uploaded {name}'s key to s3://{args.bucket}/{key_object(name)} ({how})")
    if "SSEKMSKeyId" in encryption:
        print(
            "The pipeline's build must be allowed to decrypt with that key: deploy with "
            "--parameter KeyBucketKmsKeyArn=<its ARN> if it is not the stack's key yet"
        )
    if key_path.resolve().is_relative_to(repo.resolve()):
        print(
            f"{key_path} is inside the repository: delete it once you no longer run knife from "
            "here (the pipeline takes the key from the bucket), and never commit it"
        )
    return 0


def check_public_access_blocked(s3: Any, bucket: str) -> None:
    try:
        flags = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    except ClientError as error:
        if cli_aws.error_code(error) != "NoSuchPublicAccessBlockConfiguration":
            raise
        flags = {}
    open_flags = [flag for flag in PUBLIC_ACCESS_FLAGS if not flags.get(flag)]
    if open_flags:
        raise CommandError(
            f"bucket {bucket} does not block all public access ({', '.join(open_flags)} off): "
            f"run aws s3api put-public-access-block --bucket {bucket} "
            "--public-access-block-configuration "
            + ",".join(f"{flag}=true" for flag in PUBLIC_ACCESS_FLAGS)
        )


def _encryption(s3: Any, bucket: str, kms_key_id: str | None) -> dict[str, str]:
    """put_object's encryption arguments: the given KMS key, else the bucket's default KMS key
    (named, because S3 would otherwise use the AWS managed key), else SSE-S3."""
    if kms_key_id:
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id}
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
    except ClientError as error:
        if cli_aws.error_code(error) != "ServerSideEncryptionConfigurationNotFoundError":
            raise
        rules = []
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault", {})
        if default.get("SSEAlgorithm", "").startswith("aws:kms"):
            chosen = {"ServerSideEncryption": default["SSEAlgorithm"]}
            if default.get("KMSMasterKeyID"):
                chosen["SSEKMSKeyId"] = default["KMSMasterKeyID"]
            return chosen
    return {"ServerSideEncryption": "AES256"}
