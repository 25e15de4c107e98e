"""An orjson transcoder: the JSONTranscoder's `_type_`/`_data_` scheme, at orjson speed."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    Transcoder,
    Transcoding,
    TranscodingNotRegisteredError,
    UUIDAsHex,
)

_MARKER = b'"_type_"'
# A user dict whose keys are exactly the marker keys is stored wrapped under this name, so
# user text (sync types, batch ids, ...) can never be read back as a custom type (issue 10,
# finding 1). Events stored before the fix never contain it.
ESCAPED_DICT = "dict_escaped"
_ESCAPED = b'"_type_":"dict_escaped"'
_MARKER_KEYS = frozenset(("_type_", "_data_"))


class OrjsonTranscoder(Transcoder):
    """Encodes with orjson; custom types go through registered transcodings.

    Like eventsourcing's JSONTranscoder, tuples become lists and subclasses of
    builtins become their base type. Datetimes keep their type everywhere. A `uuid.UUID`
    keeps its type inside a registered transcoding's data; elsewhere orjson writes it
    natively as its canonical string and it reads back as `str` (orjson has no UUID
    passthrough, and pre-walking every event would cost ~15% of the append path).
    syncledger's events therefore carry ids as strings.

    User dicts never collide with the marker scheme: a dict whose keys are exactly
    `_type_` and `_data_` is written as `{"_type_": "dict_escaped", "_data_": {...}}`. The
    check is nearly free: orjson writes the `"_type_"` token only for our own markers unless
    user data holds that text, and only then is the object walked and escaped before
    encoding again. On decode, a `_type_` that is not a string cannot be one of our markers
    (we always write names), so such a dict stays a dict: that also reads back the events
    stored before the escape existed, whose user dicts held lists under those keys.
    """

    def __init__(self) -> None:
        self.types: dict[type, Transcoding] = {}
        self.names: dict[str, Transcoding] = {}
        for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
            self.register(transcoding)

    def register(self, transcoding: Transcoding) -> None:
        self.types[transcoding.type] = transcoding
        self.names[transcoding.name] = transcoding

    def encode(self, obj: Any) -> bytes:
        markers = 0

        def default(o: Any) -> dict[str, Any]:
            nonlocal markers
            markers += 1
            return self._encode_obj(o)

        data = self._dumps(obj, default)
        if _MARKER in data and data.count(_MARKER) > markers:
            # User data holds the text `_type_` (a key or a value): escape what collides.
            data = self._dumps(_escape(obj), self._encode_obj)
        return data

    @staticmethod
    def _dumps(obj: Any, default: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=default, option=orjson.OPT_PASSTHROUGH_DATETIME)
        except orjson.JSONEncodeError as e:
            if isinstance(e.__cause__, TypeError):
                raise e.__cause__ from None
            raise TypeError(str(e)) from e

    def decode(self, data: bytes) -> Any:
        obj = orjson.loads(data)
        if _MARKER in data:
            return self._decode(obj)
        return obj

    def decode_value(self, obj: Any) -> Any:
        """decode() of a value already parsed by orjson (verification decodes one field)."""
        if type(obj) is dict and len(obj) == 2 and type(obj.get("_data_")) is str:
            name = obj.get("_type_")
            transcoding = self.names.get(name) if type(name) is str else None
            if transcoding is not None:  # a plain custom type (a timestamp): the fast path
                return transcoding.decode(obj["_data_"])
        return self._decode(obj)

    def _encode_obj(self, o: Any) -> dict[str, Any]:
        transcoding = self.types.get(type(o))
        if transcoding is None:
            msg = (
                f"Object of type {type(o)} is not serializable. Please define "
                "and register a custom transcoding for this type."
            )
            raise TranscodingNotRegisteredError(msg)
        return {"_type_": transcoding.name, "_data_": self._wrap_native(transcoding.encode(o))}

    def _wrap_native(self, value: Any) -> Any:
        # orjson writes UUIDs and datetimes inside custom data natively; keep their type.
        if isinstance(value, UUID | datetime):
            return self._encode_obj(value)
        return value

    def _decode(self, obj: Any) -> Any:
        if isinstance(obj, list):
            return [self._decode(v) if isinstance(v, dict | list) else v for v in obj]
        if isinstance(obj, dict):
            if (
                len(obj) == 2
                and "_type_" in obj
                and "_data_" in obj
                and isinstance(obj["_type_"], str)
            ):
                name = obj["_type_"]
                if name == ESCAPED_DICT and isinstance(obj["_data_"], dict):
                    return {
                        k: self._decode(v) if isinstance(v, dict | list) else v
                        for k, v in obj["_data_"].items()
                    }
                transcoding = self.names.get(name)
                if transcoding is None:
                    msg = (
                        f"Data serialized with name '{name}' is not deserializable. "
                        "Please register a custom transcoding for this type."
                    )
                    raise TranscodingNotRegisteredError(msg)
                return transcoding.decode(self._decode(obj["_data_"]))
            return {k: self._decode(v) if isinstance(v, dict | list) else v for k, v in obj.items()}
        return obj


def _escape(obj: Any) -> Any:
    """A copy of `obj` with every dict keyed exactly by the marker keys wrapped."""
    if isinstance(obj, dict):
        copy = {k: _escape(v) for k, v in obj.items()}
        if len(copy) == 2 and copy.keys() == _MARKER_KEYS:
            return {"_type_": ESCAPED_DICT, "_data_": copy}
        return copy
    if isinstance(obj, list | tuple):
        return [_escape(v) for v in obj]
    return obj


def unescape(obj: Any) -> Any:
    """Unwrap escaped user dicts in a state read with plain `orjson.loads` (the readers' fast
    path, which leaves custom-type markers such as datetimes as they are)."""
    if isinstance(obj, dict):
        if (
            len(obj) == 2
            and obj.get("_type_") == ESCAPED_DICT
            and isinstance(obj.get("_data_"), dict)
        ):
            return {k: unescape(v) for k, v in obj["_data_"].items()}
        return {k: unescape(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [unescape(v) for v in obj]
    return obj


def needs_unescape(state: bytes) -> bool:
    return _ESCAPED in state
