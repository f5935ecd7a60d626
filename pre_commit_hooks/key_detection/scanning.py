"""The one table of detectors, and ``scan``, which runs it over a file's bytes."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import accumulate

from pre_commit_hooks.key_detection.aws import (
    AWS_KEY_ID,
    AWS_KEY_IDS,
    AWS_SECRETS_IN_BASE64,
    SECRETS_NAMED_IN_CAPITALS,
    SECRETS_NAMED_IN_LOWER_CASE,
    aws_key_pairs,
    aws_secrets_by_name,
    base64_aws_key_pairs,
)
from pre_commit_hooks.key_detection.blobs import (
    BLOB_FIRST_BYTES,
    DER_KEY_START,
    embedded_der,
    whole_blob,
)
from pre_commit_hooks.key_detection.der import DER_KEY_HEADS
from pre_commit_hooks.key_detection.encoded import (
    BZIP2_HEAD,
    GZIP_HEAD,
    JKS_HEAD,
    PEM_IN_BASE64,
    XZ_HEADS,
    base64_blob,
    base64_opening,
    hex_opening,
    marked_base64,
)
from pre_commit_hooks.key_detection.expressions import alternation, search_for, squeezed_form
from pre_commit_hooks.key_detection.key_numbers import (
    JSON_WEB_KEYS,
    RSA_KEY_VALUES,
    WIREGUARD_KEYS,
    key_numbers,
    wireguard_key,
)
from pre_commit_hooks.key_detection.pem import PUTTY, pem_block, putty_key
from pre_commit_hooks.key_detection.rows import (
    CANDIDATES,
    SQUEEZED_OUT,
    Budget,
    Detector,
    Finding,
    Form,
    Handler,
    WhenUsed,
    binary,
)
from pre_commit_hooks.key_detection.text import LABEL_WORD, PEM_HEADER


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
    squeezed, ends = _squeezed(data)
    is_binary = binary(data)
    # (loops, not comprehensions: most files are small, and a comprehension costs them a frame)
    searches = []
    for in_group, for_text, for_binary in _GROUPS:
        tests = for_binary if is_binary else for_text
        first = tests and in_group(squeezed)
        if first:  # (no row of the group matches before the group's first match)
            for row in _present_rows(in_group, tests, squeezed, ends, data, first.start()):
                searches.append(_hits(row, DETECTORS[row].pattern, data, start, stop))
    # the rows with no squeezed form: those for text (one search tells whether any may match),
    # or the one for binary files
    rows = _FOR_BINARY if is_binary else _FOR_TEXT
    if DETECTORS[rows[0]].present(data):
        searches += [_hits(row, DETECTORS[row].pattern, data, start, stop) for row in rows]
    # (most files open with none of the blobs' first bytes, and no NUL: UTF-16, tar header)
    blob = whole and (data[:1] in BLOB_FIRST_BYTES or data.find(b"\x00", 0, 1024) >= 0)
    if not searches and not blob:
        return [], start  # most files
    budget = Budget(scan) if budget is None else budget
    findings, covered = whole_blob(data, depth, budget) if blob else ([], 0)
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
            if budget.candidates <= 0:
                budget.stop(f"{CANDIDATES:,} places a key may start")
                break
            budget.candidates -= 1
            found, end = DETECTORS[row].handle(data, match, depth, budget)
            findings += found
            covered = max(covered, end)
    return findings, covered


# A file longer than a block is squeezed a block at a time: where a squeezed match falls tells
# which block of the file holds what it stands for, so a row's test reads that block, not the
# whole file (a large binary file's squeezed bytes hold short forms by chance, and whole-file
# tests for those cost more than the rest of its scan).
BLOCK = 64 * 1024
# how far before or after its block the text a squeezed match stands for may reach (a PEM header's
# label words, a base64 marker's first characters)
REACH = 1024


def _squeezed(data: bytes) -> tuple[bytes, list[int] | None]:
    """``data`` squeezed, and for a file longer than a block, where each block's squeezed bytes
    end."""
    if len(data) <= BLOCK:
        return data.translate(None, SQUEEZED_OUT), None  # most files
    pieces = [
        data[at : at + BLOCK].translate(None, SQUEEZED_OUT) for at in range(0, len(data), BLOCK)
    ]
    return b"".join(pieces), list(accumulate(map(len, pieces)))


def _present_rows(
    in_group: Squeezed,
    tests: Tests,
    squeezed: bytes,
    ends: list[int] | None,
    data: bytes,
    first: int,
) -> Iterator[int]:
    """The group's rows whose squeezed forms are there from ``first`` on and whose tests pass: on
    the whole file, if it is one block; else on the blocks where the group's search finds a
    form, each block once, each row's test there only if its own forms start in that block."""
    if ends is None:
        for row, in_squeezed, present in tests:
            if in_squeezed(squeezed, first) and present(data):
                yield row
        return
    from bisect import bisect_right

    left = list(tests)
    while left and (match := in_group(squeezed, first)):
        block = bisect_right(ends, match.start())
        span = (max(0, block * BLOCK - REACH), (block + 1) * BLOCK + REACH)
        for test in list(left):
            row, in_squeezed, present = test
            if in_squeezed(squeezed, match.start(), ends[block] + REACH) and present(data, *span):
                left.remove(test)
                yield row
        first = ends[block]


def _hits(
    row: int, pattern: re.Pattern[bytes] | WhenUsed, data: bytes, start: int, stop: int
) -> Iterator[tuple[int, int, re.Match[bytes]]]:
    """(position, row, match) for the pattern's matches starting before ``stop``."""
    for match in pattern.finditer(data, start):
        if match.start() >= stop:
            return
        yield match.start(), row, match


def _anchored(
    anchors: tuple[bytes, ...],
    pattern: re.Pattern[bytes] | WhenUsed,
    handle: Handler,
    test: bytes = b"",
    squeezed: tuple[Form, ...] = (),
    *,
    text_only: bool = False,
) -> Detector:
    """A row whose tests are searches for its anchors, one of which is in any file it reports:
    ``test``, an expression stricter than the anchors (an AWS key id's shape, not the word AKIA),
    and ``squeezed``, forms that say more than the anchors."""
    squeezed = squeezed or tuple(
        squeezed_form([frozenset((byte,)) for byte in anchor]) for anchor in anchors
    )
    present = WhenUsed(test).search if test else search_for(anchors)
    return Detector(squeezed, present, pattern, handle, text_only=text_only)


# What a text file is searched for by itself, as its squeezed bytes keep nothing of it: a
# secret's name in lower case (in capitals it leaves SECRETACCESSKEY, SAK or AK, searched there), a
# JSON Web Key's "kty". One search, from each "k" (rarer in code than their other letters: sre
# stops at each to try the rest). (Text only: a binary file is searched for keys.)
_IN_TEXT_ALONE = re.compile(rb'k(?:ey(?<=secret_access_key)|ty(?<="kty))').search


# Squeezed, a private key's PEM header is BEGIN, maybe "20" (a URL-encoded space), then the words
# of its label up to PRIVATE, each with its "20": the file must hold that, not PRIVATE alone (a
# binary file's squeezed bytes hold PRIVATE by chance, and its scan for headers then cost more
# than the rest of its scan).
_BEFORE_PRIVATE = 5 * (LABEL_WORD + 2) + 2
PRIVATE_LABEL: Form = (
    *(bytes([byte]) for byte in b"BEGIN"),
    b"[A-Z0-9]{0,%d}" % _BEFORE_PRIVATE,
    *(bytes([byte]) for byte in b"PRIVATE"),
)


# A row's test, pattern and handler run only where its squeezed forms are in the squeezed bytes
# (see _grouped) and its test passed. A binary file is searched for keys as a program or a database
# may hold them: PEM, DER and its base64, AWS key pairs; the text formats (names, JSON, XML, key
# files, hex, base64 of archives) are text_only: a binary file holds their short squeezed forms by
# the hundred, each costing a test of its block.
DETECTORS: tuple[Detector, ...] = (
    # every private key label has PRIVATE (also URL-encoded); the header pattern then finds all
    # blocks, certificates too, whose bodies it consumes
    _anchored((b"PRIVATE",), PEM_HEADER, pem_block, squeezed=(PRIVATE_LABEL,)),
    _anchored((b"PuTTY-User-Key-File-",), PUTTY, putty_key, text_only=True),
    _anchored((b"AKIA", b"ASIA"), AWS_KEY_IDS, aws_key_pairs, AWS_KEY_ID),
    _anchored(
        (b"AWS_SECRET_ACCESS_KEY",), AWS_SECRETS_IN_BASE64, base64_aws_key_pairs, text_only=True
    ),
    # squeezed, the name in upper case leaves SECRETACCESSKEY, in camel case SAK; in lower case,
    # nothing: only the file holds it
    # (names are text: a binary file is searched for keys, not for names, whose short squeezed
    # forms it holds by chance)
    _anchored(
        (b"SECRET_ACCESS_KEY", b"SecretAccessKey"),
        SECRETS_NAMED_IN_CAPITALS,
        aws_secrets_by_name,
        text_only=True,
    ),
    # (JavaScript's secretAccessKey squeezes to AK: a form of the A group, no pass of its own)
    _anchored(
        (b"secretAccessKey",), SECRETS_NAMED_IN_LOWER_CASE, aws_secrets_by_name, text_only=True
    ),
    _NAMED_IN_LOWER_CASE := Detector(
        (), _IN_TEXT_ALONE, SECRETS_NAMED_IN_LOWER_CASE, aws_secrets_by_name
    ),
    # any JSON Web Key: an OKP (Ed25519, X25519) or secp256k1 key squeezes to nothing the rows
    # for RSA and EC keys look for
    _JSON_WEB_KEY := Detector((), _IN_TEXT_ALONE, JSON_WEB_KEYS, key_numbers),
    # a binary file (a NUL in its head) may hold a DER key anywhere
    _DER_IN_BINARY := Detector((), binary, DER_KEY_START, embedded_der),
    # a PEM in base64, a row per alignment: each pattern a literal, which sre finds fast (one
    # expression for the three tried every branch at every "t" of a file: 32 ms per MB)
    *(
        _anchored(
            (b"LS0t",),  # base64 of "---", in every alignment of "-----"
            WhenUsed(b"(" + re.escape(form) + b")"),
            partial(base64_blob, leads=(lead,)),
            # squeezed, from its LS0t on (LS0 alone is in binary data by chance)
            squeezed=(squeezed_form([frozenset((byte,)) for byte in form[form.index(b"LS0t") :]]),),
        )
        for form, lead in PEM_IN_BASE64
    ),
    # what marks a key or credentials file inside base64 text (a Kubernetes Secret's value)
    *(
        row
        for marker in (b'"kty":', b"PuTTY-User-Key-File-", b"aws_secret_access_key")
        for row in marked_base64(marker, b"ABLMP")
    ),
    base64_opening(DER_KEY_HEADS),  # every DER head opens with "M", base64 of a SEQUENCE
    # A key store or compressed data in base64 is text (a Kubernetes Secret's or ConfigMap's
    # binaryData); in a binary file their short forms are there by chance (x86-64 code is full of
    # 0x48, an H: gzip's H4sI). The squeezed forms of bzip2's and xz's start at the B of a block's
    # magic and the A of the stream flags: no pass of their own.
    base64_opening((JKS_HEAD,), text_only=True),
    base64_opening((GZIP_HEAD,), text_only=True),
    base64_opening((BZIP2_HEAD,), groups=b"B", text_only=True),
    base64_opening(XZ_HEADS, groups=b"A", text_only=True),
    hex_opening(DER_KEY_HEADS, text_only=True),
    # An RSA key's numbers hold its public exponent, AQAB (65537, base64), as a JSON string (its
    # quotes maybe escaped) or an XML element (a certificate's base64 holds AQAB too, without
    # either); an EC key names its curve.
    _anchored((b'"AQAB',), JSON_WEB_KEYS, key_numbers, text_only=True),
    # squeezed, PrivateKey is PK: a form of the P group, which costs no pass of its own
    _anchored((b"PrivateKey",), WIREGUARD_KEYS, wireguard_key, text_only=True),
    _anchored((b">AQAB<",), RSA_KEY_VALUES, key_numbers, text_only=True),
    _anchored((b'"P-256', b'"P-384', b'"P-521'), JSON_WEB_KEYS, key_numbers, text_only=True),
)


Test = Callable[..., object]  # (data[, start, end]) -> truthy where the row's pattern may match
Squeezed = Callable[..., "re.Match[bytes] | None"]  # a search of the squeezed bytes[, start, end]
Tests = tuple[tuple[int, Squeezed, Test], ...]  # (row, its squeezed search, its test)
Group = tuple[Squeezed, Tests, Tests]  # the group's search, its rows for text, for binary files


def _grouped(detectors: tuple[Detector, ...]) -> tuple[Group, ...]:
    """The rows in groups whose squeezed forms open with the same byte, each group with one
    search for all of them: sre looks for an expression's first byte, so one pass over the squeezed
    bytes rules out a whole group. Each row: (its index, its squeezed search, its test); a row
    alone in its group needs no search of its own."""
    groups: dict[bytes, list[int]] = {}
    for row, detector in enumerate(detectors):
        openings = {form[0][:1] for form in detector.squeezed}
        if len(openings) > 1:  # (the group's search would no longer open with one byte)
            raise ValueError(f"row {row}: its squeezed forms open with {sorted(openings)}")
        if openings:
            groups.setdefault(openings.pop(), []).append(row)
    return tuple(
        (
            re.compile(
                alternation(form for row in rows for form in detectors[row].squeezed)
            ).search,
            tests,
            tuple(test for test in tests if not detectors[test[0]].text_only),
        )
        for rows in groups.values()
        for tests in [
            tuple((row, _row_search(detectors, rows, row), detectors[row].present) for row in rows)
        ]
    )


def _row_search(detectors: tuple[Detector, ...], rows: list[int], row: int) -> Squeezed:
    forms = alternation(detectors[row].squeezed)
    # (alone in its group, the row's search is its group's, compiled already)
    return re.compile(forms).search if len(rows) == 1 else WhenUsed(forms).search


_GROUPS = _grouped(DETECTORS)
# the rows with no squeezed form, the one scan runs on text and the one it runs on a binary file
_FOR_TEXT = (DETECTORS.index(_NAMED_IN_LOWER_CASE), DETECTORS.index(_JSON_WEB_KEY))
_FOR_BINARY = (DETECTORS.index(_DER_IN_BINARY),)
