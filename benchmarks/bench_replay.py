"""Replay benchmarks: the verifiable log (issue 12), beside the raw hashing rate of the same run.

- raw SHA-256 over the same events' leaf bytes (the floor any tree code pays) — the baseline;
- tree follow: hashing new events into the stored tiles and signing a checkpoint (events/s);
- full verification: re-read, re-hash, re-decode every event, compare with a signed
  checkpoint (events/s; target >= 200,000);
- proofs: inclusion and consistency latency (median / p99 ms) as the tree grows — real
  events up to the run's size, and the stored tiles alone (synthesised leaves) at the
  largest size (10,000,000 with --full): the proof work is in the tiles, the event itself is
  one primary-key read more (measured at the real sizes); target <= 5 ms;
- HTTP ingest with the tree follower on and off (same rows, alternating runs, median): the
  cost of keeping the tree while ingesting (target <= 10 %).
Quick defaults are smaller; --full runs the target sizes. Printed, not asserted.
`python -m benchmarks.bench_replay [--full] [--events N] [--proof-leaves N]`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.common import Result, make_records, percentile
from domain import Database, Ledger
from replay.merkle import leaf_data
from replay.proofs import (
    consistency_from_tiles,
    inclusion_from_tiles,
    prove_consistency,
    prove_inclusion,
)
from replay.tiles import TileStore, open_tiles
from replay.treelog import LogConfig, TreeFollower, _Frontier
from replay.verify import verify_log
from replay.verify_scan import default_workers

TINY = {"events": 5_000, "proof_leaves": 70_000, "http_records": 4_000, "rounds": 1}
VERIFY_TARGET = 200_000
PROOF_TARGET_MS = 5.0
INGEST_COST_TARGET = 0.10


def _synthetic_log(path: Path, events: int) -> None:
    """A log of realistic RecordsSynced events (10 records each), written with plain SQL."""
    Ledger(database=Database.from_url(f"sqlite:///{path}")).close()  # creates the tables
    conn = sqlite3.connect(path, isolation_level=None)
    rows = []
    for i in range(events):
        aggregate = f"{i // 1000:032x}"
        state = orjson.dumps(
            {
                "timestamp": {
                    "_type_": "datetime_iso",
                    "_data_": "2024-08-05T09:30:00.000001+00:00",
                },
                "actor": "bench",
                "correlation_id": "c",
                "batch_id": f"b{i}",
                "records": [["Client List", f"k{i}-{j}", f"{j:064x}"] for j in range(10)],
                "duplicates": 0,
            }
        )
        rows.append((aggregate, i % 1000 + 1, "domain.session:Session.RecordsSynced", state))
        if len(rows) == 10_000 or i == events - 1:
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO stored_events VALUES (?, ?, ?, ?)", rows)
            conn.execute("COMMIT")
            rows = []
    conn.close()


def _raw_hash_rate(path: Path) -> float:
    """SHA-256 of every event's leaf bytes, the events already in memory: the floor."""
    conn = sqlite3.connect(path)
    rows = conn.execute(
        "SELECT rowid, originator_id, originator_version, topic, state FROM stored_events"
    ).fetchall()
    conn.close()
    data = [leaf_data(p, str(o), v, t, bytes(s)) for p, o, v, t, s in rows]
    sha = hashlib.sha256
    started = time.perf_counter()
    for d in data:
        sha(b"\x00" + d).digest()
    return len(data) / (time.perf_counter() - started)


def _latencies(fn: object, samples: int) -> tuple[float, float]:
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), percentile(times, 99)


def bench_log(events: int) -> list[Result]:
    out: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "verify.db"
        _synthetic_log(path, events)
        database = Database.from_url(f"sqlite:///{path}")
        raw = _raw_hash_rate(path)
        out.append(
            Result("replay", f"raw SHA-256 of leaf bytes ({events:,} events)", raw, "events/s")
        )
        config = LogConfig(signing_key=Path(tmp) / "signing.key")
        started = time.perf_counter()
        TreeFollower(database, config).step(force=True)
        follow = events / (time.perf_counter() - started)
        out.append(
            Result(
                "replay",
                f"tree follow + sign ({events:,} events)",
                follow,
                "events/s",
                "raw SHA-256 of leaf bytes",
                raw,
            )
        )
        started = time.perf_counter()
        report = verify_log(
            database, verifiers=[config.signer().verifier], workers=default_workers()
        )
        verify = report.checked / (time.perf_counter() - started)
        assert report.ok and report.checkpoint, report.problems
        out.append(
            Result(
                "replay",
                f"full verification vs checkpoint ({events:,} events, "
                f"{default_workers()} processes)",
                verify,
                "events/s",
                "raw SHA-256 of leaf bytes",
                raw,
                target=f">= {VERIFY_TARGET:,}",
                met=verify >= VERIFY_TARGET,
            )
        )
        rng = random.Random(1)
        for size in sorted({min(events, s) for s in (1_000, 10_000, 100_000, 1_000_000, events)}):
            inc = _latencies(
                lambda size=size: prove_inclusion(database, rng.randint(1, size), size), 200
            )
            con = _latencies(
                lambda size=size: prove_consistency(database, rng.randint(1, size), size), 200
            )
            out += _proof_rows(f"{size:,} events", inc, con)
    return out


def _proof_rows(label: str, inc: tuple[float, float], con: tuple[float, float]) -> list[Result]:
    rows = []
    for kind, (p50, p99) in (("inclusion", inc), ("consistency", con)):
        rows.append(Result("replay", f"{kind} proof p50 at {label}", p50, "ms"))
        rows.append(
            Result(
                "replay",
                f"{kind} proof p99 at {label}",
                p99,
                "ms",
                target=f"<= {PROOF_TARGET_MS:g}",
                met=p99 <= PROOF_TARGET_MS,
            )
        )
    return rows


def bench_tiles(leaves: int) -> list[Result]:
    """Proof latency from the stored tiles alone, at a size too big to hold as events here."""
    with tempfile.TemporaryDirectory() as tmp:
        database = Database.from_url(f"sqlite:///{Path(tmp) / 'tiles.db'}")
        tiles = TileStore(database)
        frontier = _Frontier()
        sha = hashlib.sha256
        started = time.perf_counter()
        for i in range(leaves):
            frontier.append(i + 1, sha(i.to_bytes(8, "big")).digest())
            if i % 100_000 == 99_999 or i == leaves - 1:
                rows = frontier.rows()
                with tiles.transaction():
                    tiles.put_tiles(rows)
        build = leaves / (time.perf_counter() - started)
        rng = random.Random(2)
        out = [Result("replay", f"tiles built from {leaves:,} leaf hashes", build, "leaves/s")]
        tiles.close()

        # What the proof endpoints do (replay/proofs.py), minus reading the one event.
        def inclusion() -> None:
            with open_tiles(database) as store:
                m = rng.randrange(leaves)
                index = store.leaf_index(m + 1)
                assert index == m
                inclusion_from_tiles(store, m, leaves)

        def consistency() -> None:
            with open_tiles(database) as store:
                consistency_from_tiles(store, rng.randint(1, leaves), leaves)

        out += _proof_rows(
            f"{leaves:,} leaves (tiles only)",
            _latencies(inclusion, 200),
            _latencies(consistency, 200),
        )
    return out


def bench_ingest_cost(records: int, rounds: int) -> list[Result]:
    """HTTP ingest (records/s, one client, 1,000-record batches, until the receipts read back)
    with the tree follower and without (SYNCLEDGER_BENCH_WITHOUT_TREE=1), alternating."""
    from benchmarks.bench_http import ingest_rate, serve

    rows = make_records(records, "tree")
    rates: dict[bool, list[float]] = {True: [], False: []}
    for n in range(rounds):
        for with_tree in (False, True):
            with tempfile.TemporaryDirectory() as tmp:
                os.environ["SYNCLEDGER_BENCH_WITHOUT_TREE"] = "" if with_tree else "1"
                os.environ["SYNCLEDGER_SIGNING_KEY"] = str(Path(tmp) / "signing.key")
                try:
                    with serve(Path(tmp)) as (url, token):
                        rates[with_tree].append(ingest_rate(url, token, rows, 1, f"t{n}"))
                finally:
                    os.environ.pop("SYNCLEDGER_BENCH_WITHOUT_TREE", None)
    with_tree, without = statistics.median(rates[True]), statistics.median(rates[False])
    cost = 1 - with_tree / without
    return [
        Result(
            "replay",
            f"HTTP ingest with the tree follower ({records:,} records, median of {rounds})",
            with_tree,
            "records/s",
            "without the tree follower",
            without,
        ),
        Result(
            "replay",
            "cost of keeping the tree during HTTP ingest",
            max(cost, 0.0) * 100,
            "%",
            target=f"<= {INGEST_COST_TARGET * 100:g} %",
            met=cost <= INGEST_COST_TARGET,
        ),
    ]


def run(
    quick: bool = True,
    events: int | None = None,
    proof_leaves: int | None = None,
    http_records: int | None = None,
    rounds: int | None = None,
) -> list[Result]:
    events = events or (200_000 if quick else 1_000_000)
    proof_leaves = proof_leaves or (1_000_000 if quick else 10_000_000)
    results = bench_log(events)
    results += bench_tiles(proof_leaves)
    results += bench_ingest_cost(http_records or (100_000 if quick else 300_000), rounds or 3)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="1,000,000 events, 10M-leaf tiles")
    parser.add_argument("--events", type=int)
    parser.add_argument("--proof-leaves", type=int)
    parser.add_argument("--http-records", type=int)
    parser.add_argument("--rounds", type=int)
    args = parser.parse_args()
    for r in run(not args.full, args.events, args.proof_leaves, args.http_records, args.rounds):
        met = "" if r.met is None else (" (met)" if r.met else " (MISSED)")
        base = f"  [{r.baseline_name}: {r.baseline_value:,.0f}]" if r.baseline_value else ""
        print(f"{r.name:62} {r.value:>14,.2f} {r.unit} {r.target}{met}{base}")


if __name__ == "__main__":
    main()
