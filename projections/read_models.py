"""`ReadModels`: the read side of syncledger (see projections/interface.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from uuid import UUID

from domain.infra.database import Database
from domain.liveness import to_micros
from projections import engine
from projections.events import head
from projections.interface import Page, ProgressCallback, Row
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


class ReadModels:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.store = Store(database)
        self.views: list[View] = [cls() for cls in VIEW_TYPES.values()]
        engine.ensure_views(self.store, self.views)
        self._step_lock = threading.Lock()
        self._runner = Runner(database.kind, self.run_once, self.store.listen_connection)
        # What "now" is for time-based reads (stuck, rule 15); None: the real time.
        self.clock: Callable[[], datetime] | None = None

    def _now(self) -> int | None:
        return None if self.clock is None else to_micros(self.clock())

    # --- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self._runner.start()

    def stop(self) -> None:
        self._runner.stop()

    def close(self) -> None:
        self.stop()
        self.store.close()

    def notify(self, position: int) -> None:
        self._runner.wake.set()

    def run_once(self) -> int:
        with self._step_lock:
            engine.catch_up(self.store, self.views)
        return self.position()

    # --- positions ---------------------------------------------------------------------

    def positions(self) -> dict[str, int]:
        with self.store.read() as tx:
            rows = tx.q(f"SELECT view, position FROM {engine.TRACKING}")
        return {str(name): int(pos) for name, pos in rows if name in VIEW_TYPES}

    def position(self) -> int:
        return min(self.positions().values(), default=0)

    def wait_for(self, position: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            if self.position() >= position:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._runner.wake.set()
            time.sleep(min(delay, remaining))
            delay = min(delay * 2, 0.05)

    def health(self) -> dict[str, dict[str, int]]:
        positions = self.positions()
        with self.store.read() as tx:
            top = head(tx, self.store.events_table)
        return {
            name: {"position": pos, "lag": max(0, top - pos)} for name, pos in positions.items()
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
        ids: Sequence[str] | None = None,
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
                ids=ids,
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
        with self.store.read() as tx:
            return reg_reads.get_registration(tx, str(rid), self._now())

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
        with self.store.read() as tx:
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
        with self.store.read() as tx:
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
        with self.store.read() as tx:
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
