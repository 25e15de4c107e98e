"""Rule 5: when deleting a session is safe (Accountlink article, step 5)."""

from __future__ import annotations

from dataclasses import dataclass

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
