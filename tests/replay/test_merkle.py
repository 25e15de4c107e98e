"""The tree and its proofs, cross-checked against an independent implementation (pymerkle,
which follows RFC 9162's hashing with 0x00/0x01 prefixes) for every size up to 300 and
random larger ones."""

from __future__ import annotations

import hashlib
import random

import pytest
from pymerkle import InmemoryTree

from replay.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    consistency_path,
    inclusion_path,
    leaf_data,
    leaf_hash,
    leaf_hashes,
    memory_subtree,
    root_of,
    verify_consistency,
    verify_inclusion,
)

SMALL = 300


def _tree(n: int) -> tuple[InmemoryTree, list[bytes]]:
    reference = InmemoryTree(algorithm="sha256")
    leaves = []
    for i in range(n):
        data = leaf_data(i + 1, f"{i:032x}", 1, "topic", f"state {i}".encode())
        reference.append_entry(data)
        leaves.append(hashlib.sha256(b"\x00" + data).digest())
    return reference, leaves


@pytest.fixture(scope="module")
def small() -> tuple[InmemoryTree, list[bytes]]:
    return _tree(SMALL)


def _rfc_consistency(leaves: list[bytes], old: int, new: int) -> list[bytes]:
    """PROOF(m, D[n]) written recursively, straight from RFC 9162 section 2.1.4.1 (pymerkle
    builds a different, also valid, consistency path, so its roots are the cross-check)."""

    def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
        n = len(d)
        if m == n:
            return [] if b else [root_of(d)]
        k = 1 << ((n - 1).bit_length() - 1)
        if m <= k:
            return subproof(m, d[:k], b) + [root_of(d[k:])]
        return subproof(m - k, d[k:], False) + [root_of(d[:k])]

    return subproof(old, leaves[:new], True)


def test_leaf_hash_covers_every_field() -> None:
    base = leaf_hash(7, "ab" * 16, 3, "domain.x:Y", b"{}")
    assert (
        base == hashlib.sha256(b"\x00" + leaf_data(7, "ab" * 16, 3, "domain.x:Y", b"{}")).digest()
    )
    for other in (
        leaf_hash(8, "ab" * 16, 3, "domain.x:Y", b"{}"),
        leaf_hash(7, "ac" * 16, 3, "domain.x:Y", b"{}"),
        leaf_hash(7, "ab" * 16, 4, "domain.x:Y", b"{}"),
        leaf_hash(7, "ab" * 16, 3, "domain.x:Z", b"{}"),
        leaf_hash(7, "ab" * 16, 3, "domain.x:Y", b"{ }"),
        # Length prefixes: moving a byte from one field to the next changes the leaf.
        leaf_hash(7, "ab" * 16, 3, "domain.x:Y{", b"}"),
    ):
        assert other != base


def test_roots_match_for_every_size(small: tuple[InmemoryTree, list[bytes]]) -> None:
    reference, leaves = small
    assert root_of([]) == EMPTY_ROOT == CompactRange().root()
    running = CompactRange()
    for n in range(1, SMALL + 1):
        running.append(leaves[n - 1])
        expected = reference.get_root(n)
        assert root_of(leaves[:n]) == expected, n
        assert running.root() == expected, n


def test_inclusion_proofs_match_for_every_size_and_index(
    small: tuple[InmemoryTree, list[bytes]],
) -> None:
    reference, leaves = small
    rng = random.Random(1)
    for n in range(1, SMALL + 1):
        mth = memory_subtree(leaves[:n])
        root = reference.get_root(n)
        indexes = range(n) if n <= 64 else rng.sample(range(n), 8) + [0, n - 1]
        for m in indexes:
            path = inclusion_path(m, n, mth)
            assert path == list(reference.prove_inclusion(m + 1, n).path[1:]), (m, n)
            verify_inclusion(m, n, leaves[m], path, root)


def test_consistency_proofs_match_for_every_size(small: tuple[InmemoryTree, list[bytes]]) -> None:
    reference, leaves = small
    rng = random.Random(2)
    for n in range(1, SMALL + 1):
        mth = memory_subtree(leaves[:n])
        new_root = reference.get_root(n)
        olds = range(1, n + 1) if n <= 64 else rng.sample(range(1, n + 1), 8) + [1, n]
        for m in olds:
            path = consistency_path(m, n, mth)
            assert path == _rfc_consistency(leaves, m, n), (m, n)
            verify_consistency(m, n, reference.get_root(m), new_root, path)


@pytest.mark.parametrize("seed", range(4))
def test_random_larger_trees(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1_000, 5_000)
    reference, leaves = _tree(n)
    mth = memory_subtree(leaves)
    root = reference.get_root(n)
    assert root_of(leaves) == root
    for _ in range(10):
        m = rng.randrange(n)
        path = inclusion_path(m, n, mth)
        assert path == list(reference.prove_inclusion(m + 1, n).path[1:])
        verify_inclusion(m, n, leaves[m], path, root)
        old = rng.randint(1, n)
        cpath = consistency_path(old, n, mth)
        assert cpath == _rfc_consistency(leaves, old, n)
        verify_consistency(old, n, reference.get_root(old), root, cpath)


def test_wrong_proofs_fail(small: tuple[InmemoryTree, list[bytes]]) -> None:
    _, leaves = small
    n = 77
    mth = memory_subtree(leaves[:n])
    root = root_of(leaves[:n])
    path = inclusion_path(10, n, mth)
    with pytest.raises(ProofError):
        verify_inclusion(11, n, leaves[10], path, root)  # wrong index
    with pytest.raises(ProofError):
        verify_inclusion(10, n, leaves[11], path, root)  # wrong leaf
    with pytest.raises(ProofError):
        verify_inclusion(10, n, leaves[10], path[:-1], root)  # truncated
    with pytest.raises(ProofError):
        verify_inclusion(10, n, leaves[10], [*path, path[0]], root)  # too long
    with pytest.raises(ProofError):
        verify_inclusion(10, 200, leaves[10], path, root)  # a size of another shape
    with pytest.raises(ProofError):
        verify_inclusion(n, n, leaves[10], path, root)  # index outside the tree
    cpath = consistency_path(30, n, mth)
    old_root = root_of(leaves[:30])
    with pytest.raises(ProofError):
        verify_consistency(30, n, root_of(leaves[:29]), root, cpath)  # another old tree
    with pytest.raises(ProofError):
        verify_consistency(30, n, old_root, root_of(leaves[:76]), cpath)  # another new tree
    with pytest.raises(ProofError):
        verify_consistency(30, n, old_root, root, cpath[1:])
    with pytest.raises(ProofError):
        verify_consistency(n, 30, root, old_root, cpath)  # rollback
    with pytest.raises(ProofError):
        verify_consistency(30, 30, old_root, root, [])  # fork at equal size
    verify_consistency(0, n, EMPTY_ROOT, root, [])
    with pytest.raises(ProofError):
        inclusion_path(5, 5, mth)
    with pytest.raises(ProofError):
        consistency_path(6, 5, mth)


def test_batch_leaf_hashes_equal_leaf_hash() -> None:
    """verification's batch hashing (replay.merkle.leaf_hashes) hashes exactly leaf_data."""
    rng = random.Random(7)
    ids = ["ab" * 16, "", "é" * 40, "x" * 300, "0" * 32]
    topics = ["domain.session:Session.RecordsSynced", "", "ü" * 200, "t" * 300]
    events = [
        (
            rng.randint(1, 2**63 - 1),
            rng.choice(ids),
            rng.randint(-1, 2**63 - 1),
            rng.choice(topics),
            rng.randbytes(rng.choice([0, 1, 255, 256, 70_000])),
        )
        for _ in range(500)
    ]
    assert leaf_hashes(events) == [hashlib.sha256(b"\x00" + leaf_data(*e)).digest() for e in events]


@pytest.mark.parametrize("seed", range(3))
def test_extend_in_runs_matches_pymerkle(seed: int) -> None:
    """CompactRange.extend hashes aligned runs level by level: any way of cutting the leaves
    into runs gives pymerkle's root at every cut."""
    rng = random.Random(seed)
    n = rng.randint(3_000, 9_000)
    reference, leaves = _tree(n)
    tree = CompactRange()
    while tree.size < n:
        run = rng.choice([1, 2, 3, 16, 17, 100, 1024, 4096, 5000])
        tree.extend(leaves[tree.size : tree.size + run])
        assert tree.root() == reference.get_root(tree.size), tree.size
