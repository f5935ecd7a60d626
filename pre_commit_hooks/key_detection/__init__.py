"""Key detection: what a private key looks like in the bytes of a file, however it got there.

``DETECTORS`` (in ``scanning``) is the one table of ways to find a key: each row has squeezed
forms (what any file the row can report holds once ``scan`` has squeezed it), a test on the
file, a regular expression that finds where a key may start, and a handler that decides. The
squeezed searches are cheap (a tenth of the bytes, one pass per group of rows), and most files
fail all of them: see ``scan``.
Handlers judge structure, not looks: a PEM body is base64-decoded and must parse as a private key
(DER/ASN.1, OpenSSH, OpenPGP, PuTTY) to be *proven*; a proven key is reported whatever marker a
line carries. A private-key header with a long base64 body that does not parse is reported too,
but as a suspicion that a reviewer may allow.

Encodings are undone where a key is found, not over the whole file: JSON/Ruby/C escapes, URL and
HTML escapes, quoted-printable, indentation, string concatenation, line numbers and ``<br>``
inside a PEM block; base64 of a PEM (at any alignment), of DER (also base64url) or PKCS#12, of a
JKS or of gzip, bzip2 or xz data (Kubernetes secrets and ConfigMaps), and base64 runs that hold a
JSON Web Key, a PuTTY key or an AWS credentials file; hex of DER (``xxd``, C and Go arrays, ``\\x``
escapes); UTF-16 text; gzip, bzip2, xz, zip/jar and tar files; DER, PKCS#12 (with a key bag), Java
key stores, Microsoft PVK and binary OpenPGP and OpenSSH keys as whole files, DER keys also inside
other binary files; keys written as their numbers (a JSON Web Key with ``d``, RSA, EC, OKP or
secp256k1; .NET's ``RSAKeyValue`` with ``D``; WireGuard's ``PrivateKey``); AWS secret access
keys beside their key id or assigned by their name. Nesting is limited to
``MAX_DEPTH`` levels, and all a file unpacks, decodes and checks shares one ``Budget``, which
records each limit that stopped a part of the scan (the hook reports those: it fails closed).

Every run costs an interpreter start, so this package imports only what a clean file needs: the
archive and compression modules, binascii, bisect and heapq load with the first file that needs
them, the rows' full patterns compile when first used (``WhenUsed``), and its classes are plain
ones (typing, for NamedTuple, would take longer to import than most files take to scan).

The modules follow what they hold: ``rows`` (what a row is, what it reports, the limits),
``expressions`` (regular expressions from byte sets), ``der`` (DER/ASN.1 shapes), ``bodies`` (what
a decoded body must be), ``text`` (PEM text, escapes, base64 pieces), ``blobs`` (whole files:
DER, key stores, UTF-16, archives), the handlers ``pem``, ``encoded`` (base64 and hex),
``aws`` and ``key_numbers``, and ``scanning`` (the table and ``scan``, the entry point).
"""

from pre_commit_hooks.key_detection.rows import Budget, Finding
from pre_commit_hooks.key_detection.scanning import DETECTORS, scan
from pre_commit_hooks.key_detection.text import ALLOWLIST_MARKER, PEM_HEADER

__all__ = ["ALLOWLIST_MARKER", "DETECTORS", "PEM_HEADER", "Budget", "Finding", "scan"]
