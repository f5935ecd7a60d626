"""Write each server's .chef/<server>/config.yml, then make the first git commit if asked to."""

import json
import sys
from pathlib import Path

ANSWERS = json.loads({{ cookiecutter | tojson | tojson }})  # noqa: E501
# Why the kit this repository pins is on this machine, if it is (chef_multiserver.kit_source).
PIN_WARNINGS = json.loads({{ (cookiecutter | kit_pin).warnings | list | tojson | tojson }})  # noqa: E501
sys.path.insert(0, ANSWERS["_repo_dir"])
from chef_multiserver.generator import init_git, write_server_configs  # noqa: E402

write_server_configs(ANSWERS, Path.cwd())
for warning in PIN_WARNINGS:
    print(f"WARNING: {warning}", file=sys.stderr)
if ANSWERS["init_git"]:
    skipped = init_git(Path.cwd(), ANSWERS["branch"])
    if skipped:
        print(f"WARNING: no git repository was made ({skipped}); run git init.", file=sys.stderr)
