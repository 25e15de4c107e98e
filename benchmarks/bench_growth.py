"""Append latency as the log grows: a 1,000-record batch at 10k records vs at 1M (10M --full).

Target: the latency at the largest size stays within 1.5x of the latency at 10,000 records.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.common import Result, make_records, median
from domain import Context, Database, Ledger

BATCH = 1000
SAMPLES = 30


TINY = {"checkpoints": [2_000, 4_000]}


def run(quick: bool = True, checkpoints: list[int] | None = None) -> list[Result]:
    checkpoints = checkpoints or (
        [10_000, 100_000, 1_000_000] if quick else [10_000, 100_000, 1_000_000, 10_000_000]
    )
    ctx = Context("bench", "growth")
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(database=Database.from_url(f"sqlite:///{Path(tmp) / 'growth.db'}"))
        rid = ledger.register(ctx, product="bench", file_id="growth").registration_id
        written = 0
        latencies: dict[int, float] = {}
        session = ledger.start_session(ctx, rid, sync_type="periodic").session_id
        per_session = 200_000  # sessions end and new ones start, as real agents do
        in_session = 0
        for checkpoint in checkpoints:
            while written < checkpoint - SAMPLES * BATCH:
                if in_session >= per_session:
                    ledger.complete_session(ctx, rid, session)
                    session = ledger.start_session(ctx, rid, sync_type="periodic").session_id
                    in_session = 0
                ledger.record_batch(ctx, rid, session, make_records(BATCH, f"g{written}"))
                written += BATCH
                in_session += BATCH
            samples = []
            for _ in range(SAMPLES):
                batch = make_records(BATCH, f"g{written}")
                started = time.perf_counter()
                ledger.record_batch(ctx, rid, session, batch)
                samples.append(time.perf_counter() - started)
                written += BATCH
                in_session += BATCH
            latencies[checkpoint] = median(samples)
        first = latencies[checkpoints[0]]
        for checkpoint in checkpoints:
            ratio = latencies[checkpoint] / first
            results.append(
                Result(
                    group="append latency vs log size",
                    name=f"batch of {BATCH} at {checkpoint:,} records (ms, median)",
                    value=latencies[checkpoint] * 1000,
                    unit="ms",
                    baseline_name=f"at {checkpoints[0]:,} records",
                    baseline_value=first * 1000,
                    target="<= 1.5x",
                    met=ratio <= 1.5,
                )
            )
        ledger.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true")
    args = parser.parse_args()
    for r in run(quick=not args.full):
        print(f"{r.name:55} {r.value:10.2f} {r.unit}  ratio {r.ratio:.2f}  met={r.met}")


if __name__ == "__main__":
    main()
