"""Pages of per-record rows in (entity type, key) order, the entity type as synced.

`view_session_records` holds an entity type as its number `et`
(projections/views/entity_types.py), whose order is not the text's, so a page walks the
dictionary `view_entity_types` in text order and each entity type's rows in key order:
an index of the rows that starts (scope columns, et, key) serves every step (a session's
records: the primary key; receipts: `(reg_no, et, key, cur)`) and nothing is sorted
beyond one page. SQLite plans this from a plain join (the dictionary's primary key is
unique and ordered); PostgreSQL gets a LATERAL subquery of at most one page per entity type.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.store import Tx


def typed_page(
    tx: Tx,
    *,
    table: str,
    alias: str,
    scope: str,
    scope_params: Sequence[Any],
    select: str,
    joins: str,
    entity_type: str | None,
    key: str | None,
    after: tuple[str, str] | None,
    limit: int,
) -> list[tuple[Any, ...]]:
    """Up to `limit` rows `t.entity_type, <select>` of `table` (as `alias`) within `scope`
    (SQL on `alias`), after the cursor `after` = (entity type, key), with `joins` (no
    parameters) after it. `alias` is the table's own name inside and outside."""
    inner, inner_params = [f"{alias}.et = t.et", scope], list(scope_params)
    outer: list[str] = []
    outer_params: list[Any] = []
    if entity_type is not None:
        outer.append("t.entity_type = ?")
        outer_params.append(entity_type)
    if key is not None:
        inner.append(f"{alias}.key = ?")
        inner_params.append(key)
    if after is not None:
        outer.append("t.entity_type >= ?")
        outer_params.append(after[0])
        # A bound on the key itself, so the index starts there ('' is the least text): the
        # cursor's entity type from its key on, the next ones from their first key.
        inner.append(
            f"{alias}.key >= CASE WHEN t.entity_type = ? THEN ? ELSE '' END "
            f"AND NOT (t.entity_type = ? AND {alias}.key = ?)"
        )
        inner_params += [after[0], after[1], after[0], after[1]]
    order = f"ORDER BY t.entity_type, {alias}.key LIMIT ?"
    if not tx.pg:
        where = " AND ".join(inner + outer)
        return tx.q(
            f"SELECT t.entity_type, {select} FROM view_entity_types t "
            f"CROSS JOIN {table} {alias} {joins} WHERE {where} {order}",
            (*inner_params, *outer_params, limit),
        )
    where = f"WHERE {' AND '.join(outer)}" if outer else ""
    return tx.q(
        f"SELECT t.entity_type, {select} FROM view_entity_types t CROSS JOIN LATERAL "
        f"(SELECT * FROM {table} {alias} WHERE {' AND '.join(inner)} "
        f"ORDER BY {alias}.key LIMIT ?) {alias} {joins} {where} {order}",
        (*inner_params, limit, *outer_params, limit),
    )
