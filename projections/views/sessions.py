"""Session history: one row per session, its errors, and the resets that remove sessions."""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from projections.events import Event
from projections.store import Tx
from projections.views.base import Table, View


class SessionsView(View):
    name = "sessions"
    tables = (
        Table(
            "view_sessions",
            "agg_id TEXT NOT NULL, registration_id TEXT NOT NULL, session_id TEXT NOT NULL, "
            "seq BIGINT NOT NULL, sync_type TEXT NOT NULL, status TEXT NOT NULL, "
            "started_at BIGINT, ended_at BIGINT, records_synced BIGINT, error_count BIGINT, "
            "worker TEXT, entity_types TEXT, request_id TEXT, last_activity_at BIGINT, "
            "fail_reason TEXT, deleted TEXT, restored TEXT, is_deleted BIGINT NOT NULL",
            ("agg_id",),
            # ("status",): the background tasks and /metrics find the few in-progress
            # sessions without scanning the whole history (rule 15 candidates).
            # ("registration_id", "status"): a registration's own sessions in progress (its
            # read and list item, rule 10). Without it SQLite's planner answered
            # `registration_id = ? AND status = 'in_progress'` from the status index, reading
            # every registration's sessions in progress, three times per registration read.
            (
                ("registration_id", "seq"),
                ("registration_id", "session_id"),
                ("status",),
                ("registration_id", "status"),
            ),
        ),
        Table(
            "view_session_errors",
            "agg_id TEXT NOT NULL, position BIGINT NOT NULL, message TEXT, entity_type TEXT, "
            "key TEXT, at BIGINT",
            ("agg_id", "position"),
        ),
        Table(
            "view_session_resets",
            "registration_id TEXT NOT NULL, chain TEXT NOT NULL, cutoff BIGINT NOT NULL, "
            "active BIGINT NOT NULL, position BIGINT, actor TEXT, at BIGINT, reason TEXT",
            ("registration_id", "chain"),
        ),
    )

    def apply(self, tx: Tx, events: Sequence[Event]) -> None:
        t = self.t["view_sessions"]
        for e in events:
            s = e.state
            k = e.kind
            if k == "Session.Started":
                tx.x(
                    f"INSERT INTO {t} VALUES (?, ?, ?, ?, ?, 'in_progress', ?, NULL, 0, 0, ?, ?, "
                    "?, ?, NULL, NULL, NULL, 0)",
                    (
                        e.originator_id,
                        s["registration_id"],
                        s["session_id"],
                        s["seq"],
                        s["sync_type"],
                        e.at,
                        s.get("worker") or "",
                        orjson.dumps(s.get("entity_types") or []).decode(),
                        s.get("request_id"),
                        e.at,
                    ),
                )
            elif k == "Session.RecordsSynced":
                tx.x(
                    f"UPDATE {t} SET records_synced = records_synced + ?, last_activity_at = ? "
                    "WHERE agg_id = ?",
                    (len(s["records"]), e.at, e.originator_id),
                )
            elif k == "Session.Heartbeat":
                tx.x(
                    f"UPDATE {t} SET last_activity_at = ? WHERE agg_id = ?",
                    (e.at, e.originator_id),
                )
            elif k == "Session.ErrorRecorded":
                tx.x(
                    f"UPDATE {t} SET error_count = error_count + 1, last_activity_at = ? "
                    "WHERE agg_id = ?",
                    (e.at, e.originator_id),
                )
                tx.x(
                    f"INSERT INTO {self.t['view_session_errors']} VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        e.originator_id,
                        e.position,
                        s["message"],
                        s.get("entity_type"),
                        s.get("key"),
                        e.at,
                    ),
                )
            elif k in ("Session.Completed", "Session.Failed"):
                status = "completed" if k == "Session.Completed" else "failed"
                tx.x(
                    f"UPDATE {t} SET status = ?, ended_at = ?, last_activity_at = ?, "
                    "fail_reason = ? WHERE agg_id = ?",
                    (status, e.at, e.at, s.get("reason"), e.originator_id),
                )
            elif k == "Session.Deleted":
                deleted = {
                    "by": e.actor,
                    "at": e.at,
                    "reason": s["reason"],
                    "ticket": s.get("ticket"),
                    "override": bool(s.get("override")),
                    "position": e.position,
                }
                tx.x(
                    f"UPDATE {t} SET deleted = ?, is_deleted = 1 WHERE agg_id = ?",
                    (orjson.dumps(deleted).decode(), e.originator_id),
                )
            elif k == "Session.Restored":
                restored = {
                    "by": e.actor,
                    "at": e.at,
                    "reason": s["reason"],
                    "position": e.position,
                }
                tx.x(
                    f"UPDATE {t} SET deleted = NULL, is_deleted = 0, restored = ? WHERE agg_id = ?",
                    (orjson.dumps(restored).decode(), e.originator_id),
                )
            elif k == "Registration.RegistrationReset":
                chain = s.get("chain") or str(e.version)
                resets = self.t["view_session_resets"]
                tx.x(
                    f"DELETE FROM {resets} WHERE registration_id = ? AND chain = ?",
                    (e.originator_id, chain),
                )
                tx.x(
                    f"INSERT INTO {resets} VALUES (?, ?, ?, 1, ?, ?, ?, ?)",
                    (e.originator_id, chain, s["cutoff"], e.position, e.actor, e.at, s["reason"]),
                )
            elif k == "Registration.ResetUndone":
                tx.x(
                    f"UPDATE {self.t['view_session_resets']} SET active = 0 "
                    "WHERE registration_id = ? AND chain = ?",
                    (e.originator_id, s["chain"]),
                )
