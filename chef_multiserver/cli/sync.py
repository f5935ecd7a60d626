"""``chef-multiserver sync``: what the build runs after the cookbook upload. It writes to every
server the roles, environments and data bag items that differ from the repository (deleting only
what ``.chef/sync.yml`` asks to), then compares every server again, as ``drift`` does, and fails
when any server is still out of step, with a table per server.

With ``--key-bucket`` each server's key is read from s3://BUCKET/<server>/private.pem into memory
(never written to disk: the build's checkout holds no key); without it, from
``.chef/<server>/private.pem`` as on a workstation."""

from __future__ import annotations

import argparse
import functools
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chef_multiserver import chef_api
from chef_multiserver import drift as fleet
from chef_multiserver.cli import aws as cli_aws
from chef_multiserver.cli.drift import KEY_MAX_BYTES, KeySource, local_key, prepare, print_tables
from chef_multiserver.cli.put_key import key_object
from chef_multiserver.fleet_sync import print_sync, sync_fleet


def sync(repo: Path, args: argparse.Namespace, aws: Any) -> int:
    keys = bucket_key(cli_aws.client(aws, "s3"), args.key_bucket) if args.key_bucket else None
    plan = prepare(repo, args, keys or local_key(repo))
    print("Sync:")
    written = sync_fleet(plan.clients, plan.state, plan.delete_extra)
    print_sync(written)
    print("\nCheck:")
    checked = fleet.compare_fleet(plan.clients, plan.state, plan.delete_extra)
    print_tables(checked)
    in_step = all(report.in_step for report in checked.values())
    return 0 if in_step and all(report.error is None for report in written.values()) else 1


def bucket_key(s3: Any, bucket: str) -> KeySource:
    """Each key read once (the sync and the check after it both need it)."""

    @functools.cache
    def read(name: str) -> bytes:
        where = f"s3://{bucket}/{key_object(name)}"
        try:
            body = s3.get_object(Bucket=bucket, Key=key_object(name))["Body"]
            with body:
                data: bytes = body.read(KEY_MAX_BYTES + 1)
        except (BotoCoreError, ClientError) as error:
            raise chef_api.ChefAPIError(f"{where}: {cli_aws.error_message(error)}") from error
        if len(data) > KEY_MAX_BYTES:
            raise chef_api.ChefAPIError(f"{where}: larger than a key")
        return data

    return read
