"""What a private key looks like in the bytes of a file, however it got there.

``DETECTORS`` is the one table of ways to find a key: each row has squeezed forms (what any file
the row can report holds once ``scan`` has squeezed it), a test on the file, a regular expression
that finds where a key may start, and a handler that decides. The squeezed searches are cheap (a
tenth of the bytes, one pass per group of rows), and most files fail all of them: see ``scan``.
Handlers judge structure, not looks: a PEM body is base64-decoded and must parse as a private key
(DER/ASN.1, OpenSSH, OpenPGP, PuTTY) to be *proven*; a proven key is reported whatever marker a
line carries. A private-key header with a long base64 body that does not parse is reported too,
but as a suspicion that a reviewer may allow.

Encodings are undone where a key is found, not over the whole file: JSON/Ruby/C escapes, URL and
HTML escapes, quoted-printable, indentation, string concatenation, line numbers and ``<br>``
inside a PEM block; base64 of a PEM (at any alignment), of DER or PKCS#12, of a JKS or of gzip data
(Kubernetes secrets and ConfigMaps); hex of DER (``xxd``, C and Go arrays, ``\\x`` escapes); UTF-16
text; gzip, bzip2, xz, zip/jar and tar files; DER, PKCS#12 (with a key bag), Java key stores and
binary OpenPGP and OpenSSH keys as whole files, DER keys also inside other binary files; keys
written as their numbers (a JSON Web Key with ``d``, .NET's ``RSAKeyValue`` with ``D``). Nesting
is limited to ``MAX_DEPTH`` levels and all a file unpacks or decodes shares one ``Budget``.

Every run costs an interpreter start, so this module imports only what a clean file needs: the
archive and compression modules, binascii, bisect and heapq load with the first file that needs
them, the rows' full patterns compile when first used (``WhenUsed``), and its classes are plain
ones (typing, for NamedTuple, would take longer to import than most files take to scan).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import cache, partial

# how far a key body may reach past its header (a 16384-bit RSA key is 13 KB)
PEM_WINDOW = 256 * 1024
BASE64_RUN = 4 * 1024 * 1024  # the longest base64 text decoded in one piece
UNPACKED = 64 * 1024 * 1024  # the most bytes one file may unpack or decode, at all levels together
ARCHIVE_MEMBERS = 10_000
MAX_DEPTH = 4  # e.g. a key in a tar in a gzip, base64-encoded in a YAML file
# Candidates one detector checks per chunk: random base64 has a possible DER start every ~340
# bytes (about 100,000 in a chunk); only a crafted file has more, and its checks stop here.
CANDIDATES = 200_000


class Finding:
    __slots__ = ("kind", "offset", "proven")

    def __init__(self, offset: int, kind: str, proven: bool) -> None:
        # where the key starts in the scanned bytes (a nested key: where its wrapper starts)
        self.offset = offset
        self.kind = kind
        self.proven = proven  # it parses as a key: no allowlist marker can silence it


class Budget:
    """How many more bytes one file may unpack or decode (a zip bomb stops here, not in memory)."""

    __slots__ = ("remaining",)

    def __init__(self, remaining: int = UNPACKED) -> None:
        self.remaining = remaining

    def take(self, wanted: int) -> int:
        granted = max(0, min(wanted, self.remaining))
        self.remaining -= granted
        return granted


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
    __slots__ = ("handle", "pattern", "present", "squeezed")

    def __init__(
        self,
        squeezed: tuple[Form, ...],
        present: Callable[[bytes], object],
        pattern: re.Pattern[bytes] | WhenUsed,
        handle: Handler,
    ) -> None:
        # forms, one of which any file it reports holds once squeezed (none: its test alone decides)
        self.squeezed = squeezed
        self.present = present  # a cheap test of the file most files fail (truthy: run the pattern)
        self.pattern = pattern  # opens with a literal where it can: sre then searches fast
        self.handle = handle  # -> (findings, offset up to which the bytes are accounted for)


# What scan squeezes out of a file before it looks for the anchors: every byte but the upper-case
# letters and digits. Most text is lower-case words, spaces and punctuation, so the squeezed bytes
# are a tenth of it or less (5% of Python's standard library): one pass over the file (a
# translate) and one search of those few bytes per group of rows (``_grouped``) replace a search of
# the whole file per row.
# Base64, binary and upper-case text squeeze poorly and cost a third more than before; source and
# configuration files, most of a repository, cost a third less. ("/" would be the byte kept most,
# for paths; "+" and "/" are only optional in what the rows look for.)
_UPPER_OR_DIGIT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_SQUEEZED_OUT = bytes(byte for byte in range(256) if byte not in _UPPER_OR_DIGIT)


def scan(
    data: bytes,
    depth: int = 0,
    budget: Budget | None = None,
    *,
    start: int = 0,
    stop: int | None = None,
    whole: bool = True,
) -> tuple[list[Finding], int]:
    """The keys starting in ``data[start:stop]`` and the offset the last one reaches to.

    ``whole``: ``data`` begins a file or blob, so it may be a DER key, a keystore or an archive."""
    stop = len(data) if stop is None else stop
    # What a row looks for is in the squeezed bytes too, squeezed the same way (the bytes deleted
    # from inside it are deleted around it): a row whose squeezed search fails finds nothing.
    squeezed = data.translate(None, _SQUEEZED_OUT)
    searches = [
        _hits(row, DETECTORS[row].pattern, data, start, stop)
        for in_group, tests in _GROUPS
        for first in [in_group(squeezed)]
        if first
        # (no row of the group matches before the group's first match)
        for row, in_squeezed, present in tests
        if in_squeezed(squeezed, first.start()) and present(data)
    ]
    searches += [
        _hits(row, DETECTORS[row].pattern, data, start, stop)
        for row, present in _UNSQUEEZED
        if present(data)
    ]
    # (most files open with none of the blobs' first bytes, and no NUL: UTF-16, tar header)
    blob = whole and (data[:1] in _BLOB_FIRST_BYTES or data.find(b"\x00", 0, 1024) >= 0)
    if not searches and not blob:
        return [], start  # most files
    budget = Budget() if budget is None else budget
    findings, covered = _whole_blob(data, depth, budget) if blob else ([], 0)
    covered = max(covered, start)
    if not searches:
        return findings, covered
    # in file order, without holding every candidate at once (one row's are in order already)
    if len(searches) == 1:
        hits: Iterable[tuple[int, int, re.Match[bytes]]] = searches[0]
    else:
        import heapq  # (loads with the first file that needs it: see the module's docstring)

        hits = heapq.merge(*searches)
    for position, row, match in hits:
        # A hit inside bytes already accounted for (a certificate's body, a decoded base64 run)
        # would only find the same thing twice.
        if position >= covered:
            found, end = DETECTORS[row].handle(data, match, depth, budget)
            findings += found
            covered = max(covered, end)
    return findings, covered


def _hits(
    row: int, pattern: re.Pattern[bytes] | WhenUsed, data: bytes, start: int, stop: int
) -> Iterator[tuple[int, int, re.Match[bytes]]]:
    """(position, row, match) for the pattern's first ``CANDIDATES`` matches starting before
    ``stop``."""
    for _, match in zip(range(CANDIDATES), pattern.finditer(data, start), strict=False):
        if match.start() >= stop:
            return
        yield match.start(), row, match


def _nested(data: bytes, depth: int, budget: Budget, offset: int, how: str) -> list[Finding]:
    """The keys inside bytes unwrapped from the file, reported where their wrapper starts."""
    if depth >= MAX_DEPTH:
        return []
    found, _ = scan(data, depth + 1, budget)
    return [Finding(offset, f"{finding.kind}, {how}", finding.proven) for finding in found]


# --- DER (ASN.1) ---------------------------------------------------------------------------------

_INTEGER, _OCTETS, _OID, _SEQUENCE = 0x02, 0x04, 0x06, 0x30
_PKCS = b"\x2a\x86\x48\x86\xf7\x0d\x01"  # OID arc 1.2.840.113549.1


Elements = list[tuple[int, int, int]]  # (tag, content start, content end) of each element


class _DerShape:
    __slots__ = ("accepts", "algorithms", "kind", "sizes", "tags", "versions")

    def __init__(
        self,
        kind: str,
        tags: tuple[int, ...],
        sizes: range,
        versions: tuple[int, ...] = (),
        algorithms: tuple[bytes, ...] = (),
        accepts: Callable[[bytes, Elements], bool] | None = None,
    ) -> None:
        self.kind = kind
        self.tags = tags  # the tags the outer SEQUENCE's first elements must have
        self.sizes = sizes  # how many elements it may have
        self.versions = versions  # values its leading INTEGER may take (none: no leading INTEGER)
        self.algorithms = algorithms  # prefixes for the OID opening its first inner SEQUENCE
        self.accepts = accepts  # a last look at the elements (none: the above are enough)


_BIT_STRING, _PARAMETERS, _PUBLIC_KEY = 0x03, 0xA0, 0xA1
_KEY_PART_TAGS = {_PARAMETERS: (_OID, _SEQUENCE), _PUBLIC_KEY: (_BIT_STRING,)}


def _ec_key_parts(data: bytes, elements: Elements) -> bool:
    """SEC 1: after the version, the key's 20 to 72 octets, then its curve (an OID or explicit
    parameters) and its public key (a BIT STRING), one or both (without either, a file's key would
    have no curve). An SNMP packet opens like an EC key (version 1, the community string), and an
    LDAP paging control like one without a curve: both fail here."""
    _, start, end = elements[1]
    tags = [tag for tag, _, _ in elements[2:]]
    return (
        20 <= end - start <= 72
        and tags in ([_PARAMETERS], [_PUBLIC_KEY], [_PARAMETERS, _PUBLIC_KEY])
        and all(
            end > start and data[start] in _KEY_PART_TAGS[tag] for tag, start, end in elements[2:]
        )
    )


def _long_second(data: bytes, elements: Elements) -> bool:
    """The second INTEGER, an RSA modulus or a DSA p, has 512 bits or more."""
    _, start, end = elements[1]
    return end - start >= 64


# What a PKCS#8 key's algorithm OID opens with: RSA (rsaEncryption, RSASSA-PSS), EC, DSA, DH (PKCS#3
# and X9.42), and the 1.3.101 arc (X25519, X448, Ed25519, Ed448).
_KEY_ALGORITHMS = (
    _PKCS + b"\x01",
    bytes.fromhex("2a8648ce3d0201"),
    bytes.fromhex("2a8648ce380401"),
    _PKCS + b"\x03\x01",
    bytes.fromhex("2a8648ce3e0201"),
    b"\x2b\x65",
)


# PKCS#12 bags that hold a private key: keyBag and pkcs8ShroudedKeyBag (1.2.840.113549.1.12.10.1.1
# and .2). A trust store (certificates only) has neither.
_KEY_BAGS = (_PKCS + b"\x0c\x0a\x01\x01", _PKCS + b"\x0c\x0a\x01\x02")


def _holds_key_bag(data: bytes, elements: Elements) -> bool:
    _, start, end = elements[1]  # the authenticated safe, whose data content lists the bags
    content = data[start:end]
    return any(bag in content for bag in _KEY_BAGS)


# Certificates, public keys and CSRs open with a SEQUENCE or two and a BIT STRING: none of these.
_DER_KEYS = (
    # (a SEQUENCE of small INTEGERs, a certificate policy's notice numbers, has no modulus or p)
    _DerShape("RSA private key (PKCS#1)", (_INTEGER,) * 9, range(9, 11), (0, 1), (), _long_second),
    _DerShape("DSA private key", (_INTEGER,) * 6, range(6, 7), (0,), (), _long_second),
    _DerShape("EC private key (SEC 1)", (_INTEGER, _OCTETS), range(3, 5), (1,), (), _ec_key_parts),
    _DerShape(
        "private key (PKCS#8)", (_INTEGER, _SEQUENCE, _OCTETS), range(3, 6), (0, 1), _KEY_ALGORITHMS
    ),
    _DerShape(
        "encrypted private key (PKCS#8)",
        (_SEQUENCE, _OCTETS),
        range(2, 3),
        algorithms=(_PKCS + b"\x05", _PKCS + b"\x0c\x01"),  # PKCS#5 PBES1/PBES2, PKCS#12 PBE
    ),
    _DerShape(
        "PKCS#12 key store with a private key",
        (_INTEGER, _SEQUENCE),
        range(2, 4),
        (3,),
        (_PKCS + b"\x07",),
        _holds_key_bag,
    ),
)


ByteSet = tuple[int, ...] | range | frozenset[int]  # the values a byte may take (hashable: cached)
Head = tuple[ByteSet, ...]  # how some bytes open, one set per byte

# How each of those opens, one set of possible values per byte: a SEQUENCE, in any length form,
# around a version INTEGER (0, 1 or 3) and the element after it, or around the encryption algorithm
# of an encrypted PKCS#8 key (a SEQUENCE opening with a PKCS#5 or PKCS#12 OID; such a key is 128
# bytes to 64 KiB long). Certificates, public keys and CSRs open otherwise. Where a key may start in
# binary data and in base64 text derive from these (``_DER_KEY_START``, ``_base64_opening``).
_ANY = range(256)
_SEQUENCE_LENGTHS = (
    (range(0x02, 0x80),),
    ((0x81,), range(0x80, 0x100)),
    ((0x82,), range(1, 256), _ANY),
    ((0x83,), range(1, 256), _ANY, _ANY),
)
_VERSIONED = ((_INTEGER,), (1,), (0, 1, 3), (_INTEGER, _OCTETS, _SEQUENCE))
_ENCRYPTED = ((_SEQUENCE,), range(0x80), (_OID,), (9, 10), *((byte,) for byte in _PKCS), (5, 12))
_DER_KEY_HEADS: tuple[Head, ...] = (
    *(((_SEQUENCE,), *length, *_VERSIONED) for length in _SEQUENCE_LENGTHS),
    *(((_SEQUENCE,), *length, *_ENCRYPTED) for length in _SEQUENCE_LENGTHS[1:3]),
)


# --- regular expressions from byte sets: over bytes, over base64 text, over squeezed bytes -------


@cache  # the heads repeat their sets
def _one_of(symbols: ByteSet) -> bytes:
    """A regular expression for any one byte of ``symbols`` (runs written as ranges)."""
    runs: list[list[int]] = []
    for symbol in sorted(symbols):
        if runs and runs[-1][1] == symbol - 1:
            runs[-1][1] = symbol
        else:
            runs.append([symbol, symbol])
    if len(runs) == 1 and runs[0][0] == runs[0][1]:
        return re.escape(bytes(runs[0][:1]))
    ranges = (
        re.escape(bytes([low])) + (b"-" + re.escape(bytes([high])) if high > low else b"")
        for low, high in runs
    )
    return b"[" + b"".join(ranges) + b"]"


def _squeezed_form(characters: list[frozenset[int]]) -> Form:
    """A regular expression for what ``scan`` keeps of text that ``characters`` match, one set of
    possible bytes per character: a character it always squeezes out is gone, one it may squeeze
    out is optional (a run of those is one bounded repeat, which backtracks less)."""
    pieces = [
        (kept, kept != options)
        for options in characters
        for kept in [options.intersection(_UPPER_OR_DIGIT)]
        if kept
    ]
    # an optional character at either end constrains nothing
    while pieces and pieces[0][1]:
        del pieces[0]
    while pieces and pieces[-1][1]:
        del pieces[-1]
    form: list[bytes] = []
    run, optional = frozenset[int](), 0
    for kept, is_optional in pieces:
        if is_optional:
            run, optional = run | kept, optional + 1
            continue
        if optional:
            form.append(_one_of(run) + b"{0,%d}" % optional)
            run, optional = frozenset(), 0
        form.append(_one_of(kept))
    return tuple(form)


def _alternation(forms: Iterable[Form]) -> bytes:
    """One expression for any of ``forms``, the pieces they open with written once: at each
    candidate byte sre tries every branch, so a shared piece is tried once, not once per form.
    A form that is a prefix of another makes the other needless (an empty form, every other)."""
    branches: dict[bytes, list[Form]] = {}
    for form in dict.fromkeys(forms):  # (two rows may look for the same form)
        if not form:
            return b""
        branches.setdefault(form[0], []).append(form[1:])
    return b"|".join(
        first if not all(rests) else first + _continued(rests) for first, rests in branches.items()
    )


def _continued(rests: list[Form]) -> bytes:
    return b"".join(rests[0]) if len(rests) == 1 else b"(?:" + _alternation(rests) + b")"


_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def _base64_of(head: Head) -> list[frozenset[int]]:
    """For each base64 character the bytes of ``head`` decide, the characters it can be where base64
    text opens with one byte of each of those sets."""
    characters = []
    for position in range(len(head) * 8 // 6):
        bit = 6 * position
        # the character is the 6 bits of two bytes that start ``shift`` bits from their end
        index, shift = bit // 8, 10 - bit % 8
        high = {(byte << 8 >> shift) & 63 for byte in head[index]}
        low = {byte >> shift for byte in head[index + 1]} if shift < 8 else {0}
        characters.append(frozenset(_BASE64_ALPHABET[one | two] for one in high for two in low))
    return characters


def _tlv(data: bytes, position: int, end: int) -> tuple[int, int, int] | None:
    """(tag, content start, content end) of the DER element at ``position``, ending by ``end``."""
    if position + 2 > end:
        return None
    first = data[position + 1]
    start, length = position + 2, first
    if first & 0x80:
        size = first & 0x7F
        if not 1 <= size <= 4 or start + size > end:
            return None
        start, length = start + size, int.from_bytes(data[start : start + size], "big")
    return (data[position], start, start + length) if start + length <= end else None


def _elements(data: bytes, start: int, end: int) -> Elements | None:
    """The elements filling ``data[start:end]`` exactly (at most 12 are read), or None."""
    elements: Elements = []
    while start < end and len(elements) < 12:
        element = _tlv(data, start, end)
        if element is None:
            return None
        elements.append(element)
        start = element[2]
    return elements


def der_key(data: bytes, position: int = 0) -> tuple[str, int] | None:
    """(kind, end) of the DER private key or key store at ``position``, or None."""
    outer = _tlv(data, position, len(data))
    elements = (
        None if outer is None or outer[0] != _SEQUENCE else _elements(data, outer[1], outer[2])
    )
    if outer is None or not elements:
        return None
    tags = tuple(tag for tag, _, _ in elements)
    for shape in _DER_KEYS:
        if len(elements) in shape.sizes and tags[: len(shape.tags)] == shape.tags:
            if (
                shape.versions
                and int.from_bytes(data[elements[0][1] : elements[0][2]], "big")
                not in shape.versions
            ):
                continue
            if shape.algorithms and not _algorithm_in(
                data, elements[tags.index(_SEQUENCE)], shape.algorithms
            ):
                continue
            if shape.accepts is not None and not shape.accepts(data, elements):
                continue
            return shape.kind, outer[2]
    return None


def _algorithm_in(data: bytes, sequence: tuple[int, int, int], prefixes: tuple[bytes, ...]) -> bool:
    oid = _tlv(data, sequence[1], sequence[2])
    return oid is not None and oid[0] == _OID and data[oid[1] : oid[2]].startswith(prefixes)


_KEYSTORE_MAGIC = (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce")  # JKS, JCEKS


def _java_keystore(data: bytes) -> str | None:
    """Which secret a JKS or JCEKS key store holds, walking its entries; None for a trust store."""
    if not data.startswith(_KEYSTORE_MAGIC) or len(data) < 12:
        return None
    version, count = int.from_bytes(data[4:8], "big"), int.from_bytes(data[8:12], "big")
    position = 12
    for _ in range(min(count, ARCHIVE_MEMBERS)):
        tag = int.from_bytes(data[position : position + 4], "big")
        if tag in (1, 3):  # 1: private key entry; 3: JCEKS secret key entry
            return "Java key store with a private or secret key"
        alias_length = int.from_bytes(data[position + 4 : position + 6], "big")
        position += 6 + alias_length + 8  # tag, alias, timestamp
        if version == 2:  # a trusted certificate entry names its certificate type first
            position += 2 + int.from_bytes(data[position : position + 2], "big")
        position += 4 + int.from_bytes(data[position : position + 4], "big")
        if tag != 2 or position > len(data):
            return None
    return None


# --- whole blobs: DER, key stores, compressed files and archives ---------------------------------


_COMPRESSIONS = ((b"\x1f\x8b", "gzip"), (b"BZh", "bzip2"), (b"\xfd7zXZ\x00", "xz"))
_ZIP_MAGIC = b"PK\x03\x04"
_PACKED_MAGIC = (*(magic for magic, _ in _COMPRESSIONS), _ZIP_MAGIC)  # tar: "ustar" at 257
_BYTE_ORDER_MARKS = (b"\xff\xfe", b"\xfe\xff")  # UTF-16 (else told by its NULs)


def _whole_blob(data: bytes, depth: int, budget: Budget) -> tuple[list[Finding], int]:
    der = der_key(data)
    if der is not None:
        return [Finding(0, der[0], True)], der[1]
    kind = _binary_key(data) or _java_keystore(data)
    if kind is not None:
        return [Finding(0, kind, True)], len(data)
    encoding = _utf16(data)
    if encoding is not None:
        return _utf16_findings(
            data.decode(encoding, "replace").encode("utf-8"), depth, budget
        ), len(data)
    if not data.startswith(_PACKED_MAGIC) and data[257:262] != b"ustar":
        return [], 0
    findings: list[Finding] = []
    try:
        for how, content in _unpacked(data, budget):
            findings += _nested(content, depth, budget, 0, how)
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
    for magic, name in _COMPRESSIONS:
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


# --- text: PEM blocks, PuTTY keys, base64, escapes ------------------------------------------------

_SPACE = rb"(?: |%20|\+)"  # a space, also URL-encoded
PEM_HEADER = re.compile(
    rb"----(?:- ?| )BEGIN" + _SPACE + rb"([A-Z0-9]+(?:" + _SPACE + rb"[A-Z0-9]+){0,5}) ?-{4,5}"
)
_PEM_END = re.compile(rb"----(?:- ?| )END" + _SPACE)
ALLOWLIST_MARKER = "pragma: allowlist secret"
# Not part of a key body: PEM encryption headers (also in a PEM squeezed into one line), armor
# headers such as Version: or Comment: opening a line, and allowlist markers, which hide no key.
_NOT_BODY = re.compile(
    r"(?:Proc-Type|DEK-Info): *\S+|^[\s\"'#]*(?!Proc-Type|DEK-Info)[A-Za-z][A-Za-z0-9-]*: .*"
    r"|pragma: allowlist (?:nextline )?secret"
)
_PGP_CHECKSUM = re.compile(r"(?<![A-Za-z0-9+/=])=[A-Za-z0-9+/]{4}(?![A-Za-z0-9+/])")
_LEGACY_ENCRYPTED = re.compile(
    r"Proc-Type: *4,ENCRYPTED.*DEK-Info: *[A-Z0-9-]+,[0-9A-Fa-f]{16,}", re.DOTALL
)
_BASE64_IN_LINE = re.compile(r"[A-Za-z0-9+/]+=*")
_ESCAPE = re.compile(
    r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|\\([^ux])|%([0-9a-fA-F]{2})"
    r"|&#[xX]([0-9a-fA-F]{1,6});|&#([0-9]{1,6});|=([0-9A-F]{2})"
)
_CONTROL_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}
LONG_RUN = 16  # base64 pieces shorter than this are words, not key material
SUSPECT_LINE = 40  # a body that does not parse is suspect only with a base64 run this long
MIN_BODY = 64  # base64 characters a body needs before an unreadable one is worth a suspicion


def _unescaped(text: str) -> str:
    """``text`` with string-literal, URL, HTML and quoted-printable escapes undone (twice-escaped
    JSON, a JSON string inside a JSON string, needs a second round)."""
    for _ in range(3):
        decoded = _ESCAPE.sub(_unescape_one, text)
        if decoded == text:
            break
        text = decoded
    return text


def _unescape_one(match: re.Match[str]) -> str:
    if match[3] is not None:
        return _CONTROL_ESCAPES.get(match[3], match[3])
    number = match[6]
    code = int(number) if number else int(next(group for group in match.groups() if group), 16)
    return chr(code) if code <= 0x10FFFF else "\ufffd"


def _base64_body(text: str, minimum: int = MIN_BODY) -> list[str] | None:
    """The base64 pieces of a key body in ``text`` (lines after a header, escapes undone), or None
    when what follows the header is prose rather than ``minimum`` characters of base64 lines.

    Each line gives its base64 pieces, so quotes, indentation, ``+`` and ``\\`` of string
    concatenation fall away; the body ends at the first line without a long piece."""
    pieces: list[str] = []
    long_chars = 0
    for line in text.splitlines():
        line = _PGP_CHECKSUM.sub("", _NOT_BODY.sub("", line))
        found = [piece for piece in _BASE64_IN_LINE.findall(line) if piece.strip("+")]
        if all(len(piece) < 4 for piece in found):
            continue  # a blank line, or one holding only quotes, `+`, a `b` prefix, a number
        pieces += found
        long_chars += sum(len(piece) for piece in found if len(piece) >= LONG_RUN)
        if max(map(len, found)) < LONG_RUN:
            break
    return pieces if long_chars >= minimum else None


def _readings(pieces: list[str]) -> Iterator[str]:
    """The base64 characters of a body as its pieces read whole, then without the pieces shorter
    than a base64 group: what else its lines hold (a string's ``b`` prefix, a line number, an
    HTML ``<br>``)."""
    whole = "".join(pieces).replace("=", "")
    yield whole
    cleaned = "".join(piece for piece in pieces if len(piece) >= 4).replace("=", "")
    if cleaned != whole:
        yield cleaned


def _decoded(characters: str) -> bytes:
    """The bytes of base64 ``characters`` whatever their padding (lost to a join or an escape)."""
    import binascii

    usable = len(characters) - (1 if len(characters) % 4 == 1 else 0)
    try:
        return binascii.a2b_base64(characters[:usable] + "=" * (-usable % 4))
    except binascii.Error:
        return b""


# --- what a decoded body must be to be a key -----------------------------------------------------

_KEY_MAGIC = (
    (b"openssh-key-v1\x00", "OpenSSH private key"),
    (b"\x3f\x6f\xf9\xeb", "SSH2 private key (ssh.com format)"),
)
# a secret-key packet's first byte: the new format, or the old one with any length type
_PGP_SECRET_KEY_TAGS = (0xC5, 0x94, 0x95, 0x96, 0x97)
# what a blob _whole_blob opens may start with (else it needs a NUL near its start)
_BLOB_FIRST_BYTES = bytes(
    {
        _SEQUENCE,
        *(magic[0] for magic in (*_KEYSTORE_MAGIC, *_PACKED_MAGIC, *_BYTE_ORDER_MARKS)),
        *(magic[0] for magic, _ in _KEY_MAGIC),
        *_PGP_SECRET_KEY_TAGS,
    }
)


def _key_in_body(body: bytes) -> str | None:
    """The kind of key a decoded PEM or armored body holds, judged by its structure alone."""
    kind = _binary_key(body)
    if kind is not None:
        return kind
    der = der_key(body)
    return None if der is None else der[0]


def _binary_key(body: bytes) -> str | None:
    """The kind of key ``body`` opens with, when it is no DER: OpenSSH, ssh.com, OpenPGP."""
    for magic, kind in _KEY_MAGIC:
        if body.startswith(magic):
            return kind
    return "PGP private key" if _pgp_secret_key(body) else None


# OpenPGP public-key algorithms: RSA (1-3), Elgamal (16, 20), DSA, ECDH, ECDSA, EdDSA, X25519...
_PGP_ALGORITHMS = frozenset((1, 2, 3, 16, 17, 18, 19, 20, 22, 25, 26, 27, 28))
# where the algorithm is after the version: a creation time, and for version 3 a validity too
_PGP_ALGORITHM_AT = {3: 7, 4: 5, 5: 5, 6: 5}


def _pgp_secret_key(body: bytes) -> bool:
    """An OpenPGP secret-key packet (tag 5) opens ``body``: a key version 3 to 6 and a known
    algorithm (a binary export, ``gpg --export-secret-keys``, or an armored block's body)."""
    if len(body) < 3:
        return False
    first, octet = body[0], body[1]
    if first not in _PGP_SECRET_KEY_TAGS:
        return False
    if first == 0xC5:  # new packet format
        length_size = 2 if 192 <= octet < 224 else 5 if octet == 255 else 1
    else:  # old packet format: the length type is in the first byte
        length_size = (1, 2, 4, 0)[first & 3]
    version_at = 1 + length_size
    if len(body) <= version_at or body[version_at] not in _PGP_ALGORITHM_AT:
        return False
    algorithm_at = version_at + _PGP_ALGORITHM_AT[body[version_at]]
    return len(body) > algorithm_at and body[algorithm_at] in _PGP_ALGORITHMS


# --- handlers ------------------------------------------------------------------------------------


def _pem_block(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    label = re.sub(rb"%20|\+", b" ", match[1]).decode("ascii")
    body_start = match.end()
    limit = min(len(data), body_start + PEM_WINDOW)
    following = PEM_HEADER.search(data, body_start, limit)
    limit = following.start() if following else limit
    end = _PEM_END.search(data, body_start, limit)
    window = _unescaped(data[body_start : end.start() if end else limit].decode("latin-1"))
    pieces = _base64_body(window)
    if pieces is None:
        return [], body_start  # a header in prose: the text after it is scanned on its own
    kind, content = None, b""
    for reading in _readings(pieces):
        content = _decoded(reading)
        kind = _key_in_body(content)
        if kind is not None:
            break
    if kind is None and _LEGACY_ENCRYPTED.search(window) and content and len(content) % 8 == 0:
        kind = "encrypted private key (legacy PEM, Proc-Type: 4,ENCRYPTED)"
    reach = end.end() if end else limit
    if kind is not None:
        return [Finding(match.start(), kind, True)], reach
    # Code under a header constant has long words too; a key body has base64 lines.
    if "PRIVATE KEY" in label and max(map(len, pieces)) >= SUSPECT_LINE:
        return [
            Finding(match.start(), f"{label} block whose body is not a readable key", False)
        ], reach
    return [], reach


_PUTTY = re.compile(rb"PuTTY-User-Key-File-(\d+): *[\w@.-]+")
_PUTTY_PRIVATE = re.compile(r"Private-Lines: *\d+")
_PUTTY_MAC = re.compile(r"Private-MAC: *[0-9a-fA-F]{40,}")


def _putty_key(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    limit = min(len(data), match.end() + PEM_WINDOW)
    following = _PUTTY.search(data, match.end(), limit)
    limit = following.start() if following else limit
    window = _unescaped(data[match.end() : limit].decode("latin-1"))
    private = _PUTTY_PRIVATE.search(window)
    mac = _PUTTY_MAC.search(window, private.end()) if private else None
    body = (
        _base64_body(window[private.end() : mac.start() if mac else None], LONG_RUN)
        if private
        else None
    )
    if body is None:
        return [], match.end()  # the header named in prose
    proven = mac is not None and len(_decoded(next(_readings(body)))) >= LONG_RUN
    mac_at = data.find(b"Private-MAC", match.end(), limit)
    reach = match.end() if mac_at < 0 else mac_at + len(b"Private-MAC")
    return [
        Finding(match.start(), f"PuTTY private key (version {match[1].decode()})", proven)
    ], reach


# A (wrapped, indented, escaped) base64 text: matched as a run, twice as fast as a search for the
# first byte outside it.
_BASE64_TEXT = re.compile(rb"[A-Za-z0-9+/\s\\]*")
_BASE64_NOISE = re.compile(rb"\\[rn]|[^A-Za-z0-9+/]")
_NOT_BASE64 = bytes(
    byte
    for byte in range(256)
    if byte not in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)


def _base64_characters(text: bytes) -> bytes:
    """``text`` without its line breaks, indentation, quotes and escaped line breaks. Without a
    backslash there is no escape, and one translate drops the rest far faster than a substitution
    of each of the many line breaks of wrapped base64."""
    return _BASE64_NOISE.sub(b"", text) if b"\\" in text else text.translate(None, _NOT_BASE64)


def _base64_blob(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget, *, leads: tuple[int, ...] = ()
) -> tuple[list[Finding], int]:
    """Decode the base64 text a marker sits in and scan what it encodes.

    Without ``leads`` the marker opens the base64 text (``_base64_opening``); with them, the
    pattern's group ``i`` matched a reading of the marker that ``leads[i]`` characters of its base64
    group precede."""
    start = match.start()
    lead = leads[match.lastindex - 1] if leads and match.lastindex else 0
    # (a run of none or more always matches)
    end = _BASE64_TEXT.match(data, start, start + BASE64_RUN).end()  # type: ignore[union-attr]
    before = _base64_characters(data[max(0, start - 4 * lead) : start])[-lead:] if lead else b""
    characters = before + _base64_characters(data[start:end])
    content = _decoded(characters[: budget.take(len(characters))].decode("ascii"))
    return _nested(content, depth, budget, start, "base64-encoded"), end


def _utf16(data: bytes) -> str | None:
    """The codec of UTF-16 text: named by its byte order mark, else told by where the NULs of its
    ASCII characters fall in its first kilobyte."""
    if data.startswith(_BYTE_ORDER_MARKS):  # kept as a character: offsets stay even
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
    found, _ = scan(text, depth + 1, budget) if depth < MAX_DEPTH else ([], 0)
    return [
        Finding(
            2 * len(text[: f.offset].decode("utf-8", "replace")), f"{f.kind}, UTF-16 text", f.proven
        )
        for f in found
    ]


_DER_KEY_START = WhenUsed(_alternation(tuple(map(_one_of, head)) for head in _DER_KEY_HEADS))


def _embedded_der(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    key = der_key(data, match.start())
    return ([Finding(match.start(), key[0], True)], key[1]) if key else ([], match.start() + 1)


_AWS_KEY_ID = rb"A[KS]IA[A-Z0-9]{16}(?![A-Z0-9])"  # AKIA: long-term key, ASIA: temporary
# bytes either side of a key id its secret may be (a credentials file puts them on adjacent lines,
# a .env file may have a screen of settings between them)
AWS_PAIR_DISTANCE = 4096
# Key ids less than that apart are one cluster, looked at once: a file of a million ids costs a
# pass over the file, not a million windows.
_AWS_KEY_IDS = re.compile(
    _AWS_KEY_ID + rb"(?:[\s\S]{0,%d}?" % AWS_PAIR_DISTANCE + _AWS_KEY_ID + rb")*"
)
_AWS_SECRET_KEY = re.compile(rb"(?<![A-Za-z0-9+/])[A-Za-z0-9+/]{40}(?![A-Za-z0-9+/=])")
# A secret access key is 30 random bytes in base64: it mixes cases and digits (a SHA-1 does not).
# (Upper and lower case first: a private number in base64 mixes those.)
_MIXED = (re.compile(rb"[A-Z]"), re.compile(rb"[a-z]"), re.compile(rb"[0-9]"))


_AWS_ESCAPES = re.compile(rb"\\/|%2[FfBb]")


def _aws_unescaped(match: re.Match[bytes]) -> bytes:
    return b"+" if match[0][-1:] in b"Bb" else b"/"


def _aws_key_pairs(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    """Each access key id with a secret access key near it (AWS's documented EXAMPLE pair is
    none). The bytes between the ids stay open to the other detectors."""
    start, end = max(0, match.start() - AWS_PAIR_DISTANCE), match.end() + AWS_PAIR_DISTANCE
    # A secret's "/" may be escaped (PHP's JSON writes "\/") or URL-encoded, as its "+" may be; the
    # few bytes that takes out shift positions too little to matter.
    near = _AWS_ESCAPES.sub(_aws_unescaped, data[start:end])
    secrets = [
        start + secret.start()
        for secret in _AWS_SECRET_KEY.finditer(near)
        if b"EXAMPLE" not in secret[0] and all(kind.search(secret[0]) for kind in _MIXED)
    ]
    from bisect import bisect_left

    findings = []
    for key_id in re.compile(_AWS_KEY_ID).finditer(data, match.start(), match.end()):
        glued = key_id.start() > 0 and data[key_id.start() - 1] in _UPPER_OR_DIGIT  # a longer word
        nearest = bisect_left(secrets, key_id.start() - AWS_PAIR_DISTANCE)
        paired = nearest < len(secrets) and secrets[nearest] <= key_id.end() + AWS_PAIR_DISTANCE
        if paired and not glued and b"EXAMPLE" not in key_id[0]:
            findings.append(
                Finding(key_id.start(), "AWS access key id with its secret access key", False)
            )
    return findings, match.start() + 1


# A Kubernetes Secret keeps its values in base64: a secret access key (40 characters) is 56 of
# them, a key id (20) 28. Secrets less than AWS_PAIR_DISTANCE apart are one cluster.
_AWS_SECRET_IN_BASE64 = rb"AWS_SECRET_ACCESS_KEY[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9+/]{54}=="
_AWS_SECRETS_IN_BASE64 = re.compile(
    _AWS_SECRET_IN_BASE64
    + rb"(?:[\s\S]{0,%d}?" % AWS_PAIR_DISTANCE
    + _AWS_SECRET_IN_BASE64
    + rb")*"
)
_BASE64_AWS_VALUE = re.compile(
    rb"(?<![A-Za-z0-9+/])(?:[A-Za-z0-9+/]{27}=|[A-Za-z0-9+/]{54}==)(?![A-Za-z0-9+/=])"
)


def _base64_aws_key_pairs(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    """Secret access keys in base64 and, near them, the values of a key id's length, decoded and
    searched as a credentials file is."""
    start, end = max(0, match.start() - AWS_PAIR_DISTANCE), match.end() + AWS_PAIR_DISTANCE
    values = [_decoded(value.decode()) for value in _BASE64_AWS_VALUE.findall(data, start, end)]
    return _nested(b"\n".join(values), depth, budget, match.start(), "base64-encoded"), match.end()


def _base64_forms(plain: bytes) -> list[tuple[bytes, int]]:
    """How ``plain`` reads inside base64 text at each of the three byte alignments, with how many
    characters of the first base64 group come before that reading."""
    forms = []
    for shift in range(3):
        characters = _base64_of((*((0,),) * shift, *((byte,) for byte in plain)))
        first = -(-8 * shift // 6)  # the characters that hold bits of the bytes before
        forms.append((bytes(min(options) for options in characters[first:]), first))
    return forms


# A PEM inside base64 text (a Kubernetes secret, base64 of a whole config file) at any alignment.
_PEM_IN_BASE64 = _base64_forms(b"-----BEGIN")
# Base64 text of a key store or of compressed data (helm and Kubernetes binaryData) opens so:
# a JKS key store (its magic, version 1 or 2); gzip data (its magic, deflate, flags).
_JKS_HEAD: Head = (*((byte,) for byte in _KEYSTORE_MAGIC[0]), (0,), (0,), (0,), (1, 2))
_GZIP_HEAD: Head = (*((byte,) for byte in _COMPRESSIONS[0][0]), (8,), range(0x20))


def _base64_opening(heads: tuple[Head, ...]) -> Detector:
    """The row for base64 text that opens with one of ``heads`` (byte sets whose base64 has one
    first character; in the middle of base64 text they are only noise): decoded and scanned. The
    look back follows the first character, so sre still finds candidates by it alone; first, it
    would be tried at every position."""
    characters = [_base64_of(head) for head in heads]
    first = re.escape(bytes(characters[0][0]))
    rest = b"|".join(b"".join(map(_one_of, head[1:])) for head in characters)
    pattern = WhenUsed(first + rb"(?<![A-Za-z0-9+/]" + first + rb")(?:" + rest + b")")
    squeezed = tuple(map(_squeezed_form, characters))
    return Detector(squeezed, pattern.search, pattern, _base64_blob)


def _hex_opening(heads: tuple[Head, ...]) -> Detector:
    """The row for hex text that opens with one of ``heads``: ``xxd -p`` output, a C, Go or Rust
    array (``0x30, 0x82``), escaped bytes (``\\x30\\x82``), a PostgreSQL bytea; decoded and
    scanned. Each byte is two digits of either case, with a ``0x`` or ``\\x`` before it or not:
    in the squeezed bytes, an optional "0". The pattern finds where such text opens with the heads'
    first byte; what follows is the decoded bytes' to prove."""
    squeezed = tuple(
        _squeezed_form(
            [
                part
                for values in head
                for part in (_HEX_PREFIX, _hex_digits(values, True), _hex_digits(values, False))
            ]
        )
        for head in heads
    )
    (first,) = {head[0] for head in heads}
    digits = _one_of(_hex_digits(first, True)) + _one_of(_hex_digits(first, False))
    pattern = WhenUsed(rb"(?<![0-9A-Za-z])(?:\\x|0x)?" + digits + _HEX_GAP + rb"[0-9a-fA-F]{2}")
    return Detector(squeezed, pattern.search, pattern, _hex_blob)


@cache  # the heads repeat their sets
def _hex_digits(values: ByteSet, high: bool) -> frozenset[int]:
    """The hex digits, in either case, of the high (or low) halves of ``values``."""
    nibbles = {value >> 4 if high else value & 15 for value in values}
    return frozenset(digit for nibble in nibbles for digit in b"%x%X" % (nibble, nibble))


_HEX_GAP = rb"[\s,]*(?:\\x|0x)?"  # what may come between the digits of two bytes
_HEX_PREFIX = frozenset(b"0x")  # squeezed, "0x" leaves its "0" and "\\x" nothing
_HEX_TEXT = re.compile(rb"(?:\\x|0x)?[0-9a-fA-F]{2}(?:" + _HEX_GAP + rb"[0-9a-fA-F]{2})*")
_HEX_NOISE = re.compile(rb"\\x|0x|[^0-9a-fA-F]")


def _hex_blob(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    """Decode the hex text that opens at the match and scan what it encodes."""
    start = match.start()
    # (a run of a byte or more matches where the opening did)
    end = _HEX_TEXT.match(data, start, start + BASE64_RUN).end()  # type: ignore[union-attr]
    digits = _HEX_NOISE.sub(b"", data[start:end])
    digits = digits[: budget.take(len(digits)) // 2 * 2]
    import binascii

    return _nested(binascii.unhexlify(digits), depth, budget, start, "hex-encoded"), end


# A private key written out as its numbers: a JSON Web Key with its private member "d" (quotes may
# be escaped, in a JSON string; the look back follows "kty", so sre tries it only where "kty" is),
# or .NET's RSA.ToXmlString(true) with its private exponent D. (Only files that hold a JSON or XML
# AQAB, or a JSON curve name, are searched: see DETECTORS.)
_JSON_WEB_KEY = rb'kty(?<="kty)\\?"\s*:\s*\\?"(?:RSA|EC|OKP)\\?"'
# a private number: 40 base64 characters or more (an EC P-256 key's d has 43) of both cases, as
# random ones have (a placeholder such as XXXX... or private-key-goes-here has not)
_JWK_PRIVATE = re.compile(rb'\\?"d\\?"\s*:\s*\\?"([A-Za-z0-9_-]{40,})')
_XML_KEY = rb"<RSAKeyValue>"
_KEY_NUMBERS = re.compile(_JSON_WEB_KEY + b"|" + _XML_KEY)
_XML_PRIVATE = re.compile(rb"<D>\s*([A-Za-z0-9+/=]{40,})\s*</D>")


# How far before "kty" a JSON Web Key's "{" may be: the members sorted by name put "d", "dp", "dq",
# "e" and "kid" first (an RSA-4096 key's make 2 KB).
JWK_REACH = 8 * 1024


def _key_numbers(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    """A JSON Web Key (a flat object) or an RSAKeyValue element with its private numbers."""
    if match[0] == _XML_KEY:
        kind = "RSA private key (.NET XML)"
        return _private_numbers(
            data, match, match.start(), b"</RSAKeyValue>", _XML_KEY, _XML_PRIVATE, kind
        )
    opening = data.rfind(b"{", max(0, match.start() - JWK_REACH), match.start())
    if opening >= 0:  # a member before "kty" that holds an object: the key's own members follow it
        opening = max(opening, data.rfind(b"}", opening, match.start()))
    return _private_numbers(
        data, match, opening, b"}", b'"kty', _JWK_PRIVATE, "private JSON Web Key (JWK)"
    )


def _private_numbers(
    data: bytes,
    match: re.Match[bytes],
    opening: int,
    closing: bytes,
    next_key: bytes,
    private: re.Pattern[bytes],
    kind: str,
) -> tuple[list[Finding], int]:
    """A finding when the key from ``opening`` to ``closing`` holds its private numbers. The
    search for ``closing`` ends where the next key opens, so a file of openings costs one pass."""
    limit = min(len(data), match.end() + PEM_WINDOW)
    following = data.find(next_key, match.end(), limit)
    end = data.find(closing, match.end(), following if following >= 0 else limit)
    if opening < 0 or end < 0:
        return [], match.end()
    number = private.search(data, opening, end)
    if number is not None and all(case.search(number[1]) for case in _MIXED[:2]):
        return [Finding(match.start(), kind, True)], end
    return [], end


def _binary(data: bytes) -> bool:
    return data.find(b"\x00", 0, 8192) >= 0


def _search_for(anchors: tuple[bytes, ...]) -> Callable[[bytes], object]:
    """A search for any of ``anchors`` (sre finds a short literal faster than `in` does: its skips
    are short for short needles)."""
    return re.compile(b"|".join(re.escape(anchor) for anchor in anchors)).search


def _anchored(anchors: tuple[bytes, ...], pattern: re.Pattern[bytes], handle: Handler) -> Detector:
    """A row whose tests are searches for its anchors, one of which is in any file it reports."""
    squeezed = tuple(_squeezed_form([frozenset((byte,)) for byte in anchor]) for anchor in anchors)
    return Detector(squeezed, _search_for(anchors), pattern, handle)


# A row's test, pattern and handler run only where its squeezed forms are in the squeezed bytes
# (see _grouped) and its test passed.
DETECTORS: tuple[Detector, ...] = (
    # every private key label has PRIVATE (also URL-encoded); the header pattern then finds all
    # blocks, certificates too, whose bodies it consumes
    _anchored((b"PRIVATE",), PEM_HEADER, _pem_block),
    _anchored((b"PuTTY-User-Key-File-",), _PUTTY, _putty_key),
    _anchored((b"AKIA", b"ASIA"), _AWS_KEY_IDS, _aws_key_pairs),
    _anchored((b"AWS_SECRET_ACCESS_KEY",), _AWS_SECRETS_IN_BASE64, _base64_aws_key_pairs),
    # a binary file (a NUL in its head) may hold a DER key anywhere
    Detector((), _binary, _DER_KEY_START, _embedded_der),
    _anchored(
        (b"LS0t",),  # base64 of "---", in every alignment of "-----"
        re.compile(b"|".join(b"(" + re.escape(form) + b")" for form, _ in _PEM_IN_BASE64)),
        partial(_base64_blob, leads=tuple(lead for _, lead in _PEM_IN_BASE64)),
    ),
    _base64_opening(_DER_KEY_HEADS),  # every DER head opens with "M", base64 of a SEQUENCE
    _base64_opening((_JKS_HEAD,)),
    _base64_opening((_GZIP_HEAD,)),
    _hex_opening(_DER_KEY_HEADS),
    # An RSA key's numbers hold its public exponent, AQAB (65537, base64), as a JSON string (its
    # quotes maybe escaped) or an XML element (a certificate's base64 holds AQAB too, without
    # either); an EC key names its curve.
    _anchored((b'"AQAB', b">AQAB<"), _KEY_NUMBERS, _key_numbers),
    _anchored((b'"P-256', b'"P-384', b'"P-521'), _KEY_NUMBERS, _key_numbers),
)


Test = Callable[[bytes], object]
Group = tuple[
    Callable[[bytes], "re.Match[bytes] | None"],
    tuple[tuple[int, Callable[[bytes, int], object], Test], ...],
]


def _grouped(detectors: tuple[Detector, ...]) -> tuple[Group, ...]:
    """The rows in groups whose squeezed forms open with the same byte, each group with one
    search for all of them: sre looks for an expression's first byte, so one pass over the squeezed
    bytes rules out a whole group. Each row: (its index, its squeezed search, its test); a row
    alone in its group needs no search of its own."""
    groups: dict[bytes, list[int]] = {}
    for row, detector in enumerate(detectors):
        if detector.squeezed:
            groups.setdefault(detector.squeezed[0][0][:1], []).append(row)
    return tuple(
        (
            re.compile(_alternation(form for row in rows for form in detectors[row].squeezed))
            .search,
            tuple((row, _row_search(detectors, rows, row), detectors[row].present) for row in rows),
        )
        for rows in groups.values()
    )


def _row_search(
    detectors: tuple[Detector, ...], rows: list[int], row: int
) -> Callable[[bytes, int], object]:
    if len(rows) == 1:
        return lambda squeezed, start: True  # its group's search was its own
    return WhenUsed(_alternation(detectors[row].squeezed)).search


_GROUPS = _grouped(DETECTORS)
# (row, test) for each row with no squeezed form
_UNSQUEEZED = tuple((row, row_.present) for row, row_ in enumerate(DETECTORS) if not row_.squeezed)
