from __future__ import annotations

import threading

from replay_history import build_history
from typer.testing import CliRunner

from domain import Database, Ledger
from projections import ReadModels
from replay.asof import history_as_of
from replay.cli import app
from replay.rebuild import rebuild


def test_rebuild_equals_live_views(database: Database) -> None:
    ledger = Ledger(database=database)
    rid = build_history(ledger, steps=40)
    live = ReadModels(database)
    try:
        live.run_once()
        seen: list[tuple[int, int]] = []
        report = rebuild(database, [], lambda done, total: seen.append((done, total)))
        assert report.same, report.views
        assert report.position == ledger.current_position()
        assert seen and seen[-1][0] == seen[-1][1] == ledger.current_position()
        # The replayed history at the head agrees with the session-history view.
        keys = ("id", "seq", "status", "records_synced", "error_count", "worker")
        view = live.list_sessions(rid, include_deleted=True, limit=1000, cursor=None).items
        replayed = history_as_of(ledger, rid, position=ledger.current_position())
        assert [{k: i[k] for k in keys} for i in view] == [
            {k: i[k] for k in keys} for i in replayed
        ]
        assert [i["deleted"] is None for i in view] == [i["deleted"] is None for i in replayed]
    finally:
        live.close()


def test_rebuild_while_writes_continue_misses_nothing(database: Database) -> None:
    ledger = Ledger(database=database)
    build_history(ledger, seed=3, steps=10)
    live = ReadModels(database)
    ledger.on_saved(live.notify)
    live.start()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            build_history(ledger, seed=5, steps=60)
        except BaseException as e:  # pragma: no cover - reported below
            failures.append(e)

    writer = threading.Thread(target=write)
    try:
        writer.start()
        rebuild(database, [])
        writer.join()
        assert not failures
        head = ledger.current_position()
        assert live.wait_for(head, timeout=20)
    finally:
        live.close()
    again = rebuild(database, [])  # a clean rebuild now: the live views lost nothing
    assert again.same, again.views
    assert again.position == head


def test_cli_rebuild(database: Database) -> None:
    ledger = Ledger(database=database)
    build_history(ledger, steps=10)
    runner = CliRunner()
    done = runner.invoke(app, ["--database-url", database.url, "rebuild"])
    assert done.exit_code == 0, done.output
    assert "differed" in done.stdout
    bad = runner.invoke(app, ["--database-url", database.url, "rebuild", "nope"])
    assert bad.exit_code == 2
