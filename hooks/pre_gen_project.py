"""Refuse bad answers before anything is generated; cookiecutter then removes the new directory."""

import json
import sys

ANSWERS = json.loads({{ cookiecutter | tojson | tojson }})  # noqa: E501
# The rules live in the kit's package next to this template, so the generator, the pre-commit hooks
# and the command line apply the same ones.
sys.path.insert(0, ANSWERS["_repo_dir"])
from chef_multiserver.generator import REFUSED, answer_problems  # noqa: E402

found = answer_problems(ANSWERS)
for problem in found:
    print(f"ERROR: {problem}", file=sys.stderr)
if found:
    sys.exit(REFUSED)
