"""``chef-multiserver put-key``: a server's Chef key into the key bucket, encrypted, nowhere else.

The key's content is never printed, nor put in any message: only its path.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning

from chef_multiserver import servers
from chef_multiserver.cli import aws as cli_aws
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
    pem = _chef_key_pem(key_path)
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


def _chef_key_pem(path: Path) -> bytes:
    """The key at ``path`` as PEM, refused unless it is an unencrypted RSA private key, the only
    kind Chef Infra Server signs requests with."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CommandError(f"cannot read --key {path}: {error.strerror}") from error
    is_pem = b"-----BEGIN" in data
    load = serialization.load_pem_private_key if is_pem else serialization.load_der_private_key
    try:
        # Loading a DSA key warns that cryptography deprecates DSA; it is refused below anyway, as
        # any key that is not RSA, and the user should see that one line only.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            key = load(data, password=None)
    except TypeError as error:
        raise CommandError(
            f"{path} is encrypted with a passphrase: Chef needs it unencrypted "
            "(openssl rsa -in ENCRYPTED -out PLAIN), kept only in the bucket"
        ) from error
    except ValueError as error:
        raise CommandError(f"{path} is {_what_it_is(data, is_pem)}: {_WANTED}") from error
    if not isinstance(key, rsa.RSAPrivateKey):
        raise CommandError(f"{path} is not an RSA key: Chef Infra Server keys are RSA; {_WANTED}")
    if is_pem:
        return data
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


_WANTED = "give the Chef user's private key (the .pem knife uses as client_key)"


def _what_it_is(data: bytes, is_pem: bool) -> str:
    """What a file that is not a private key is, for the message that refuses it."""
    for kind, loader in (
        (
            "a certificate",
            x509.load_pem_x509_certificate if is_pem else x509.load_der_x509_certificate,
        ),
        (
            "a public key",
            serialization.load_pem_public_key if is_pem else serialization.load_der_public_key,
        ),
    ):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", CryptographyDeprecationWarning)
                loader(data)
        except ValueError:
            continue
        return f"{kind}, not a private key"
    return "not a private key (neither PEM nor DER)"


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
