"""Projection benchmarks (printed, not asserted): catch-up receipts/s and diff latency.

    python -m benchmarks.bench_projections [--full] [--postgres URL]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from domain import Context, Database, Ledger
from projections import ReadModels

BATCH = 10_000


def _load(ledger: Ledger, receipts: int) -> Any:
    ctx = Context("bench", "bench")
    rid = ledger.register(ctx, product="bench", file_id="bench").registration_id
    sid = ledger.start_session(ctx, rid, sync_type="full").session_id
    for start in range(0, receipts, BATCH):
        batch = [["Entity", f"k{i}", f"d{i}"] for i in range(start, min(receipts, start + BATCH))]
        ledger.record_batch(ctx, rid, sid, batch)
    return rid


def bench(database: Database, receipts: int, diffs: int = 20) -> dict[str, Any]:
    ledger = Ledger(database=database)
    rid = _load(ledger, receipts)
    models = ReadModels(database)
    t0 = time.perf_counter()
    models.run_once()
    catch_up = time.perf_counter() - t0
    timings = []
    for n in range(diffs):
        offset = (n * 7919) % max(1, receipts - 10_000)
        records = [("Entity", f"k{i}", f"d{i}" if i % 10 else "changed")
                   for i in range(offset, offset + 10_000)]
        t0 = time.perf_counter()
        models.diff(rid, records)
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    models.close()
    ledger.close()
    return {
        "backend": database.kind,
        "receipts": receipts,
        "catch_up_s": round(catch_up, 3),
        "receipts_per_s": round(receipts / catch_up),
        "diff_median_ms": round(statistics.median(timings), 2),
        "diff_p99_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 2),
    }


def run(*sizes: int, postgres: str | None = None) -> list[dict[str, Any]]:
    results = []
    for size in sizes or (200_000,):
        with tempfile.TemporaryDirectory() as tmp:
            db = Database.from_url(f"sqlite:///{Path(tmp) / 'bench.db'}")
            results.append(bench(db, size))
        if postgres:
            results.append(_bench_pg(postgres, size))
    return results


def _bench_pg(url: str, size: int) -> dict[str, Any]:
    import uuid

    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    base = Database.from_url(url)
    with psycopg.connect(base.conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in url else "?"
        return bench(Database.from_url(f"{url}{sep}schema={schema}"), size)
    finally:
        with psycopg.connect(base.conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--full", action="store_true", help="1,000,000 stored receipts")
    parser.add_argument("--size", type=int, default=200_000)
    parser.add_argument("--postgres", default=None, help="also run on this PostgreSQL URL")
    args = parser.parse_args()
    for row in run(1_000_000 if args.full else args.size, postgres=args.postgres):
        print(row)


if __name__ == "__main__":
    main()
