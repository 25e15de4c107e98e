"""The Merkle tree over the event log, as RFC 9162 (Certificate Transparency v2) defines it.

Leaves are the events in position order: leaf i (0-based) is the i-th stored event. Its
hash covers the event's position, aggregate id, version, topic and exact stored bytes,
each length-prefixed (8-byte big-endian length, then the bytes), so no two different
events can share an encoding:

    leaf_hash = SHA-256(0x00 || len|position (ASCII decimal) || len|aggregate id (32 hex)
                        || len|version (ASCII decimal) || len|topic (UTF-8) || len|state)
    node_hash = SHA-256(0x01 || left || right)

The tree over n leaves is RFC 9162's MTH: split at k, the largest power of two below n.
Proofs are generated from any `SubtreeHash` (in-memory leaves here, the stored tiles in
replay/tiles.py) and verified with the RFC's algorithms, which need nothing but hashes.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()
_LEN = struct.Struct(">Q").pack
_sha256 = hashlib.sha256

# MTH of leaves [start, end): how proofs ask for the hashes they need.
SubtreeHash = Callable[[int, int], bytes]


class ProofError(ValueError):
    """A proof that does not verify, or a request for one that cannot exist."""


def leaf_data(position: int, originator_id: str, version: int, topic: str, state: bytes) -> bytes:
    """The canonical bytes of one event (what its leaf hashes, after the 0x00 prefix)."""
    p = b"%d" % position
    o = originator_id.encode()
    v = b"%d" % version
    t = topic.encode()
    return b"".join(
        (
            _LEN(len(p)),
            p,
            _LEN(len(o)),
            o,
            _LEN(len(v)),
            v,
            _LEN(len(t)),
            t,
            _LEN(len(state)),
            state,
        )
    )


def leaf_hash(position: int, originator_id: str, version: int, topic: str, state: bytes) -> bytes:
    """SHA-256(0x00 || leaf_data(...)), without building the joined bytes twice."""
    p = b"%d" % position
    o = originator_id.encode()
    v = b"%d" % version
    t = topic.encode()
    h = _sha256(b"\x00")
    h.update(b"".join((_LEN(len(p)), p, _LEN(len(o)), o, _LEN(len(v)), v, _LEN(len(t)), t)))
    h.update(_LEN(len(state)))
    h.update(state)
    return h.digest()


_SMALL_LEN = tuple(_LEN(n) for n in range(256))  # the prefixes of short fields, built once


def leaf_hashes(events: Iterable[tuple[int, str, int, str, bytes]]) -> list[bytes]:
    """leaf_hash() of many stored events at once: verification's hot path.

    The same bytes as leaf_hash (tests/replay/test_merkle.py checks it), hashed in one call
    per event with the length prefixes of repeated topics built once.
    """
    sha, pack, small = _sha256, _LEN, _SMALL_LEN
    topics: dict[str, bytes] = {}
    out: list[bytes] = []
    append = out.append
    for position, originator_id, version, topic, state in events:
        head = topics.get(topic)
        if head is None:
            t = topic.encode()
            head = topics[topic] = pack(len(t)) + t
        o = originator_id.encode()
        n = len(o)
        p = b"%d" % position
        v = b"%d" % version
        append(
            sha(
                b"".join(
                    (
                        b"\x00",
                        small[len(p)],
                        p,
                        small[n] if n < 256 else pack(n),
                        o,
                        small[len(v)],
                        v,
                        head,
                        pack(len(state)),
                        state,
                    )
                )
            ).digest()
        )
    return out


def perfect_root(leaves: Sequence[bytes]) -> bytes:
    """MTH of a power-of-two number of leaf hashes, computed level by level."""
    sha = _sha256
    level = list(leaves)
    while len(level) > 1:
        level = [
            sha(b"\x01" + a + b).digest() for a, b in zip(level[0::2], level[1::2], strict=True)
        ]
    return level[0]


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly below n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (EMPTY_ROOT for none)."""
    if not leaves:
        return EMPTY_ROOT
    return _mth(leaves, 0, len(leaves))


def _mth(leaves: Sequence[bytes], start: int, end: int) -> bytes:
    if end - start == 1:
        return leaves[start]
    k = split_point(end - start)
    return node_hash(_mth(leaves, start, start + k), _mth(leaves, start + k, end))


def memory_subtree(leaves: Sequence[bytes]) -> SubtreeHash:
    """A SubtreeHash over leaf hashes held in memory (tests, exports)."""
    return lambda start, end: _mth(leaves, start, end)


class CompactRange:
    """The running root of a growing tree: one hash per set bit of its size.

    Appending costs one hash amortized, and `root()` folds at most log2(n) hashes, so
    verification recomputes a tree of any size in one pass with constant memory.
    """

    __slots__ = ("size", "_stack")

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        stack = self._stack
        stack.append(leaf)
        size = self.size
        while size & 1:  # merge equal-sized complete subtrees from the right
            right = stack.pop()
            stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
            size >>= 1
        self.size += 1

    def extend(self, leaves: Sequence[bytes]) -> None:
        """append() for many leaves. Runs that fill a whole aligned subtree (size a multiple
        of 2^k, at least 2^k leaves left) are hashed level by level and pushed as one node:
        the same hashes, without the per-leaf loop (verification's hot path)."""
        i, n = 0, len(leaves)
        while i < n:
            size, left = self.size, n - i
            height = (size & -size).bit_length() - 1 if size else left.bit_length() - 1
            while height > 0 and 1 << height > left:
                height -= 1
            if height < 4:
                self.append(leaves[i])
                i += 1
                continue
            self._push(perfect_root(leaves[i : i + (1 << height)]), height)
            i += 1 << height

    def _push(self, node: bytes, height: int) -> None:
        """Append a complete subtree of 2^height leaves; the size must be a multiple of it."""
        stack = self._stack
        stack.append(node)
        units = self.size >> height
        while units & 1:
            right = stack.pop()
            stack[-1] = _sha256(b"\x01" + stack[-1] + right).digest()
            units >>= 1
        self.size += 1 << height

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        stack = self._stack
        acc = stack[-1]
        for h in reversed(stack[:-1]):
            acc = node_hash(h, acc)
        return acc


def inclusion_path(index: int, size: int, mth: SubtreeHash) -> list[bytes]:
    """RFC 9162 PATH(index, D[size]): sibling hashes from the leaf up."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = split_point(end - start)
        if index < start + k:
            path.append(mth(start + k, end))
            end = start + k
        else:
            path.append(mth(start, start + k))
            start += k
    path.reverse()
    return path


def consistency_path(old: int, new: int, mth: SubtreeHash) -> list[bytes]:
    """RFC 9162 PROOF(old, D[new]); empty when old is 0 or equals new."""
    if not 0 <= old <= new:
        raise ProofError(f"no consistency proof from size {old} to size {new}")
    if old == 0 or old == new:
        return []
    path: list[bytes] = []
    start, m, n, complete = 0, old, new, True
    while m != n:
        k = split_point(n)
        if m <= k:
            path.append(mth(start + k, start + n))
            n = k
        else:
            path.append(mth(start, start + k))
            start, m, n, complete = start + k, m - k, n - k, False
    if not complete:
        path.append(mth(start, start + n))
    path.reverse()
    return path


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Iterable[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2: the root an inclusion proof leads to; ProofError if malformed."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise ProofError("the inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("the inclusion proof is too short")
    return r


def verify_inclusion(
    index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes
) -> None:
    if root_from_inclusion(index, size, leaf, path) != root:
        raise ProofError(f"leaf {index} is not included in the tree of size {size} with that root")


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> None:
    """RFC 9162 section 2.1.4.2; ProofError unless the tree of size `new` extends `old`."""
    if not 0 <= old <= new:
        raise ProofError(f"size {new} is smaller than {old}: the log was rolled back")
    if old == new:
        if path or old_root != new_root:
            raise ProofError(f"two different roots for the same size {old}: the log forked")
        return
    if old == 0:
        if path:
            raise ProofError("a consistency proof from the empty tree must be empty")
        return
    if not path:
        raise ProofError("empty consistency proof")
    nodes = list(path)
    if old & (old - 1) == 0:  # old is a power of two: its root is the first node
        nodes.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            raise ProofError("the consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != old_root or sr != new_root:
        raise ProofError(
            f"the tree of size {new} does not extend the tree of size {old}: the log forked"
        )
