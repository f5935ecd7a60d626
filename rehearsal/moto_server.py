"""A moto server on 127.0.0.1 and a free port, for tests that talk to "AWS" over HTTP (the AWS CLI,
CloudFormation): one place that knows how to start it and what credentials go with it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TypedDict

from moto.server import ThreadedMotoServer

REGION = "us-east-1"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


@contextmanager
def moto_endpoint() -> Iterator[str]:
    """The endpoint URL of a moto server that lives as long as the ``with`` block."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


class ClientOptions(TypedDict):
    endpoint_url: str
    region_name: str
    aws_access_key_id: str
    aws_secret_access_key: str


def client_options(endpoint: str) -> ClientOptions:
    """boto3.client(...) keyword arguments for the moto server at ``endpoint``."""
    return {
        "endpoint_url": endpoint,
        "region_name": REGION,
        "aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def environment(endpoint: str) -> dict[str, str]:
    """The AWS_* variables that send boto3 and the AWS CLI to the moto server at ``endpoint``."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_DEFAULT_REGION": REGION, **CREDENTIALS}
