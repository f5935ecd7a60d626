"""Refuse private keys and credentials in the files being committed.

A Chef client key (``.chef/<server>/private.pem``) lives in S3, never in the repository; nor do data
bag secrets, PKCS#12 or Java key stores, PuTTY, OpenSSH or PGP keys, or AWS secret access keys.
What counts as a key, and how keys are found however they are wrapped, is
``pre_commit_hooks.key_detection``; this module reads the files, adds the rules that go by file
name, applies the allowlist marker and reports.

Decisions:
- Files are read in ``CHUNK`` pieces overlapping by ``OVERLAP``, so a file of any size is scanned to
  its end in linear time with bounded memory; a key near the end of a 100 MB file is found. Archives
  and compressed files are opened when they fit in the first chunk and a file unpacks or decodes at
  most ``key_detection.rows.UNPACKED`` bytes in all.
- A limit that stops a scan (those bytes, archive members, nesting, candidates, an archive too large
  or damaged to read to its end) reports the file, naming the limit, and no marker allows that: a
  reviewer decides (and excludes the file from the hook), nothing passes unread.
- Every argument is a file name: pre-commit and the buildspec's ``xargs`` pass nothing else, and a
  committed file named ``--help`` must be scanned, not read as an option. A name that is no UTF-8
  prints escaped (``\\xe9``), never as a UnicodeEncodeError.
- A symlink is skipped: git commits the link text, never the content of its target, so a link to a
  key outside the repository (or to nowhere, or to a directory) commits no secret.
- A file that cannot be read fails the hook (exit 1) with the reason: a secret scan fails closed.
- ``pragma: allowlist secret`` on the reported line allows a suspicion (a private-key header over a
  body that does not parse, an AWS key pair, an unexplained ``.pem`` under ``.chef/``). It never
  allows a proven key: a body that parses as a private key, a key store, a data bag secret file.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from collections.abc import Sequence

from chef_multiserver.layout import CA_CERTS_DIR, CHEF_DIR
from pre_commit_hooks.key_detection import ALLOWLIST_MARKER, PEM_HEADER, Budget, Finding, scan

CHUNK = 32 * 1024 * 1024
OVERLAP = 1024 * 1024  # longer than any key window, so a key starting in a chunk ends inside it
FIRST_READ = 64 * 1024  # most files are smaller: one read takes them whole, with no fstat
PRAGMA = ALLOWLIST_MARKER.encode()
# Opening with O_NOFOLLOW fails for a symlink: the open itself tells a file from a link, where an
# lstat first would cost every file one more system call. O_NONBLOCK: a FIFO does not block it.
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)  # none on Windows: there lstat asks first
_OPEN_FLAGS = os.O_RDONLY | _NO_FOLLOW | getattr(os, "O_NONBLOCK", 0)


def file_findings(path: str) -> list[tuple[int, Finding]]:
    """(line, finding) for each key or credential in the file at ``path``, allowed ones left out."""
    found: list[tuple[int, Finding]] = []
    budget = Budget(scan)
    # os.read, not open(): no file object per file (most files are small and clean)
    descriptor = _opened(path)
    if descriptor is None:
        return found
    try:
        chunk = _first_chunk(descriptor)
        if chunk is None:
            return found
        base, lines_before, covered = 0, 0, 0
        first_chunk = chunk
        while chunk:
            stop = min(len(chunk), CHUNK)  # keys starting later belong to the next chunk
            findings, reach = scan(
                chunk, 0, budget, start=max(0, covered - base), stop=stop, whole=base == 0
            )
            found += _numbered(chunk, findings, lines_before)
            if len(chunk) <= CHUNK:
                break
            covered = base + reach  # the next chunk does not find that key again
            lines_before += chunk.count(b"\n", 0, CHUNK)
            base += CHUNK
            chunk = chunk[CHUNK:] + _read(descriptor, CHUNK)
    finally:
        os.close(descriptor)
    named = _named_secret(path, first_chunk, found)
    if named is not None and (named.proven or PRAGMA not in _line_at(first_chunk, 0)):
        found.insert(0, (1, named))
    # A limit that stopped a part of the scan leaves bytes unread: the file is reported so that a
    # reviewer decides (no marker allows it: a crafted archive could name a member after one).
    found += [
        (1, Unscanned(0, f"not scanned to its end: stopped by {limit}", True))
        for limit in budget.stopped
    ]
    return found


class Unscanned(Finding):
    """A limit that stopped the scan of a file (a reviewer decides, not the hook)."""

    __slots__ = ()


def _opened(path: str) -> int | None:
    """``path`` opened for reading; None for a symlink (git commits its text, not its target) or
    anything else that is no regular file and cannot be opened (a socket)."""
    try:
        if not _NO_FOLLOW and stat.S_ISLNK(os.lstat(path).st_mode):
            return None
        return os.open(path, _OPEN_FLAGS)
    except OSError:
        # a symlink O_NOFOLLOW refused, or a regular file: then why it cannot be read
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return None
        raise


def _first_chunk(descriptor: int) -> bytes | None:
    """The file's first ``CHUNK + OVERLAP`` bytes, or None for what is no regular file."""
    try:
        data = os.read(descriptor, FIRST_READ)
    except (IsADirectoryError, BlockingIOError):
        return None  # a directory, or a FIFO a writer holds open (O_NONBLOCK: it does not wait)
    if len(data) < FIRST_READ:
        # A regular file reads short only at its end; a FIFO without a writer or /dev/null reads
        # nothing.
        return data
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        return None  # a device such as /dev/zero would never end
    # Read it again from its start, in one piece: joining the first read to the rest would copy
    # the whole chunk once more. (read(n) allocates n bytes first: no more than the file holds.)
    os.lseek(descriptor, 0, os.SEEK_SET)
    return _read(descriptor, min(status.st_size, CHUNK + OVERLAP))


def _read(descriptor: int, wanted: int) -> bytes:
    """``wanted`` bytes, fewer only at the end of the file (one read may return less)."""
    data = os.read(descriptor, wanted)
    while 0 < len(data) < wanted:
        more = os.read(descriptor, wanted - len(data))
        if not more:
            break
        data += more
    return data


def _numbered(
    chunk: bytes, findings: list[Finding], lines_before: int
) -> list[tuple[int, Finding]]:
    """(line, finding) for each finding in ``chunk`` no marker allows; newlines counted once, and
    each line looked at once for a marker (a line of many findings costs one pass)."""
    if not findings:
        return []  # most chunks
    numbered = []
    line, counted, line_end, allowed = lines_before + 1, 0, -1, False
    for finding in sorted(findings, key=lambda finding: finding.offset):
        line += chunk.count(b"\n", counted, finding.offset)
        counted = finding.offset
        if finding.offset > line_end:  # the first finding on its line
            line_end = chunk.find(b"\n", finding.offset)
            line_end = len(chunk) if line_end < 0 else line_end
            allowed = chunk.find(PRAGMA, chunk.rfind(b"\n", 0, finding.offset) + 1, line_end) >= 0
        if finding.proven or not allowed:
            numbered.append((line, finding))
    return numbered


def _line_at(data: bytes, offset: int) -> bytes:
    end = data.find(b"\n", offset)
    return data[data.rfind(b"\n", 0, offset) + 1 : end if end >= 0 else len(data)]


# What Chef and Test Kitchen users call the file of an encrypted data bag secret (a recipe, template
# or spec named after it is code, and is scanned as code).
_DATA_BAG_KEY_FILE = r"(?:encrypted_)?data_?bag_(?:secret|key)(?:\.(?:key|secret|txt))?"


def _named_secret(path: str, content: bytes, found: list[tuple[int, Finding]]) -> Finding | None:
    """What the file's name says it is, when its content did not already say so."""
    if found or not ("bag" in path or path.endswith(".pem")) or not content.strip():
        return None
    parts = os.path.normpath(path).split(os.sep)  # noqa: PTH206 (pathlib: a 3 ms import)
    # (the expression compiles only for a name it may match)
    if "bag_" in parts[-1] and re.fullmatch(_DATA_BAG_KEY_FILE, parts[-1]):
        return Finding(0, "Chef encrypted data bag secret (by its file name)", True)
    if CHEF_DIR in parts and parts[-1].endswith(".pem") and not PEM_HEADER.search(content):
        return Finding(
            0,
            f"a .pem under {CHEF_DIR}/ that is no certificate "
            f"(certificates belong in {CHEF_DIR}/{CA_CERTS_DIR}/)",
            False,
        )
    return None


def _remedy(path: str, finding: Finding) -> str:
    if isinstance(finding, Unscanned):
        return (
            "  a reviewer must read it: if it holds no secret, exclude it from this hook"
            " (exclude: in .pre-commit-config.yaml) or split it into smaller files"
        )
    allow = "" if finding.proven else f"; if it is no secret, end the line with '{PRAGMA.decode()}'"
    return (
        f"  take it out: git rm --cached -- {_shell_word(path)} and list it in .gitignore"
        " (or delete the secret from the file);"
        f" a key that reached any remote must be rotated{allow}"
    )


def _shown(path: str) -> str:
    """``path`` as it can be printed: a name whose bytes are no UTF-8 (Python holds them as lone
    surrogates) gets them escaped, ``\\xe9``, instead of a UnicodeEncodeError."""
    if path.isascii():
        return path  # most names
    raw = os.fsencode(path)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("ascii", "backslashreplace")


def _shell_word(path: str) -> str:
    """``path`` quoted for a shell command (bash's $'...' for bytes that are no UTF-8)."""
    import shlex  # only a file with a secret gets a remedy

    if _shown(path) == path:
        return shlex.quote(path)
    escaped = (
        chr(byte) if 0x20 <= byte < 0x7F and byte not in b"'\\" else f"\\x{byte:02x}"
        for byte in os.fsencode(path)
    )
    return "$'" + "".join(escaped) + "'"


def _say(text: str, *, error: bool = False) -> None:
    """Print ``text`` (to stderr for an ``error``) whatever the stream's encoding can write (a
    member name inside an archive may hold any character): what it cannot is escaped."""
    stream = sys.stderr if error else sys.stdout
    if not text.isascii():
        encoding = stream.encoding or "utf-8"
        text = text.encode(encoding, "backslashreplace").decode(encoding)
    print(text, file=stream)


def main(argv: Sequence[str] | None = None) -> int:
    # Every argument is a file name: pre-commit and the buildspec's xargs pass file names only, and
    # a committed file named --help or -x must be scanned, not read as an option that ends the run.
    filenames = sys.argv[1:] if argv is None else argv
    if argv is None:
        # Started as a command: the detectors' tables, built at import, live as long as the
        # process, so the cyclic collector need not walk them again, at each collection during the
        # scan and at exit (5 ms of a 60 ms run over a thousand files).
        import gc

        gc.freeze()
    retval = 0
    for path in filenames:
        try:
            found = file_findings(path)
        except OSError as error:
            hint = " (this hook takes file names only, no options)" if path[:1] == "-" else ""
            _say(
                f"{_shown(path)}: cannot be read, so cannot be checked: "
                f"{error.strerror or error}{hint}",
                error=True,
            )
            retval = 1
            continue
        for line, finding in sorted(found, key=lambda item: item[0]):
            _say(f"{_shown(path)}:{line}: {finding.kind}")
            _say(_remedy(path, finding))
            retval = 1
    return retval


if __name__ == "__main__":
    raise SystemExit(main())
