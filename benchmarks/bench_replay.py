"""Replay benchmarks: chain following and verification (events/s).

Target (issue 4): verify >= 50,000 events/s. The rebuild figures (1,000,000 receipts,
>= 100,000 receipts/s, peak memory < 400 MB) are measured by benchmarks/bench_projections.py,
with the live views present and in a separate process so the peak memory is the rebuild's.
Quick defaults are smaller; --full runs the target size. Printed, not asserted.
`python -m benchmarks.bench_replay [--full]`.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import time
from pathlib import Path

import orjson

from benchmarks.common import Result
from domain import Database, Ledger
from replay.treelog import LogConfig, TreeFollower
from replay.verify import verify_log

TINY = {"events": 5_000}


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


def bench_verify(events: int) -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "verify.db"
        _synthetic_log(path, events)
        database = Database.from_url(f"sqlite:///{path}")
        config = LogConfig(signing_key=Path(tmp) / "signing.key")
        started = time.perf_counter()
        TreeFollower(database, config).step(force=True)
        follow = events / (time.perf_counter() - started)
        started = time.perf_counter()
        report = verify_log(database, verifiers=[config.signer().verifier])
        verify = report.checked / (time.perf_counter() - started)
        assert report.ok, report.problems
    return [
        Result("replay", f"tree follow ({events:,} events)", follow, "events/s"),
        Result(
            "replay",
            f"verify ({events:,} events)",
            verify,
            "events/s",
            target=">= 50,000",
            met=verify >= 50_000,
        ),
    ]


def run(quick: bool = True, events: int | None = None) -> list[Result]:
    events = events or (100_000 if quick else 1_000_000)
    return bench_verify(events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="1,000,000 events")
    parser.add_argument("--events", type=int)
    args = parser.parse_args()
    for r in run(quick=not args.full, events=args.events):
        met = "" if r.met is None else (" (met)" if r.met else " (MISSED)")
        print(f"{r.name:55} {r.value:>14,.0f} {r.unit} {r.target}{met}")


if __name__ == "__main__":
    main()
