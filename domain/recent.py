"""Rule 5's "most recent session of its sync type", defined once.

Definition: the most recent session of a sync type is the session of that type with the
highest seq among the sessions that are not removed (not deleted, and seq above the cutoff
of every reset still in force). The read side (projections/reads/sessions.py) re-expresses
this in SQL as MAX(seq) over the same sessions; tests/projections/test_differential.py keeps
the two one rule.

How the registration keeps it bounded: per sync type, a stack of the newest sessions of
that type that are not *deleted* (resets are not applied to the stack, see below), oldest
first, at most RECENT_SESSIONS_KEPT entries, and a `truncated` flag saying that older
not-deleted sessions of the type may exist below the stack. Invariant: the stack is exactly
the newest `len(stack)` not-deleted sessions of the type — no gaps.

- A reset removes every session up to its cutoff, i.e. a prefix by seq. So the newest
  not-removed session is the top of the stack if its seq is above the cutoff, else there is
  none: resets and their undos never touch the stack (no copy of hidden sessions to keep).
- A new session has the highest seq: it is pushed on top (the bottom falls off when full,
  which sets `truncated`).
- A deleted session leaves the stack if it is on it. When that empties a truncated stack,
  the command that deletes computes the next newest sessions from the registration's own
  history (rare: it takes RECENT_SESSIONS_KEPT deletions of the newest sessions of one type
  in a row) and records them in the `SessionRemoved` event, so the state stays derivable
  from the log alone.
- A reinstated session goes back on the stack only where it keeps the stack gap-free: above
  its bottom, or anywhere when the stack is not truncated. Otherwise it stays below, among
  the sessions a later refill finds.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from domain.values import RECENT_SESSIONS_KEPT

Stacks = dict[str, list[list[Any]]]  # sync_type -> [[session_id, seq], ...] oldest first
Flags = dict[str, bool]  # sync_type -> older not-deleted sessions may exist below the stack


def most_recent(recent: Stacks, sync_type: str, cutoff: int) -> str | None:
    """The session id of the most recent not-removed session of a type, or None."""
    stack = recent.get(sync_type)
    if not stack or stack[-1][1] <= cutoff:
        return None
    return str(stack[-1][0])


def push(recent: Stacks, truncated: Flags, sync_type: str, session_id: str, seq: int) -> None:
    stack = recent.setdefault(sync_type, [])
    stack.append([session_id, seq])
    _bound(recent, truncated, sync_type)


def drop(recent: Stacks, truncated: Flags, sync_type: str, session_id: str) -> None:
    stack = recent.get(sync_type)
    if stack:
        recent[sync_type] = [e for e in stack if e[0] != session_id]


def needs_refill(recent: Stacks, truncated: Flags, sync_type: str, session_id: str) -> bool:
    """Whether dropping `session_id` empties a stack that has sessions below it."""
    stack = recent.get(sync_type) or []
    return truncated.get(sync_type, False) and all(e[0] == session_id for e in stack)


def refill(recent: Stacks, truncated: Flags, sync_type: str, entries: list[list[Any]]) -> None:
    """Replace the stack with the newest not-deleted sessions found in the history."""
    recent[sync_type] = sorted(entries, key=lambda e: e[1])[-RECENT_SESSIONS_KEPT:]
    # Conservative: a full refill may have more below it; a short one has found them all.
    truncated[sync_type] = len(entries) >= RECENT_SESSIONS_KEPT


def reinstate(recent: Stacks, truncated: Flags, sync_type: str, session_id: str, seq: int) -> None:
    stack = recent.setdefault(sync_type, [])
    if any(e[0] == session_id for e in stack):
        return
    if truncated.get(sync_type, False) and (not stack or seq < stack[0][1]):
        return  # below the stack's bottom: a later refill finds it
    stack.append([session_id, seq])
    stack.sort(key=lambda e: e[1])
    _bound(recent, truncated, sync_type)


def newest_not_deleted(history: Iterable[Any], sync_type: str, excluding: str) -> list[list[Any]]:
    """The newest not-deleted sessions of a type in a registration's events (for a refill).

    `history` is the registration's events, oldest first; `excluding` is the session being
    deleted now. Returns at most RECENT_SESSIONS_KEPT [session_id, seq] entries.
    """
    alive: dict[str, int] = {}
    for event in history:
        name = type(event).__name__
        if getattr(event, "sync_type", None) != sync_type:
            continue
        if name == "SessionOpened":
            alive[event.session_id] = event.seq
        elif name == "SessionRemoved":
            alive.pop(event.session_id, None)
        elif name == "SessionReinstated":
            alive[event.session_id] = event.seq
    alive.pop(excluding, None)
    newest = sorted(alive.items(), key=lambda e: e[1])[-RECENT_SESSIONS_KEPT:]
    return [[sid, seq] for sid, seq in newest]


def upcast_v1_snapshot(state: dict[str, Any]) -> None:
    """A v1 Registration snapshot kept reset-hidden sessions apart (`hidden_recent`). Keep
    only the newest entry of each type (certainly gap-free) and mark it truncated, so a
    deletion that empties it refills from the log."""
    merged: Stacks = {}
    for stacks in (state.get("recent") or {}, state.pop("hidden_recent", None) or {}):
        for sync_type, stack in stacks.items():
            merged.setdefault(sync_type, []).extend(stack)
    state["recent"] = {
        t: [max(entries, key=lambda e: e[1])] for t, entries in merged.items() if entries
    }
    state["truncated"] = {t: True for t in state["recent"]}


def _bound(recent: Stacks, truncated: Flags, sync_type: str) -> None:
    stack = recent[sync_type]
    if len(stack) > RECENT_SESSIONS_KEPT:
        del stack[:-RECENT_SESSIONS_KEPT]
        truncated[sync_type] = True
