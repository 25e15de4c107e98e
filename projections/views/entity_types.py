"""Entity types as small numbers: the receipts view's per-database dictionary.

`view_session_records` holds a record's entity type as `et`, a number
given to each entity type when the log first mentions it (1, 2, 3, ... in log order, so a
rebuilt view has the same numbers), and `view_entity_types` maps it back. Reads join it and
order by its text (projections/reads/receipts.py), so every answer keeps the entity type as
synced and its bytewise order.
"""

from __future__ import annotations

from collections.abc import Iterable

from projections.store import Tx
from projections.views.base import Table

TABLE = Table(
    "view_entity_types",
    "entity_type CTEXT NOT NULL, et INT4 NOT NULL",
    ("entity_type",),
    (("et",),),
    without_rowid=True,
)


class EntityTypes:
    """The numbers of one view's dictionary table, cached (they never change once given)."""

    def __init__(self, table: str) -> None:
        self.table = table
        self.numbers: dict[str, int] = {}

    def ensure(self, tx: Tx, names: Iterable[str], written: set[str]) -> None:
        """Give every name a number and make sure its row is in this transaction: a cached
        number may come from a page that was rolled back, so each page writes its entity
        types' rows again (`written`: those written by this page already)."""
        fresh = [n for n in names if n not in written]
        if not fresh:
            return
        insert = f"INSERT INTO {self.table} VALUES (?, ?) ON CONFLICT DO NOTHING"
        for name in sorted(fresh):  # one fixed order (a page's names come as a set)
            number = self.numbers.get(name)
            if number is None:
                row = tx.one(f"SELECT et FROM {self.table} WHERE entity_type = ?", (name,))
                if row is None:
                    row = tx.one(f"SELECT COALESCE(MAX(et), 0) + 1 FROM {self.table}")
                assert row is not None
                number = self.numbers[name] = int(row[0])
            # Written at once, so the next new name's MAX sees it.
            tx.x(insert, (name, number))
        written.update(fresh)
