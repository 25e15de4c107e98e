"""The one event-log reader (issue 10): rows, paging, aggregates, decoding, on both backends,
and no other module reads the event table itself."""

from __future__ import annotations

import re
from pathlib import Path
from uuid import UUID

import orjson

from domain import Context, Ledger
from domain.infra.database import Database
from domain.infra.eventlog import DECODER, EventLog, event_type
from domain.values import session_aggregate_id
from tests.domain.ledger_testkit import all_events

CTX = Context("alice", "c")
ROOT = Path(__file__).resolve().parents[2]


def _history(ledger: Ledger) -> tuple[UUID, str]:
    rid = ledger.register(CTX, product="p", file_id="f").registration_id
    other = ledger.register(CTX, product="p", file_id="g").registration_id
    sid = ledger.start_session(CTX, rid, sync_type="time").session_id
    ledger.start_session(CTX, other, sync_type="time")
    ledger.record_batch(CTX, rid, sid, [["Client List", "k1", "d1"], ["Client List", "k2", "d2"]])
    ledger.complete_session(CTX, rid, sid)
    return rid, sid


def test_reader_matches_the_application(database: Database) -> None:
    ledger = Ledger(database=database)
    with EventLog.open(database) as log:
        assert log.max_position() == 0 and list(log.pages()) == []
    rid, sid = _history(ledger)
    expected = list(all_events(ledger))
    with EventLog.open(database) as log:
        rows = [e for page in log.pages(page_size=2) for e in page]
        assert [r[0] for r in rows] == [p for p, _ in expected]
        assert log.max_position() == expected[-1][0] == log.count()
        assert log.after(rows[1][0], 2) == rows[2:4]
        assert log.at(rows[3][0]) == rows[3]
        assert [e for page in log.pages(rows[2][0], rows[4][0]) for e in page] == rows[2:5]
        session = session_aggregate_id(rid, sid)
        mine = log.of_aggregates([rid, session])
        assert {r[1] for r in mine} == {rid.hex, session.hex}
        assert log.of_aggregates([rid, session], after=mine[0][0], limit=2) == mine[1:3]
    for row, (_, event) in zip(rows, expected, strict=True):
        decoded = DECODER.domain_event(row)
        assert type(decoded) is type(event) and decoded.__dict__ == event.__dict__
        assert event_type(row[3]) == type(event).__qualname__
        state = DECODER.state(row[3], row[4])
        assert state["timestamp"] == event.timestamp
        raw = DECODER.raw_state(row[3], row[4])
        assert raw == orjson.loads(row[4])  # nothing escaped, nothing to upcast today
    ledger.close()


# Source files that may name the event table: the reader itself. Everything else reads
# through it (tamper tests through `eventlog.forge`).
ALLOWED = {"domain/infra/eventlog.py", "benchmarks/bench_replay.py"}
NAMES = r"(stored_events|syncledger_events)\b"
# The table named in a string ("stored_events") or after an SQL keyword; not a variable.
TABLE = re.compile(
    rf"([\"'](\w+\.)?{NAMES}[\"'])|((FROM|INTO|UPDATE|JOIN|TABLE)\s+[\"\w.{{}}]*?{NAMES})",
    re.IGNORECASE,
)


def test_no_other_module_reads_the_event_table() -> None:
    offenders = []
    for folder in ("domain", "projections", "api", "replay", "tests", "benchmarks"):
        for path in (ROOT / folder).rglob("*.py"):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ALLOWED or rel == "tests/domain/test_eventlog.py":
                continue
            if TABLE.search(path.read_text(encoding="utf-8")):
                offenders.append(rel)
    assert offenders == []
