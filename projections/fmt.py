"""Formatting for readers: RFC 3339 times and opaque cursors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, overload

import orjson

from domain.errors import ValidationFailed
from domain.values import MAX_POSITION

_EPOCH = datetime(1970, 1, 1)  # naive: adding a timedelta skips time-zone arithmetic


@overload
def iso(micros: int) -> str: ...
@overload
def iso(micros: None) -> None: ...
@overload
def iso(micros: int | None) -> str | None: ...


def iso(micros: int | None) -> str | None:
    """RFC 3339 UTC with microseconds. Exact integer arithmetic (no float seconds)."""
    if micros is None:
        return None
    return _iso(micros)


@lru_cache(maxsize=8192)
def _iso(micros: int) -> str:
    """The times of a page repeat (a batch's records share one time, a session's reads come
    again): a hit is one lookup in C instead of a division and a format. A 100-receipt page
    was ~40% formatting before the whole seconds were cached (issue 16); caching the whole
    time halved what remained of building it (85-137 -> 51-56 us a page, timeit)."""
    seconds, fraction = divmod(micros, 1_000_000)
    return f"{_second(seconds)}.{fraction:06d}Z"


@lru_cache(maxsize=4096)
def _second(seconds: int) -> str:
    """`YYYY-MM-DDTHH:MM:SS` of a whole second since the epoch (thread-safe cache)."""
    return (_EPOCH + timedelta(seconds=seconds)).isoformat()


def now_micros() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode()


# A cursor string is at most this long (the API's `cursor` parameter says so too).
MAX_CURSOR_LENGTH = 2_000
_BAD_CURSOR = "cursor is not valid: pass the next_cursor of a previous page unchanged."


def _refuse(why: str) -> ValidationFailed:
    return ValidationFailed(f"{_BAD_CURSOR} ({why})", field="cursor")


def decode_cursor(cursor: str | None, *shape: type[int] | type[str]) -> list[Any] | None:
    """The key a cursor from `encode_cursor` carries, checked against `shape` (one type per
    item): the one place a cursor is parsed, so no client-made cursor reaches a query.

    Anything else (not base64 JSON, another length, a float, a boolean, a nested value, an
    integer outside 0..MAX_POSITION, text storage cannot hold) is ValidationFailed (422).
    """
    if not cursor:
        return None
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise _refuse(f"longer than {MAX_CURSOR_LENGTH} characters")
    try:
        value = orjson.loads(base64.b64decode(cursor.encode("ascii"), b"-_", validate=True))
    except (ValueError, orjson.JSONDecodeError):
        raise _refuse("not a cursor this server wrote") from None
    if type(value) is not list or len(value) != len(shape):
        raise _refuse(f"expected {len(shape)} item(s)")
    for item, kind in zip(value, shape, strict=True):
        if kind is int and not (type(item) is int and 0 <= item <= MAX_POSITION):
            raise _refuse(f"{item!r} is not a whole number from 0 to {MAX_POSITION}")
        if kind is str and not (type(item) is str and _storable(item)):
            raise _refuse(f"{item!r} is not text a page can start after")
    return value


def _storable(text: str) -> bool:
    """Text a query can carry on both backends (PostgreSQL holds no NUL, no lone surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def position_cursor(cursor: str | None) -> int | None:
    """A cursor that is a position written out in digits (the events list)."""
    if not cursor:
        return None
    if not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 19):
        raise _refuse("expected a position in digits")
    position = int(cursor)
    if position > MAX_POSITION:
        raise _refuse(f"positions end at {MAX_POSITION}")
    return position


def clamp(limit: int) -> int:
    return max(1, min(int(limit), 1000))


def storable(text: str) -> bool:
    """Whether a filter's text could equal stored text. Nothing stored holds NUL (rule 12,
    domain/validation.py), and PostgreSQL refuses NUL even as a query parameter, so a
    filter with one matches nothing rather than failing the read."""
    return "\x00" not in text
