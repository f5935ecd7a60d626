"""DER (ASN.1): the shapes of private keys and key stores, read element by element."""

from __future__ import annotations

from collections.abc import Callable

from pre_commit_hooks.key_detection.expressions import Head
from pre_commit_hooks.key_detection.rows import ARCHIVE_MEMBERS

_INTEGER, _OCTETS, _OID, SEQUENCE = 0x02, 0x04, 0x06, 0x30
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
_KEY_PART_TAGS = {_PARAMETERS: (_OID, SEQUENCE), _PUBLIC_KEY: (_BIT_STRING,)}


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
        "private key (PKCS#8)", (_INTEGER, SEQUENCE, _OCTETS), range(3, 6), (0, 1), _KEY_ALGORITHMS
    ),
    _DerShape(
        "encrypted private key (PKCS#8)",
        (SEQUENCE, _OCTETS),
        range(2, 3),
        algorithms=(_PKCS + b"\x05", _PKCS + b"\x0c\x01"),  # PKCS#5 PBES1/PBES2, PKCS#12 PBE
    ),
    _DerShape(
        "PKCS#12 key store with a private key",
        (_INTEGER, SEQUENCE),
        range(2, 4),
        (3,),
        (_PKCS + b"\x07",),
        _holds_key_bag,
    ),
)


# How each of those opens, one set of possible values per byte: a SEQUENCE, in any length form,
# around a version INTEGER (0, 1 or 3) and the element after it, or around the encryption algorithm
# of an encrypted PKCS#8 key (a SEQUENCE opening with a PKCS#5 or PKCS#12 OID; such a key is 128
# bytes to 64 KiB long). Certificates, public keys and CSRs open otherwise. Where a key may start in
# binary data and in base64 text derive from these (``DER_KEY_START``, ``base64_opening``).
_ANY = range(256)
_SEQUENCE_LENGTHS = (
    (range(0x02, 0x80),),
    ((0x81,), range(0x80, 0x100)),
    ((0x82,), range(1, 256), _ANY),
    ((0x83,), range(1, 256), _ANY, _ANY),
)
_VERSIONED = ((_INTEGER,), (1,), (0, 1, 3), (_INTEGER, _OCTETS, SEQUENCE))
_ENCRYPTED = ((SEQUENCE,), range(0x80), (_OID,), (9, 10), *((byte,) for byte in _PKCS), (5, 12))
DER_KEY_HEADS: tuple[Head, ...] = (
    *(((SEQUENCE,), *length, *_VERSIONED) for length in _SEQUENCE_LENGTHS),
    *(((SEQUENCE,), *length, *_ENCRYPTED) for length in _SEQUENCE_LENGTHS[1:3]),
)


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
        None if outer is None or outer[0] != SEQUENCE else _elements(data, outer[1], outer[2])
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
                data, elements[tags.index(SEQUENCE)], shape.algorithms
            ):
                continue
            if shape.accepts is not None and not shape.accepts(data, elements):
                continue
            return shape.kind, outer[2]
    return None


def _algorithm_in(data: bytes, sequence: tuple[int, int, int], prefixes: tuple[bytes, ...]) -> bool:
    oid = _tlv(data, sequence[1], sequence[2])
    return oid is not None and oid[0] == _OID and data[oid[1] : oid[2]].startswith(prefixes)


KEYSTORE_MAGIC = (b"\xfe\xed\xfe\xed", b"\xce\xce\xce\xce")  # JKS, JCEKS


def java_keystore(data: bytes) -> str | None:
    """Which secret a JKS or JCEKS key store holds, walking its entries; None for a trust store."""
    if not data.startswith(KEYSTORE_MAGIC) or len(data) < 12:
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
