"""The predicates of rules 5 and 6, each defined once: removed, safe to delete.

Rule 5: when deleting a session is safe (Accountlink article, step 5). "Most recent of its
type" is domain/recent.py's; the read side re-expresses these in SQL and
tests/projections/test_differential.py holds them to these definitions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from domain.registration import Registration
    from domain.session import Session

HAS_RECORDS = "has_records"
NOT_IN_PROGRESS = "not_in_progress"
NOT_MOST_RECENT = "not_most_recent"

CHECK_WORDING = {
    HAS_RECORDS: "it has synced records (deleting it would make them sync again)",
    NOT_IN_PROGRESS: "it is not in progress (it already completed or failed)",
    NOT_MOST_RECENT: "it is not the most recent session of its sync type",
}


@dataclass(frozen=True)
class DeletionCheck:
    failed_checks: tuple[str, ...]

    @property
    def safe(self) -> bool:
        return not self.failed_checks

    def as_dict(self) -> dict[str, object]:
        return {"safe": self.safe, "failed_checks": list(self.failed_checks)}

    def explain(self) -> str:
        if self.safe:
            return "safe to delete"
        return "not safe to delete: " + "; ".join(CHECK_WORDING[c] for c in self.failed_checks)


def deletion_check(*, records_synced: int, status: str, is_most_recent: bool) -> DeletionCheck:
    """The three conditions of a stuck session that is safe to delete.

    Returns the failed checks, in a fixed order: `has_records`, `not_in_progress`,
    `not_most_recent`. An empty list means safe.
    """
    failed: list[str] = []
    if records_synced != 0:
        failed.append(HAS_RECORDS)
    if status != "in_progress":
        failed.append(NOT_IN_PROGRESS)
    if not is_most_recent:
        failed.append(NOT_MOST_RECENT)
    return DeletionCheck(tuple(failed))


def is_removed(reg: Registration, session: Session) -> bool:
    """Removed: deleted, or its seq at or below the cutoff of a reset still in force."""
    return session.deleted is not None or session.hidden_by_reset or session.seq <= reg.reset_cutoff


def is_most_recent(reg: Registration, session: Session) -> bool:
    """The most recent not-removed session of its sync type (domain/recent.py)."""
    return not is_removed(reg, session) and reg.most_recent(session.sync_type) == session.session_id


def check_deletion(reg: Registration, session: Session) -> DeletionCheck:
    """Rule 5 for one session of one registration."""
    return deletion_check(
        records_synced=session.records_synced,
        status=session.status,
        is_most_recent=is_most_recent(reg, session),
    )
