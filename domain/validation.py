"""Input checks shared by every command: a refused input records nothing."""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from uuid import UUID

from domain.errors import ValidationFailed
from domain.values import (
    MAX_BATCH_RECORDS,
    MAX_DIGEST_LENGTH,
    MAX_ENTITY_TYPE_LENGTH,
    MAX_FILE_ID_LENGTH,
    MAX_KEY_LENGTH,
    MAX_NAME_LENGTH,
    MAX_POSITION,
    MAX_TEXT_LENGTH,
    Record,
    TextLimit,
)

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_NAME_LENGTH",
    "MAX_TEXT_LENGTH",
    "MAX_FILE_ID_LENGTH",
    "MAX_ENTITY_TYPE_LENGTH",
    "text",
    "text_problem",
    "optional_text",
    "minutes",
    "position",
    "uuid_text",
    "records",
]


def text_problem(value: str, limit: int) -> str | None:
    """What is wrong with a text field's value (None: nothing), rule 12.

    Whitespace alone says nothing; NUL and lone surrogates cannot be stored (PostgreSQL text
    holds neither); the limit counts characters and, for a `TextLimit`, UTF-8 bytes.
    """
    if not value or value.isspace():
        return "must not be empty or only whitespace"
    if len(value) > limit:
        return f"is {len(value)} characters long; the limit is {int(limit)} characters"
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        return "must be valid Unicode text (no lone surrogates)"
    max_bytes = limit.bytes if isinstance(limit, TextLimit) else None
    if max_bytes is not None and size > max_bytes:
        return f"is {size} bytes long in UTF-8; the limit is {max_bytes} bytes"
    return None


def text(field: str, value: object, max_length: int) -> str:
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} is required and must be a non-empty string.", field=field)
    problem = text_problem(value, max_length)
    if problem is not None:
        raise ValidationFailed(
            f"{field} {problem}.",
            field=field,
            max_length=int(max_length),
            max_bytes=getattr(max_length, "bytes", None),
        )
    return value


def position(field: str, value: object) -> int:
    """A global position a client names: a whole number from 1 to MAX_POSITION."""
    if type(value) is not int or not 1 <= value <= MAX_POSITION:
        raise ValidationFailed(
            f"{field} must be a position from 1 to {MAX_POSITION}, got {value!r}.", field=field
        )
    return value


def optional_text(field: str, value: object, max_length: int) -> str | None:
    if value is None or value == "":
        return None
    return text(field, value, max_length)


def minutes(field: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 525_600:
        raise ValidationFailed(
            f"{field} must be a whole number of minutes from 1 to 525600.", field=field
        )
    return value


def uuid_text(field: str, value: str) -> str:
    try:
        return str(UUID(value))
    except (ValueError, TypeError, AttributeError):
        raise ValidationFailed(f"{field} must be a UUID, got {value!r}.", field=field) from None


def records(batch: Sequence[Sequence[str]]) -> list[Record]:
    if not 1 <= len(batch) <= MAX_BATCH_RECORDS:
        raise ValidationFailed(
            f"A batch carries 1 to {MAX_BATCH_RECORDS} records; this one has {len(batch)}. "
            "Split it into several batches.",
            field="records",
            max_items=MAX_BATCH_RECORDS,
        )
    out: list[Record] = []
    append = out.append
    for index, record in enumerate(batch):
        if type(record) is not tuple and type(record) is not list:
            raise ValidationFailed(
                f"records[{index}] must be a record (entity_type, key, digest), not "
                f"{type(record).__name__}.",
                field=f"records[{index}]",
            )
        try:
            entity_type, key, digest = record
        except (TypeError, ValueError):
            raise ValidationFailed(
                f"records[{index}] must have entity_type, key and digest.", field="records"
            ) from None
        # The common case in one expression (hot path): ASCII text (`isascii` is O(1)) has
        # as many bytes as characters and no lone surrogates; anything else is checked in full.
        if (
            type(entity_type) is str
            and type(key) is str
            and type(digest) is str
            and 0 < len(entity_type) <= MAX_ENTITY_TYPE_LENGTH
            and 0 < len(key) <= MAX_KEY_LENGTH
            and 0 < len(digest) <= MAX_DIGEST_LENGTH
            and entity_type.isascii()
            and key.isascii()
            and digest.isascii()
            and not entity_type.isspace()
            and not key.isspace()
            and not digest.isspace()
            and "\x00" not in entity_type
            and "\x00" not in key
            and "\x00" not in digest
        ):
            append((entity_type, key, digest))
            continue
        _refuse_bad_record(index, (entity_type, key, digest))
        append((entity_type, key, digest))  # checked just above
    if len(set(map(_RECORD_KEY, out))) != len(out):
        _refuse_repeat(out)
    return out


_RECORD_KEY = itemgetter(0, 1)


def _refuse_repeat(batch: list[Record]) -> None:
    """Rule 12: one batch carries each (entity_type, key) once; name the first repeat."""
    first: dict[tuple[str, str], int] = {}
    for index, record in enumerate(batch):
        earlier = first.setdefault((record[0], record[1]), index)
        if earlier != index:
            raise ValidationFailed(
                f"records[{index}] repeats records[{earlier}] (entity_type {record[0]!r}, "
                f"key {record[1]!r}): a batch may carry each record only once. Send the "
                "latest digest of each record, once.",
                field=f"records[{index}]",
                entity_type=record[0],
                key=record[1],
                first_index=earlier,
            )


def _refuse_bad_record(index: int, record: tuple[object, object, object]) -> None:
    """ValidationFailed naming the first field of the record that breaks rule 12, if any."""
    limits = (
        ("entity_type", MAX_ENTITY_TYPE_LENGTH),
        ("key", MAX_KEY_LENGTH),
        ("digest", MAX_DIGEST_LENGTH),
    )
    for (name, limit), value in zip(limits, record, strict=True):
        problem = text_problem(value, limit) if isinstance(value, str) else "must be a string"
        if problem is not None:
            raise ValidationFailed(
                f"records[{index}].{name} {problem} (at most {int(limit)} characters and "
                f"{limit.bytes} UTF-8 bytes).",
                field=f"records[{index}].{name}",
                max_length=int(limit),
                max_bytes=limit.bytes,
            )
