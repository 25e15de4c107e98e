"""PostgreSQL: a page's record rows COPYed into a temporary staging table, from which the
receipts view writes each of its tables with one set-based statement."""

from __future__ import annotations

from typing import Any

from projections.store import Tx

STAGE = "projection_stage_records"


def stage(tx: Tx, rows: list[tuple[Any, ...]]) -> None:
    """Replace the staging table's rows by `rows` (reg_no, sess_no, seq, et, key, digest,
    position), sent in COPY's binary format (no text quoting or parsing)."""
    conn = tx.conn
    conn.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} (reg_no BIGINT, sess_no BIGINT, "
        'seq BIGINT, et BIGINT, key TEXT COLLATE "C", digest BYTEA, '
        "position BIGINT) ON COMMIT DELETE ROWS"
    )
    conn.execute(f"TRUNCATE {STAGE}")
    with conn.cursor() as cur, cur.copy(f"COPY {STAGE} FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(["int8", "int8", "int8", "int8", "text", "bytea", "int8"])
        write = copy.write_row
        for row in rows:
            write(row)
