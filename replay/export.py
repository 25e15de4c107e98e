"""Export of the event log for auditors, re-verifiable from the file alone.

Each row: position, originator_id, originator_version, type (the topic), timestamp, actor,
correlation_id, data (decoded event fields), state_b64 (the exact stored bytes), leaf_index
and leaf_hash (the event's leaf in the log's Merkle tree, replay/merkle.py), and scope
("all" or "registration:<id>"). The export ends at the tree size of a checkpoint signed for
it (after checking the log still extends the last one signed): a JSON Lines export carries
that checkpoint note as its last line (`{"checkpoint": ...}`), a CSV export beside it in
`<file>.checkpoint`. Kept by an auditor, the export is a copy outside the database:
`syncledger replay verify --against FILE` later names the first position that changed.
"""

from __future__ import annotations

import base64
import csv
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, TextIO
from uuid import UUID

import orjson

from domain.infra.database import Database
from domain.infra.eventlog import DECODER
from replay.csvcells import cell, read_cell
from replay.eventdata import META, decode_state, jsonable
from replay.merkle import CompactRange, leaf_hash
from replay.note import Verifier
from replay.store import StoredEvent, open_store
from replay.treelog import LogConfig
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
    "leaf_index",
    "leaf_hash",
    "scope",
]
SESSION_STARTED = "domain.session:Session.Started"


class ExportError(RuntimeError):
    """The log does not match its own checkpoint: nothing trustworthy to export."""


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
    database: Database,
    registration_id: UUID | None,
    tree_size: int,
    tree: CompactRange,
    progress: Progress | None,
) -> Iterator[dict[str, Any]]:
    """Rows of the first `tree_size` events; every leaf goes into `tree`, shown or not."""
    wanted = {registration_id.hex} if registration_id else set()
    scope = f"registration:{registration_id}" if registration_id else "all"
    with open_store(database) as store:
        total = tree_size
        for page in store.event_pages():
            for event in page:
                if tree.size >= tree_size:
                    return
                position, originator_id, version, topic, state = event
                leaf = leaf_hash(position, originator_id, version, topic, state)
                index = tree.size
                tree.append(leaf)
                if registration_id is not None:
                    if topic == SESSION_STARTED and originator_id not in wanted:
                        started = DECODER.raw_state(topic, state)
                        if started.get("registration_id") == str(registration_id):
                            wanted.add(originator_id)
                    if originator_id not in wanted:
                        continue
                row = describe(event)
                row["state_b64"] = base64.b64encode(state).decode()
                row["leaf_index"] = index
                row["leaf_hash"] = leaf.hex()
                row["scope"] = scope
                yield row
            if progress is not None:
                progress(min(tree.size, total), total)


def _checkpoint_for_export(
    database: Database, config: LogConfig | None
) -> tuple[int, bytes, str | None, str | None]:
    """(tree size, root, signed note or None, why not) for the export to end at."""
    from replay.treelog import ForkRefused, TreeFollower

    follower = TreeFollower(database, config or LogConfig.from_settings())
    try:
        follower.step(force=True)
        latest = follower.latest_note()
    except ForkRefused as e:
        with open_store(database) as store:
            return store.count_events(), b"", None, str(e)
    if latest is None:
        return 0, b"", None, "no checkpoint"
    from replay.note import peek_checkpoint

    cp = peek_checkpoint(latest)
    return cp.tree_size, cp.root_hash, latest, None


def export_events(
    database: Database,
    out_path: str | Path,
    *,
    fmt: str = "jsonl",
    registration_id: UUID | str | None = None,
    progress: Progress | None = None,
    log_config: LogConfig | None = None,
) -> int:
    """Write every event (or one registration's) to `out_path`, up to a freshly signed
    checkpoint; returns the rows written. ExportError if the log does not match it."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError(f"format must be jsonl or csv, not {fmt!r}")
    rid = UUID(str(registration_id)) if registration_id is not None else None
    size, root, note, why_not = _checkpoint_for_export(database, log_config)
    tree = CompactRange()
    count = 0
    # "-": standard output (`syncledger replay export --out - | jq`).
    target: AbstractContextManager[TextIO] = (
        nullcontext(sys.stdout)
        if str(out_path) == "-"
        else open(out_path, "w", newline="", encoding="utf-8")
    )
    with target as out:
        rows = _rows(database, rid, size, tree, progress)
        if fmt == "jsonl":
            for row in rows:
                out.write(orjson.dumps(row).decode())
                out.write("\n")
                count += 1
        else:
            writer = csv.DictWriter(out, fieldnames=COLUMNS)
            writer.writeheader()
            for row in rows:
                data = orjson.dumps(row["data"]).decode()
                writer.writerow({k: cell(v) for k, v in {**row, "data": data}.items()})
                count += 1
        if note is not None and tree.root() != root:
            raise ExportError(
                f"the events no longer match the checkpoint of size {size} the log just signed "
                "from its tiles: run `syncledger replay verify`"
            )
        if note is not None and fmt == "jsonl":
            trailer = {"checkpoint": note, "tree_size": size, "root_hash": root.hex()}
            out.write(orjson.dumps(trailer).decode() + "\n")
    if note is not None and fmt == "csv" and str(out_path) != "-":
        sidecar = Path(out_path).with_name(Path(out_path).name + ".checkpoint")
        sidecar.write_text(note)
    if why_not is not None:
        raise ExportError(f"exported {count} events without a checkpoint: {why_not}")
    return count


def read_export(path: str | Path) -> Iterator[dict[str, Any]]:
    """Rows of an export in either format (detected from the content); not the trailer."""
    with open(path, encoding="utf-8", newline="") as f:
        first = f.read(1)
        f.seek(0)
        if first == "{":
            for line in f:
                if line.strip():
                    row = orjson.loads(line)
                    if "checkpoint" not in row:
                        yield row
            return
        for raw in csv.DictReader(f):
            row = {k: read_cell(v) for k, v in raw.items()}
            row["position"] = int(row["position"])
            row["originator_version"] = int(row["originator_version"])
            row["leaf_index"] = int(row["leaf_index"])
            row["data"] = orjson.loads(row["data"])
            for key in ("timestamp", "actor", "correlation_id"):
                row[key] = row[key] or None
            yield row


def read_export_checkpoint(path: str | Path) -> str | None:
    """The checkpoint note an export carries (JSON Lines trailer, or the CSV's sidecar)."""
    path = Path(path)
    sidecar = path.with_name(path.name + ".checkpoint")
    if sidecar.exists():
        return sidecar.read_text()
    with open(path, "rb") as f:
        try:
            f.seek(-65536, 2)
        except OSError:
            f.seek(0)
        lines = f.read().splitlines()
    for line in reversed(lines):
        if line.startswith(b'{"checkpoint"'):
            return str(orjson.loads(line)["checkpoint"])
        if line.strip():
            break
    return None


def verify_export(
    path: str | Path, *, digest: str | None = None, verifiers: list[Verifier] | None = None
) -> VerifyReport:
    """Check an export on its own: each row against its leaf hash, the rows against the
    export's checkpoint (full exports), the readable fields against the stored bytes."""
    from replay.verify import _default_verifiers
    from replay.verify_refs import ExportLeaves, parse_digest, row_leaf

    expected = parse_digest(digest) if digest else None
    keys = verifiers if verifiers is not None else _default_verifiers()
    loaded = ExportLeaves.load(Path(path), keys)
    problems = list(loaded.problems)
    first_bad: int | None = None
    undecodable: list[int] = []
    tree = CompactRange()
    last = 0
    digest_root: bytes | None = None
    for row in read_export(path):
        try:
            position, leaf = row_leaf(row)
        except ValueError:
            problems.append(f"row {row.get('position')!r}: unreadable")
            continue
        if loaded.full:
            tree.append(leaf)
        state = base64.b64decode(row["state_b64"])
        originator_id = UUID(str(row["originator_id"])).hex
        readable = describe(
            (position, originator_id, int(row["originator_version"]), row["type"], state)
        )
        if readable["timestamp"] is None:
            undecodable.append(position)
        elif any(readable[k] != row.get(k) for k in readable):
            problems.append(
                f"position {position}: the readable fields differ from the stored bytes"
            )
            first_bad = position if first_bad is None else first_bad
        if leaf.hex() != row.get("leaf_hash"):
            first_bad = position if first_bad is None else first_bad
        if expected is not None and position == expected[1] and loaded.full:
            digest_root = tree.root()
        last = position
    if expected is not None and (digest_root is None or digest_root.hex() != expected[0]):
        problems.append(f"position {expected[1]}: the root differs from the digest given")
        first_bad = expected[1] if first_bad is None else first_bad
    return VerifyReport(
        ok=not problems and not undecodable,
        checked=len(loaded.leaves),
        head={"position": last, "digest": tree.root().hex(), "tree_size": tree.size},
        first_bad_position=first_bad,
        problems=problems + [f"position {p}: the event cannot be decoded" for p in undecodable],
        undecodable=undecodable,
        checks=loaded.checks,
    )
