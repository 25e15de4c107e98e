"""The SQLite write lock: threads and processes queue on it, one writer at a time."""

from __future__ import annotations

import multiprocessing
import threading
import time
from pathlib import Path

from domain.infra.locks import sqlite_write_lock


def _hold(path: str, seconds: float, started: object, log: str) -> None:
    with sqlite_write_lock(path):
        started.set()  # type: ignore[attr-defined]
        with open(log, "a") as f:
            f.write(f"in {time.monotonic()}\n")
        time.sleep(seconds)
        with open(log, "a") as f:
            f.write(f"out {time.monotonic()}\n")


def test_one_lock_per_file(tmp_path: Path) -> None:
    a = sqlite_write_lock(str(tmp_path / "a.db"))
    assert a is sqlite_write_lock(str(tmp_path / "." / "a.db"))
    assert a is not sqlite_write_lock(str(tmp_path / "b.db"))


def test_threads_take_turns(tmp_path: Path) -> None:
    lock = sqlite_write_lock(str(tmp_path / "t.db"))
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        for _ in range(50):
            with lock:
                with guard:
                    inside += 1
                    most = max(most, inside)
                time.sleep(0.0005)
                with guard:
                    inside -= 1

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert most == 1


def test_processes_take_turns(tmp_path: Path) -> None:
    db, log = str(tmp_path / "p.db"), str(tmp_path / "log.txt")
    ctx = multiprocessing.get_context("spawn")
    started = ctx.Event()
    holder = ctx.Process(target=_hold, args=(db, 0.5, started, log))
    holder.start()
    assert started.wait(30)
    with sqlite_write_lock(db):
        acquired_at = time.monotonic()
    holder.join(10)
    events = dict(line.split() for line in Path(log).read_text().splitlines())
    assert acquired_at >= float(events["out"])  # waited for the other process to let go
