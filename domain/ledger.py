"""The Ledger application service: one method per command.

Built in layers, one job each: domain/unit_of_work.py (locks, the only loader, bounded
optimistic retry, eviction), domain/commands.py (the everyday commands and queries),
domain/removal.py (deletion, reset, dry run), domain/undo.py (rule 8), domain/lifecycle.py
(heartbeats, stuck flag, self-healing, settings: rules 15, 16, 18), domain/approvals.py
(four-eyes, rule 17), domain/access.py (holders and grants, rule 13). The rules
themselves live on the aggregates' command methods (domain/registration.py,
domain/session.py) and in domain/policy.py, domain/recent.py, domain/unsync.py.
"""

from __future__ import annotations

from eventsourcing.utils import EnvType

from domain.access import AccessCommands
from domain.infra.database import Database
from domain.registration import Registration
from domain.results import (
    BatchRecorded,
    DeletionPreview,
    Registered,
    RegistrationReset,
    SessionDeleted,
    SessionStarted,
    SyncRequest,
    Undone,
)

__all__ = [
    "BatchRecorded",
    "DeletionPreview",
    "Ledger",
    "Registered",
    "RegistrationReset",
    "SessionDeleted",
    "SessionStarted",
    "SyncRequest",
    "Undone",
]


class Ledger(AccessCommands):
    name = "syncledger"
    snapshotting_intervals = {Registration: 50}
    env = {
        "AGGREGATE_CACHE_MAXSIZE": "2000",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }

    def __init__(
        self,
        env: EnvType | None = None,
        *,
        database: Database | None = None,
    ) -> None:
        super().__init__(env, database=database)
