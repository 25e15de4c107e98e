"""Storage: bytes on disk per synced record, event log and read models together.

    python -m benchmarks.bench_storage [--records N] [--postgres URL]

Records are synced the way an agent does it (sessions of 10,000 records in 1,000-record
batches), with realistic digests (SHA-256 hex, which does not compress like a counter does),
then the read models catch up. Every table of the database is counted: the event log (events,
snapshots) and the views, indexes included (SQLite: the `dbstat` table, whole pages;
PostgreSQL: `pg_total_relation_size`, TOAST and indexes included). The baseline is a raw table
of the same rows `(entity_type, key, digest)` in the same engine. Target: <= 2.5x the raw
table's bytes per record.
"""

from __future__ import annotations

import argparse
import hashlib
import sqlite3
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import served
from benchmarks.common import Result
from domain import Context, Database, Ledger
from projections import ReadModels

TINY: dict[str, Any] = {"records": 3_000}
BATCH, SESSION = 1_000, 10_000
TARGET = 2.5
Row = tuple[str, str, str]


def realistic_records(n: int) -> list[Row]:
    types = ("Client List", "Employee List", "AP Transactions", "AP Nominals")
    out = []
    for i in range(n):
        key = f"rec-{i:09d}"
        out.append((types[i % 4], key, hashlib.sha256(key.encode()).hexdigest()))
    return out


def load(database: Database, records: Sequence[Row]) -> None:
    """Sync `records` through the Ledger, then let every view catch up."""
    ledger = Ledger(database=database)
    ctx = Context("bench", "storage")
    rid = ledger.register(ctx, product="bench", file_id="storage").registration_id
    for start in range(0, len(records), SESSION):
        sid = ledger.start_session(ctx, rid, sync_type="full").session_id
        chunk = records[start : start + SESSION]
        for i in range(0, len(chunk), BATCH):
            ledger.record_batch(ctx, rid, sid, [list(r) for r in chunk[i : i + BATCH]])
        ledger.complete_session(ctx, rid, sid)
    ledger.close()
    models = ReadModels(database)
    try:
        models.run_once()  # processes pages until the log is exhausted
    finally:
        models.close()


def _group(table: str) -> str:
    return "views" if table.startswith(("view_", "projection")) else "event log"


def _grouped(parts: dict[tuple[str, str], int]) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for (table, _), size in parts.items():
        sizes[_group(table)] = sizes.get(_group(table), 0) + size
    return sizes


def sqlite_parts(path: Path) -> dict[tuple[str, str], int]:
    """Bytes per (table, table or index name) from dbstat, whole pages."""
    conn = sqlite3.connect(path)
    owner = dict(conn.execute("SELECT name, tbl_name FROM sqlite_master WHERE tbl_name != ''"))
    parts: dict[tuple[str, str], int] = {}
    for name, size in conn.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name"):
        table = owner.get(name, name)
        if not table.startswith("sqlite_"):
            parts[(table, name)] = int(size)
    conn.close()
    return parts


def raw_sqlite_bytes(records: Sequence[Row]) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "raw.db"
        conn = sqlite3.connect(path)
        conn.execute("CREATE TABLE records (entity_type TEXT, key TEXT, digest TEXT)")
        conn.executemany("INSERT INTO records VALUES (?, ?, ?)", records)
        conn.commit()
        (size,) = conn.execute("SELECT SUM(pgsize) FROM dbstat WHERE name = 'records'").fetchone()
        conn.close()
    return int(size)


def postgres_parts(conninfo: str, schema: str) -> dict[tuple[str, str], int]:
    """Bytes per (table, table or index name): a table's heap with its TOAST
    (pg_table_size), each index apart (pg_relation_size), after VACUUM ANALYZE."""
    import psycopg

    sql = (
        "SELECT t.relname, t.relname, pg_table_size(t.oid) FROM pg_class t "
        "JOIN pg_namespace n ON n.oid = t.relnamespace "
        "WHERE n.nspname = %s AND t.relkind IN ('r', 'p', 'm') "
        "UNION ALL SELECT t.relname, i.relname, pg_relation_size(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace WHERE n.nspname = %s"
    )
    parts: dict[tuple[str, str], int] = {}
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("VACUUM ANALYZE")
        for table, name, size in conn.execute(sql, (schema, schema)).fetchall():
            if not table.startswith("raw_"):
                parts[(table, name)] = int(size)
    return parts


def raw_postgres_bytes(conninfo: str, schema: str, records: Sequence[Row]) -> int:
    import psycopg

    with psycopg.connect(conninfo) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute("CREATE TABLE raw_records (entity_type TEXT, key TEXT, digest TEXT)")
        with conn.cursor() as cur, cur.copy("COPY raw_records FROM STDIN") as copy:
            for row in records:
                copy.write_row(row)
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE raw_records")
        (size,) = conn.execute("SELECT pg_total_relation_size('raw_records')").fetchone()
        conn.execute("DROP TABLE raw_records")
    return int(size)


def _rows(kind: str, n: int, parts: dict[tuple[str, str], int], raw: int) -> list[Result]:
    sizes = _grouped(parts)
    total = sum(sizes.values())
    per_raw = raw / n
    out = [
        Result(
            "storage",
            f"bytes/record, event log + views, {n:,} records ({kind})",
            total / n,
            "bytes/record",
            "raw table, same rows",
            per_raw,
            f"<= {TARGET}x raw",
            total / n <= TARGET * per_raw,
        )
    ]
    for group in sorted(sizes):
        out.append(
            Result("storage", f"  of which {group} ({kind})", sizes[group] / n, "bytes/record")
        )
    # Where the bytes go: every table and index of at least 1 byte per record.
    for (table, name), size in sorted(parts.items(), key=lambda p: -p[1]):
        if size >= n:
            label = table if name == table else f"{table} index {name}"
            out.append(Result("storage", f"    {label} ({kind})", size / n, "bytes/record"))
    return out


def run(
    quick: bool = True, records: int | None = None, postgres: str | None = None
) -> list[Result]:
    n = records or (100_000 if quick else 1_000_000)
    rows = realistic_records(n)
    results: list[Result] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "storage.db"
        load(Database.from_url(f"sqlite:///{path}"), rows)
        results += _rows("sqlite", n, sqlite_parts(path), raw_sqlite_bytes(rows))
    pg = served.postgres_url(postgres)
    if pg is not None:
        with served.pg_schema(pg, "bench_storage") as (schema_url, conninfo, schema):
            load(Database.from_url(schema_url), rows)
            parts = postgres_parts(conninfo, schema)
            results += _rows("postgresql", n, parts, raw_postgres_bytes(conninfo, schema, rows))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=None, help="default 100,000")
    parser.add_argument("--full", action="store_true", help="1,000,000 records")
    parser.add_argument("--postgres", default=None, help='PostgreSQL URL ("" to skip)')
    args = parser.parse_args(argv)
    for r in run(quick=not args.full, records=args.records, postgres=args.postgres):
        ratio = f"  ({r.ratio:.2f} x {r.baseline_name} {r.baseline_value:,.1f})" if r.ratio else ""
        print(f"{r.name:<72} {r.value:>10,.1f} {r.unit} {r.target}{ratio}")


if __name__ == "__main__":
    main()
