"""`ReadModels`: the read side of syncledger (see projections/interface.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from domain.infra.database import Database
from domain.infra.locks import WouldBlock, waiting_allowed
from domain.liveness import to_micros
from projections import engine
from projections.events import head_sql
from projections.interface import Page, ProgressCallback, Row, Scope
from projections.reads import approvals as approval_reads
from projections.reads import audit as audit_reads
from projections.reads import liveness
from projections.reads import receipts as receipt_reads
from projections.reads import registrations as reg_reads
from projections.reads import sessions as session_reads
from projections.reads.audit import AuditFilter
from projections.rebuild import RebuildReport, rebuild
from projections.runner import Runner
from projections.store import Store
from projections.views import VIEW_TYPES, View

FALLBACK_POLL_S = 0.05


class ReadModels:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.store = Store(database)
        self.views: list[View] = [cls() for cls in VIEW_TYPES.values()]
        engine.ensure_views(self.store, self.views)
        self._step_lock = threading.Lock()
        self._runner = Runner(database.kind, self.run_once, self.store.listen_connection)
        # The highest position every view is known to have committed, and a condition that
        # waiters sleep on: a write's read-your-writes wait ends the moment the page holding
        # it commits (woken by this process's runner, or by `advanced()` fed from a runner
        # process), instead of polling the tracking table on a back-off timer.
        self._reached = 0
        self._advance = threading.Condition()
        self._advance_listeners: list[Callable[[int], None]] = []
        # True when a runner reports its pages here (this process's, or a runner process
        # through `advanced`): waits then sleep until told instead of reading the table.
        self.reporting = False
        # What "now" is for time-based reads (stuck, rule 15); None: the real time.
        self.clock: Callable[[], datetime] | None = None

    def _now(self) -> int | None:
        return None if self.clock is None else to_micros(self.clock())

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.expect_reports()
        self._runner.start()

    def expect_reports(self) -> None:
        """From now on a runner reports its pages here; start from where the views are."""
        self.advanced(self.position())
        self.reporting = True

    def stop(self) -> None:
        self._runner.stop()

    def close(self) -> None:
        self.stop()
        self.store.close()

    def notify(self, position: int) -> None:
        self._runner.wake.set()

    def run_once(self) -> int:
        """Catch every view up; returns a position they all reflect. A runner reporting
        here knows it without reading the tracking table again (issue 16: a read per page
        under a stream of small writes)."""
        with self._step_lock:
            reached = engine.catch_up(self.store, self.views, progress=self.advanced)
        return max(reached, self.reflected())

    def on_advance(self, listener: Callable[[int], None]) -> None:
        """Call `listener(position)` after each page the runner commits (in its thread)."""
        self._advance_listeners.append(listener)

    def advanced(self, position: int) -> None:
        """Every view has committed `position` (this process's runner, or a runner process
        reporting back): wake the readers waiting for it."""
        with self._advance:
            if position <= self._reached:
                return
            self._reached = position
            self._advance.notify_all()
        for listener in self._advance_listeners:
            listener(position)

    # --- positions ---------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        with self.store.read() as tx:
            rows = tx.q(f"SELECT view, position FROM {engine.TRACKING}")
        return {str(name): int(pos) for name, pos in rows if name in VIEW_TYPES}

    def position(self) -> int:
        return min(self.positions().values(), default=0)

    def reflected(self) -> int:
        """A position every read from now on reflects at least: the last page a runner
        reported here (no query), else the tracking table's."""
        return self._reached if self.reporting else self.position()

    def wait_for(self, position: int, timeout: float) -> bool:
        if position <= self._reached:
            return True
        if not waiting_allowed():  # on the API's event loop (api/inline.py): not here
            if self.position() >= position:
                return True
            raise WouldBlock("the views have not reached this position yet")
        deadline = time.monotonic() + timeout
        look = not self.reporting  # nobody reports here: the tracking table is the news
        while True:
            if look:
                reached = self.position()
                if reached >= position:
                    self.advanced(reached)
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._runner.wake.set()
            with self._advance:
                self._advance.wait_for(
                    lambda: self._reached >= position, min(remaining, FALLBACK_POLL_S)
                )
            if self._reached >= position:
                return True
            look = True  # a report may have been dropped (full pipe): look at the table

    def health(self) -> dict[str, dict[str, int]]:
        """Each view's position and lag behind the log's head, from one statement: the
        tracking rows (one per view) and the head (the last key of the events' primary
        index, not a scan)."""
        with self.store.read() as tx:
            rows = tx.q(
                f"SELECT view, position FROM {engine.TRACKING} UNION ALL SELECT '', {head_sql(tx)}"
            )
        top = max((int(pos or 0) for name, pos in rows if name == ""), default=0)
        return {
            str(name): {"position": int(pos), "lag": max(0, top - int(pos))}
            for name, pos in rows
            if name in VIEW_TYPES
        }

    def rebuild(
        self, names: list[str] | None = None, progress: ProgressCallback | None = None
    ) -> RebuildReport:
        with self._step_lock:
            return rebuild(self.store, names or list(VIEW_TYPES), progress)

    # --- reads -------------------------------------------------------------------------

    def list_registrations(
        self,
        *,
        product: str | None = None,
        file_id: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
        q: str | None = None,
        status: str | None = None,
        scope: Scope | None = None,
    ) -> Page:
        with self.store.read() as tx:
            return reg_reads.list_registrations(
                tx,
                product=product,
                file_id=file_id,
                limit=limit,
                cursor=cursor,
                q=q,
                status=status,
                scope=scope,
                now=self._now(),
            )

    def search_registrations(
        self,
        *,
        q: str | None = None,
        status: str | None = None,
        product: str | None = None,
        sort: str = "last_updated",
        descending: bool = True,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[Row], int]:
        with self.store.read() as tx:
            return reg_reads.search_registrations(
                tx,
                q=q,
                status=status,
                product=product,
                sort=sort,
                descending=descending,
                limit=limit,
                offset=offset,
            )

    def registration_products(self) -> list[str]:
        with self.store.read() as tx:
            return reg_reads.registration_products(tx)

    def get_registration(self, rid: UUID) -> Row | None:
        with self.store.read(single=True) as tx:  # one statement (reads/registrations.py)
            return reg_reads.get_registration(tx, str(rid), self._now())

    def has_registration(self, rid: UUID) -> bool:
        with self.store.read(single=True) as tx:
            return reg_reads.has_registration(tx, str(rid))

    def list_sessions(
        self,
        rid: UUID,
        *,
        include_deleted: bool = False,
        limit: int = 100,
        cursor: str | None = None,
        status: str | None = None,
        has_errors: bool | None = None,
        offset: int = 0,
    ) -> Page:
        with self.store.read(single=True) as tx:  # one statement (reads/sessions.py)
            return session_reads.list_sessions(
                tx,
                str(rid),
                include_deleted=include_deleted,
                limit=limit,
                cursor=cursor,
                status=status,
                has_errors=has_errors,
                offset=offset,
                now=self._now(),
            )

    def count_sessions(
        self,
        rid: UUID,
        *,
        include_deleted: bool = False,
        status: str | None = None,
        has_errors: bool | None = None,
    ) -> int:
        with self.store.read() as tx:
            return session_reads.count_sessions(
                tx, str(rid), include_deleted=include_deleted, status=status, has_errors=has_errors
            )

    def session_errors(self, rid: UUID, sid: str, *, limit: int = 50, offset: int = 0) -> list[Row]:
        with self.store.read() as tx:
            return session_reads.session_errors(tx, str(rid), sid, limit=limit, offset=offset)

    def session_breakdown(self, rid: UUID, sid: str) -> list[Row]:
        with self.store.read() as tx:
            return session_reads.session_breakdown(tx, str(rid), sid)

    def get_session(self, rid: UUID, sid: str) -> Row | None:
        with self.store.read(single=True) as tx:  # one statement (reads/sessions.py)
            return session_reads.get_session(tx, str(rid), sid, self._now())

    def session_records(
        self,
        rid: UUID,
        sid: str,
        *,
        limit: int = 100,
        cursor: str | None = None,
        entity_type: str | None = None,
        key: str | None = None,
    ) -> Page:
        with self.store.read() as tx:
            return session_reads.session_records(
                tx, str(rid), sid, limit=limit, cursor=cursor, entity_type=entity_type, key=key
            )

    def receipts(
        self,
        rid: UUID,
        *,
        entity_type: str | None = None,
        key: str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> Page:
        with self.store.read(single=True) as tx:  # one statement
            return receipt_reads.receipts(
                tx, str(rid), entity_type=entity_type, key=key, limit=limit, cursor=cursor
            )

    def count_receipts(self, rid: UUID) -> int:
        with self.store.read() as tx:
            return receipt_reads.count_receipts(tx, str(rid))

    def diff(self, rid: UUID, records: Sequence[tuple[str, str, str]]) -> Row:
        with self.store.read() as tx:
            return receipt_reads.diff(tx, str(rid), records)

    def sync_requests(
        self, rid: UUID, *, status: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> Page:
        with self.store.read() as tx:
            return audit_reads.sync_requests(
                tx, str(rid), status=status, limit=limit, cursor=cursor
            )

    def audit(
        self,
        *,
        registration_id: UUID | None = None,
        after: int | None = None,
        limit: int = 100,
        cursor: str | None = None,
        filters: AuditFilter | None = None,
    ) -> Page:
        rid = None if registration_id is None else str(registration_id)
        with self.store.read() as tx:
            return audit_reads.audit(
                tx, registration_id=rid, after=after, limit=limit, cursor=cursor, filters=filters
            )

    def audit_page(
        self, filters: AuditFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Row], int]:
        with self.store.read() as tx:
            return audit_reads.audit_page(tx, filters, limit=limit, offset=offset)

    def audit_actors(self) -> list[str]:
        with self.store.read() as tx:
            return audit_reads.audit_actors(tx)

    def audit_entry(self, position: int) -> Row | None:
        with self.store.read() as tx:
            return audit_reads.audit_entry(tx, position)

    # --- lifecycle (rules 15-17) ---------------------------------------------------------

    def list_approvals(
        self, *, status: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> Page:
        with self.store.read() as tx:
            return approval_reads.list_approvals(tx, status=status, limit=limit, cursor=cursor)

    def get_approval(self, approval_id: str) -> Row | None:
        with self.store.read() as tx:
            return approval_reads.approval(tx, approval_id)

    def unflagged_stuck(self, now: int, limit: int = 1000) -> list[tuple[str, str]]:
        with self.store.read() as tx:
            return liveness.unflagged_stuck(tx, now, limit)

    def due_for_self_healing(self, now: int, limit: int = 1000) -> list[tuple[str, str]]:
        with self.store.read() as tx:
            return liveness.due_for_self_healing(tx, now, limit)

    def approvals_to_expire(self, now: int, limit: int = 1000) -> list[str]:
        with self.store.read() as tx:
            return liveness.approvals_to_expire(tx, now, limit)
