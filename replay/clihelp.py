"""Help text a person can copy: usage lines show `NAME`, not typer's `{NAME}`.

typer (0.27) wraps required arguments in braces in the usage line ("undo [OPTIONS]
{position}"), which reads like a template placeholder. An argument with an explicit metavar
is shown as written instead, and one without as its name in capitals. Imported by
replay/cli.py, so every `syncledger` command gets it.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperArgument

_original = TyperArgument.make_metavar


def _make_metavar(self: TyperArgument, ctx: Any, *, usage: bool = False) -> str:
    shown = str(_original(self, ctx, usage=usage))
    if shown.startswith("{") and "}" in shown:  # "{url}" -> "URL", "{name}:TEXT" -> "NAME:TEXT"
        end = shown.index("}")
        inner = shown[1:end]
        return (inner if self.metavar is not None else inner.upper()) + shown[end + 1 :]
    return shown


def install() -> None:
    method: Any = _make_metavar
    TyperArgument.make_metavar = method  # type: ignore[method-assign]
