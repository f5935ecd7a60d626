"""Regular expressions from byte sets: over bytes, over base64 or hex text, over squeezed bytes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import cache

from pre_commit_hooks.key_detection.rows import UPPER_OR_DIGIT, Form

ByteSet = tuple[int, ...] | range | frozenset[int]  # the values a byte may take (hashable: cached)
Head = tuple[ByteSet, ...]  # how some bytes open, one set per byte


@cache  # the heads repeat their sets
def one_of(symbols: ByteSet) -> bytes:
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


def squeezed_form(characters: list[frozenset[int]]) -> Form:
    """A regular expression for what ``scan`` keeps of text that ``characters`` match, one set of
    possible bytes per character: a character it always squeezes out is gone, one it may squeeze
    out is optional (a run of those is one bounded repeat, which backtracks less)."""
    pieces = [
        (kept, kept != options)
        for options in characters
        for kept in [options.intersection(UPPER_OR_DIGIT)]
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
            form.append(one_of(run) + b"{0,%d}" % optional)
            run, optional = frozenset(), 0
        form.append(one_of(kept))
    return tuple(form)


def alternation(forms: Iterable[Form]) -> bytes:
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
    return b"".join(rests[0]) if len(rests) == 1 else b"(?:" + alternation(rests) + b")"


_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def base64_of(head: Head) -> list[frozenset[int]]:
    """For each base64 character the bytes of ``head`` decide, the characters it can be where base64
    text opens with one byte of each of those sets."""
    characters = []
    for position in range(len(head) * 8 // 6):
        bit = 6 * position
        # the character is the 6 bits of two bytes that start ``shift`` bits from their end
        index, shift = bit // 8, 10 - bit % 8
        following = head[index + 1] if shift < 8 else (0,)
        characters.append(_base64_character(head[index], following, shift))
    return characters


@cache  # the heads repeat their sets, and the import builds every row's forms
def _base64_character(first: ByteSet, second: ByteSet, shift: int) -> frozenset[int]:
    high = {(byte << 8 >> shift) & 63 for byte in first}
    low = {byte >> shift for byte in second} if shift < 8 else {0}
    return frozenset(_BASE64_ALPHABET[one | two] for one in high for two in low)


@cache  # the heads repeat their sets
def hex_digits(values: ByteSet, high: bool) -> frozenset[int]:
    """The hex digits, in either case, of the high (or low) halves of ``values``."""
    nibbles = {value >> 4 if high else value & 15 for value in values}
    return frozenset(digit for nibble in nibbles for digit in b"%x%X" % (nibble, nibble))


def search_for(anchors: tuple[bytes, ...]) -> Callable[..., bool]:
    """A search for any of ``anchors`` in ``data[start:end]``: bytes.find, which needs no
    expression compiled. (sre finds a short literal faster, but compiling one costs a run more
    than finding it in the few files whose squeezed bytes hold an anchor.)"""
    return lambda data, *span: any(data.find(anchor, *span) >= 0 for anchor in anchors)


def base64_forms(plain: bytes) -> list[tuple[bytes, int]]:
    """How ``plain`` reads inside base64 text at each of the three byte alignments, with how many
    characters of the first base64 group come before that reading."""
    forms = []
    for shift in range(3):
        characters = base64_of((*((0,),) * shift, *((byte,) for byte in plain)))
        first = -(-8 * shift // 6)  # the characters that hold bits of the bytes before
        forms.append((bytes(min(options) for options in characters[first:]), first))
    return forms


# A PEM inside base64 text (a Kubernetes secret, base64 of a whole config file) at any alignment.
