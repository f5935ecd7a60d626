"""Which kit a generated repository installs: one git URL and one revision, the same for its
pre-commit hooks (``repo:``/``rev:``) and its pipeline (``pip install "git+URL@REV"``).

The revision is the commit the template was generated from (or the release tag ``v<version>`` when
it points at that commit), so the hooks and the build run the very code that made the repository.
The URL is where that commit can be fetched again: what cookiecutter cloned, or, for a local
checkout, its ``origin`` when a remote-tracking branch of origin holds the commit (``git branch -r
--contains`` knows that without a network), else the checkout itself, with a warning.

What cookiecutter tells the template (cookiecutter/main.py): ``_template`` is the argument as
given (a path, a URL or an abbreviation such as ``gh:owner/name``), ``_repo_dir`` the directory it
rendered from (the checkout, or its clone under ``cookiecutters_dir``) and ``_checkout`` the
``--checkout`` asked for. Standard library only: the template's hooks import this module.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

# A git URL (git-clone(1) "GIT URLS"): a scheme URL, or scp-like user@host:path. Only characters
# that mean nothing to a shell: the generated README shows the URL inside a pip command.
GIT_URL = re.compile(r"(?:(?:https?|ssh|git|file)://|[\w.-]+@[\w.-]+:)[\w.~:/@%+=,-]+")
SCP_LIKE = re.compile(r"(?P<user_host>[\w.-]+@[\w.-]+):(?P<path>(?!//).*)")
URL_LIKE = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://|[\w.-]+@[\w.-]+:")
# Where CodeBuild cannot fetch from: this machine's files.
LOCAL_URL = re.compile(r"file:", re.IGNORECASE)


class KitPin(NamedTuple):
    url: str
    rev: str
    warnings: tuple[str, ...] = ()


def kit_repo_url_problem(answer: object) -> str | None:
    """What is wrong with a ``kit_repo_url`` answer: empty (the template's own source), a git URL
    or the absolute path of an existing directory are allowed (cookiecutter runs the hooks and
    renders the files from other directories than the one it was started in)."""
    if answer == "":
        return None
    if isinstance(answer, str) and (GIT_URL.fullmatch(answer) or _is_directory(answer)):
        return None
    return (
        f"{answer!r} is not allowed: use a git URL of chef-multiserver-kit (https://..., "
        "ssh://..., git@host:path), the absolute path of a clone, or nothing for the source "
        "this template came from"
    )


def _is_directory(answer: str) -> bool:
    try:
        path = Path(answer).expanduser()
        return "\n" not in answer and path.is_absolute() and path.is_dir()
    except (OSError, ValueError, RuntimeError):
        return False


def kit_pin(answers: dict[str, Any], source: Path, version: str) -> KitPin:
    """The kit's URL and revision for a repository generated with ``answers`` from the template
    checkout ``source`` (an absolute path)."""
    chosen = answers.get("kit_repo_url") or ""
    if kit_repo_url_problem(chosen):
        chosen = ""  # the generation stops on it (generator.answer_problems); render something
    commit = _git(source, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if commit is None or _git(source, "rev-parse", "--show-toplevel") != str(source):
        url = (_as_url(chosen) if chosen else None) or source.as_uri()
        rev = f"v{version}"
        return KitPin(url, rev, (
            f"{source} is not a git repository, so no commit can be pinned: the hooks and the "
            f"pipeline install {url}@{rev}, which may not exist; point repo/rev in "
            ".pre-commit-config.yaml and KIT_REPO_URL/KIT_REV in buildspec.yml at a git URL and "
            "commit of chef-multiserver-kit",
        ))
    rev = commit
    if _git(source, "rev-parse", "--verify", "--quiet", f"refs/tags/v{version}^{{commit}}") == (
        commit
    ):
        rev = f"v{version}"
    warnings = []
    if chosen:
        url = _as_url(chosen) or source.as_uri()
    else:
        # cookiecutter renders a local template where it is (``_repo_dir`` is ``_template``), and
        # anything else from a clone of its own.
        cloned = answers["_repo_dir"] != answers["_template"]
        url, why_local = _source_url(source, commit, cloned)
        if why_local:
            warnings.append(
                f"{why_local}, so the hooks and the pipeline install the kit from {source} on "
                f"this machine, at {rev}"
            )
    if LOCAL_URL.match(url) and not warnings:
        warnings.append(f"the hooks and the pipeline install the kit from {url} on this machine")
    if warnings:
        warnings.append(
            "CodeBuild cannot reach this machine: before the first deploy, push that commit to a "
            "git server the pipeline can reach and put its URL in KIT_REPO_URL (buildspec.yml) "
            "and repo (.pre-commit-config.yaml): README.md, 'The kit this repository installs'"
        )
    return KitPin(url, rev, tuple(warnings))


def _source_url(source: Path, commit: str, cloned: bool) -> tuple[str, str | None]:
    """Where ``commit`` of the checkout ``source`` can be fetched again, and why it must be the
    checkout itself, when it must."""
    origin = _git(source, "remote", "get-url", "origin")
    origin_url = _as_url(origin, source) if origin else None
    if origin and origin_url is None:
        return source.as_uri(), f"the URL of origin ({origin!r}) is not one the kit can pin"
    if cloned and origin_url:
        return origin_url, None  # the URL cookiecutter cloned
    # Tracked files only: the repository being generated may be an untracked directory here.
    if _git(source, "status", "--porcelain", "--untracked-files=no") != "":
        return source.as_uri(), f"{source} has changes that are not committed"
    if origin_url is None:
        return source.as_uri(), f"{source} has no origin remote"
    tracking = (_git(source, "branch", "-r", "--contains", commit) or "").split()
    if not any(branch.startswith("origin/") for branch in tracking):
        return source.as_uri(), f"no branch of origin ({origin}) has commit {commit}"
    return origin_url, None


def _as_url(location: str, base: Path | None = None) -> str | None:
    """``location`` as a URL both git and pip take: a git URL as given, but scp-like
    ``user@host:path`` as ``ssh://user@host/path`` (pip takes no other form; hosting services read
    both alike); a directory (relative to ``base``) as its file:// URL. None for a URL with
    characters a shell would act on."""
    if GIT_URL.fullmatch(location):
        scp_like = SCP_LIKE.fullmatch(location)
        return f"ssh://{scp_like['user_host']}/{scp_like['path']}" if scp_like else location
    if URL_LIKE.match(location):
        return None
    path = Path(location).expanduser()
    return (base / path if base else path).resolve().as_uri()


def _git(cwd: Path, *args: str) -> str | None:
    """Git's output, stripped; None when git fails or is missing."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def pipeline_problem(url: str) -> str | None:
    """Why the pipeline cannot install the kit from ``url``, if it cannot."""
    if LOCAL_URL.match(url) or not GIT_URL.fullmatch(url):
        return (
            f"the pipeline installs the kit from {url}, which CodeBuild cannot reach: set "
            "KIT_REPO_URL in buildspec.yml (and repo in .pre-commit-config.yaml) to a git URL "
            "that has the pinned commit, and commit both"
        )
    return None
