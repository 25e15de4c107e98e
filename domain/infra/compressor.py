"""Large event payloads are stored compressed; every event stored before still reads.

A `RecordsSynced` of 1,000 records is ~100 kB of JSON, most of the event log's bytes; zstd
(level 1) stores it in about a third, at ~0.2 ms a batch to write and ~0.05 ms to read
(zlib cost ~10x more to write). Small events (a start, a completion: a few hundred bytes)
stay plain JSON: compressing them saves little and costs every reader a step.

Telling the two apart needs no flag: an event's JSON state always begins with `{`, a zstd
frame with its magic number `28 b5 2f fd`. So the events stored before this existed (and
the v1 fixture, tests/fixtures/events_v1.json) decode unchanged, and their stored bytes -
which the Merkle tree's leaf hashes cover (docs/tamper-evidence.md) - never change: the
hash covers whatever bytes were stored, compressed or not.

Plugged into eventsourcing's mapper as its compressor (`COMPRESSOR_TOPIC`, see
domain/infra/database.py); the readers that bypass the mapper for speed call `decompress`
through domain/infra/eventlog.py.
"""

from __future__ import annotations

import threading

import zstandard
from eventsourcing.persistence import Compressor

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
# States at least this long are compressed (a batch of ~10 records and more).
MIN_COMPRESSED = 1_024
LEVEL = 1
_local = threading.local()  # zstd (de)compressor objects are not safe to share across threads


def _compressor() -> zstandard.ZstdCompressor:
    c: zstandard.ZstdCompressor | None = getattr(_local, "compressor", None)
    if c is None:
        c = _local.compressor = zstandard.ZstdCompressor(level=LEVEL)
    return c


def _decompressor() -> zstandard.ZstdDecompressor:
    d: zstandard.ZstdDecompressor | None = getattr(_local, "decompressor", None)
    if d is None:
        d = _local.decompressor = zstandard.ZstdDecompressor()
    return d


def compress(data: bytes) -> bytes:
    """`data` as it is stored: zstd when large and it pays, else unchanged."""
    if len(data) < MIN_COMPRESSED:
        return data
    packed = _compressor().compress(data)
    return packed if len(packed) < len(data) else data


def decompress(data: bytes) -> bytes:
    """The JSON state of stored bytes, compressed or not (events stored before are not)."""
    if data[:4] == ZSTD_MAGIC:
        return _decompressor().decompress(data)
    return data


def is_compressed(data: bytes) -> bool:
    return data[:4] == ZSTD_MAGIC


class PayloadCompressor(Compressor):
    """eventsourcing's compressor interface over `compress` / `decompress`."""

    def compress(self, data: bytes) -> bytes:
        return compress(data)

    def decompress(self, data: bytes) -> bytes:
        return decompress(data)
