"""What the table of detectors is made of: its rows, what they report, and the limits they share."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

# how far a key body may reach past its header (a 16384-bit RSA key is 13 KB)
PEM_WINDOW = 256 * 1024
UNPACKED = 64 * 1024 * 1024  # the most bytes one file may unpack or decode, at all levels together
ARCHIVE_MEMBERS = 10_000
MAX_DEPTH = 4  # e.g. a key in a tar in a gzip, base64-encoded in a YAML file
# Places a key may start that one file may have checked, at all levels together: a crafted file
# of key openings (or a zip of many such members) stops here, and is reported.
CANDIDATES = 200_000
# What the report of a file says stopped its scan (the file is reported: a scan fails closed).
UNPACK_LIMIT = f"the {UNPACKED >> 20} MiB a file may unpack or decode"
NESTING_LIMIT = f"{MAX_DEPTH} levels of nesting (archives, compression, encodings)"


class Finding:
    __slots__ = ("kind", "offset", "proven")

    def __init__(self, offset: int, kind: str, proven: bool) -> None:
        # where the key starts in the scanned bytes (a nested key: where its wrapper starts)
        self.offset = offset
        self.kind = kind
        self.proven = proven  # it parses as a key: no allowlist marker can silence it


# scan's signature: (data, depth, budget) -> (findings, offset the last one reaches to)
Scan = Callable[..., "tuple[list[Finding], int]"]


class Budget:
    """What all levels of one file's scan share: how many more bytes it may unpack or decode (a zip
    bomb stops here, not in memory) and candidates it may check, the limits that stopped a part of
    it (each is reported: a scan fails closed), and the scan that reads what was unpacked (the
    handlers that unwrap bytes sit below the table that scan reads, so they reach it here)."""

    __slots__ = ("candidates", "remaining", "scan", "stopped")

    def __init__(self, scan: Scan, remaining: int = UNPACKED) -> None:
        self.scan = scan
        self.remaining = remaining
        self.candidates = CANDIDATES
        self.stopped: dict[str, None] = {}  # the limits reached, in order, each once

    def take(self, wanted: int) -> int:
        """Up to ``wanted`` bytes more; fewer stop the scan at the unpacking limit."""
        granted = max(0, min(wanted, self.remaining))
        self.remaining -= granted
        if granted < wanted:
            self.stop(UNPACK_LIMIT)
        return granted

    def stop(self, limit: str) -> None:
        self.stopped[limit] = None


Form = tuple[bytes, ...]  # a regular expression over squeezed bytes, one piece per character
Handler = Callable[[bytes, "re.Match[bytes]", int, Budget], "tuple[list[Finding], int]"]


class WhenUsed:
    """A regular expression compiled when first used: a run needs a row's full pattern only for
    files its squeezed search passed, and compiling every one would cost each run (an interpreter
    start) more than scanning most files does."""

    __slots__ = ("_compiled", "_source")

    def __init__(self, source: bytes) -> None:
        self._source = source
        self._compiled: re.Pattern[bytes] | None = None

    def compiled(self) -> re.Pattern[bytes]:
        if self._compiled is None:
            self._compiled = re.compile(self._source)
        return self._compiled

    def search(self, data: bytes, *span: int) -> re.Match[bytes] | None:
        return self.compiled().search(data, *span)

    def finditer(self, data: bytes, *span: int) -> Iterator[re.Match[bytes]]:
        return self.compiled().finditer(data, *span)


class Detector:
    __slots__ = ("handle", "pattern", "present", "squeezed", "text_only")

    def __init__(
        self,
        squeezed: tuple[Form, ...],
        present: Callable[..., object],
        pattern: re.Pattern[bytes] | WhenUsed,
        handle: Handler,
        *,
        text_only: bool = False,
    ) -> None:
        # forms, one of which any file it reports holds once squeezed (none: its test alone decides)
        self.squeezed = squeezed
        # a cheap test of the file (or of a span: data, start, end) most files fail (truthy: run the
        # pattern)
        self.present = present
        self.pattern = pattern  # opens with a literal where it can: sre then searches fast
        self.handle = handle  # -> (findings, offset up to which the bytes are accounted for)
        # what it looks for is text, in a binary file only by chance (its short squeezed forms
        # are there by the hundred): scan runs it on text alone
        self.text_only = text_only


# What scan squeezes out of a file before it looks for the anchors: every byte but the upper-case
# letters and digits. Most text is lower-case words, spaces and punctuation, so the squeezed bytes
# are a tenth of it or less (5% of Python's standard library): one pass over the file (a
# translate) and one search of those few bytes per group of rows (``_grouped``) replace a search of
# the whole file per row.
# Base64, binary and upper-case text squeeze poorly and cost a third more than before; source and
# configuration files, most of a repository, cost a third less. ("/" would be the byte kept most,
# for paths; "+" and "/" are only optional in what the rows look for.)
UPPER_OR_DIGIT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
SQUEEZED_OUT = bytes(byte for byte in range(256) if byte not in UPPER_OR_DIGIT)


def nested(data: bytes, depth: int, budget: Budget, offset: int, how: str) -> list[Finding]:
    """The keys inside bytes unwrapped from the file, reported where their wrapper starts."""
    if depth >= MAX_DEPTH:
        budget.stop(NESTING_LIMIT)
        return []
    found, _ = budget.scan(data, depth + 1, budget)
    return [Finding(offset, f"{finding.kind}, {how}", finding.proven) for finding in found]


def binary(data: bytes) -> bool:
    """A NUL in the file's head: no text (UTF-16 aside, which whole_blob transcodes)."""
    return data.find(b"\x00", 0, 8192) >= 0
