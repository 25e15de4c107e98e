"""A view: tables built from the event log, updated page by page in the caller's transaction.

Table names are logical (`view_receipts`); a view built for a rebuild writes to
`<table>__shadow` instead, so `self.t["view_receipts"]` is the real name to use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from projections.events import Event
from projections.store import Tx

SHADOW = "__shadow"


@dataclass(frozen=True)
class Table:
    name: str
    columns: str  # column definitions; BIGINT and CTEXT (bytewise-ordered text) per dialect
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    # SQLite: store rows in the primary key's B-tree (one B-tree less per row written).
    without_rowid: bool = False

    def ddl(self, real: str, pg: bool) -> list[str]:
        cols = self.columns.replace("BIGINT", "BIGINT" if pg else "INTEGER")
        # Key columns compare bytewise on both backends (SQLite's BINARY = PostgreSQL's "C").
        cols = cols.replace(" CTEXT", ' TEXT COLLATE "C"' if pg else " TEXT")
        tail = " WITHOUT ROWID" if self.without_rowid and not pg else ""
        stmts = [
            f"CREATE TABLE IF NOT EXISTS {real} ({cols}, "
            f"CONSTRAINT {real}_pkey PRIMARY KEY ({', '.join(self.primary_key)})){tail}"
        ]
        for i, idx in enumerate(self.indexes):
            stmts.append(f"CREATE INDEX IF NOT EXISTS ix_{real}_{i} ON {real} ({', '.join(idx)})")
        return stmts


class View:
    name: str = ""
    tables: tuple[Table, ...] = ()

    def __init__(self, shadow: bool = False) -> None:
        self.shadow = shadow
        self.t = {tb.name: tb.name + (SHADOW if shadow else "") for tb in self.tables}

    def create(self, tx: Tx) -> None:
        for tb in self.tables:
            for stmt in tb.ddl(self.t[tb.name], tx.pg):
                tx.x(stmt)

    def apply(self, tx: Tx, events: Sequence[Event]) -> None:
        raise NotImplementedError
