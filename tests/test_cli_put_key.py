"""chef-multiserver put-key: only a private key, only into a private bucket, always encrypted,
never shown; against moto's S3 and KMS.

What S3 is asked and answers: a bucket's Block Public Access settings
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html,
GetPublicAccessBlock's NoSuchPublicAccessBlockConfiguration when none is set), PutObject with
SSE-KMS under the key given, else under the bucket's default encryption (GetBucketEncryption,
ServerSideEncryptionConfigurationNotFoundError when none is set):
https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests import keymaterial
from tests.cli_fakes import Result, aws_client, make_ca, pem, private_bucket, run

pytest_plugins = ("tests.cli_fixtures",)

BUCKET = "chef-keys"


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def key_file(rsa_key: rsa.RSAPrivateKey, tmp_path: Path) -> Path:
    """A Chef user's key as Chef Infra Server hands it out (PKCS#1 PEM), outside the repository."""
    path = tmp_path / "keys" / "pivotal.pem"
    path.parent.mkdir()
    path.write_bytes(private_pem(rsa_key))
    return path


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )


def put_key(capsys: pytest.CaptureFixture[str], key: Path, *extra: str) -> Result:
    return run(capsys, "put-key", "chef-east", "--key", str(key), "--bucket", BUCKET, *extra)


def stored(key: str = "chef-east/private.pem") -> dict[str, object]:
    s3 = aws_client("s3")
    head: dict[str, object] = s3.head_object(Bucket=BUCKET, Key=key)
    head["Body"] = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    return head


def assert_no_key_material(key: rsa.RSAPrivateKey, *texts: str) -> None:
    lines = private_pem(key).decode().splitlines()
    for text in texts:
        assert "PRIVATE KEY" not in text
        assert not any(line in text for line in lines[1:-1])


def test_uploads_with_sse_s3_where_the_bucket_names_no_kms_key(
    repo: Path,
    aws: str,
    key_file: Path,
    rsa_key: rsa.RSAPrivateKey,
    capsys: pytest.CaptureFixture[str],
) -> None:
    private_bucket(BUCKET)

    code, out, err = put_key(capsys, key_file)

    assert code == 0, err
    head = stored()
    assert head["Body"] == key_file.read_bytes()
    assert head["ServerSideEncryption"] == "AES256"
    assert f"s3://{BUCKET}/chef-east/private.pem (AES256)" in out
    assert "inside the repository" not in out
    assert_no_key_material(rsa_key, out, err)


def test_uses_the_buckets_default_kms_key(
    repo: Path, aws: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private_bucket(BUCKET)
    kms_key = aws_client("kms").create_key()["KeyMetadata"]["Arn"]
    aws_client("s3").put_bucket_encryption(
        Bucket=BUCKET,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": kms_key,
                    }
                }
            ]
        },
    )

    code, out, err = put_key(capsys, key_file)

    assert code == 0, err
    head = stored()
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", kms_key)
    assert "KeyBucketKmsKeyArn" in out


def test_uses_the_kms_key_given(
    repo: Path, aws: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private_bucket(BUCKET)
    kms_key = aws_client("kms").create_key()["KeyMetadata"]["Arn"]

    code, _, err = put_key(capsys, key_file, "--kms-key-id", kms_key)

    assert code == 0, err
    assert stored()["SSEKMSKeyId"] == kms_key


def test_a_der_key_is_stored_as_the_pem_chef_reads(
    repo: Path,
    aws: str,
    rsa_key: rsa.RSAPrivateKey,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    private_bucket(BUCKET)
    der = tmp_path / "pivotal.der"
    der.write_bytes(
        rsa_key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )

    code, _, err = put_key(capsys, der)

    assert code == 0, err
    assert stored()["Body"] == private_pem(rsa_key)


def test_a_key_inside_the_repository_is_uploaded_with_advice_to_delete_it(
    repo: Path, aws: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private_bucket(BUCKET)
    in_repo = repo / ".chef/chef-east/private.pem"
    in_repo.write_bytes(key_file.read_bytes())

    code, out, _ = put_key(capsys, in_repo)

    assert code == 0
    assert "inside the repository: delete it" in out


def not_a_private_key(kind: str, tmp_path: Path) -> Path:
    path = tmp_path / f"{kind}.pem"
    ca = make_ca("Some CA")
    public_key = ca.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    path.write_bytes(
        {
            "certificate": pem(ca.certificate),
            "public key": public_key,
            "text": b"not a key at all\n",
            "encrypted key": ca.key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"passphrase"),
            ),
            "ec key": ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
        }[kind]
    )
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("certificate", "is a certificate, not a private key"),
        ("public key", "is a public key, not a private key"),
        ("text", "is not a private key (neither PEM nor DER)"),
        ("encrypted key", "is encrypted with a passphrase"),
        ("ec key", "is not an RSA key"),
    ],
)
def test_refuses_what_is_not_a_chef_key(
    repo: Path,
    aws: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    kind: str,
    message: str,
) -> None:
    private_bucket(BUCKET)

    code, _, err = put_key(capsys, not_a_private_key(kind, tmp_path))

    assert code == 1
    assert message in err
    assert aws_client("s3").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_refuses_an_unknown_server(
    repo: Path, aws: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = run(capsys, "put-key", "chef-south", "--key", str(key_file), "--bucket", BUCKET)

    assert result.code == 1
    assert "unknown server 'chef-south' (servers: chef-east, chef-west)" in result.err


def test_refuses_a_bucket_without_a_public_access_block(
    repo: Path, aws: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    aws_client("s3").create_bucket(Bucket=BUCKET)

    code, _, err = put_key(capsys, key_file)

    assert code == 1
    assert f"bucket {BUCKET} does not block all public access" in err
    assert "put-public-access-block" in err
    assert aws_client("s3").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0


def test_refuses_a_bucket_that_blocks_only_some_public_access(
    repo: Path, aws: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    private_bucket(BUCKET)
    aws_client("s3").put_public_access_block(
        Bucket=BUCKET,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )

    code, _, err = put_key(capsys, key_file)

    assert code == 1
    assert "(BlockPublicPolicy off)" in err


def test_a_bucket_that_does_not_exist(
    repo: Path, aws: str, key_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = put_key(capsys, key_file)

    assert code == 1
    assert f"bucket '{BUCKET}' does not exist" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("encoding", [serialization.Encoding.PEM, serialization.Encoding.DER])
def test_a_dsa_key_gets_one_line_and_no_deprecation_warning(
    repo: Path, tmp_path: Path, encoding: serialization.Encoding
) -> None:
    """As a user runs it (a new interpreter, Python's default warning filters): cryptography 45+
    warns when it loads a DSA key (CryptographyDeprecationWarning, a UserWarning, shown by default),
    and that warning must not come before the one line that refuses the key."""
    key = tmp_path / "dsa.key"
    key.write_bytes(keymaterial.dsa_key(encoding))
    env = {name: value for name, value in os.environ.items() if name != "PYTHONWARNINGS"}
    result = subprocess.run(
        [sys.executable, "-m", "chef_multiserver.cli", "put-key", "chef-east", "--key", str(key),
         "--bucket", BUCKET, "--region", "us-east-1"],
        cwd=repo, env=env, capture_output=True, text=True, timeout=60,
    )
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"chef-multiserver put-key: {key} is not an RSA key: Chef Infra Server keys are RSA; "
        "give the Chef user's private key (the .pem knife uses as client_key)\n"
    )
