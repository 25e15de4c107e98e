"""Shared pieces of the benchmark suite: result rows, timing helpers, raw baselines."""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Result:
    """One figure of the table, with its baseline from the same run."""

    group: str
    name: str
    value: float
    unit: str
    baseline_name: str = ""
    baseline_value: float | None = None
    target: str = ""
    met: bool | None = None
    detail: str = ""  # e.g. a load test's p50/p95/p99, calls and errors

    @property
    def ratio(self) -> float | None:
        if not self.baseline_value:
            return None
        return self.value / self.baseline_value

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ratio": self.ratio}


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def run_together(clients: int, work: Callable[[int], None]) -> float:
    """Run `work(0)` … `work(clients - 1)` on their own threads, released at one instant;
    returns the seconds from that instant until the last one finished. The first error a
    thread raised is raised here (the others are stopped at the start line)."""
    errors: list[BaseException] = []
    go = threading.Barrier(clients + 1)

    def run(n: int) -> None:
        try:
            go.wait()
            work(n)
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            errors.append(exc)
            go.abort()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    try:
        go.wait()
    except threading.BrokenBarrierError:
        pass
    started = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


def percentile(samples: Sequence[float], pct: float) -> float:
    ordered = sorted(samples)
    if not ordered:
        return 0.0
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def median(samples: Sequence[float]) -> float:
    return statistics.median(samples) if samples else 0.0


def raw_sqlite_executemany(rows: Sequence[tuple[str, str, str]], batch: int = 1000) -> float:
    """Rows/s of plain sqlite3.executemany into a 3-column table, WAL, one commit per batch."""
    with tempfile.TemporaryDirectory() as tmp:
        conn = sqlite3.connect(Path(tmp) / "raw.db", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("CREATE TABLE records (entity_type TEXT, key TEXT, digest TEXT)")
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO records VALUES (?,?,?)", rows[i : i + batch])
            conn.execute("COMMIT")
        elapsed = time.perf_counter() - started
        conn.close()
    return len(rows) / elapsed


def make_records(n: int, prefix: str = "r") -> list[tuple[str, str, str]]:
    types = ("Client List", "Employee List", "AP Transactions", "AP Nominals")
    return [(types[i % 4], f"{prefix}-{i:09d}", f"{i:064x}") for i in range(n)]


def raw_postgres_copy(
    conninfo: str, schema: str, rows: Sequence[tuple[str, str, str]], batch: int = 1000
) -> float:
    """Rows/s of plain psycopg COPY into a bare 3-column table, one commit per batch."""
    import psycopg

    table = f"raw_records_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(conninfo) as conn:
        conn.execute(f'SET search_path TO "{schema}"')
        conn.execute(f"CREATE TABLE {table} (entity_type TEXT, key TEXT, digest TEXT)")
        conn.commit()
        started = time.perf_counter()
        for i in range(0, len(rows), batch):
            with (
                conn.transaction(),
                conn.cursor() as cur,
                cur.copy(f"COPY {table} FROM STDIN") as copy,
            ):
                for row in rows[i : i + batch]:
                    copy.write_row(row)
        elapsed = time.perf_counter() - started
        conn.execute(f"DROP TABLE {table}")
        conn.commit()
    return len(rows) / elapsed
