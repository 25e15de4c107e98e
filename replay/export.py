"""Export of the event log for auditors, re-verifiable from the file alone.

Each row: position, originator_id, originator_version, type (the topic), timestamp, actor,
correlation_id, data (decoded event fields), state_b64 (the exact stored bytes), prev_digest
and chain_digest (the chain links of replay/chain.py), and scope ("all" or
"registration:<id>"). From a full export the whole chain can be recomputed from genesis; a
per-registration export is checked link by link (each row's chain_digest from its own
prev_digest and bytes), and its last digest can be compared with the live chain's head at
that position.
"""

from __future__ import annotations

import base64
import csv
import hashlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import orjson

from domain.infra.database import Database
from domain.infra.eventlog import DECODER
from replay.chain import GENESIS, canonical_bytes, parse_digest
from replay.eventdata import META, decode_state, jsonable
from replay.store import StoredEvent, open_store
from replay.verify import VerifyReport

Progress = Callable[[int, int], None]
COLUMNS = [
    "position",
    "originator_id",
    "originator_version",
    "type",
    "timestamp",
    "actor",
    "correlation_id",
    "data",
    "state_b64",
    "prev_digest",
    "chain_digest",
    "scope",
]
SESSION_STARTED = "domain.session:Session.Started"


def describe(event: StoredEvent) -> dict[str, Any]:
    """The readable part of a row (None values where the state does not decode)."""
    position, originator_id, version, topic, state = event
    row: dict[str, Any] = {
        "position": position,
        "originator_id": str(UUID(hex=originator_id)),
        "originator_version": version,
        "type": topic,
        "timestamp": None,
        "actor": None,
        "correlation_id": None,
        "data": None,
    }
    try:
        decoded = decode_state(state, topic)
    except Exception:
        return row
    row["timestamp"] = jsonable(decoded.get("timestamp"))
    row["actor"] = decoded.get("actor")
    row["correlation_id"] = decoded.get("correlation_id")
    row["data"] = jsonable({k: v for k, v in decoded.items() if k not in META})
    return row


def _rows(
    database: Database, registration_id: UUID | None, progress: Progress | None
) -> Iterator[dict[str, Any]]:
    wanted = {registration_id.hex} if registration_id else set()
    scope = f"registration:{registration_id}" if registration_id else "all"
    prev = bytes.fromhex(GENESIS)
    with open_store(database) as store:
        total = store.count_events()
        done = 0
        for page in store.event_pages():
            for event in page:
                position, originator_id, version, topic, state = event
                prev_hex = prev.hex()
                prev = hashlib.sha256(
                    prev + canonical_bytes(position, originator_id, version, topic, state)
                ).digest()
                if registration_id is not None:
                    if topic == SESSION_STARTED and originator_id not in wanted:
                        started = DECODER.raw_state(topic, state)
                        if started.get("registration_id") == str(registration_id):
                            wanted.add(originator_id)
                    if originator_id not in wanted:
                        continue
                row = describe(event)
                row["state_b64"] = base64.b64encode(state).decode()
                row["prev_digest"] = prev_hex
                row["chain_digest"] = prev.hex()
                row["scope"] = scope
                yield row
            done += len(page)
            if progress is not None:
                progress(done, total)


def export_events(
    database: Database,
    out_path: str | Path,
    *,
    fmt: str = "jsonl",
    registration_id: UUID | str | None = None,
    progress: Progress | None = None,
) -> int:
    """Write every event (or one registration's) to `out_path`; returns the rows written."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"format must be jsonl or csv, not {fmt!r}")
    rid = UUID(str(registration_id)) if registration_id is not None else None
    count = 0
    with open(out_path, "w", newline="", encoding="utf-8") as out:
        rows = _rows(database, rid, progress)
        if fmt == "jsonl":
            for row in rows:
                out.write(orjson.dumps(row).decode())
                out.write("\n")
                count += 1
        else:
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "data": orjson.dumps(row["data"]).decode()})
                count += 1
    return count


def read_export(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of an export in either format (detected from the content)."""
    with open(path, encoding="utf-8", newline="") as f:
        first = f.read(1)
        f.seek(0)
        if first == "{":
            for line in f:
                if line.strip():
                    yield orjson.loads(line)
            return
        for raw in csv.DictReader(f):
            row: dict[str, Any] = dict(raw)
            row["position"] = int(row["position"])
            row["originator_version"] = int(row["originator_version"])
            row["data"] = orjson.loads(row["data"])
            for key in ("timestamp", "actor", "correlation_id"):
                row[key] = row[key] or None
            yield row


def verify_export(path: str | Path, *, digest: str | None = None) -> VerifyReport:
    """Recompute the chain from an export alone (see the module docstring)."""
    expected = parse_digest(digest) if digest else None
    problems: list[str] = []
    first_bad: int | None = None
    undecodable: list[int] = []
    checked = 0
    last = (0, GENESIS)
    previous_position = 0
    digest_seen = False

    def bad(position: int, problem: str) -> None:
        nonlocal first_bad
        if first_bad is None:
            first_bad = position
            problems.append(problem)

    for row in read_export(path):
        position = int(row["position"])
        checked += 1
        try:
            state = base64.b64decode(row["state_b64"], validate=True)
            originator_id = UUID(str(row["originator_id"])).hex
        except ValueError:
            bad(position, f"position {position}: unreadable row")
            continue
        if position <= previous_position:
            bad(position, f"position {position}: out of order")
        if row.get("scope", "all") == "all" and row["prev_digest"] != last[1]:
            bad(
                position,
                f"position {position}: does not follow the previous row in the chain "
                "(a row before it was removed, moved or changed)",
            )
        link = hashlib.sha256(
            bytes.fromhex(row["prev_digest"])
            + canonical_bytes(
                position, originator_id, int(row["originator_version"]), row["type"], state
            )
        ).hexdigest()
        if link != row["chain_digest"]:
            bad(position, f"position {position}: the row does not match its chain digest")
        readable = describe(
            (position, originator_id, int(row["originator_version"]), row["type"], state)
        )
        if readable["timestamp"] is None:
            undecodable.append(position)
        elif any(readable[k] != row.get(k) for k in readable):
            bad(position, f"position {position}: the readable fields differ from the stored bytes")
        if expected is not None and position == expected[1]:
            digest_seen = True
            if link != expected[0]:
                bad(position, f"position {position}: digest differs from the one given")
        last = (position, link)
        previous_position = position
    if expected is not None and not digest_seen:
        bad(expected[1], f"position {expected[1]}: not in the export")
    return VerifyReport(
        ok=first_bad is None and not undecodable,
        checked=checked,
        head={"position": last[0], "digest": last[1]},
        first_bad_position=first_bad,
        problems=problems + [f"position {p}: the event cannot be decoded" for p in undecodable],
        undecodable=undecodable,
    )
