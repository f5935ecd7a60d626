"""Rows and handlers for keys in base64 or hex text: decoded where they open, then scanned."""

from __future__ import annotations

import re
from functools import partial

from pre_commit_hooks.key_detection.blobs import BZIP2_BLOCKS, COMPRESSIONS
from pre_commit_hooks.key_detection.der import KEYSTORE_MAGIC
from pre_commit_hooks.key_detection.expressions import (
    Head,
    base64_forms,
    base64_of,
    hex_digits,
    one_of,
    squeezed_form,
)
from pre_commit_hooks.key_detection.rows import (
    Budget,
    Detector,
    Finding,
    Form,
    WhenUsed,
    nested,
)
from pre_commit_hooks.key_detection.text import BASE64_TEXT, base64_characters, decoded


def base64_blob(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget, *, leads: tuple[int, ...] = ()
) -> tuple[list[Finding], int]:
    """Decode the base64 text a marker sits in and scan what it encodes.

    Without ``leads`` the marker opens the base64 text (``base64_opening``); with them, the
    pattern's group ``i`` matched a reading of the marker that ``leads[i]`` characters of its base64
    group precede."""
    start = match.start()
    lead = leads[match.lastindex - 1] if leads and match.lastindex else 0
    # (a run of none or more always matches; what it decodes is bounded by the budget)
    end = re.compile(BASE64_TEXT).match(data, start).end()  # type: ignore[union-attr]
    text = data[start:end]
    if data[end : end + 1] in _URL_SAFE_ONLY and not lead:
        # base64url (RFC 4648, section 5: "-" and "_" for "+" and "/"), as JOSE libraries write
        # a DER key: the run goes on through them
        end = re.compile(_BASE64URL_TEXT).match(data, start).end()  # type: ignore[union-attr]
        text = data[start:end].translate(_FROM_URL_SAFE)
    before = base64_characters(data[max(0, start - 4 * lead) : start])[-lead:] if lead else b""
    characters = before + base64_characters(text)
    content = decoded(characters[: budget.take(len(characters))].decode("ascii"))
    return nested(content, depth, budget, start, "base64-encoded"), end


_URL_SAFE_ONLY = (b"-", b"_")
_BASE64URL_TEXT = rb"[A-Za-z0-9_\-\s\\]*"
_FROM_URL_SAFE = bytes.maketrans(b"-_", b"+/")
PEM_IN_BASE64 = base64_forms(b"-----BEGIN")
# Base64 text of a key store or of compressed data (helm and Kubernetes binaryData) opens so:
# a JKS key store (its magic, version 1 or 2); gzip data (its magic, deflate, flags).
JKS_HEAD: Head = (*((byte,) for byte in KEYSTORE_MAGIC[0]), (0,), (0,), (0,), (1, 2))
GZIP_HEAD: Head = (*((byte,) for byte in COMPRESSIONS[0][0]), (8,), range(0x20))
# bzip2 data: its magic, a block size, a block's magic; xz data: its magic, then stream flags naming
# a check xz(1) offers, followed by their CRC32: none, CRC32, CRC64 (xz's default). (SHA-256's
# squeezes to too little to search for in one pass with the others.)
BZIP2_HEAD: Head = (
    *((byte,) for byte in COMPRESSIONS[1][0]),
    range(ord("1"), ord("9") + 1),
    *((byte,) for byte in BZIP2_BLOCKS[0]),
)
XZ_HEADS: tuple[Head, ...] = tuple(
    (*((byte,) for byte in COMPRESSIONS[2][0]), (0,), (check,), *((byte,) for byte in crc32))
    for check, crc32 in (
        (0x00, b"\xff\x12\xd9\x41"),
        (0x01, b"\x69\x22\xde\x36"),
        (0x04, b"\xe6\xd6\xb4\x46"),
    )
)


def base64_opening(
    heads: tuple[Head, ...], groups: bytes = b"", *, text_only: bool = False
) -> Detector:
    """The row for base64 text that opens with one of ``heads`` (byte sets whose base64 has one
    first character; in the middle of base64 text they are only noise): decoded and scanned. The
    look back follows the characters every head opens with, so sre still finds candidates by
    them alone (a gzip's "H4sI", not every "H"); first, it would be tried at every position."""
    characters = [base64_of(head) for head in heads]
    # the characters all heads open with, each one possible character: sre searches for them
    fixed = 0
    while all(len(head) > fixed and len(head[fixed]) == 1 for head in characters) and (
        len({head[fixed] for head in characters}) == 1
    ):
        fixed += 1
    first = re.escape(bytes(min(options) for options in characters[0][:fixed]))
    # (where base64 may hold "+" or "/", base64url holds "-" or "_")
    rest = b"|".join(
        b"".join(one_of(_url_safe_too(options)) for options in head[fixed:]) for head in characters
    )
    pattern = WhenUsed(first + rb"(?<![A-Za-z0-9+/_\-]" + first + rb")(?:" + rest + b")")
    squeezed = tuple(_from_one_of(squeezed_form(head), groups) for head in characters)
    return Detector(squeezed, pattern.search, pattern, base64_blob, text_only=text_only)


def _from_one_of(form: Form, groups: bytes, least: int = 5) -> Form:
    """``form`` from its first piece that opens one of ``groups``, where at least ``least`` pieces
    are left from there: a row whose form opens a group already searched costs no pass of its own
    (what the form leaves out, the pattern checks)."""
    for index, piece in enumerate(form[: len(form) - least + 1]):
        if len(piece) == 1 and piece in groups:
            return form[index:]
    return form


_URL_SAFE = dict(zip(b"+/", b"-_", strict=True))


def _url_safe_too(options: frozenset[int]) -> frozenset[int]:
    return options | {_URL_SAFE[option] for option in options if option in _URL_SAFE}


def hex_opening(heads: tuple[Head, ...], *, text_only: bool = False) -> Detector:
    """The row for hex text that opens with one of ``heads``: ``xxd -p`` output, a C, Go or Rust
    array (``0x30, 0x82``), escaped bytes (``\\x30\\x82``), a PostgreSQL bytea; decoded and
    scanned. Each byte is two digits of either case, with a ``0x`` or ``\\x`` before it or not:
    in the squeezed bytes, an optional "0". The pattern finds where such text opens with the heads'
    first byte; what follows is the decoded bytes' to prove."""
    squeezed = tuple(
        squeezed_form(
            [
                part
                for values in head
                for part in (_HEX_PREFIX, hex_digits(values, True), hex_digits(values, False))
            ]
        )
        for head in heads
    )
    (first,) = {head[0] for head in heads}
    digits = one_of(hex_digits(first, True)) + one_of(hex_digits(first, False))
    # The digits open the pattern, as a literal sre finds fast (an optional 0x before them had it
    # try every byte: 28 ms per MB); looking back, they open a word, or a 0x or \x that does.
    opens_a_word = b"|".join(
        rb"(?<=%s)(?<![0-9A-Za-z]%s)" % (prefix + digits, prefix + digits)
        for prefix in (b"", rb"\\x", b"0x")
    )
    pattern = WhenUsed(digits + b"(?:" + opens_a_word + b")" + _HEX_GAP + rb"[0-9a-fA-F]{2}")
    return Detector(squeezed, pattern.search, pattern, _hex_blob, text_only=text_only)


_HEX_GAP = rb"[\s,]*(?:\\x|0x)?"  # what may come between the digits of two bytes
_HEX_PREFIX = frozenset(b"0x")  # squeezed, "0x" leaves its "0" and "\\x" nothing
_HEX_TEXT = rb"(?:\\x|0x)?[0-9a-fA-F]{2}(?:" + _HEX_GAP + rb"[0-9a-fA-F]{2})*"
_HEX_NOISE = rb"\\x|0x|[^0-9a-fA-F]"


def _hex_blob(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    """Decode the hex text that opens at the match and scan what it encodes."""
    start = match.start()
    # (a run of a byte or more matches where the opening did)
    end = re.compile(_HEX_TEXT).match(data, start).end()  # type: ignore[union-attr]
    digits = re.sub(_HEX_NOISE, b"", data[start:end])
    digits = digits[: budget.take(len(digits)) // 2 * 2]
    import binascii

    return nested(binascii.unhexlify(digits), depth, budget, start, "hex-encoded"), end


# A private key written out as its numbers: a JSON Web Key with its private member "d" (quotes may


# How far back from a marker its base64 run may open (a whole JSON Web Key Set or credentials file
# is a few kilobytes; past this, the run is decoded from the marker's own base64 group on).
RUN_REACH = 64 * 1024
_NOT_BASE64_TEXT = rb"[^A-Za-z0-9+/\s\\]"


def marked_base64(marker: bytes, groups: bytes) -> tuple[Detector, ...]:
    """The rows for base64 text that holds ``marker``, one per alignment (a literal each, which
    sre searches fast; one expression for the three would try every branch at every byte): a key
    whose wrapper base64 hides from the rows for plain text, such as a JSON Web Key or a PuTTY
    key as a Kubernetes Secret's value. The whole run is decoded (a key's other members may come
    before the marker) and scanned. The three readings' squeezed forms start at a byte all of
    them hold, so that they share one group (each group's search costs every file a pass over
    its squeezed bytes), one of ``groups`` where they can."""
    forms = base64_forms(marker)
    squeezed = [squeezed_form([frozenset((byte,)) for byte in form]) for form, _ in forms]
    shared = set.intersection(*(set(pieces) for pieces in squeezed))
    if shared:
        # the byte that leaves the most (pieces after it) in the shortest of the forms, one that
        # opens other rows' forms first (no new group) where it leaves four
        def left(piece: bytes) -> int:
            return min(len(pieces) - pieces.index(piece) for pieces in squeezed)

        first = max(shared, key=lambda piece: (piece in groups and left(piece) >= 4, left(piece)))
        squeezed = [pieces[pieces.index(first) :] for pieces in squeezed]
    return tuple(
        Detector(
            (pieces,),
            pattern.search,
            pattern,
            partial(_base64_run, leads=(lead,)),
            # (a text's base64; in a binary file, short readings are there by chance)
            text_only=True,
        )
        for (form, lead), pieces in zip(forms, squeezed, strict=True)
        for pattern in [WhenUsed(b"(" + re.escape(form) + b")")]
    )


def _base64_run(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget, *, leads: tuple[int, ...]
) -> tuple[list[Finding], int]:
    floor = max(0, match.start() - RUN_REACH)
    # the run opens after the last byte before the marker that base64 text cannot hold
    before = re.search(_NOT_BASE64_TEXT, data[floor : match.start()][::-1])
    if before is None and floor > 0:
        return base64_blob(data, match, depth, budget, leads=leads)
    start = match.start() - before.start() if before else floor
    end = re.compile(BASE64_TEXT).match(data, match.start()).end()  # type: ignore[union-attr]
    characters = base64_characters(data[start:end])
    content = decoded(characters[: budget.take(len(characters))].decode("ascii"))
    return nested(content, depth, budget, start, "base64-encoded"), end
