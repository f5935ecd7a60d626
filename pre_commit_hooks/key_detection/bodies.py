"""What a decoded body must be to be a key: DER, OpenSSH, ssh.com, OpenPGP or PVK, by structure."""

from __future__ import annotations

from pre_commit_hooks.key_detection.der import der_key

KEY_MAGIC = (
    (b"openssh-key-v1\x00", "OpenSSH private key"),
    (b"\x3f\x6f\xf9\xeb", "SSH2 private key (ssh.com format)"),
)
# a secret-key packet's first byte: the new format, or the old one with any length type
PGP_SECRET_KEY_TAGS = (0xC5, 0x94, 0x95, 0x96, 0x97)


def key_in_body(body: bytes) -> str | None:
    """The kind of key a decoded PEM or armored body holds, judged by its structure alone."""
    kind = binary_key(body)
    if kind is not None:
        return kind
    der = der_key(body)
    return None if der is None else der[0]


def binary_key(body: bytes) -> str | None:
    """The kind of key ``body`` opens with, when it is no DER: OpenSSH, ssh.com, OpenPGP."""
    for magic, kind in KEY_MAGIC:
        if body.startswith(magic):
            return kind
    if body.startswith(PVK_MAGIC):
        return _pvk_key(body)
    return "PGP private key" if _pgp_secret_key(body) else None


# Microsoft's PVK file (what `openssl rsa -outform PVK` writes; OpenSSL's crypto/pem/pvkfmt.c):
# its magic, then five little-endian words: reserved (0), key type (1: exchange, 2: signature),
# encrypted (0 or 1), salt length, key length; then the salt and the key blob, which opens with a
# PRIVATEKEYBLOB header (type 7, version 2) when it is not encrypted.
PVK_MAGIC = b"\x1e\xf1\xb5\xb0"


def _pvk_key(body: bytes) -> str | None:
    words = [int.from_bytes(body[at : at + 4], "little") for at in range(4, 24, 4)]
    if len(words) < 5 or len(body) < 24:
        return None
    reserved, key_type, encrypted, salt, length = words
    blob = 24 + salt
    if reserved or key_type not in (1, 2) or encrypted not in (0, 1) or salt > 64 or length < 8:
        return None
    if blob + length > len(body) or (not encrypted and body[blob : blob + 2] != b"\x07\x02"):
        return None
    return "Microsoft PVK private key" + (" (encrypted)" if encrypted else "")


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
    if first not in PGP_SECRET_KEY_TAGS:
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
