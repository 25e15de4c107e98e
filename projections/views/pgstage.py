"""PostgreSQL: a page's record rows COPYed into a temporary staging table, from which the
receipts view writes `view_session_records` with one set-based statement."""

from __future__ import annotations

from typing import Any

from projections.store import Tx

STAGE = "projection_stage_session_records"


def stage(tx: Tx, rows: list[tuple[Any, ...]]) -> None:
    """Replace the staging table's rows by `rows` (sess_no, position, reg_no, et, cur, key,
    digest), sent in COPY's binary format (no text quoting or parsing)."""
    conn = tx.conn
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (sess_no BIGINT, position BIGINT, "
        'reg_no INTEGER, et INTEGER, cur BOOLEAN, key TEXT COLLATE "C", digest BYTEA) '
        "ON COMMIT DELETE ROWS"
    )
    conn.execute(f"TRUNCATE {STAGE}")
    with conn.cursor() as cur, cur.copy(f"COPY {STAGE} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int8", "int8", "int4", "int4", "bool", "text", "bytea"])
        write = copy.write_row
        for row in rows:
            write(row)
