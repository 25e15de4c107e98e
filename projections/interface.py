"""The contract between the read models (projections/) and their readers (api/, replay/).

`projections.ReadModels` implements this protocol. Every dict below uses the field names of
docs/api.md; times are RFC 3339 UTC strings; ids are strings. List methods return
`Page(items, next_cursor)`; `cursor` is an opaque string from a previous page.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

if TYPE_CHECKING:
    from projections.reads.audit import AuditFilter

Row = dict[str, Any]


@dataclass(frozen=True)
class Page:
    items: list[Row]
    next_cursor: str | None


@dataclass(frozen=True)
class Scope:
    """The registrations a reader may see: a subquery of registration ids over the views'
    database (`?` placeholders) and its parameters. The API's worker scope (rule 13) is a
    table it keeps beside the views; the list joins it by its index instead of receiving
    every held id (issue 16: 3,000 ids cost more than the page)."""

    subquery: str
    params: tuple[Any, ...] = ()


class ReadModelsProtocol(Protocol):
    # --- lifecycle -------------------------------------------------------------------
    def start(self) -> None:
        """Catch up from each view's tracked position, then follow the log live (threads).

        SQLite: a pull loop woken by `notify(position)` (call it after each save; the
        Ledger's `on_saved` hook does) and by a short poll. PostgreSQL: LISTEN/NOTIFY.
        """

    def stop(self) -> None: ...

    def close(self) -> None:
        """Stop, and close the connections (the process's pool, once its last user goes)."""

    def notify(self, position: int) -> None:
        """Wake the runners: an event up to `position` was just saved."""

    def run_once(self) -> int:
        """Process everything recorded so far, synchronously; returns the position reached."""

    # --- positions ---------------------------------------------------------------------
    def position(self) -> int:
        """The lowest position every view has processed (what a read reflects at least)."""

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until every view has processed `position`; False on timeout."""

    reporting: bool  # a runner reports each committed page through `advanced`

    def expect_reports(self) -> None:
        """A runner reports its pages from now on (through `advanced`)."""

    def reflected(self) -> int:
        """A lower bound of what every later read reflects (no query when reported)."""

    def advanced(self, position: int) -> None:
        """Every view has committed `position` (reported by a runner): wake its waiters."""

    def on_advance(self, listener: Callable[[int], None]) -> None:
        """Call `listener(position)` after each page a runner commits (in its thread)."""

    def health(self) -> dict[str, dict[str, int]]:
        """{view_name: {"position": N, "lag": head - N}} for /v1/health."""

    # --- registrations ---------------------------------------------------------------
    def list_registrations(
        self,
        *,
        product: str | None,
        file_id: str | None,
        limit: int,
        cursor: str | None,
        q: str | None = None,
        status: str | None = None,
        scope: Scope | None = None,
    ) -> Page:
        """Sorted by last_updated desc. Items: id, product, file_id, name, total_syncs,
        last_updated, sessions_in_progress, stuck_sessions, receipts,
        sync_interval_minutes, stuck_after_minutes, created_at. `q`: text in product, file
        id or name (case-insensitive); `status`: "stuck" | "failed" | "in_progress"; `scope`:
        only the registrations its subquery selects (a worker's own)."""

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
        """One page by offset (page numbers), sorted by last_updated | name | created, and
        the number of registrations that match."""

    def registration_products(self) -> list[str]: ...

    def get_registration(self, rid: UUID) -> Row | None:
        """A list item plus "status": {state: "in_progress"|"idle", message, worker, since,
        next_scheduled_sync} (rule 10, OneClick wording: "Synchronisation is currently in
        progress" / "Next scheduled sync at …")."""

    def has_registration(self, rid: UUID) -> bool:
        """Whether the views know registration `rid` (one primary-key lookup: the 404
        check of the reads under a registration, which need none of its counts)."""

    # --- sessions ----------------------------------------------------------------------
    def list_sessions(
        self,
        rid: UUID,
        *,
        include_deleted: bool,
        limit: int,
        cursor: str | None,
        status: str | None = None,
        has_errors: bool | None = None,
        offset: int = 0,
    ) -> Page:
        """Most recent first. Items: id, seq, sync_type, status, started_at, ended_at,
        records_synced, error_count, worker, entity_types, request_id, stuck,
        last_activity_at, fail_reason, deleted (null or {by, at, reason, ticket, override,
        position}), removed_by_reset (null or {position, by, at, reason}), restored
        (null or {by, at, reason, position})."""

    def count_sessions(
        self,
        rid: UUID,
        *,
        include_deleted: bool = False,
        status: str | None = None,
        has_errors: bool | None = None,
    ) -> int:
        """How many sessions list_sessions would list (status: in_progress (not stuck),
        stuck, completed, failed, deleted)."""

    def session_errors(self, rid: UUID, sid: str, *, limit: int = 50, offset: int = 0) -> list[Row]:
        """One page of the session's errors: message, entity_type, key, at."""

    def session_breakdown(self, rid: UUID, sid: str) -> list[Row]:
        """Per entity type: entity_type, records, current (still this session's receipt)."""

    def get_session(self, rid: UUID, sid: str) -> Row | None:
        """A list item plus "errors": [{message, entity_type, key, at}] and
        "deletion_check": {"safe": bool, "failed_checks": [...]} (domain.policy)."""

    def session_records(
        self,
        rid: UUID,
        sid: str,
        *,
        limit: int,
        cursor: str | None,
        entity_type: str | None = None,
        key: str | None = None,
    ) -> Page:
        """Records this session synced: entity_type, key, digest, synced_at,
        receipt_current (is this session's the current receipt for the record?), position
        (of the event that recorded it); optionally only one entity type / key."""

    # --- receipts ----------------------------------------------------------------------
    def receipts(
        self,
        rid: UUID,
        *,
        entity_type: str | None,
        key: str | None,
        limit: int,
        cursor: str | None,
    ) -> Page:
        """Current receipts: entity_type, key, digest, session_id, synced_at."""

    def count_receipts(self, rid: UUID) -> int: ...

    def diff(self, rid: UUID, records: Sequence[tuple[str, str, str]]) -> Row:
        """{"missing": [{entity_type, key}], "changed": [{entity_type, key}],
        "unchanged": n} — one set-based query."""

    # --- sync requests, audit ----------------------------------------------------------
    def sync_requests(
        self, rid: UUID, *, status: str | None, limit: int, cursor: str | None
    ) -> Page:
        """id, kind, status ("pending"|"fulfilled"|"cancelled"), requested_by, requested_at,
        fulfilled_by_session, fulfilled_at, cancelled_by, cancelled_at, cancel_reason."""

    def audit(
        self,
        *,
        registration_id: UUID | None,
        after: int | None,
        limit: int,
        cursor: str | None,
        filters: AuditFilter | None = None,
    ) -> Page:
        """Destructive actions and undos, by position: position, type ("session_deleted",
        "registration_reset", "deletion_undone", "reset_undone"), registration_id,
        session_id, actor, at, reason, ticket, override, unsynced, receipts_restored,
        receipts_skipped, undo_of, undone_by."""

    def audit_entry(self, position: int) -> Row | None: ...

    def audit_page(
        self, filters: AuditFilter, *, limit: int = 50, offset: int = 0
    ) -> tuple[list[Row], int]:
        """Newest first by offset (page numbers), and how many entries match."""

    def audit_actors(self) -> list[str]: ...

    # --- lifecycle (rules 15-17) -------------------------------------------------------
    def list_approvals(self, *, status: str | None, limit: int, cursor: str | None) -> Page:
        """Newest first: id, action, registration_id, session_id, requested_by,
        requested_at, reason, ticket, status, decided_by, decided_at, decision_reason,
        expires_at, result, position."""

    def get_approval(self, approval_id: str) -> Row | None: ...

    def unflagged_stuck(self, now: int, limit: int) -> list[tuple[str, str]]:
        """(registration_id, session_id) stuck at `now` (micros), spell not yet flagged."""

    def due_for_self_healing(self, now: int, limit: int) -> list[tuple[str, str]]:
        """Candidates of rule 16 (the domain decides)."""

    def approvals_to_expire(self, now: int, limit: int) -> list[str]: ...


ProgressCallback = Callable[[int, int], None]  # (events_done, events_total)
