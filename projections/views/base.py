"""A view: tables built from the event log, updated page by page in the caller's transaction.

Table names are logical (`view_session_records`); a view built for a rebuild writes to
`<table>__shadow` instead, so `self.t["view_session_records"]` is the real name to use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from projections.events import Event
from projections.store import Tx

SHADOW = "__shadow"


def table_columns(tx: Tx, real: str) -> list[str] | None:
    """The column names of the existing table `real` (None if there is none)."""
    if tx.pg:
        rows = tx.q(
            "SELECT column_name FROM information_schema.columns WHERE "
            "table_schema = current_schema() AND table_name = ? "
            "ORDER BY ordinal_position",
            (real,),
        )
    else:
        rows = [(r[1],) for r in tx.q(f"PRAGMA table_info({real})")]
    return [str(r[0]) for r in rows] or None


@dataclass(frozen=True)
class Table:
    name: str
    # Column definitions; BIGINT, INT4 (4 bytes on PostgreSQL), FLAG (a boolean), CTEXT
    # (bytewise-ordered text), DIGEST per dialect.
    columns: str
    primary_key: tuple[str, ...]
    indexes: tuple[tuple[str, ...], ...] = ()
    # SQLite: store rows in the primary key's B-tree (one B-tree less per row written).
    without_rowid: bool = False
    # PostgreSQL: these secondary indexes (by number) are hash indexes on their last column,
    # for equality lookups only: 20 bytes an entry, where a B-tree entry is the key's width
    # plus ~12 and its leaves fill to ~55% when rows come in several ascending runs. Their
    # buckets fill up before they split (fillfactor 100, not 75): measured 30 bytes a record
    # against 48 (and 80 for the B-tree) by benchmarks/bench_storage.py.
    pg_hash: tuple[int, ...] = ()
    # SQLite: columns added at the end of these secondary indexes (index number -> columns),
    # so a lookup answers from the index alone (SQLite has no INCLUDE; on PostgreSQL the
    # row is read anyway, and a wider entry costs bytes in every record).
    sqlite_cover: tuple[tuple[int, tuple[str, ...]], ...] = ()

    def index_columns(self, pg: bool) -> list[tuple[str, ...]]:
        """The secondary indexes' columns on the backend (`pg`: PostgreSQL)."""
        if pg:
            return [idx[-1:] if i in self.pg_hash else idx for i, idx in enumerate(self.indexes)]
        cover = dict(self.sqlite_cover)
        return [idx + cover.get(i, ()) for i, idx in enumerate(self.indexes)]

    @property
    def column_names(self) -> list[str]:
        return [c.split()[0] for c in self.columns.split(",")]

    def ddl(self, real: str, pg: bool) -> list[str]:
        cols = self.columns.replace("BIGINT", "BIGINT" if pg else "INTEGER")
        cols = cols.replace(" INT4", " INTEGER").replace(" FLAG", " BOOLEAN" if pg else " INTEGER")
        # Key columns compare bytewise on both backends (SQLite's BINARY = PostgreSQL's "C").
        cols = cols.replace(" CTEXT", ' TEXT COLLATE "C"' if pg else " TEXT")
        # A digest as projections/digests.py packs it: bytes, or (SQLite) text as it came.
        cols = cols.replace(" DIGEST", " BYTEA" if pg else " BLOB")
        tail = " WITHOUT ROWID" if self.without_rowid and not pg else ""
        stmts = [
            f"CREATE TABLE IF NOT EXISTS {real} ({cols}, "
            f"CONSTRAINT {real}_pkey PRIMARY KEY ({', '.join(self.primary_key)})){tail}"
        ]
        for i, idx in enumerate(self.index_columns(pg)):
            how = ("USING hash ", " WITH (fillfactor = 100)") if i in self.pg_hash else ("", "")
            stmts.append(
                f"CREATE INDEX IF NOT EXISTS ix_{real}_{i} ON {real} "
                f"{how[0] if pg else ''}({', '.join(idx)}){how[1] if pg else ''}"
            )
        return stmts

    def columns_of(self, tx: Tx, real: str) -> list[str] | None:
        """The column names of the existing table `real` (None if there is none)."""
        return table_columns(tx, real)

    def create(self, tx: Tx, real: str) -> None:
        if tx.pg:
            for stmt in self.ddl(real, True):
                tx.x(stmt)
            return
        # SQLite cannot rename an index, so a rebuild's swap keeps the shadow's indexes
        # under their names (no index is built again): look for an index by its columns,
        # and name a new one with the first free name.
        tx.x(self.ddl(real, False)[0])
        have = set()
        for (name,) in tx.q(
            "SELECT name FROM sqlite_master WHERE type = 'index' "
            "AND tbl_name = ? AND sql IS NOT NULL",
            (real,),
        ):
            have.add(tuple(str(r[2]) for r in tx.q(f"PRAGMA index_info('{name}')")))
        for i, idx in enumerate(self.index_columns(False)):
            if tuple(idx) in have:
                continue
            name, n = f"ix_{real}_{i}", 0
            while tx.one("SELECT 1 FROM sqlite_master WHERE name = ?", (name,)) is not None:
                n += 1
                name = f"ix_{real}_{i}_{n}"
            tx.x(f"CREATE INDEX {name} ON {real} ({', '.join(idx)})")


class View:
    name: str = ""
    tables: tuple[Table, ...] = ()
    # Tables an older version of this view had and this one does not: their presence means
    # the view is outdated, and dropping the view drops them.
    retired: tuple[str, ...] = ()

    def __init__(self, shadow: bool = False) -> None:
        self.shadow = shadow
        self.t = {tb.name: tb.name + (SHADOW if shadow else "") for tb in self.tables}

    def create(self, tx: Tx) -> None:
        for tb in self.tables:
            tb.create(tx, self.t[tb.name])

    def outdated(self, tx: Tx) -> bool:
        """Does a table of this view exist with another layout (built by an older version)?"""
        for tb in self.tables:
            found = tb.columns_of(tx, self.t[tb.name])
            if found is not None and found != tb.column_names:
                return True
        return any(table_columns(tx, self._real(name)) is not None for name in self.retired)

    def _real(self, name: str) -> str:
        return name + (SHADOW if self.shadow else "")

    def drop(self, tx: Tx) -> None:
        for tb in self.tables:
            tx.x(f"DROP TABLE IF EXISTS {self.t[tb.name]}")
        for name in self.retired:
            tx.x(f"DROP TABLE IF EXISTS {self._real(name)}")

    def apply(self, tx: Tx, events: Sequence[Event]) -> None:
        raise NotImplementedError
