"""The tree follower's tiles and the proofs served from them, on both backends."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from log_fixtures import add_events, config

from domain import Database
from replay.merkle import (
    ProofError,
    consistency_path,
    inclusion_path,
    leaf_hash,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from replay.note import open_checkpoint
from replay.proofs import ProofRequestError, prove_consistency, prove_inclusion
from replay.store import open_store
from replay.tiles import open_tiles
from replay.treelog import ForkRefused, TreeFollower


def _leaves(database: Database) -> tuple[list[int], list[bytes]]:
    positions, leaves = [], []
    with open_store(database) as store:
        for page in store.event_pages():
            for event in page:
                positions.append(event[0])
                leaves.append(leaf_hash(*event))
    return positions, leaves


def test_tiles_grow_with_the_log_and_serve_correct_proofs(
    database: Database, tmp_path: Path
) -> None:
    follower = TreeFollower(database, config(tmp_path), page_size=300)
    rng = random.Random(3)
    total = 0
    # Sizes that cross tile boundaries at both tile levels (256 and 65,536 leaves); gaps in
    # the positions (PostgreSQL sequences skip numbers) on one run. The second tile level is
    # backend-independent: crossed on SQLite only, where writing 65,000 rows is quick.
    big = 65_000 if database.kind == "sqlite" else 2_000
    for count, gaps in ((1, 0), (255, 0), (1, 7), (700, 0), (big, 0), (1_200, 13)):
        add_events(database, count, start=total, gap_every=gaps)
        total += count
        assert follower.advance() == total
        positions, leaves = _leaves(database)
        with open_tiles(database) as tiles:
            assert tiles.stored_size() == total
            assert tiles.subtree(0, total) == root_of(leaves)
            for _ in range(6):
                m = rng.randrange(total)
                n = rng.randint(m + 1, total)
                root_n = tiles.subtree(0, n)
                verify_inclusion(m, n, leaves[m], inclusion_path(m, n, tiles.subtree), root_n)
                assert tiles.leaf_index(positions[m]) == m
                old = rng.randint(0, n)
                path = consistency_path(old, n, tiles.subtree)
                verify_consistency(old, n, tiles.subtree(0, old), root_n, path)
            assert tiles.leaf_index(positions[-1] + 1) is None
    # A fresh follower (another process, a restart) continues from the stored tiles.
    add_events(database, 3, start=total)
    assert TreeFollower(database, config(tmp_path)).advance() == total + 3


def test_proof_endpoints_logic_and_bad_requests(database: Database, tmp_path: Path) -> None:
    add_events(database, 40)
    follower = TreeFollower(database, config(tmp_path))
    follower.step(force=True)
    note = follower.latest_note()
    assert note is not None
    cp, _ = open_checkpoint(note, [config(tmp_path).signer().verifier])
    assert cp.tree_size == 40
    proof = prove_inclusion(database, 17)
    assert proof["tree_size"] == 40 and proof["leaf_index"] == 16
    verify_inclusion(
        16,
        40,
        bytes.fromhex(proof["leaf_hash"]),
        [bytes.fromhex(h) for h in proof["audit_path"]],
        cp.root_hash,
    )
    c = prove_consistency(database, 10, 40)
    verify_consistency(
        10, 40, bytes.fromhex(c["from_root"]), cp.root_hash, [bytes.fromhex(h) for h in c["path"]]
    )
    with pytest.raises(ProofRequestError) as e:
        prove_inclusion(database, 999)
    assert e.value.status == 404
    with pytest.raises(ProofRequestError) as e:
        prove_inclusion(database, 30, 20)
    assert e.value.status == 422
    with pytest.raises(ProofRequestError) as e:
        prove_inclusion(database, 3, 41)
    assert e.value.status == 404
    with pytest.raises(ProofRequestError) as e:
        prove_consistency(database, 41, 40)
    assert e.value.status == 422


def test_follower_refuses_to_sign_a_forged_log_rebuilt_from_emptied_tiles(
    database: Database, tmp_path: Path
) -> None:
    """The attack on the old chain: forge an event, empty the helper table while serve
    runs; the follower re-hashes the forged log — and must not bless it."""
    import replay_tamper as tamper

    add_events(database, 50)
    follower = TreeFollower(database, config(tmp_path))
    follower.step(force=True)
    tamper.modify(database, 20)
    with open_tiles(database) as tiles, tiles.transaction():
        tiles.clear_tiles()
    add_events(database, 5, start=50)
    with pytest.raises(ForkRefused, match="no longer extends"):
        follower.step(force=True)
    # A restarted follower reads the last checkpoint from the directory outside the
    # database, and refuses too — even when the database's checkpoints are deleted.
    with open_tiles(database) as tiles, tiles.transaction():
        tiles.conn.execute("DELETE FROM log_checkpoints")
    with pytest.raises(ForkRefused):
        TreeFollower(database, config(tmp_path)).step(force=True)
    # Truncation below the signed size is refused as well.
    with pytest.raises(ProofError):
        verify_consistency(55, 50, b"x" * 32, b"y" * 32, [])
