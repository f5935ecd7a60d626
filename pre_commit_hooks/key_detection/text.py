"""Text encodings around a key: PEM headers and bodies, escapes, base64 pieces."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pre_commit_hooks.key_detection.rows import WhenUsed

_SPACE = rb"(?: |%20|\+)"  # a space, also URL-encoded
# A label is up to six words of up to LABEL_WORD characters (the longest a tool writes is 10,
# ENCRYPTED): what bounds the row's squeezed form (scanning.PRIVATE_LABEL).
LABEL_WORD = 40
_WORD = rb"[A-Z0-9]{1,%d}" % LABEL_WORD
PEM_HEADER = WhenUsed(
    rb"----(?:- ?| )BEGIN" + _SPACE + rb"(" + _WORD + rb"(?:" + _SPACE + _WORD + rb"){0,5}) ?-{4,5}"
)
PEM_END = rb"----(?:- ?| )END" + _SPACE
ALLOWLIST_MARKER = "pragma: allowlist secret"
# Not part of a key body: PEM encryption headers (also in a PEM squeezed into one line), armor
# headers such as Version: or Comment: opening a line, and allowlist markers, which hide no key.
_NOT_BODY = (
    r"(?:Proc-Type|DEK-Info): *\S+|^[\s\"'#]*(?!Proc-Type|DEK-Info)[A-Za-z][A-Za-z0-9-]*: .*"
    r"|pragma: allowlist (?:nextline )?secret"
)
_PGP_CHECKSUM = r"(?<![A-Za-z0-9+/=])=[A-Za-z0-9+/]{4}(?![A-Za-z0-9+/])"
_PROC_TYPE = r"Proc-Type: *4,ENCRYPTED"
_DEK_INFO = r"DEK-Info: *[A-Z0-9-]+,[0-9A-Fa-f]{16,}"
_BASE64_IN_LINE = r"[A-Za-z0-9+/]+=*"
_ESCAPE = (
    r"\\u([0-9a-fA-F]{4})|\\x([0-9a-fA-F]{2})|\\([^ux])|%([0-9a-fA-F]{2})"
    r"|&#[xX]([0-9a-fA-F]{1,6});|&#([0-9]{1,6});|=([0-9A-F]{2})"
)
_CONTROL_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}
LONG_RUN = 16  # base64 pieces shorter than this are words, not key material
SUSPECT_LINE = 40  # a body that does not parse is suspect only with a base64 run this long
MIN_BODY = 64  # base64 characters a body needs before an unreadable one is worth a suspicion


def unescaped(text: str) -> str:
    """``text`` with string-literal, URL, HTML and quoted-printable escapes undone (twice-escaped
    JSON, a JSON string inside a JSON string, needs a second round)."""
    for _ in range(3):
        decoded = re.sub(_ESCAPE, _unescape_one, text)
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


def base64_body(text: str, minimum: int = MIN_BODY) -> list[str] | None:
    """The base64 pieces of a key body in ``text`` (lines after a header, escapes undone), or None
    when what follows the header is prose rather than ``minimum`` characters of base64 lines.

    Each line gives its base64 pieces, so quotes, indentation, ``+`` and ``\\`` of string
    concatenation fall away; the body ends at the first line without a long piece."""
    pieces: list[str] = []
    long_chars = 0
    for line in text.splitlines():
        line = re.sub(_PGP_CHECKSUM, "", re.sub(_NOT_BODY, "", line))
        found = [piece for piece in re.findall(_BASE64_IN_LINE, line) if piece.strip("+")]
        if all(len(piece) < 4 for piece in found):
            continue  # a blank line, or one holding only quotes, `+`, a `b` prefix, a number
        pieces += found
        long_chars += sum(len(piece) for piece in found if len(piece) >= LONG_RUN)
        if max(map(len, found)) < LONG_RUN:
            break
    return pieces if long_chars >= minimum else None


def readings(pieces: list[str]) -> Iterator[str]:
    """The base64 characters of a body as its pieces read whole, then without the pieces shorter
    than a base64 group: what else its lines hold (a string's ``b`` prefix, a line number, an
    HTML ``<br>``)."""
    whole = "".join(pieces).replace("=", "")
    yield whole
    cleaned = "".join(piece for piece in pieces if len(piece) >= 4).replace("=", "")
    if cleaned != whole:
        yield cleaned


def decoded(characters: str) -> bytes:
    """The bytes of base64 ``characters`` whatever their padding (lost to a join or an escape)."""
    import binascii

    usable = len(characters) - (1 if len(characters) % 4 == 1 else 0)
    try:
        return binascii.a2b_base64(characters[:usable] + "=" * (-usable % 4))
    except binascii.Error:
        return b""


# first byte outside it.
BASE64_TEXT = rb"[A-Za-z0-9+/\s\\]*"
_BASE64_NOISE = rb"\\[rn]|[^A-Za-z0-9+/]"
_NOT_BASE64 = bytes(
    byte
    for byte in range(256)
    if byte not in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
)


def base64_characters(text: bytes) -> bytes:
    """``text`` without its line breaks, indentation, quotes and escaped line breaks. Without a
    backslash there is no escape, and one translate drops the rest far faster than a substitution
    of each of the many line breaks of wrapped base64."""
    return re.sub(_BASE64_NOISE, b"", text) if b"\\" in text else text.translate(None, _NOT_BASE64)


def legacy_encrypted(window: str) -> bool:
    """A legacy encrypted PEM's headers: Proc-Type, then DEK-Info with its salt. Two searches, each
    over the window once (one expression with ``.*`` between them would backtrack over the window
    from every Proc-Type line: a block full of them cost seconds per MB)."""
    proc_type = re.search(_PROC_TYPE, window)
    return (
        proc_type is not None and re.compile(_DEK_INFO).search(window, proc_type.end()) is not None
    )
