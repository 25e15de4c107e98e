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
    columns: str  # column definitions, "?type" placeholders resolved per dialect
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()

    def ddl(self, real: str, pg: bool) -> list[str]:
        cols = self.columns.replace("BIGINT", "BIGINT" if pg else "INTEGER")
        stmts = [
            f"CREATE TABLE IF NOT EXISTS {real} ({cols}, "
            f"CONSTRAINT {real}_pkey PRIMARY KEY ({', '.join(self.primary_key)}))"
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
