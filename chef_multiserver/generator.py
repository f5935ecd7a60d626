"""The rules for the template's answers, and the work of its post-generation hook.

The template's Jinja extension checks the answers with ``answer_problems`` before cookiecutter
creates anything; ``hooks/post_gen_project.py`` imports this module from the template checkout
(cookiecutter's ``_repo_dir``), so it needs nothing but the standard library. The hook is a new
interpreter, so imports stay few: they are most of what a generation costs
(benchmarks/bench_generate.py).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from chef_multiserver import kit_source, servers

# CodeCommit: letters, digits, '.', '_', '-'; 1 to 100 characters; never ending in ".git".
REPO_NAME = re.compile(r"(?!\.{1,2}$)(?!.*\.git$)[A-Za-z0-9._-]{1,100}")
# A git branch name that needs no quoting where the pipeline uses it (git-check-ref-format rules).
BRANCH = re.compile(r"(?![/.-])(?!.*(?:\.\.|//|@\{|\.lock$|[/.]$))[A-Za-z0-9._/-]{1,100}")
# Where the template's own answers go into YAML, Ruby and Markdown as one line: no control
# character (C0, DEL, C1), no line or paragraph separator, no lone surrogate (no UTF-8 for it).
ONE_LINE = re.compile(r"[^\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]{1,1000}")


def chosen_servers(answers: dict[str, Any]) -> Any:
    """The user's servers, or the two-region example when none were given.

    ``servers`` defaults to an empty mapping, never to the example: cookiecutter merges a mapping
    the user gives into a mapping default, which would add the example servers to every list.
    On cookiecutter's command line (``servers='{...}'``) the answer arrives as JSON text."""
    chosen = answers["servers"] or answers["_default_servers"]
    return json.loads(chosen) if isinstance(chosen, str) else chosen


def answer_problems(answers: dict[str, Any]) -> list[str]:
    """One line per bad answer, naming the field and what is allowed."""
    found = [
        f"{field}: {answers[field]!r} is not allowed: use {allowed}"
        for field, pattern, allowed in (
            ("repo_name", REPO_NAME, "1-100 letters, digits, '.', '_', '-', not ending in .git"),
            ("branch", BRANCH, "a git branch name such as main or release/chef"),
            (
                "description",
                ONE_LINE,
                "one line of at most 1000 characters, no control character",
            ),
        )
        if not (isinstance(answers[field], str) and pattern.fullmatch(answers[field]))
    ]
    kit_problem = kit_source.kit_repo_url_problem(answers["kit_repo_url"])
    if kit_problem:
        found.append(f"kit_repo_url: {kit_problem}")
    found += [
        f"chef_user: {problem.message}"
        for problem in servers.problems(
            answers["chef_user"], servers.SCHEMA["properties"]["node_name"], "node_name"
        )
    ]
    try:
        chosen = chosen_servers(answers)
    except json.JSONDecodeError as error:
        return [*found, f"servers: not valid JSON ({error})"]
    except RecursionError:
        return [*found, "servers: nested too deeply: give {name: {server, region}, ...}"]
    if not isinstance(chosen, dict):
        return [*found, "servers: must be a JSON object of server name -> {server, region}"]
    for name, spec in chosen.items():
        name_problem = servers.server_name_problem(name)
        if name_problem:
            found.append(f"servers: server name {name_problem}")
            continue
        config = server_config(answers, spec) if isinstance(spec, dict) else spec
        found += [
            f"servers.{'.'.join((name, *problem.path))}: {problem.message}"
            for problem in servers.problems(config)
            # a node_name taken from chef_user is reported once, as chef_user
            if problem.path != ("node_name",) or "node_name" in spec
        ]
    found += [
        f"servers: {name!r} is a second server of that name"
        for name in servers.duplicates(list(chosen))
    ]
    urls = [str(spec.get("server")) for spec in chosen.values() if isinstance(spec, dict)]
    found += [
        f"servers: {url!r} is the URL of two servers"
        for url in servers.duplicates(urls, servers.server_key)
    ]
    if not chosen:
        found.append("servers: name at least one server")
    return found


def server_config(answers: dict[str, Any], spec: dict[str, Any]) -> dict[str, Any]:
    """A server's config.yml content: its answers, with the template's Chef user by default."""
    return {"node_name": answers["chef_user"], **spec}


def write_server_configs(answers: dict[str, Any], repo: Path) -> None:
    """Write ``.chef/<server>/config.yml`` for each server: from now on these files are the list."""
    for name, spec in chosen_servers(answers).items():
        server_dir = repo / servers.CHEF_DIR / name
        server_dir.mkdir(parents=True)
        (server_dir / servers.CONFIG_FILE).write_text(
            servers.render_config(server_config(answers, spec)), "utf-8"
        )


def init_git(repo: Path, branch: str) -> str | None:
    """``git init`` and a first commit on ``branch``; the reason it was skipped, if it was."""

    def git(*args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)

    try:
        git("init", "--quiet", f"--initial-branch={branch}")
        git("add", "--all")
        has_identity = (
            subprocess.run(
                ["git", "config", "user.email"], cwd=repo, capture_output=True
            ).returncode
            == 0
        )
        # Without a git identity the first commit would fail; the author can be amended later.
        identity = (
            []
            if has_identity
            else [
                "-c",
                "user.name=chef-multiserver-kit",
                "-c",
                "user.email=chef-multiserver-kit@localhost",
            ]
        )
        git(
            *identity,
            "commit",
            "--quiet",
            "--no-verify",
            "-m",
            "Initial chef repository from chef-multiserver-kit",
        )
    except FileNotFoundError:
        return "git is not installed"
    except subprocess.CalledProcessError as error:
        return f"{' '.join(error.cmd)} failed: {error.stderr.decode(errors='replace').strip()}"
    return None
