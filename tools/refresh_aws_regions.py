"""Write chef_multiserver/schemas/aws_region.schema.json, the AWS region names a server's ``region``
may take, from the partition data of the installed botocore: every region of every partition (aws,
aws-cn, aws-us-gov, the ISO and European Sovereign Cloud partitions), without the pseudo-regions
that name no place (aws-global, aws-cn-global, ...).

The hooks, the cookiecutter hooks and the command line read the written file, not botocore: the
cookiecutter hooks have only the standard library, and a hook should not depend on which botocore
happens to be installed. Refresh it after upgrading botocore (``tests/test_aws_regions.py`` fails
until then):

    python -m tools.refresh_aws_regions          # rewrite the file
    python -m tools.refresh_aws_regions --check  # exit 1 if it differs from botocore's regions
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import botocore

KIT_ROOT = Path(__file__).resolve().parent.parent
REGION_SCHEMA_FILE = KIT_ROOT / "chef_multiserver" / "schemas" / "aws_region.schema.json"
SCHEMA_ID = (
    "https://github.com/chef-multiserver-kit/chef-multiserver-kit/blob/main/"
    "chef_multiserver/schemas/aws_region.schema.json"
)
# botocore's two descriptions of the partitions: endpoints.json (the classic endpoint resolver) and
# partitions.json (the endpoint rule sets'). A region may reach one before the other.
PARTITION_FILES = ("endpoints.json", "partitions.json")


def botocore_regions(data_dir: Path | None = None) -> list[str]:
    """Every region botocore knows, sorted. A partition's ``regionRegex`` says what its region
    names look like; a name that does not match it (aws-global) is a pseudo-region for global
    endpoints, not a place nodes can run in."""
    data_dir = data_dir or Path(botocore.__file__).parent / "data"
    regions = set()
    for name in PARTITION_FILES:
        document: dict[str, Any] = json.loads((data_dir / name).read_text("utf-8"))
        for partition in document["partitions"]:
            pattern = re.compile(partition["regionRegex"])
            regions |= {region for region in partition["regions"] if pattern.match(region)}
    return sorted(regions)


def region_schema(regions: Sequence[str]) -> str:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "An AWS region name",
        "description": "Every region of every AWS partition, as botocore's partition data lists "
        "them, without pseudo-regions such as aws-global. Written by tools/refresh_aws_regions.py: "
        "do not edit.",
        "type": "string",
        "enum": list(regions),
    }
    return json.dumps(schema, indent=2) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="only compare the file with botocore's regions; exit 1 if they differ")
    args = parser.parse_args(argv)
    expected = region_schema(botocore_regions())
    current = REGION_SCHEMA_FILE.read_text("utf-8") if REGION_SCHEMA_FILE.is_file() else ""
    if current == expected:
        print(f"{REGION_SCHEMA_FILE.name}: up to date with botocore {botocore.__version__}")
        return 0
    if args.check:
        print(f"{REGION_SCHEMA_FILE.name}: differs from botocore {botocore.__version__}'s regions: "
              "run python -m tools.refresh_aws_regions", file=sys.stderr)
        return 1
    REGION_SCHEMA_FILE.write_text(expected, "utf-8")
    print(f"{REGION_SCHEMA_FILE.name}: written from botocore {botocore.__version__}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
