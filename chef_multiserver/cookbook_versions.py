"""A changed cookbook must raise its version before it is uploaded.

A cookbook version already on a Chef server is frozen: ``berks upload`` skips it and the build
still succeeds, so a change that keeps the version never reaches a server. This compares each
cookbook under cookbooks/ in the working tree with the same cookbook at a base commit (the branch's
upstream before a push, the last deployed revision in the pipeline) and reports every cookbook whose
files differ while its metadata.rb version did not rise. A cookbook the base does not have is new,
and one the working tree no longer has is removed: neither is reported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

COOKBOOKS = "cookbooks"
METADATA = "metadata.rb"
# git's empty tree: the base of a repository's first commit, against which every cookbook is new.
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
# `version '1.2.3'` or `version "1.2"` in metadata.rb (Chef's own form: major.minor[.patch]).
VERSION = re.compile(r"""^[ \t]*version[ \t(]+(['"])(\d+(?:\.\d+){1,2})\1""", re.MULTILINE)
ANY_VERSION = re.compile(r"^[ \t]*version\b", re.MULTILINE)


class VersionCheckError(Exception):
    """git could not answer: the check cannot be made, so it fails."""


def git(repo: Path, *args: str, index: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """``git ARGS`` in ``repo``, with ``index`` as git's index file when given."""
    env = {**os.environ, "GIT_INDEX_FILE": str(index)} if index else None
    try:
        return subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as error:
        raise VersionCheckError(f"git {args[0]} failed: {error}") from error


def resolve(repo: Path, revision: str) -> str | None:
    """The commit ``revision`` names, or None when it names none."""
    if revision == EMPTY_TREE:
        return revision
    found = git(repo, "rev-parse", "--verify", "--quiet", "--end-of-options",
                f"{revision}^{{commit}}")
    return found.stdout.decode().strip() if found.returncode == 0 else None


def default_base(repo: Path) -> tuple[str, str]:
    """The branch's upstream, else HEAD (the commit the next commit follows), else the empty tree
    (no commit yet); and how to name it in a message."""
    for revision, label in (("@{upstream}", "the branch's upstream"), ("HEAD", "HEAD")):
        commit = resolve(repo, revision)
        if commit:
            return commit, f"{label} ({commit[:12]})"
    return EMPTY_TREE, "an empty repository"


def changed_cookbooks(repo: Path, base: str) -> list[str]:
    """The cookbooks with a file that differs between ``base`` and the working tree.

    ``git diff`` refreshes the index's stat data and writes it back, even with
    --no-optional-locks (git 2.39): it works on a copy, so that a check changes nothing."""
    index = git(repo, "rev-parse", "--git-path", "index").stdout.decode().strip()
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "index"
        try:
            if (repo / index).is_file():
                shutil.copyfile(repo / index, copy)
        except OSError as error:
            raise VersionCheckError(f"git's index cannot be read: {error}") from error
        diff = git(repo, "diff", "--name-only", "-z", "--no-renames", base, "--", f"{COOKBOOKS}/",
                   index=copy)
    if diff.returncode != 0:
        raise VersionCheckError(f"git diff {base} failed: {diff.stderr.decode(errors='replace')}")
    paths = diff.stdout.decode("utf-8", "surrogateescape").split("\0")[:-1]
    return sorted({path.split("/")[1] for path in paths if path.count("/") >= 2})


def parse_version(text: str) -> tuple[tuple[int, ...], str, int] | None:
    """The version in a metadata.rb as numbers, as written, and its line; None when none is
    written as a literal."""
    found = VERSION.search(text)
    if not found:
        return None
    line = text.count("\n", 0, found.start()) + 1
    return tuple(int(part) for part in found[2].split(".")), found[2], line


def raised(version: tuple[int, ...]) -> str:
    """``version`` with its last part raised by one: the smallest fix."""
    return ".".join(map(str, (*version[:-1], version[-1] + 1)))


def version_findings(repo: Path, base: str, base_label: str) -> Iterator[str]:
    """One finding per changed cookbook whose version is not above its version at ``base``."""
    commit = resolve(repo, base)
    if commit is None:
        yield f"{base_label}: names no commit of this repository: cannot compare cookbook versions"
        return
    for name in changed_cookbooks(repo, commit):
        where = f"{COOKBOOKS}/{name}/{METADATA}"
        old = git(repo, "show", f"{commit}:{where}")
        if old.returncode != 0 or not (repo / where).is_file():
            continue  # a new cookbook, or one removed
        new_text = (repo / where).read_text("utf-8", "replace")
        before = parse_version(old.stdout.decode("utf-8", "replace"))
        after = parse_version(new_text)
        if after is None:
            found = ANY_VERSION.search(new_text)
            line = new_text.count("\n", 0, found.start()) + 1 if found else 1
            yield (f"{where}:{line}:1: cookbook {name!r} changed but its version is not a literal "
                   "'MAJOR.MINOR.PATCH': write it as one so that it can be compared")
        elif before is not None and after[0] <= before[0]:
            yield (f"{where}:{after[2]}:1: cookbook {name!r} changed since {base_label} but its "
                   f"version {after[1]} is not above {before[1]}: raise it (version "
                   f"'{raised(before[0])}'): a Chef server keeps a version it has, and Berkshelf "
                   "would skip this change")
