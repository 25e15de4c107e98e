"""Large event payloads are stored zstd-compressed (issue 16, storage); small ones and every
event stored before stay plain JSON, and all of them decode through every path."""

from __future__ import annotations

import hashlib
from pathlib import Path
from uuid import UUID

import orjson

from domain import Context, Ledger
from domain.infra.compressor import MIN_COMPRESSED, compress, decompress, is_compressed
from domain.infra.database import Database
from domain.infra.eventlog import DECODER, EventLog, event_type, upcast
from domain.values import session_aggregate_id
from projections import ReadModels
from replay.merkle import leaf_hash
from replay.treelog import LogConfig, TreeFollower
from replay.verify import verify_log
from tests.domain.test_event_versions import _stored

CTX = Context("alice", "c")


def _records(n: int) -> list[list[str]]:
    return [
        ["Client List", f"rec-{i:06d}", hashlib.sha256(str(i).encode()).hexdigest()]
        for i in range(n)
    ]


def test_plain_and_compressed_bytes_round_trip() -> None:
    small = orjson.dumps({"timestamp": "t", "message": "x"})
    assert compress(small) == small and decompress(small) == small
    big = orjson.dumps({"records": _records(200)})
    packed = compress(big)
    assert is_compressed(packed) and len(packed) < len(big) / 2
    assert decompress(packed) == big
    # Incompressible bytes above the threshold are kept as they are.
    noise = b"{" + hashlib.sha512(b"x").digest() * (MIN_COMPRESSED // 32)
    assert decompress(compress(noise)) == noise


def test_events_stored_before_compression_decode_unchanged() -> None:
    """The v1 fixture: stored bytes are plain JSON, read as they are through the compressor."""
    for stored in _stored():
        state = stored[4]
        assert not is_compressed(state) and decompress(state) == state
        # (upcast: Registration.ResetUndone is at class version 2 since)
        assert DECODER.raw_state(stored[3], state) == upcast(stored[3], orjson.loads(state))


def test_large_batches_are_stored_compressed_and_read_everywhere(
    database: Database, tmp_path: Path
) -> None:
    ledger = Ledger(database=database)
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    sid = ledger.start_session(CTX, rid, sync_type="full").session_id
    batch = _records(500)
    ledger.record_batch(CTX, rid, sid, batch)
    ledger.record_batch(CTX, rid, sid, [["T", "one", "d"]])
    ledger.complete_session(CTX, rid, sid)
    head = ledger.current_position()
    with EventLog.open(database) as log:
        rows = [e for page in log.pages() for e in page]
    synced = [r for r in rows if event_type(r[3]) == "Session.RecordsSynced"]
    big, small = synced
    assert is_compressed(big[4]) and len(big[4]) < len(orjson.dumps(batch)) / 2
    assert all(not is_compressed(r[4]) for r in rows if r is not big)
    # Every decoding path: the fast path, the typed state, the domain event, the aggregate.
    assert DECODER.raw_state(big[3], big[4])["records"] == batch
    assert DECODER.state(big[3], big[4])["records"] == batch
    assert DECODER.domain_event(big).records == batch  # type: ignore[attr-defined]
    ledger.close()
    fresh = Ledger(database=database)
    session = fresh.repository.get(session_aggregate_id(rid, sid))
    assert session.records_synced == 501
    assert fresh.session_records(rid, sid)[:500] == [tuple(r) for r in batch]
    fresh.close()
    # The read models see every record.
    models = ReadModels(database)
    try:
        models.run_once()
        page = models.session_records(UUID(str(rid)), sid, limit=1000, cursor=None)
        assert len(page.items) == 501
    finally:
        models.close()
    # The Merkle leaf covers the bytes as stored; the log verifies.
    assert leaf_hash(*big) != leaf_hash(big[0], big[1], big[2], big[3], decompress(big[4]))
    log_config = LogConfig(signing_key=tmp_path / "k", checkpoint_dir=tmp_path / "cps")
    follower = TreeFollower(database, log_config)
    follower.step(force=True)
    note = follower.latest_note()
    assert note is not None
    report = verify_log(database, checkpoint_note=note, verifiers=[log_config.signer().verifier])
    assert report.ok and report.checked == head, report.problems
