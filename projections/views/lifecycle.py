"""Lifecycle: approvals (rule 17), the opt-in settings (rules 16, 17), stuck flags (rule 15).

`view_stuck_flags` keeps, per session, the last activity time of the stuck spell already
flagged, so the flagging task's candidate query skips spells already recorded.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from projections.events import Event, to_micros
from projections.store import Tx
from projections.views.base import Table, View


class LifecycleView(View):
    name = "lifecycle"
    tables = (
        Table(
            "view_approvals",
            "id TEXT NOT NULL, registration_id TEXT NOT NULL, action TEXT NOT NULL, "
            "session_id TEXT, requested_by TEXT, requested_at BIGINT, reason TEXT, "
            "ticket TEXT, status TEXT NOT NULL, decided_by TEXT, decided_at BIGINT, "
            "decision_reason TEXT, expires_at BIGINT, result TEXT, position BIGINT NOT NULL",
            ("id",),
            (("status", "expires_at"), ("position",)),
        ),
        Table(
            "view_registration_settings",
            "id TEXT NOT NULL, auto_remove_stuck_after_minutes BIGINT, "
            "approvals_required BIGINT NOT NULL",
            ("id",),
            (("auto_remove_stuck_after_minutes",),),
        ),
        Table(
            "view_stuck_flags",
            "agg_id TEXT NOT NULL, since BIGINT NOT NULL, position BIGINT NOT NULL",
            ("agg_id",),
        ),
    )

    def apply(self, tx: Tx, events: Sequence[Event]) -> None:
        approvals = self.t["view_approvals"]
        settings = self.t["view_registration_settings"]
        flags = self.t["view_stuck_flags"]
        for e in events:
            k, s = e.kind, e.state
            if k == "Approval.Requested":
                tx.x(
                    f"INSERT INTO {approvals} VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', NULL, "
                    "NULL, NULL, ?, NULL, ?)",
                    (
                        e.originator_id,
                        s["registration_id"],
                        s["action"],
                        s.get("session_id"),
                        e.actor,
                        e.at,
                        s["reason"],
                        s.get("ticket"),
                        to_micros(s["expires_at"]),
                        e.position,
                    ),
                )
            elif k in ("Approval.Approved", "Approval.Rejected", "Approval.Expired"):
                status = {"Approved": "approved", "Rejected": "rejected", "Expired": "expired"}
                result = s.get("result")
                tx.x(
                    f"UPDATE {approvals} SET status = ?, decided_by = ?, decided_at = ?, "
                    "decision_reason = ?, result = ? WHERE id = ?",
                    (
                        status[k.split(".", 1)[1]],
                        e.actor,
                        e.at,
                        s.get("reason"),
                        None if result is None else orjson.dumps(result).decode(),
                        e.originator_id,
                    ),
                )
            elif k == "Registration.SettingsChanged":
                changes = s["changes"]
                if not {"auto_remove_stuck_after_minutes", "approvals_required"} & set(changes):
                    continue
                tx.x(
                    f"INSERT INTO {settings} VALUES (?, NULL, 0) ON CONFLICT DO NOTHING",
                    (e.originator_id,),
                )
                if "auto_remove_stuck_after_minutes" in changes:
                    tx.x(
                        f"UPDATE {settings} SET auto_remove_stuck_after_minutes = ? WHERE id = ?",
                        (changes["auto_remove_stuck_after_minutes"], e.originator_id),
                    )
                if "approvals_required" in changes:
                    tx.x(
                        f"UPDATE {settings} SET approvals_required = ? WHERE id = ?",
                        (int(bool(changes["approvals_required"])), e.originator_id),
                    )
            elif k == "Session.FlaggedStuck":
                since = to_micros(s["since"])
                tx.x(
                    f"INSERT INTO {flags} VALUES (?, ?, ?) ON CONFLICT (agg_id) DO UPDATE "
                    "SET since = excluded.since, position = excluded.position",
                    (e.originator_id, since, e.position),
                )
