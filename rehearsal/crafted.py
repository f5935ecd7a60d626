"""Files crafted to make a key scanner slow: each family repeats what makes one detector work, so
that its cost shows how the work grows with the size. Shared by the tests (linear growth) and
benchmarks/bench_crafted_inputs.py (seconds per MB).

Nothing here is key material: the AWS-shaped values are random characters made at run time, and
the DER and PEM pieces are openings and headers without a key behind them.
"""

from __future__ import annotations

import base64
import io
import secrets
import string
import zipfile
from collections.abc import Callable

_BASE64 = string.ascii_letters + string.digits + "+/"


def _repeated(piece: bytes, size: int) -> bytes:
    return piece * max(1, size // len(piece))


def aws_pairs_on_one_line(size: int) -> bytes:
    """Access key ids each with a secret-shaped value, all on one line: every pair is a finding,
    and a finding's line is read for an allowlist marker."""
    key_id = "AKIA" + "".join(secrets.choice(string.ascii_uppercase + "234567") for _ in range(16))
    secret = "".join(secrets.choice(_BASE64) for _ in range(40))
    return _repeated(f"{key_id} {secret} ".encode(), size) + b"\n"


def encrypted_pem_headers(size: int) -> bytes:
    """A PEM block whose window is full of ``Proc-Type: 4,ENCRYPTED`` lines, then base64 lines."""
    block = (
        b"-----BEGIN RSA PRIVATE KEY-----\n"
        + b"Proc-Type: 4,ENCRYPTED\n" * 4000
        + b"QUJD" * 16
        + b"\n-----END RSA PRIVATE KEY-----\n"
    )
    return _repeated(block, size)


def zip_of_der_openings(size: int) -> bytes:
    """A zip of 64 members, each DER private-key openings again and again (they deflate to
    almost nothing, so a small file unpacks to ``size`` bytes)."""
    member = _repeated(b"\x30\x82\x01\x00\x02\x01\x00\x02", max(8, size // 64))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(64):
            archive.writestr(f"member{index:02d}.bin", member)
    return buffer.getvalue()


# What opens the file of the next family: once each, what makes a row search the whole file.
ANCHORS = (
    b"s3.secret_access_key = ENV.fetch('X')\n"  # a secret's name (lower case), no secret
    b"config.SecretAccessKey = nil\n"  # (camel case)
    b"# LS0t 0x30 \\x30 AKIA PuTTY-User-Key-File-\n"
    b'{"kty": "RSA", "e": "AQAB", "crv": "P-256"} <RSAKeyValue><E>AQAB</E>\n'
)
# Ordinary source text, full of the letters and digits those rows' patterns open with.
PROSE = b"  test 'it sets 0x0f at start' do; assert_equal 30, state.size; end # stat\n"


def anchors_then_prose(size: int) -> bytes:
    """Each row's anchor once, then ordinary text: every row's pattern then reads the whole file,
    which costs a pass only if the pattern opens with a literal (an optional piece or a class
    first has sre try it at every byte)."""
    return ANCHORS + _repeated(PROSE, size)


# name -> what a file of about ``size`` bytes of that family holds
FAMILIES: dict[str, Callable[[int], bytes]] = {
    "AWS key pairs on one line": aws_pairs_on_one_line,
    "PEM blocks of Proc-Type lines": encrypted_pem_headers,
    "zip of 64 members of DER openings": zip_of_der_openings,
    "DER openings": lambda size: _repeated(b"\x30\x82\x01\x00\x02\x01\x00\x02", size),
    "PEM headers over fake bodies": lambda size: _repeated(
        b"-----BEGIN RSA PRIVATE KEY-----\n" + b"QUJD" * 16 + b"\n", size
    ),
    "a key id per line": lambda size: _repeated(b"AKIAZ2345ZZZZZ6ZZZZZ x\n", size),
    "base64 DER openings": lambda size: _repeated(b"MIIB" + b"A" * 60 + b"\n", size),
    "hex DER opening": lambda size: _repeated(b"0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x00, ", size),
    "JWK members without a brace": lambda size: _repeated(b'"kty": "RSA", "e": "AQAB", ', size),
    "RSAKeyValue never closed": lambda size: _repeated(
        b"<RSAKeyValue><Exponent>AQAB</Exponent>", size
    ),
    "base64 AWS secrets": lambda size: _repeated(
        b"AWS_SECRET_ACCESS_KEY: " + base64.b64encode(b"S" * 40) + b"\n", size
    ),
    "PuTTY headers": lambda size: _repeated(
        b"PuTTY-User-Key-File-3: ssh-rsa\nPrivate-Lines: 1\n" + b"QUJD" * 8 + b"\n", size
    ),
    "base64 PEM openings": lambda size: _repeated(b"LS0tLS1CRUdJTi" + b"A" * 50 + b"\n", size),
    "each anchor once, then prose": anchors_then_prose,
}
