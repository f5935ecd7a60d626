"""Write the pipeline's node targets: for each server, where and how chef-client runs on its nodes.

The build runs this on the pushed tree and hands the file to the pipeline's Lambda as its only
artifact. Every default of a server's node settings is applied here and nowhere else, so the Lambda
gets complete targets and never guesses. ``template_findings`` tells check-chef-repo where
cloudformation/pipeline.yml has drifted from the repository.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from chef_multiserver import repo_files, servers
from chef_multiserver.config_check import RepositoryServers, config_findings

TARGETS_FILE = "chef-targets.json"
TEMPLATE = Path("cloudformation/pipeline.yml")
LAMBDA_SOURCE = Path("pipeline/chef_client.py")
TAG_CONDITION = "ssm:resourceTag/"
# chef-client restarts services; one node in ten at a time keeps nine in ten serving.
DEFAULT_MAX_CONCURRENCY = "10%"
# A cookbook that breaks one node stops the rollout before it reaches the others.
DEFAULT_MAX_ERRORS = "0"


def server_target(name: str, config: dict[str, Any]) -> dict[str, Any]:
    """The target of one server whose config.yml is valid, defaults applied."""
    tag = config.get("node_tag", {"key": servers.DEFAULT_TAG_KEY, "value": name})
    return {
        "name": name,
        "region": config["region"],
        "tag_key": tag["key"],
        "tag_value": tag["value"],
        "max_concurrency": config.get("max_concurrency", DEFAULT_MAX_CONCURRENCY),
        "max_errors": config.get("max_errors", DEFAULT_MAX_ERRORS),
        "allow_no_nodes": config.get("allow_no_nodes", False),
    }


def repo_targets(repo: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The targets of every server of ``repo``, and what check-chef-server-config finds wrong with
    any of them: a server with a problem gets no target."""
    repository = RepositoryServers(repo)
    targets = []
    found = []
    for name, server_dir in repository.directories.items():
        config_path = server_dir / servers.CONFIG_FILE
        problems = [*config_findings(config_path, repository, config_path.relative_to(repo))]
        found += problems
        config = repository.configs[name]
        if not problems and isinstance(config, repo_files.LoadedConfig):
            assert isinstance(config.value, dict)  # noqa: S101  # no problem: the schema's mapping
            targets.append(server_target(name, config.value))
    if not targets and not found:
        found.append(f"no server found: add {servers.CHEF_DIR}/<server>/{servers.CONFIG_FILE}")
    return targets, found


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _mapping(value: Any) -> dict[Any, Any]:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[Any]:
    """A list as itself; one mapping as a list of it (IAM takes a lone Statement so); else []."""
    return value if isinstance(value, list) else [value] if isinstance(value, dict) else []


def template_findings(repo: Path) -> list[str]:
    """Where cloudformation/pipeline.yml no longer fits the repository, one line each: the Lambda's
    inline copy of pipeline/chef_client.py, and the node tag keys its role may send chef-client to.
    For check-chef-repo: the template is deployed by hand, so nothing else would notice. Any YAML
    is taken: a part of another shape than CloudFormation's is as good as missing."""
    try:
        template = repo_files.read_cloudformation(repo / TEMPLATE)
    except repo_files.ConfigError as error:
        return [f"{error.finding(TEMPLATE)}: cannot be compared with {LAMBDA_SOURCE}"]
    try:
        source = repo_files.read_regular_file(repo / LAMBDA_SOURCE, repo_files.TEMPLATE_MAX_BYTES)
    except repo_files.ConfigError as error:
        return [f"{LAMBDA_SOURCE}: {error.message}: the Lambda's code is this file"]
    resources = _dig(template, "Resources")
    found = []
    # YAML reads every line break as "\n": so does the comparison.
    source_text = source.decode("utf-8", "replace").replace("\r\n", "\n").replace("\r", "\n")
    if _dig(resources, "ChefClientFunction", "Properties", "Code", "ZipFile") != source_text:
        found.append(f"{TEMPLATE}: the Lambda's inline code (ChefClientFunction Code.ZipFile) "
                     f"is not {LAMBDA_SOURCE}: copy the file into it, then deploy the stack again")
    allowed = {
        key.removeprefix(TAG_CONDITION)
        for policy in _items(_dig(resources, "FunctionRole", "Properties", "Policies"))
        for statement in _items(_dig(policy, "PolicyDocument", "Statement"))
        for key in _mapping(_dig(statement, "Condition", "StringLike"))
        if isinstance(key, str) and key.startswith(TAG_CONDITION)
    }
    targets, _ = repo_targets(repo)
    found += [
        f"{servers.CHEF_DIR}/{target['name']}/{servers.CONFIG_FILE}: chef-client goes to nodes "
        f"tagged {target['tag_key']!r}, a key FunctionRole in {TEMPLATE} does not allow: add "
        f"a SendCommand statement with {TAG_CONDITION}{target['tag_key']}, then deploy the stack "
        "again"
        for target in targets if target["tag_key"] not in allowed
    ]
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=Path(),
                        help="the chef repository (default: .)")
    parser.add_argument("--output", type=Path, default=Path(TARGETS_FILE),
                        help=f"where to write the targets (default: {TARGETS_FILE})")
    args = parser.parse_args(argv)
    targets, found = repo_targets(args.repo)
    for problem in found:
        print(problem, file=sys.stderr)
    if found:
        return 1
    try:
        args.output.write_text(json.dumps({"servers": targets}, indent=2) + "\n", "utf-8")
    except OSError as error:
        print(f"{args.output}: cannot be written: {error}", file=sys.stderr)
        return 2
    print(f"{args.output}: chef-client targets of {len(targets)} server(s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
