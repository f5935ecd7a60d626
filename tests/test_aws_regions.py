"""The region names a server may take come from AWS's own data: botocore's partition data, written
into chef_multiserver/schemas/aws_region.schema.json by tools/refresh_aws_regions.py, and read from
that file, without botocore, by the hooks, the cookiecutter hooks and the command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import botocore
import pytest

from chef_multiserver import servers
from tests.conftest import KIT_ROOT
from tools import refresh_aws_regions

REGIONS = servers.referenced_schema("aws_region.schema.json")["enum"]


def test_the_shipped_regions_are_the_installed_botocores() -> None:
    """If this fails after a botocore upgrade: ``python -m tools.refresh_aws_regions``."""
    assert refresh_aws_regions.REGION_SCHEMA_FILE.read_text("utf-8") == (
        refresh_aws_regions.region_schema(refresh_aws_regions.botocore_regions())
    ), f"run python -m tools.refresh_aws_regions (botocore {botocore.__version__})"


def test_pseudo_regions_are_left_out_and_real_ones_kept() -> None:
    data = Path(botocore.__file__).parent / "data" / "partitions.json"
    listed = {
        region for partition in json.loads(data.read_text("utf-8"))["partitions"]
        for region in partition["regions"]
    }
    assert "aws-global" in listed  # what botocore lists and a node cannot run in
    assert not [region for region in REGIONS if region.endswith("-global")]
    assert {"us-east-1", "cn-north-1", "us-gov-west-1", "us-isob-east-1"} <= set(REGIONS)
    assert sorted(set(REGIONS)) == REGIONS


def test_refresh_check_fails_on_a_stale_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "aws_region.schema.json"
    stale.write_text(refresh_aws_regions.region_schema(["us-east-1"]), "utf-8")
    monkeypatch.setattr(refresh_aws_regions, "REGION_SCHEMA_FILE", stale)
    assert refresh_aws_regions.main(["--check"]) == 1
    assert "differs from botocore" in capsys.readouterr().err
    assert refresh_aws_regions.main([]) == 0
    assert json.loads(stale.read_text("utf-8"))["enum"] == REGIONS
    assert refresh_aws_regions.main(["--check"]) == 0


def test_the_cookiecutter_hooks_rules_need_no_botocore() -> None:
    """The cookiecutter hooks import chef_multiserver.generator from the template checkout with
    cookiecutter's interpreter, where nothing but the standard library is promised: run its region
    rule with no site-packages at all (-S) and from outside the checkout's own environment."""
    program = (
        "import json, sys; sys.path.insert(0, sys.argv[1]);"
        "from chef_multiserver import servers; "
        "print(json.dumps([[p.message for p in servers.problems(region, "
        "servers.SCHEMA['properties']['region'], 'region')] for region in sys.argv[2:]]))"
    )
    regions = ["eusc-de-east-1", "us-northwest-9", "cn-iso-central-1"]
    result = subprocess.run(
        [sys.executable, "-S", "-c", program, str(KIT_ROOT), *regions],
        capture_output=True, text=True, check=True,
    )
    accepted, *refused = json.loads(result.stdout)
    assert accepted == []
    assert all("is not allowed: use an AWS region name" in message
               for [message] in refused), refused
    assert "botocore" not in result.stderr
