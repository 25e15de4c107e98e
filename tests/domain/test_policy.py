"""Rule 5: the deletion check, every combination and the order of failed checks."""

from __future__ import annotations

import itertools

import pytest

from domain.policy import (
    HAS_RECORDS,
    NOT_IN_PROGRESS,
    NOT_MOST_RECENT,
    DeletionCheck,
    deletion_check,
)

CASES = list(itertools.product([0, 3], ["in_progress", "completed"], [True, False]))


@pytest.mark.parametrize(("records_synced", "status", "is_most_recent"), CASES)
def test_every_combination(records_synced: int, status: str, is_most_recent: bool) -> None:
    check = deletion_check(
        records_synced=records_synced, status=status, is_most_recent=is_most_recent
    )
    expected: list[str] = []
    if records_synced:
        expected.append(HAS_RECORDS)
    if status != "in_progress":
        expected.append(NOT_IN_PROGRESS)
    if not is_most_recent:
        expected.append(NOT_MOST_RECENT)
    assert list(check.failed_checks) == expected
    assert check.safe is (not expected)
    assert check.as_dict() == {"safe": not expected, "failed_checks": expected}
    if expected:
        assert check.explain().startswith("not safe to delete: ")
        assert check.explain().count(";") == len(expected) - 1
    else:
        assert check.explain() == "safe to delete"


def test_only_the_stuck_session_is_safe() -> None:
    safe = [
        c
        for c in CASES
        if deletion_check(records_synced=c[0], status=c[1], is_most_recent=c[2]).safe
    ]
    assert safe == [(0, "in_progress", True)]


def test_order_is_fixed() -> None:
    check = deletion_check(records_synced=1, status="failed", is_most_recent=False)
    assert check.failed_checks == ("has_records", "not_in_progress", "not_most_recent")
    assert check == DeletionCheck(("has_records", "not_in_progress", "not_most_recent"))


@pytest.mark.parametrize("status", ["completed", "failed", "deleted", ""])
def test_any_status_but_in_progress_fails(status: str) -> None:
    check = deletion_check(records_synced=0, status=status, is_most_recent=True)
    assert check.failed_checks == (NOT_IN_PROGRESS,)
