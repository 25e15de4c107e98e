"""Rebuild views from position 0 into shadow tables, diff them against the live ones, swap.

Memory stays bounded (pages). The swap is one transaction: the shadow catches up with the
last events, the differences are counted, then live tables are dropped, shadows renamed
and the tracking positions set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from projections import engine
from projections.events import head, read_page
from projections.interface import ProgressCallback
from projections.store import Store, Tx
from projections.views import VIEW_TYPES
from projections.views.base import SHADOW, Table, View

SHADOW_TRACKING = engine.TRACKING + SHADOW
EXAMPLES = 20


@dataclass
class TableDiff:
    only_live: int = 0
    only_shadow: int = 0
    differing: int = 0
    examples: dict[str, list[list[Any]]] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not (self.only_live or self.only_shadow or self.differing)


@dataclass
class RebuildReport:
    position: int
    views: dict[str, dict[str, TableDiff]]

    @property
    def same(self) -> bool:
        return all(d.same for tables in self.views.values() for d in tables.values())


def rebuild(store: Store, names: Sequence[str], progress: ProgressCallback | None) -> RebuildReport:
    unknown = [n for n in names if n not in VIEW_TYPES]
    if unknown:
        raise ValueError(
            f"unknown projections: {', '.join(unknown)}; known: {', '.join(VIEW_TYPES)}"
        )
    shadows = [VIEW_TYPES[n](shadow=True) for n in names]
    with store.write() as tx:
        for view in shadows:
            for tb in view.tables:
                tx.x(f"DROP TABLE IF EXISTS {view.t[tb.name]}")
        engine.create_tracking(tx, SHADOW_TRACKING)
        tx.x(f"DELETE FROM {SHADOW_TRACKING}")
        for view in shadows:
            view.create(tx)
            tx.x(f"INSERT INTO {SHADOW_TRACKING} VALUES (?, 0)", (view.name,))
        total = head(tx)

    def report(done: int) -> None:
        if progress is not None:
            progress(min(done, total), total)

    engine.catch_up(store, shadows, table=SHADOW_TRACKING, progress=report)
    with store.write() as tx:
        engine.lock_positions(tx, list(names))
        pos = engine.lock_positions(tx, list(names), SHADOW_TRACKING)
        reached = min(pos.values(), default=0)
        while events := read_page(tx, reached, engine.PAGE_SIZE, engine.MAX_RECORDS):
            for view in shadows:
                view.apply(tx, events)
            reached = events[-1].position
        diffs = {v.name: {tb.name: _diff(tx, tb, v.t[tb.name]) for tb in v.tables} for v in shadows}
        for view in shadows:
            _swap(tx, view)
            tx.x(f"UPDATE {engine.TRACKING} SET position = ? WHERE view = ?", (reached, view.name))
        tx.x(f"DROP TABLE IF EXISTS {SHADOW_TRACKING}")
    report(reached)
    return RebuildReport(reached, diffs)


def _pk_match(tb: Table, a: str, b: str) -> str:
    return " AND ".join(f"{a}.{c} = {b}.{c}" for c in tb.primary_key)


def _diff(tx: Tx, tb: Table, shadow: str) -> TableDiff:
    """One join pass (examples are looked for only when something differs): live LEFT
    JOIN shadow counts rows only live, rows matched and rows whose columns differ; rows
    only in the shadow are the shadow's count minus the matched ones (keys are unique)."""
    live, match = tb.name, _pk_match(tb, "a", "b")
    distinct = "IS DISTINCT FROM" if tx.pg else "IS NOT"
    others = [c for c in tb.column_names if c not in tb.primary_key]
    differ = " OR ".join(f"a.{c} {distinct} b.{c}" for c in others) or "1 = 0"
    first = tb.primary_key[0]
    row = tx.one(
        f"SELECT COUNT(*), COUNT(b.{first}), COALESCE(SUM(CASE WHEN b.{first} IS NOT NULL "
        f"AND ({differ}) THEN 1 ELSE 0 END), 0) FROM {live} a LEFT JOIN {shadow} b ON {match}"
    )
    total, matched, differing = (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)
    row = tx.one(f"SELECT COUNT(*) FROM {shadow}")
    only_live, only_shadow = total - matched, (int(row[0]) if row else 0) - matched
    result = TableDiff(only_live, only_shadow, differing)
    keys = ", ".join(f"a.{c}" for c in tb.primary_key)
    queries = {
        "only_live": (
            only_live,
            f"FROM {live} a WHERE NOT EXISTS (SELECT 1 FROM {shadow} b WHERE {match})",
        ),
        "only_shadow": (
            only_shadow,
            f"FROM {shadow} a WHERE NOT EXISTS (SELECT 1 FROM {live} b WHERE {match})",
        ),
        "differing": (differing, f"FROM {live} a JOIN {shadow} b ON {match} WHERE {differ}"),
    }
    for label, (count, source) in queries.items():
        found = tx.q(f"SELECT {keys} {source} LIMIT {EXAMPLES}") if count else []
        result.examples[label] = [list(r) for r in found]
    return result


def _swap(tx: Tx, view: View) -> None:
    for name in view.retired:  # a table of an older layout goes with the old view
        tx.x(f"DROP TABLE IF EXISTS {name}")
    for tb in view.tables:
        shadow = view.t[tb.name]
        tx.x(f"DROP TABLE IF EXISTS {tb.name}")
        tx.x(f"ALTER TABLE {shadow} RENAME TO {tb.name}")
        if tx.pg:
            for i in range(len(tb.indexes)):
                tx.x(f"ALTER INDEX ix_{shadow}_{i} RENAME TO ix_{tb.name}_{i}")
            tx.x(f"ALTER INDEX {shadow}_pkey RENAME TO {tb.name}_pkey")
        # SQLite: the indexes move with the renamed table, under the shadow's names.
