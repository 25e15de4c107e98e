"""The background work of `serve`: the view runners and the Merkle tree follower.

In "thread" mode they run as threads of the API process (tests, small installs). In
"process" mode (`syncledger serve`'s default) they run in one child process, so the API
and the views each get a core of their own instead of sharing one interpreter lock. The
API process wakes the child after each save through a pipe; the child also polls, so
writes from other processes are seen. The child reports each position its views commit
back through a second pipe, so a request waiting to read its own write wakes the moment
the page holding it commits (the tracking table stays the truth: waits also look there).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import select
import struct
import threading
from typing import Any

from api.services import Services
from domain.infra.database import Database

log = logging.getLogger("syncledger.background")
MODES = ("thread", "process")
MODE_ENV = "SYNCLEDGER_RUNNERS"
POLL_SECONDS = 0.5
BENCH_WITHOUT_TREE = "SYNCLEDGER_BENCH_WITHOUT_TREE"
POSITION = struct.Struct("<q")


def _report_to(writer: Any) -> Any:
    """A listener writing each position the views reach to `writer` (never blocks: if the
    pipe is full the API process is behind reading it, and a later position will do)."""
    fd = writer.fileno()
    os.set_blocking(fd, False)

    def report(position: int) -> None:
        try:
            os.write(fd, POSITION.pack(position))
        except (BlockingIOError, BrokenPipeError, OSError):
            pass

    return report


def _child_main(
    database: Database, reader: Any, reporter: Any = None, log_config: Any = None
) -> None:
    """The runner process: views and tree follower (which signs checkpoints), woken by
    bytes on `reader`; each
    position the views commit goes back on `reporter`.

    A pipe, not a multiprocessing Event: an Event is a shared lock, and a child killed
    while holding it would block the API's next wake-up. b"q" asks the child to stop.
    """
    from api.housekeeping import Housekeeping
    from api.settings import service_clock
    from domain.ledger import Ledger
    from projections import ReadModels
    from replay.treelog import TreeFollower

    models = ReadModels(database)
    if reporter is not None:
        models.on_advance(_report_to(reporter))
    # Benchmarks only (benchmarks/bench_replay.py): measure ingest without the tree follower,
    # to show what keeping the tree costs. Never set it in production: no checkpoints.
    tree = None if os.environ.get(BENCH_WITHOUT_TREE) else TreeFollower(database, log_config)
    # The tree follows the views, not the wake-up: woken together, the two raced for the
    # file's write lock and a request waiting to read its own write often waited for the
    # tree's commit too. (The tree still polls, so it never depends on the views.)
    if tree is not None:
        models.on_advance(tree.notify)
    ledger = Ledger(database=database)
    ledger.on_saved(models.notify)  # a flag or a self-healing deletion shows at once
    clock = service_clock()
    ledger.clock = clock
    housekeeping = Housekeeping(database, clock=clock, ledger=ledger, read_models=models)
    # The outbox reads only what the sessions view has processed: its wake-up is a page
    # the views committed, not a save (api/housekeeping.py).
    models.on_advance(housekeeping.notify)
    models.start()
    if tree is not None:
        tree.start()
    housekeeping.start()
    fd = reader.fileno()
    try:
        while True:
            ready, _, _ = select.select([fd], [], [], POLL_SECONDS)
            if not ready:
                continue
            data = os.read(fd, 65536)
            if not data or b"q" in data:  # stop asked, or the API process is gone
                break
            models.notify(0)
    finally:
        housekeeping.close()
        if tree is not None:
            tree.stop()
        models.stop()


class BackgroundWork:
    def __init__(self, services: Services, mode: str | None = None) -> None:
        mode = mode or os.environ.get(MODE_ENV) or "thread"
        if mode not in MODES:
            raise ValueError(f"{MODE_ENV} must be one of {', '.join(MODES)}, not {mode!r}")
        self.services = services
        self.mode = mode
        self._ctx = multiprocessing.get_context("spawn")
        self._stopping = threading.Event()
        self._writer: Any = None
        self._child: Any = None
        self._supervisor: threading.Thread | None = None
        self.housekeeping: Any = None

    def start(self) -> None:
        services = self.services
        if self.mode == "thread":
            services.read_models.start()
            services.ledger.on_saved(services.read_models.notify)
            services.tree.start()
            services.ledger.on_saved(services.tree.notify)
            from api.housekeeping import Housekeeping

            self.housekeeping = Housekeeping(
                services.database,
                clock=services.clock,
                webhooks=services.webhooks,
                ledger=services.ledger,
                read_models=services.read_models,
            )
            self.housekeeping.start()
            services.read_models.on_advance(self.housekeeping.notify)
            return
        if services.database.kind == "sqlite":
            # PostgreSQL's runner hears the save's own NOTIFY; a write to the pipe per save
            # was a system call and a release of the interpreter lock on every request,
            # 6% of the API process's samples under 8 writing clients (issue 16).
            services.ledger.on_saved(lambda _position: self._send(b"x"))
        services.read_models.expect_reports()  # the child reports its pages (_hear_positions)
        self._spawn()
        self._supervisor = threading.Thread(target=self._supervise, name="runners", daemon=True)
        self._supervisor.start()

    @property
    def child_pid(self) -> int | None:
        """The runner process's pid (process mode), for operators and tests."""
        return self._child.pid if self._child is not None else None

    def _send(self, byte: bytes) -> None:
        """Never blocks: a full pipe means a wake-up is already pending."""
        writer = self._writer
        if writer is None:
            return
        try:
            os.write(writer.fileno(), byte)
        except (BlockingIOError, BrokenPipeError, OSError):
            pass

    def _spawn(self) -> None:
        reader, writer = self._ctx.Pipe(duplex=False)
        os.set_blocking(writer.fileno(), False)
        old, self._writer = self._writer, writer
        if old is not None:
            old.close()
        positions, reporter = self._ctx.Pipe(duplex=False)
        child = self._ctx.Process(
            target=_child_main,
            args=(self.services.database, reader, reporter, self.services.tree.config),
            name="syncledger-runners",
            daemon=True,
        )
        child.start()
        self._child = child  # only once started: `child_pid` is never None in between
        reader.close()
        reporter.close()
        threading.Thread(
            target=self._hear_positions, args=(positions,), name="runner-positions", daemon=True
        ).start()

    def _hear_positions(self, positions: Any) -> None:
        """Feed the positions the runner process reports to the read models' waiters; ends
        when the child is gone (end of file)."""
        fd = positions.fileno()
        size = POSITION.size
        pending = b""
        try:
            while True:
                data = os.read(fd, size * 512)
                if not data:
                    return
                pending += data
                whole = len(pending) - len(pending) % size
                if whole:
                    self.services.read_models.advanced(
                        POSITION.unpack_from(pending, whole - size)[0]
                    )
                    pending = pending[whole:]
        except OSError:
            return
        finally:
            positions.close()

    def _supervise(self) -> None:
        while not self._stopping.wait(1.0):
            if self._child is not None and not self._child.is_alive():
                log.error(
                    "the projection runner process exited (%s); restarting it", self._child.exitcode
                )
                self._spawn()

    def stop(self) -> None:
        services = self.services
        if self.mode == "thread":
            parts = (
                ("housekeeping", self.housekeeping),
                ("tree", services.tree),
                ("read models", services.read_models),
            )
            for name, part in parts:
                if part is None:
                    continue
                try:
                    part.stop()
                except Exception:  # noqa: BLE001 - shutting down: log and go on
                    log.exception("stopping the %s failed", name)
            if self.housekeeping is not None:
                self.housekeeping.close()
                self.housekeeping = None
            return
        self._stopping.set()
        if self._supervisor is not None:
            self._supervisor.join(timeout=5)
        self._send(b"q")
        if self._child is not None:
            self._child.join(timeout=10)
            if self._child.is_alive():
                self._child.terminate()
                self._child.join(timeout=5)
