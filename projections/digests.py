"""How the receipts view stores a record's digest: as bytes when that is lossless.

A digest is whatever text the client sent (rule 12 only bounds its length and characters),
but nearly always a lowercase hex hash: a SHA-256 is 64 characters of text and 32 bytes as
bytes, and `view_session_records` holds one per record. A digest is
stored as bytes only when decoding it and encoding it again gives back the very text sent
(lowercase, even length, hex digits only), so every read returns exactly what was synced;
anything else ("d", "ABCD", "abc") is stored as it came.

SQLite keeps both kinds in the same column (a BLOB never equals a TEXT). A PostgreSQL
`bytea` column holds one byte saying which it is, then the bytes (hex) or the UTF-8 text.
Both directions are done here and nowhere else; a diff compares stored forms, so it packs
the client's digests the same way.
"""

from __future__ import annotations

HEX, TEXT = b"\x01", b"\x00"  # PostgreSQL's first byte


def pack(digest: str, pg: bool) -> bytes | str:
    """The stored form of `digest` on the backend (`pg`: PostgreSQL)."""
    try:
        raw = bytes.fromhex(digest)
    except ValueError:
        raw = None
    if raw is not None and raw and raw.hex() == digest:
        return HEX + raw if pg else raw
    return TEXT + digest.encode() if pg else digest


def unpack(stored: bytes | memoryview | str, pg: bool) -> str:
    """The digest as synced, from its stored form on the backend."""
    if isinstance(stored, str):  # SQLite TEXT: stored as it came
        return stored
    data = stored if isinstance(stored, bytes) else bytes(stored)  # no copy when bytes
    if not pg:
        return data.hex()
    if data[:1] == HEX:
        return data[1:].hex()
    return data[1:].decode()
