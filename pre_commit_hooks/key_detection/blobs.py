"""Whole blobs: DER keys, key stores, UTF-16 text, compressed files and archives."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pre_commit_hooks.key_detection.archives import tar_members, zip_content, zip_members
from pre_commit_hooks.key_detection.bodies import (
    KEY_MAGIC,
    PGP_SECRET_KEY_TAGS,
    PVK_MAGIC,
    binary_key,
)
from pre_commit_hooks.key_detection.der import (
    DER_KEY_HEADS,
    KEYSTORE_MAGIC,
    SEQUENCE,
    der_key,
    java_keystore,
)
from pre_commit_hooks.key_detection.expressions import alternation, one_of
from pre_commit_hooks.key_detection.rows import (
    ARCHIVE_MEMBERS,
    MAX_DEPTH,
    NESTING_LIMIT,
    UNPACK_LIMIT,
    Budget,
    Finding,
    WhenUsed,
    nested,
)

COMPRESSIONS = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_ZIP_MAGIC = b"PK\x03\x04"
PACKED_MAGIC = (*(magic for magic, _ in COMPRESSIONS), _ZIP_MAGIC)  # tar: "ustar" at 257
# what follows "BZh" and the block size: a block's magic, or the end of an empty stream
BZIP2_BLOCKS = (b"1AY&SY", b"\x17rE8P\x90")
BYTE_ORDER_MARKS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 (else told by its NULs)
# what a blob whole_blob opens may start with (else it needs a NUL near its start)
BLOB_FIRST_BYTES = bytes(
    {
        SEQUENCE,
        *(magic[0] for magic in (*KEYSTORE_MAGIC, *PACKED_MAGIC, *BYTE_ORDER_MARKS)),
        *(magic[0] for magic, _ in KEY_MAGIC),
        PVK_MAGIC[0],
        *PGP_SECRET_KEY_TAGS,
    }
)


def whole_blob(data: bytes, depth: int, budget: Budget) -> tuple[list[Finding], int]:
    der = der_key(data)
    if der is not None:
        return [Finding(0, der[0], True)], der[1]
    kind = binary_key(data) or java_keystore(data)
    if kind is not None:
        return [Finding(0, kind, True)], len(data)
    encoding = _utf16(data)
    if encoding is not None:
        return _utf16_findings(
            data.decode(encoding, "replace").encode("utf-8"), depth, budget
        ), len(data)
    if not data.startswith(PACKED_MAGIC) and data[257:262] != b"ustar":
        return [], 0
    if data.startswith(b"BZh") and data[4:10] not in BZIP2_BLOCKS:
        return [], 0  # text that opens with "BZh"
    findings: list[Finding] = []
    try:
        for how, content in _unpacked(data, budget):
            findings += nested(content, depth, budget, 0, how)
    except _archive_errors():  # (evaluated only once something was raised)
        # its readable members were scanned, and it still gets the plain-byte scan; what could not
        # be read is reported
        budget.stop(UNREADABLE)
    return findings, 0


# (an archive larger than the hook's first read is cut short: it cannot be read either)
UNREADABLE = (
    "an archive or compressed stream that cannot be read to its end (damaged, encrypted, too large)"
)


def _archive_errors() -> tuple[type[Exception], ...]:
    """What a damaged archive or compressed stream raises (ArchiveError is a ValueError; the
    decompressors' modules load here, not for every archive)."""
    import lzma
    import zlib

    return (OSError, EOFError, ValueError, RuntimeError, zlib.error, lzma.LZMAError)


def _decompressed(name: str, data: bytes, limit: int) -> tuple[bytes, bool]:
    """Up to ``limit`` bytes of ``data`` decompressed, and whether that is the whole stream (bz2
    and lzma load only here)."""
    if name == "gzip":
        import zlib

        inflater = zlib.decompressobj(wbits=31)
        content = inflater.decompress(data, limit)
        return content, inflater.eof
    if name == "bzip2":
        import bz2

        decompressor: bz2.BZ2Decompressor | lzma.LZMADecompressor = bz2.BZ2Decompressor()
    else:
        import lzma

        decompressor = lzma.LZMADecompressor()
    content = decompressor.decompress(data, limit)
    return content, decompressor.eof


def _unpacked(data: bytes, budget: Budget) -> Iterator[tuple[str, bytes]]:
    """(how it was wrapped, content) for each member of an archive or a compressed stream."""
    for magic, name in COMPRESSIONS:
        if data.startswith(magic):
            # a max_length of 0 would mean "no limit" to zlib
            wanted = max(budget.remaining, 1)
            unpacked, whole = _decompressed(name, data, wanted)
            budget.take(len(unpacked))
            if not whole:  # more than the budget, or a stream that ends early (cut short, damaged)
                budget.stop(UNPACK_LIMIT if len(unpacked) >= wanted else UNREADABLE)
            yield f"{name}-compressed", unpacked
            return
    if data[257:262] == b"ustar":
        for count, (name, start, size) in enumerate(tar_members(data)):
            if count == ARCHIVE_MEMBERS:
                budget.stop(f"{ARCHIVE_MEMBERS:,} members of an archive")
                return
            granted = budget.take(size)
            read = data[start : start + granted]
            if len(read) < granted:  # the archive ends inside the member
                budget.stop(UNREADABLE)
            yield f"in tar member {name}", read
    elif data.startswith(_ZIP_MAGIC):
        members = zip_members(data)
        if len(members) > ARCHIVE_MEMBERS:
            budget.stop(f"{ARCHIVE_MEMBERS:,} members of an archive")
        for member in members[:ARCHIVE_MEMBERS]:
            granted = budget.take(member[4])
            read = zip_content(data, member, granted)
            if len(read) < granted:  # its stream ends early (damaged)
                budget.stop(UNREADABLE)
            yield f"in zip member {member[0]}", read


def _utf16(data: bytes) -> str | None:
    """The codec of UTF-16 text: named by its byte order mark, else told by where the NULs of its
    ASCII characters fall in its first kilobyte."""
    if data.startswith(BYTE_ORDER_MARKS):  # kept as a character: offsets stay even
        return "utf-16-le" if data[0] == 0xFF else "utf-16-be"
    if data.find(b"\x00", 0, 1024) < 0:  # (no copy of the head for the many files without)
        return None
    head = data[:1024]
    odd, even = head[1::2].count(0), head[::2].count(0)
    if len(head) < 16 or (odd and even) or max(odd, even) < len(head) // 4:
        return None
    return "utf-16-le" if odd else "utf-16-be"


def _utf16_findings(text: bytes, depth: int, budget: Budget) -> list[Finding]:
    """The keys in UTF-16 text (transcoded to ``text``), at their offsets in the UTF-16 bytes."""
    if depth >= MAX_DEPTH:
        budget.stop(NESTING_LIMIT)
        return []
    found, _ = budget.scan(text, depth + 1, budget)
    return [
        Finding(
            2 * len(text[: f.offset].decode("utf-8", "replace")), f"{f.kind}, UTF-16 text", f.proven
        )
        for f in found
    ]


DER_KEY_START = WhenUsed(alternation(tuple(map(one_of, head)) for head in DER_KEY_HEADS))


def embedded_der(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    key = der_key(data, match.start())
    return ([Finding(match.start(), key[0], True)], key[1]) if key else ([], match.start() + 1)
