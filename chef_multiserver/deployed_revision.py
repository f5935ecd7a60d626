"""Print the commit the build compares cookbook versions against: the source revision of the
pipeline's last succeeded execution, else the previous commit (else git's empty tree, on a
repository's first commit).

    python3 -m chef_multiserver.deployed_revision

CodeBuild sets CODEBUILD_INITIATOR to ``codepipeline/<pipeline name>`` for a build the pipeline
started; the executions come from codepipeline:ListPipelineExecutions, newest first
(https://docs.aws.amazon.com/codepipeline/latest/APIReference/API_ListPipelineExecutions.html).
A revision the clone does not have (the branch was rewritten) falls back to the previous commit,
with a warning. An AWS error fails: the check must not pass because it could not look.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chef_multiserver import cookbook_versions

PIPELINE_INITIATOR = "codepipeline/"
RETRIES = Config(retries={"mode": "standard"})


def last_succeeded_revision(codepipeline: Any, pipeline: str) -> str | None:
    """The source revision of ``pipeline``'s newest succeeded execution, if it has one."""
    pages = codepipeline.get_paginator("list_pipeline_executions").paginate(pipelineName=pipeline)
    for page in pages:
        for execution in page["pipelineExecutionSummaries"]:
            revisions = execution.get("sourceRevisions") or []
            if execution["status"] == "Succeeded" and revisions:
                return str(revisions[0]["revisionId"])
    return None


def previous_commit(repo: Path) -> str:
    return cookbook_versions.resolve(repo, "HEAD~1") or cookbook_versions.EMPTY_TREE


def deployed_revision(repo: Path, initiator: str, codepipeline: Callable[[], Any]) -> str:
    """The commit to compare with (module docstring); ``codepipeline`` makes the client."""
    if not initiator.startswith(PIPELINE_INITIATOR):
        print("Not started by a pipeline: comparing with the previous commit.", file=sys.stderr)
        return previous_commit(repo)
    pipeline = initiator.removeprefix(PIPELINE_INITIATOR)
    revision = last_succeeded_revision(codepipeline(), pipeline)
    if revision is None:
        print(f"{pipeline}: no succeeded execution yet: comparing with the previous commit.",
              file=sys.stderr)
        return previous_commit(repo)
    commit = cookbook_versions.resolve(repo, revision)
    if commit is None:
        print(f"WARNING: {pipeline} last deployed {revision}, which this clone does not have "
              "(was the branch rewritten?): comparing with the previous commit.", file=sys.stderr)
        return previous_commit(repo)
    return commit


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(), help="the checkout (default: .)")
    args = parser.parse_args(argv)
    try:
        print(deployed_revision(args.repo, os.environ.get("CODEBUILD_INITIATOR", ""),
                                lambda: boto3.client("codepipeline", config=RETRIES)))
    except (BotoCoreError, ClientError) as error:
        print(f"ERROR: cannot read the pipeline's executions: {error}", file=sys.stderr)
        return 1
    except cookbook_versions.VersionCheckError as error:
        print(f"ERROR: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
