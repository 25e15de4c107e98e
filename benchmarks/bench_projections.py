"""Projection benchmarks: catch-up receipts/s and receipts-diff latency (issues 6 and 7).

Targets: catch-up (a log of 1,000-record RecordsSynced batches, from position 0 to the
head) >= 150,000 receipts/s on SQLite and >= 60,000 receipts/s on PostgreSQL; a diff of
10,000 records against 1,000,000 stored receipts: median <= 40 ms on SQLite; a rebuild of
every view with the live views complete >= 100,000 receipts/s, peak RSS < 400 MB. Quick runs
use 200,000 receipts, --full 1,000,000. Each figure comes with a raw baseline from the same
run: plain sqlite3.executemany / psycopg COPY of the same rows into a bare table, and the
same 10,000 keys looked up one by one with prepared primary-key queries.

PostgreSQL is measured when reachable at SYNCLEDGER_BENCH_POSTGRES (default: the tests'
postgresql://postgres@127.0.0.1:5432/test; set it to "" to skip).

    python -m benchmarks.bench_projections [--full] [--receipts N] [--postgres URL]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from benchmarks.common import (
    Result,
    make_records,
    median,
    raw_postgres_copy,
    raw_sqlite_executemany,
)
from domain import Context, Database, Ledger
from projections import ReadModels

BATCH = 1000
DIFF = 10_000
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/test"
TINY: dict[str, Any] = {"receipts": 5_000, "diffs": 3}
TARGET = {"sqlite": 150_000, "postgresql": 60_000}
DIFF_TARGET_MS = 40.0
REBUILD_TARGET, REBUILD_MB = 100_000, 400

# Rebuild in a fresh process (its peak RSS is the rebuild's own): prints rate, MB before/peak.
REBUILD = """
import sys, time
from domain import Database
from projections import ReadModels

def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0

models = ReadModels(Database.from_url(sys.argv[1]))
before = hwm()
started = time.perf_counter()
report = models.rebuild()
elapsed = time.perf_counter() - started
assert report.same, report
print(elapsed, before, hwm())
"""


def _load(database: Database, records: list[tuple[str, str, str]]) -> Any:
    ledger = Ledger(database=database)
    ctx = Context("bench", "projections")
    rid = ledger.register(ctx, product="bench", file_id="projections").registration_id
    sid = ledger.start_session(ctx, rid, sync_type="full").session_id
    for start in range(0, len(records), BATCH):
        ledger.record_batch(ctx, rid, sid, [list(r) for r in records[start : start + BATCH]])
    ledger.complete_session(ctx, rid, sid)
    ledger.close()
    return rid


def _diff_inputs(records: list[tuple[str, str, str]], runs: int) -> list[list[tuple[str, ...]]]:
    """10,000 records per run from spread-out offsets: 10% changed digests, 5% unknown keys."""
    n = len(records)
    out = []
    for run in range(runs):
        offset = (run * 7919 * 13) % max(1, n - DIFF)
        chunk = records[offset : offset + DIFF]
        out.append(
            [
                (et, f"unknown-{i}" if i % 20 == 0 else k, "changed" if i % 10 == 1 else d)
                for i, (et, k, d) in enumerate(chunk)
            ]
        )
    return out


def _raw_lookups_sqlite(path: Path, rid: Any, sample: list[tuple[str, ...]]) -> float:
    """Seconds for the same records looked up one by one (prepared PK query), raw sqlite3."""
    conn = sqlite3.connect(path)
    reg = conn.execute(
        "SELECT reg_no FROM view_receipt_registrations WHERE registration_id = ?", (str(rid),)
    ).fetchone()[0]
    sql = "SELECT digest FROM view_session_records WHERE reg_no = ? AND et = ? AND key = ? AND cur"
    number = dict(conn.execute("SELECT entity_type, et FROM view_entity_types"))
    started = time.perf_counter()
    for et, k, _ in sample:
        conn.execute(sql, (reg, number.get(et, 0), k)).fetchone()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def _raw_lookups_pg(conninfo: str, schema: str, rid: Any, sample: list[tuple[str, ...]]) -> float:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        row = conn.execute(
            "SELECT reg_no FROM view_receipt_registrations WHERE registration_id = %s", (str(rid),)
        ).fetchone()
        assert row is not None
        sql = (
            "SELECT digest FROM view_session_records "
            "WHERE reg_no = %s AND et = %s AND key = %s AND cur"
        )
        number = dict(conn.execute("SELECT entity_type, et FROM view_entity_types").fetchall())
        started = time.perf_counter()
        with conn.cursor() as cur:
            for et, k, _ in sample:
                cur.execute(sql, (row[0], number.get(et, 0), k), prepare=True)
                cur.fetchone()
        return time.perf_counter() - started


@contextmanager
def _pg_schema(url: str) -> Iterator[tuple[Database, str]]:
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    base = Database.from_url(url)
    with psycopg.connect(base.conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        sep = "&" if "?" in url else "?"
        yield Database.from_url(f"{url}{sep}schema={schema}"), schema
    finally:
        with psycopg.connect(base.conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def bench(
    database: Database,
    records: list[tuple[str, str, str]],
    diffs: int,
    raw_rate: float,
    raw_lookup: Any,
) -> list[Result]:
    kind = database.kind
    label = "SQLite" if kind == "sqlite" else "PostgreSQL"
    n = len(records)
    rid = _load(database, records)
    models = ReadModels(database)
    try:
        started = time.perf_counter()
        models.run_once()
        rate = n / (time.perf_counter() - started)
        assert models.count_receipts(rid) == n
        inputs = _diff_inputs(records, diffs)
        timings = []
        for sample in inputs:
            started = time.perf_counter()
            result = models.diff(rid, sample)
            timings.append((time.perf_counter() - started) * 1000)
            assert len(result["missing"]) == (len(sample) + 19) // 20
        raw_ms = raw_lookup(rid, inputs[0]) * 1000
    finally:
        models.close()
    diff_ms = median(timings)
    diff_target = DIFF_TARGET_MS if kind == "sqlite" else None
    return [
        Result(
            "projections",
            f"catch-up, {n:,} receipts in {BATCH:,}-record batches ({label})",
            rate,
            "receipts/s",
            baseline_name="raw executemany (3 columns)"
            if kind == "sqlite"
            else "raw psycopg COPY (3 columns)",
            baseline_value=raw_rate,
            target=f">= {TARGET[kind]:,}",
            met=rate >= TARGET[kind],
        ),
        Result(
            "projections",
            f"diff of {len(inputs[0]):,} records vs {n:,} receipts, median ({label})",
            diff_ms,
            "ms",
            baseline_name="same keys, one prepared PK query each",
            baseline_value=raw_ms,
            target="" if diff_target is None else f"<= {diff_target:g} ms",
            met=None if diff_target is None else diff_ms <= diff_target,
        ),
    ]


def bench_rebuild(database: Database, n: int) -> list[Result]:
    """`ReadModels.rebuild()` of every view while the live views are complete (the diff
    then compares every row), in a separate process so its peak RSS is the rebuild's."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    out = subprocess.run(
        [sys.executable, "-c", REBUILD, database.url],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    elapsed, before, peak = (float(x) for x in out[-3:])
    rate = n / elapsed
    return [
        Result(
            "projections",
            f"rebuild, {n:,} receipts, live views present (SQLite)",
            rate,
            "receipts/s",
            target=f">= {REBUILD_TARGET:,}",
            # fixed costs (DDL, swap) dominate tiny runs: judged from 100,000 receipts
            met=rate >= REBUILD_TARGET if n >= 100_000 else None,
        ),
        Result(
            "projections",
            "rebuild peak RSS (separate process)",
            peak,
            "MB",
            baseline_name="RSS before the rebuild",
            baseline_value=before,
            target=f"< {REBUILD_MB}",
            met=peak < REBUILD_MB,
        ),
    ]


def _postgres_url(postgres: str | None) -> str | None:
    if postgres is not None:
        return postgres or None
    url = os.environ.get("SYNCLEDGER_BENCH_POSTGRES", DEFAULT_PG)
    if not url:
        return None
    try:
        import psycopg

        with psycopg.connect(Database.from_url(url).conninfo, connect_timeout=2):
            pass
    except Exception:
        return None
    return url


def run(
    quick: bool = True, receipts: int | None = None, diffs: int = 20, postgres: str | None = None
) -> list[Result]:
    n = receipts or (200_000 if quick else 1_000_000)
    records = make_records(n, "k")
    results: list[Result] = []
    raw = raw_sqlite_executemany(records, BATCH)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        database = Database.from_url(f"sqlite:///{path}")
        results += bench(
            database,
            records,
            diffs,
            raw,
            lambda rid, sample: _raw_lookups_sqlite(path, rid, sample),
        )
        results += bench_rebuild(database, n)
    url = _postgres_url(postgres)
    if url is not None:
        with _pg_schema(url) as (database, schema):
            raw = raw_postgres_copy(database.conninfo, schema, records)
            results += bench(
                database,
                records,
                diffs,
                raw,
                lambda rid, sample: _raw_lookups_pg(database.conninfo, schema, rid, sample),
            )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--full", action="store_true", help="1,000,000 stored receipts")
    parser.add_argument("--receipts", type=int, default=None)
    parser.add_argument("--diffs", type=int, default=20)
    parser.add_argument(
        "--postgres",
        default=None,
        help='PostgreSQL URL ("" to skip; default: reachable test server)',
    )
    args = parser.parse_args()
    for r in run(
        quick=not args.full, receipts=args.receipts, diffs=args.diffs, postgres=args.postgres
    ):
        met = "" if r.met is None else (" (met)" if r.met else " (MISSED)")
        base = (
            "" if r.baseline_value is None else (f"   [{r.baseline_name}: {r.baseline_value:,.1f}]")
        )
        print(f"{r.name:72} {r.value:>12,.1f} {r.unit} {r.target}{met}{base}")


if __name__ == "__main__":
    main()
