"""Synthetic events written straight into the event table (fast, any count, with gaps)."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import orjson
import psycopg
from replay_tamper import _conn

from domain import Database, Ledger
from replay.treelog import LogConfig


def config(tmp_path: Path) -> LogConfig:
    return LogConfig(signing_key=tmp_path / "signing.key", checkpoint_dir=tmp_path / "cps")


def add_events(database: Database, count: int, *, start: int = 0, gap_every: int = 0) -> None:
    """`count` RecordsSynced-like events; every `gap_every`-th position is skipped."""
    Ledger(database=database).close()  # the tables
    with _conn(database) as (conn, table, pos, ph):
        (top,) = conn.execute(f"SELECT COALESCE(MAX({pos}), 0) FROM {table}").fetchone()
        rows = []
        position = int(top)
        for i in range(start, start + count):
            position += 1
            if gap_every and position % gap_every == 0:
                position += 1
            state = orjson.dumps(
                {
                    "timestamp": {"_type_": "datetime_iso", "_data_": "2024-08-05T09:30:00+00:00"},
                    "actor": "alice",
                    "i": i,
                }
            )
            agg = UUID(int=i // 100 + 1)
            key = agg.hex if database.kind == "sqlite" else agg
            rows.append((position, key, i % 100 + 1, "domain.session:Session.RecordsSynced", state))
        sql = (
            f"INSERT INTO {table} ({pos}, originator_id, originator_version, topic, state) "
            f"VALUES ({ph}, {ph}, {ph}, {ph}, {ph})"
        )
        if isinstance(conn, psycopg.Connection):
            with conn.cursor() as cur:
                cur.executemany(sql, rows)
        else:
            conn.executemany(sql, rows)
