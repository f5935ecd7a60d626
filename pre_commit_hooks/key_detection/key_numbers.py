"""Keys written as their numbers: JSON Web Keys and .NET's RSAKeyValue."""

from __future__ import annotations

import re

from pre_commit_hooks.key_detection.aws import MIXED
from pre_commit_hooks.key_detection.rows import PEM_WINDOW, Budget, Finding, WhenUsed

# be escaped, in a JSON string; the look back follows "kty", so sre tries it only where "kty" is),
# or .NET's RSA.ToXmlString(true) with its private exponent D. (Only files that hold a JSON or XML
# AQAB, or a JSON curve name, are searched: see DETECTORS.)
_JSON_WEB_KEY = rb'kty(?<="kty)\\?"\s*:\s*\\?"(?:RSA|EC|OKP)\\?"'
# a private number: 40 base64 characters or more (an EC P-256 key's d has 43) of both cases, as
# random ones have (a placeholder such as XXXX... or private-key-goes-here has not)
_JWK_PRIVATE = rb'\\?"d\\?"\s*:\s*\\?"([A-Za-z0-9_-]{40,})'
_XML_KEY = rb"<RSAKeyValue>"
# (a pattern each: one that opens with a literal sre finds fast, where an alternation of the two
# had it try every "k" and "<" of the file)
JSON_WEB_KEYS = WhenUsed(_JSON_WEB_KEY)
RSA_KEY_VALUES = WhenUsed(_XML_KEY)
_XML_PRIVATE = rb"<D>\s*([A-Za-z0-9+/=]{40,})\s*</D>"


# How far before "kty" a JSON Web Key's "{" may be: the members sorted by name put "d", "dp", "dq",
# "e" and "kid" first (an RSA-4096 key's make 2 KB).
JWK_REACH = 8 * 1024


def key_numbers(
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
    private: bytes,
    kind: str,
) -> tuple[list[Finding], int]:
    """A finding when the key from ``opening`` to ``closing`` holds its private numbers. The
    search for ``closing`` ends where the next key opens, so a file of openings costs one pass."""
    limit = min(len(data), match.end() + PEM_WINDOW)
    following = data.find(next_key, match.end(), limit)
    end = data.find(closing, match.end(), following if following >= 0 else limit)
    if opening < 0 or end < 0:
        return [], match.end()
    number = re.compile(private).search(data, opening, end)
    if number is not None and all(re.search(case, number[1]) for case in MIXED[:2]):
        return [Finding(match.start(), kind, True)], end
    return [], end
