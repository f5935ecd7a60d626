"""Whole blobs: DER keys, key stores, UTF-16 text, compressed files and archives."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pre_commit_hooks.key_detection.bodies import KEY_MAGIC, PGP_SECRET_KEY_TAGS, binary_key
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
    Budget,
    Finding,
    WhenUsed,
    nested,
)

COMPRESSIONS = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_ZIP_MAGIC = b"PK\x03\x04"
PACKED_MAGIC = (*(magic for magic, _ in COMPRESSIONS), _ZIP_MAGIC)  # tar: "ustar" at 257
BYTE_ORDER_MARKS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 (else told by its NULs)
# what a blob whole_blob opens may start with (else it needs a NUL near its start)
BLOB_FIRST_BYTES = bytes(
    {
        SEQUENCE,
        *(magic[0] for magic in (*KEYSTORE_MAGIC, *PACKED_MAGIC, *BYTE_ORDER_MARKS)),
        *(magic[0] for magic, _ in KEY_MAGIC),
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
    findings: list[Finding] = []
    try:
        for how, content in _unpacked(data, budget):
            findings += nested(content, depth, budget, 0, how)
    except _archive_errors():  # (evaluated only once something was raised)
        pass  # a damaged archive still gets the plain-byte scan; its readable members were scanned
    return findings, 0


def _archive_errors() -> tuple[type[Exception], ...]:
    """What a damaged archive or compressed stream raises (its modules load here, not for every
    archive: zipfile alone takes longer to import than most files take to scan)."""
    import lzma
    import tarfile
    import zipfile
    import zlib

    return (
        OSError, EOFError, ValueError, RuntimeError, NotImplementedError,
        zipfile.BadZipFile, tarfile.TarError, zlib.error, lzma.LZMAError,
    )  # fmt: skip


def _decompressed(name: str, data: bytes, limit: int) -> bytes:
    """Up to ``limit`` bytes of ``data`` decompressed (bz2 and lzma load only here)."""
    if name == "gzip":
        import zlib

        return zlib.decompressobj(wbits=31).decompress(data, limit)
    if name == "bzip2":
        import bz2

        return bz2.BZ2Decompressor().decompress(data, limit)
    import lzma

    return lzma.LZMADecompressor().decompress(data, limit)


def _unpacked(data: bytes, budget: Budget) -> Iterator[tuple[str, bytes]]:
    """(how it was wrapped, content) for each member of an archive or a compressed stream."""
    for magic, name in COMPRESSIONS:
        if data.startswith(magic):
            # a max_length of 0 would mean "no limit" to zlib
            unpacked = _decompressed(name, data, max(budget.remaining, 1))
            budget.take(len(unpacked))
            yield f"{name}-compressed", unpacked
            return
    if data[257:262] == b"ustar":
        import io
        import tarfile

        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            for _, member in zip(range(ARCHIVE_MEMBERS), tar, strict=False):
                content = tar.extractfile(member) if member.isfile() else None
                if content is not None:
                    yield f"in tar member {member.name}", content.read(budget.take(member.size))
    elif data.startswith(_ZIP_MAGIC):
        import io
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            for info in archive.infolist()[:ARCHIVE_MEMBERS]:
                if not info.is_dir():
                    with archive.open(info) as content:
                        yield (
                            f"in zip member {info.filename}",
                            content.read(budget.take(info.file_size)),
                        )


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
    found, _ = budget.scan(text, depth + 1, budget) if depth < MAX_DEPTH else ([], 0)
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


def binary(data: bytes) -> bool:
    return data.find(b"\x00", 0, 8192) >= 0
