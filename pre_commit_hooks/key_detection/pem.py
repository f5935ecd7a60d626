"""Handlers for PEM blocks and PuTTY key files, however their text is wrapped."""

from __future__ import annotations

import re

from pre_commit_hooks.key_detection.bodies import key_in_body
from pre_commit_hooks.key_detection.rows import PEM_WINDOW, Budget, Finding, WhenUsed
from pre_commit_hooks.key_detection.text import (
    LONG_RUN,
    PEM_END,
    PEM_HEADER,
    SUSPECT_LINE,
    base64_body,
    decoded,
    legacy_encrypted,
    readings,
    unescaped,
)


def pem_block(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    label = re.sub(rb"%20|\+", b" ", match[1]).decode("ascii")
    body_start = match.end()
    limit = min(len(data), body_start + PEM_WINDOW)
    following = PEM_HEADER.search(data, body_start, limit)
    limit = following.start() if following else limit
    end = re.compile(PEM_END).search(data, body_start, limit)
    window = unescaped(data[body_start : end.start() if end else limit].decode("latin-1"))
    pieces = base64_body(window)
    if pieces is None:
        return [], body_start  # a header in prose: the text after it is scanned on its own
    kind, content = None, b""
    for reading in readings(pieces):
        content = decoded(reading)
        kind = key_in_body(content)
        if kind is not None:
            break
    if kind is None and legacy_encrypted(window) and content and len(content) % 8 == 0:
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


PUTTY = WhenUsed(rb"PuTTY-User-Key-File-(\d+): *[\w@.-]+")
_PUTTY_PRIVATE = r"Private-Lines: *\d+"
_PUTTY_MAC = r"Private-MAC: *[0-9a-fA-F]{40,}"


def putty_key(
    data: bytes, match: re.Match[bytes], depth: int, budget: Budget
) -> tuple[list[Finding], int]:
    limit = min(len(data), match.end() + PEM_WINDOW)
    following = PUTTY.search(data, match.end(), limit)
    limit = following.start() if following else limit
    window = unescaped(data[match.end() : limit].decode("latin-1"))
    private = re.search(_PUTTY_PRIVATE, window)
    mac = re.compile(_PUTTY_MAC).search(window, private.end()) if private else None
    body = (
        base64_body(window[private.end() : mac.start() if mac else None], LONG_RUN)
        if private
        else None
    )
    if body is None:
        return [], match.end()  # the header named in prose
    proven = mac is not None and len(decoded(next(readings(body)))) >= LONG_RUN
    mac_at = data.find(b"Private-MAC", match.end(), limit)
    reach = match.end() if mac_at < 0 else mac_at + len(b"Private-MAC")
    return [
        Finding(match.start(), f"PuTTY private key (version {match[1].decode()})", proven)
    ], reach
