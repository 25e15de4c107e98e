"""Table layouts: views built by an older layout are rebuilt; rebuild swaps keep exactly
the declared indexes (SQLite cannot rename indexes, so they keep the shadow's names)."""

from __future__ import annotations

from domain import Context, Database, Ledger
from projections import ReadModels
from projections.views import VIEW_TYPES


def _indexes(models: ReadModels) -> dict[str, set[tuple[str, ...]]]:
    found: dict[str, set[tuple[str, ...]]] = {}
    with models.store.read() as tx:
        for view in VIEW_TYPES.values():
            for tb in view.tables:
                if tx.pg:
                    rows = tx.q(
                        "SELECT indexname FROM pg_indexes WHERE schemaname = "
                        "current_schema() AND tablename = ?",
                        (tb.name,),
                    )
                    names = [str(r[0]) for r in rows if not str(r[0]).endswith("_pkey")]
                    cols = {
                        tuple(
                            str(c)
                            for c in tx.one(
                                "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_index i "
                                "JOIN LATERAL unnest(i.indkey) WITH ORDINALITY k(attnum, n) "
                                "ON true "
                                "JOIN pg_attribute a ON a.attrelid = i.indrelid "
                                "AND a.attnum = k.attnum WHERE i.indexrelid = ?::regclass",
                                (n,),
                            )[0]
                        )
                        for n in names
                    }  # type: ignore[index]
                    assert len(cols) == len(names)
                else:
                    rows = tx.q(
                        "SELECT name FROM sqlite_master WHERE type = 'index' "
                        "AND tbl_name = ? AND sql IS NOT NULL",
                        (tb.name,),
                    )
                    cols = {
                        tuple(str(r[2]) for r in tx.q(f"PRAGMA index_info('{n}')")) for (n,) in rows
                    }
                    assert len(cols) == len(rows)
                found[tb.name] = cols
    return found


def test_rebuilds_keep_the_declared_indexes(database: Database) -> None:
    ledger = Ledger(database=database)
    ctx = Context("alice", "idx")
    rid = ledger.register(ctx, product="p", file_id="idx").registration_id
    sid = ledger.start_session(ctx, rid, sync_type="full").session_id
    ledger.record_batch(ctx, rid, sid, [["A", str(i), "d"] for i in range(10)])
    models = ReadModels(database)
    try:
        models.run_once()
        pg = database.kind == "postgresql"
        declared = {
            tb.name: set(tb.index_columns(pg)) for v in VIEW_TYPES.values() for tb in v.tables
        }
        assert _indexes(models) == declared
        for _ in range(3):
            assert models.rebuild().same
            assert _indexes(models) == declared
        again = ReadModels(database)  # starting again adds no index
        again.close()
        assert _indexes(models) == declared
        assert models.count_receipts(rid) == 10
    finally:
        models.close()
        ledger.close()


def test_older_layout_is_rebuilt(database: Database) -> None:
    ledger = Ledger(database=database)
    ctx = Context("alice", "old")
    rid = ledger.register(ctx, product="p", file_id="old").registration_id
    sid = ledger.start_session(ctx, rid, sync_type="full").session_id
    ledger.record_batch(ctx, rid, sid, [["A", str(i), "d"] for i in range(5)])
    models = ReadModels(database)
    models.run_once()
    with models.store.write() as tx:  # what an older version left behind: a retired table
        tx.x(
            "CREATE TABLE view_receipts (registration_id TEXT NOT NULL, entity_type TEXT, "
            "key TEXT, digest TEXT, session_id TEXT, seq BIGINT, synced_at BIGINT, "
            "position BIGINT, PRIMARY KEY (registration_id, entity_type, key))"
        )
    models.close()
    models = ReadModels(database)
    try:
        assert models.positions()["receipts"] == 0
        with models.store.read() as tx:  # dropped with the outdated view
            assert tx.one("SELECT COUNT(*) FROM view_session_records") == (0,)
            retired = (
                "to_regclass('view_receipts')"
                if tx.pg
                else ("(SELECT name FROM sqlite_master WHERE name = 'view_receipts')")
            )
            assert tx.one(f"SELECT {retired}") == (None,)
        models.run_once()
        assert models.count_receipts(rid) == 5
        assert models.rebuild().same
    finally:
        models.close()
        ledger.close()
