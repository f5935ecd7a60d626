"""The fixtures of the chef-multiserver tests, which load them with ``pytest_plugins``: a
generated repository as the current directory, and moto's AWS on 127.0.0.1.

The AWS environment is the one boto3 and the AWS CLI read (AWS_CONFIG_FILE,
AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE, AWS_ENDPOINT_URL, AWS_DEFAULT_REGION:
https://docs.aws.amazon.com/cli/latest/userguide/cli-configure-envvars.html and
https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html); moto in server mode
and its state reset (``POST /moto-api/reset``): https://docs.getmoto.org/en/latest/docs/server_mode.html"""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from rehearsal import moto_server
from tests.cli_fakes import KIT_URL, SERVERS
from tests.conftest import bake_into


@pytest.fixture(scope="module")
def baked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return bake_into(tmp_path_factory.mktemp("baked"), servers=SERVERS, kit_repo_url=KIT_URL)


@pytest.fixture
def repo(baked: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh copy of a generated repository with two servers, as the current directory."""
    copy = Path(shutil.copytree(baked, tmp_path / "repo"))
    monkeypatch.chdir(copy)
    return copy


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    with moto_server.moto_endpoint() as endpoint:
        yield endpoint


@pytest.fixture
def aws(moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty moto account that boto3 (and so the CLI) reaches through the standard AWS_*
    environment variables, with nothing from this machine's ~/.aws."""
    reset = urllib.request.Request(f"{moto_endpoint}/moto-api/reset", method="POST")  # noqa: S310
    urllib.request.urlopen(reset).close()  # noqa: S310 (the local http URL of moto)
    for variable in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    for variable, value in moto_server.environment(moto_endpoint).items():
        monkeypatch.setenv(variable, value)
    return moto_endpoint
