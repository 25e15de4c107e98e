"""CSV cells a spreadsheet shows as text, never runs (OWASP: CSV injection).

A cell beginning with `=`, `+`, `-`, `@`, a tab or a carriage return would be taken for a
formula by a spreadsheet (a correlation id, actor, reason or base64 state can begin so): it
is written with a leading apostrophe. A cell that itself begins with an apostrophe gets one
more, so `read_cell` gives back exactly what was written and an export stays re-verifiable
from the file alone. Every CSV the project writes (the console's audit CSV, `replay
export --format csv`) goes through `cell`.
"""

from __future__ import annotations

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def read_cell(text: str) -> str:
    """The value `cell` wrote."""
    return text[1:] if text.startswith("'") else text
