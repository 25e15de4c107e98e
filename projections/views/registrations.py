"""Registrations and their sync requests (everything the Registration aggregate says)."""

from __future__ import annotations

from collections.abc import Sequence

from projections.events import Event
from projections.store import Tx
from projections.views.base import Table, View


class RegistrationsView(View):
    name = "registrations"
    tables = (
        Table(
            "view_registrations",
            "id TEXT NOT NULL, product TEXT NOT NULL, file_id TEXT NOT NULL, name TEXT, "
            "sync_interval_minutes BIGINT, stuck_after_minutes BIGINT, created_at BIGINT, "
            "last_event_at BIGINT",
            ("id",),
            (("product", "file_id"),),
        ),
        Table(
            "view_sync_requests",
            "request_id TEXT NOT NULL, registration_id TEXT NOT NULL, kind TEXT, status TEXT, "
            "requested_by TEXT, requested_at BIGINT, fulfilled_by_session TEXT, "
            "fulfilled_at BIGINT, position BIGINT, cancelled_by TEXT, cancelled_at BIGINT, "
            "cancel_reason TEXT",
            ("request_id",),
            (("registration_id", "position"),),
        ),
    )

    def apply(self, tx: Tx, events: Sequence[Event]) -> None:
        regs, reqs = self.t["view_registrations"], self.t["view_sync_requests"]
        for e in events:
            if not e.kind.startswith("Registration."):
                continue
            s = e.state
            if e.kind == "Registration.Registered":
                tx.x(
                    f"INSERT INTO {regs} VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        e.originator_id,
                        s["product"],
                        s["file_id"],
                        s["name"],
                        s["sync_interval_minutes"],
                        s["stuck_after_minutes"],
                        e.at,
                        e.at,
                    ),
                )
                continue
            tx.x(f"UPDATE {regs} SET last_event_at = ? WHERE id = ?", (e.at, e.originator_id))
            if e.kind == "Registration.SyncRequested":
                tx.x(
                    f"INSERT INTO {reqs} VALUES (?, ?, ?, 'pending', ?, ?, NULL, NULL, ?, "
                    "NULL, NULL, NULL)",
                    (s["request_id"], e.originator_id, s["kind"], e.actor, e.at, e.position),
                )
            elif e.kind == "Registration.SettingsChanged":
                # Rule 18: the settings this table shows (the opt-in ones: LifecycleView).
                for column in ("name", "sync_interval_minutes", "stuck_after_minutes"):
                    if column in s["changes"]:
                        tx.x(
                            f"UPDATE {regs} SET {column} = ? WHERE id = ?",
                            (s["changes"][column], e.originator_id),
                        )
            elif e.kind == "Registration.SyncRequestFulfilled":
                tx.x(
                    f"UPDATE {reqs} SET status = 'fulfilled', fulfilled_by_session = ?, "
                    "fulfilled_at = ? WHERE request_id = ?",
                    (s["session_id"], e.at, s["request_id"]),
                )
            elif e.kind == "Registration.SyncRequestCancelled":  # rule 14
                tx.x(
                    f"UPDATE {reqs} SET status = 'cancelled', cancelled_by = ?, "
                    "cancelled_at = ?, cancel_reason = ? WHERE request_id = ?",
                    (e.actor, e.at, s["reason"], s["request_id"]),
                )
