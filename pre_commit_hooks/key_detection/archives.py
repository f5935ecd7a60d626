"""The members of zip and tar archives, read from the bytes in memory.

Not through zipfile and tarfile: those take longer to import (zipfile brings pathlib, shutil and
threading: about 11 ms; tarfile about 6 ms) than most commits take to scan, and the hook starts
once per pre-commit partition. Only what a scan needs is read: each member's name and content.
What cannot be read to its end (damaged, cut short, encrypted, a compression method not read
here) raises ``ArchiveError``, which the scan reports (it fails closed). The layouts are
PKWARE's APPNOTE.TXT (zip, zip64) and POSIX pax / ustar with the GNU long-name extension (tar),
read as CPython's zipfile and tarfile read them.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

_EOCD = struct.Struct("<4s4H2LH")  # end of central directory
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")  # a central directory entry
_LOCAL = struct.Struct("<4s2B4HL2L2H")  # a local file header
_MAX_COMMENT = 0xFFFF
_UTF8_NAME = 0x800  # general purpose flag bit 11: the name is UTF-8 (else code page 437)
_ENCRYPTED = 0x1
STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
TAR_BLOCK = 512


class ArchiveError(ValueError):
    """An archive that cannot be read to its end."""


def zip_members(data: bytes) -> list[tuple[str, int, int, int, int]]:
    """(name, method, data offset, compressed size, size) of each file member of a zip, in the
    central directory's order (directories left out)."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - _EOCD.size - _MAX_COMMENT))
    if end < 0 or end + _EOCD.size > len(data):
        raise ArchiveError("no end of central directory")
    _, _, _, _, count, directory_size, directory_offset, _ = _EOCD.unpack_from(data, end)
    directory_end = end
    if count == 0xFFFF or 0xFFFFFFFF in (directory_size, directory_offset):
        locator = end - _ZIP64_LOCATOR.size
        if locator < 0 or data[locator : locator + 4] != b"PK\x06\x07":
            raise ArchiveError("no zip64 end of central directory locator")
        directory_end = locator - _ZIP64_EOCD.size
        record = _ZIP64_EOCD.unpack_from(data, max(0, directory_end))
        if directory_end < 0 or record[0] != b"PK\x06\x06":
            raise ArchiveError("no zip64 end of central directory")
        count, directory_size, directory_offset = record[7], record[8], record[9]
    # bytes before the archive (a self-extracting stub) shift every offset it records
    shift = directory_end - directory_size - directory_offset
    if shift < 0:
        raise ArchiveError("a central directory outside the file")
    members, position = [], directory_offset + shift
    for _ in range(count):
        if data[position : position + 4] != b"PK\x01\x02" or position + _CENTRAL.size > len(data):
            raise ArchiveError("a damaged central directory")
        fields = _CENTRAL.unpack_from(data, position)
        flags, method, compressed, size = fields[5], fields[6], fields[10], fields[11]
        name_length, extra_length, comment_length = fields[12:15]
        offset = fields[18]
        name_start = position + _CENTRAL.size
        raw_name = data[name_start : name_start + name_length]
        extra = data[name_start + name_length : name_start + name_length + extra_length]
        size, compressed, offset = _zip64_sizes(extra, size, compressed, offset)
        position = name_start + name_length + extra_length + comment_length
        name = raw_name.decode("utf-8" if flags & _UTF8_NAME else "cp437", "replace")
        if name.endswith("/"):
            continue
        if flags & _ENCRYPTED:
            raise ArchiveError(f"{name}: encrypted")
        local = offset + shift
        if data[local : local + 4] != b"PK\x03\x04" or local + _LOCAL.size > len(data):
            raise ArchiveError(f"{name}: no local header")
        local_fields = _LOCAL.unpack_from(data, local)
        start = local + _LOCAL.size + local_fields[10] + local_fields[11]
        members.append((name, method, start, compressed, size))
    return members


def _zip64_sizes(extra: bytes, size: int, compressed: int, offset: int) -> tuple[int, int, int]:
    """The sizes and offset a zip64 extra field (id 1) holds for those the entry marks 0xFFFFFFFF,
    in the order APPNOTE.TXT 4.5.3 gives: size, compressed size, offset."""
    position = 0
    while position + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, position)
        if tag == 1:
            values = iter(
                struct.unpack_from(f"<{length // 8}Q", extra, position + 4) if length >= 8 else ()
            )
            size = next(values, size) if size == 0xFFFFFFFF else size
            compressed = next(values, compressed) if compressed == 0xFFFFFFFF else compressed
            offset = next(values, offset) if offset == 0xFFFFFFFF else offset
            return size, compressed, offset
        position += 4 + length
    return size, compressed, offset


def zip_content(data: bytes, member: tuple[str, int, int, int, int], limit: int) -> bytes:
    """Up to ``limit`` bytes of a member's content (``zip_members``); fewer only where it ends."""
    name, method, start, compressed, _ = member
    raw = data[start : start + compressed]
    if len(raw) < compressed:
        raise ArchiveError(f"{name}: cut short")
    if method == STORED:
        return raw[:limit]
    if method == DEFLATED:
        import zlib

        return zlib.decompressobj(-15).decompress(raw, limit)
    if method == BZIP2:
        import bz2

        return bz2.BZ2Decompressor().decompress(raw, limit)
    if method == LZMA:
        # a version, the properties' length, the properties, then raw LZMA1 (as zipfile reads it)
        import lzma

        if len(raw) < 4:
            raise ArchiveError(f"{name}: cut short")
        (properties_length,) = struct.unpack_from("<H", raw, 2)
        properties = raw[4 : 4 + properties_length]
        lzma1 = lzma._decode_filter_properties(  # type: ignore[attr-defined]
            lzma.FILTER_LZMA1, properties
        )
        decompressor = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[lzma1])
        return decompressor.decompress(raw[4 + properties_length :], limit)
    raise ArchiveError(f"{name}: compression method {method} is not read here")


def tar_members(data: bytes) -> Iterator[tuple[str, int, int]]:
    """(name, data offset, size) of each regular file of a tar archive, up to its end-of-archive
    block; GNU long names and pax path and size records apply to the member that follows them."""
    position, long_name = 0, ""
    pax: dict[str, str] = {}
    while position + TAR_BLOCK <= len(data):
        header = data[position : position + TAR_BLOCK]
        if not header.strip(b"\x00"):
            return  # the end-of-archive blocks
        if _checksum(header) != _number(header[148:156]):
            raise ArchiveError("a damaged tar header")
        kind = header[156:157]
        size = int(pax.get("size", _number(header[124:136])))
        start = position + TAR_BLOCK
        position = start + -(-size // TAR_BLOCK) * TAR_BLOCK
        if kind in (b"x", b"L"):  # the next member's pax records, or its GNU long name
            content = data[start : start + size]
            if kind == b"L":
                long_name = content.rstrip(b"\x00").decode("utf-8", "replace")
            else:
                pax = _pax_records(content)
            continue
        name = pax.get("path") or long_name or _ustar_name(header)
        if kind in (b"0", b"\x00", b"7", b"S"):  # regular (and contiguous, sparse) files
            yield name, start, size
        long_name, pax = "", {}
    if position != len(data):
        raise ArchiveError("cut short")


def _ustar_name(header: bytes) -> str:
    name = header[:100].split(b"\x00", 1)[0]
    if header[257:263] == b"ustar\x00":  # POSIX: a prefix of the path (GNU's magic differs)
        prefix = header[345:500].split(b"\x00", 1)[0]
        name = prefix + b"/" + name if prefix else name
    return name.decode("utf-8", "replace")


def _number(field: bytes) -> int:
    """A header's number: octal digits, or base-256 when its first byte has the high bit set."""
    if field[:1] and field[0] & 0x80:
        return int.from_bytes(bytes([field[0] & 0x7F]) + field[1:], "big")
    digits = field.split(b"\x00", 1)[0].strip()
    try:
        return int(digits or b"0", 8)
    except ValueError:
        raise ArchiveError("a damaged tar header") from None


def _checksum(header: bytes) -> int:
    """The sum of the header's bytes with its checksum field read as spaces."""
    return sum(header[:148]) + 8 * 32 + sum(header[156:])


def _pax_records(content: bytes) -> dict[str, str]:
    """A pax extended header's records, "<length> <key>=<value>\\n" each."""
    records, position = {}, 0
    while position < len(content):
        space = content.find(b" ", position)
        length = int(content[position:space]) if space > position else 0
        if length <= 0:
            break
        key, _, value = content[space + 1 : position + length - 1].partition(b"=")
        records[key.decode("utf-8", "replace")] = value.decode("utf-8", "replace")
        position += length
    return records
