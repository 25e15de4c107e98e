"""Formatting for readers: RFC 3339 times and opaque cursors."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any, overload

import orjson

_EPOCH = datetime(1970, 1, 1)  # naive: adding a timedelta skips time-zone arithmetic


@overload
def iso(micros: int) -> str: ...
@overload
def iso(micros: None) -> None: ...
@overload
def iso(micros: int | None) -> str | None: ...


def iso(micros: int | None) -> str | None:
    """RFC 3339 UTC with microseconds. Exact integer arithmetic (no float seconds), about
    twice as fast as `fromtimestamp`: a history page formats three times per session."""
    if micros is None:
        return None
    return (_EPOCH + timedelta(microseconds=micros)).isoformat(timespec="microseconds") + "Z"


def now_micros() -> int:
    return int(datetime.now(UTC).timestamp() * 1_000_000)


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode()


def decode_cursor(cursor: str | None) -> list[Any] | None:
    if not cursor:
        return None
    try:
        value = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, orjson.JSONDecodeError):
        raise ValueError("invalid cursor") from None
    if not isinstance(value, list):
        raise ValueError("invalid cursor")
    return value


def clamp(limit: int) -> int:
    return max(1, min(int(limit), 1000))
