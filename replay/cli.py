"""`syncledger replay …`: rebuild, as-of, undo, verify, export.

The database comes from the parent's `--database-url` (ctx.obj), this app's own
`--database-url`, SYNCLEDGER_DATABASE_URL, or sqlite:///syncledger.db. Exit codes: 0 done,
1 refused or a problem found (message on standard error), 2 usage error.
"""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated
from uuid import UUID, uuid4

import orjson
import typer
from rich.console import Console
from rich.table import Table

from domain.infra.database import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    Database,
    DatabaseURLError,
    unreachable,
)
from replay import clihelp
from replay.progress import err, progress_bar

clihelp.install()

app = typer.Typer(
    help="Rebuild, time travel, undo, verify and export the ledger.", no_args_is_help=True
)
out = Console(soft_wrap=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@app.callback()
def options(
    ctx: typer.Context,
    database_url: Annotated[
        str | None, typer.Option("--database-url", help="Overrides the parent's option.")
    ] = None,
) -> None:
    if database_url:
        ctx.obj = database_url


def _database(ctx: typer.Context) -> Database:
    url: str | None = None
    context: typer.Context | None = ctx
    while context is not None and url is None:  # nearest context that names a URL
        if isinstance(context.obj, str):
            url = context.obj
        context = context.parent  # type: ignore[assignment]
    try:
        db = Database.from_url(url or os.environ.get(DATABASE_URL_ENV) or DEFAULT_DATABASE_URL)
    except DatabaseURLError as e:
        raise _fail(str(e), 2) from None
    problem = unreachable(db)
    if problem is not None:
        raise _fail(problem)
    return db


@app.command()
def verify(
    ctx: typer.Context,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="A signed checkpoint kept outside the database (witness, export, dir)"),
    ] = None,
    against: Annotated[
        Path | None,
        typer.Option(help="An earlier export: names the first position that changed"),
    ] = None,
    key: Annotated[
        list[str] | None,
        typer.Option(help="Verifier key NAME+ID+KEY or a file of them (default: the key file)"),
    ] = None,
    digest: Annotated[
        str | None,
        typer.Option(help="HEX@POSITION: a root hash kept elsewhere, of the tree ending there"),
    ] = None,
    at_position: Annotated[int | None, typer.Option(help="Verify up to this position")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON")] = False,
    workers: Annotated[
        int | None,
        typer.Option(help="Processes reading and hashing a large log (default: the cores)"),
    ] = None,
) -> None:
    """Recompute the Merkle tree from every stored event and compare it with a signed
    checkpoint; exit 1 on any difference (naming the first changed position with --against)."""
    from replay.log_cli import verifiers_from
    from replay.verify import verify_log
    from replay.verify_refs import parse_digest
    from replay.verify_scan import default_workers

    if digest:
        try:
            parse_digest(digest)
        except ValueError as e:
            raise _fail(str(e), 2) from None
    note = None
    if checkpoint is not None:
        try:
            note = checkpoint.read_text()
        except OSError as e:
            raise _fail(f"cannot read {checkpoint}: {e.strerror}", 2) from None
    if against is not None and not against.exists():
        raise _fail(f"no such export: {against}", 2)
    database = _database(ctx)
    try:
        with progress_bar("verify") as progress:
            report = verify_log(
                database,
                checkpoint_note=note,
                against=against,
                verifiers=verifiers_from(key),
                digest=digest,
                at_position=at_position,
                progress=progress,
                workers=max(1, workers) if workers is not None else default_workers(),
            )
    except ValueError as e:  # a checkpoint or export that is not one
        raise _fail(f"cannot use that checkpoint or export: {e}", 2) from None
    if as_json:
        sys.stdout.write(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        out.print(
            f"checked {report.checked:,} events; root {report.head['digest']} at position "
            f"{report.head['position']}",
            highlight=False,
        )
        for line in report.checks:
            out.print(f"  - {line}", highlight=False)
    err.print(f"note: {report.limits}", highlight=False)
    if not report.ok:
        where = report.first_bad_position
        first = f"the log changed at position {where}" if where is not None else "problems found"
        detail = "; ".join(report.problems[:5])
        raise _fail(f"{first}: {detail}")
    # With --json, standard output carries the JSON alone (`… --json | jq .ok`).
    # Says what was compared: "ok" only for events a signed checkpoint covers.
    colour = "green" if report.verified else "yellow"
    (err if as_json else out).print(f"[{colour}]{report.verdict}[/]", highlight=False)


@app.command()
def export(
    ctx: typer.Context,
    out_file: Annotated[
        Path, typer.Option("--out", metavar="FILE", help="File to write; - for standard output")
    ],
    fmt: Annotated[str, typer.Option("--format", help="jsonl or csv")] = "jsonl",
    registration: Annotated[
        str | None, typer.Option(help="Only this registration's events")
    ] = None,
) -> None:
    """Every event with position, type, time, actor, correlation id, data and leaf hash,
    ending with a checkpoint signed for it (keep the file: `verify --against` uses it)."""
    from replay.export import ExportError, export_events

    if fmt not in ("jsonl", "csv"):
        raise _fail(f"--format must be jsonl or csv, not {fmt!r}", 2)
    rid = _uuid(registration) if registration else None
    database = _database(ctx)
    try:
        with progress_bar("export") as progress:
            n = export_events(database, out_file, fmt=fmt, registration_id=rid, progress=progress)
    except ExportError as e:
        raise _fail(str(e)) from None
    where = "standard output" if str(out_file) == "-" else out_file
    err.print(f"wrote {n:,} events to {where}", highlight=False)


@app.command("as-of")
def as_of(
    ctx: typer.Context,
    registration: Annotated[str, typer.Argument(metavar="REGISTRATION", help="Registration id")],
    at: Annotated[str | None, typer.Option(help="RFC 3339 time (UTC if no zone)")] = None,
    position: Annotated[int | None, typer.Option(help="Global position")] = None,
    include_deleted: Annotated[bool, typer.Option(help="Show removed sessions")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """The registration's session history as it stood at a time or position."""
    from replay.asof import history_as_of

    if (at is None) == (position is None):
        raise _fail("pass exactly one of --at TIME or --position N", 2)
    rid = _uuid(registration)
    moment = _time(at) if at is not None else None
    items = history_as_of(
        _database(ctx), rid, at=moment, position=position, include_deleted=include_deleted
    )
    if as_json:
        sys.stdout.write(orjson.dumps({"items": items}, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    table = Table(title=f"sessions of {rid} as of {at or f'position {position}'}")
    for column in (
        "id",
        "type",
        "status",
        "started",
        "ended",
        "records",
        "errors",
        "worker",
        "removed",
    ):
        table.add_column(column)
    for i in items:
        removed = (
            ("deleted by " + str(i["deleted"]["by"]))
            if i["deleted"]
            else ("reset" if i["removed_by_reset"] else ("stuck" if i["stuck"] else ""))
        )
        table.add_row(
            i["id"],
            i["sync_type"],
            i["status"],
            i["started_at"],
            i["ended_at"] or "",
            str(i["records_synced"]),
            str(i["error_count"]),
            i["worker"],
            removed,
        )
    out.print(table)
    if not items:
        out.print("no sessions at that point")


@app.command()
def undo(
    ctx: typer.Context,
    position: Annotated[
        int, typer.Argument(metavar="POSITION", help="Position of a deletion, reset or undo")
    ],
    reason: Annotated[str, typer.Option(help="Why (recorded in the audit log)")],
    actor: Annotated[str | None, typer.Option(help="Who (default: $USER)")] = None,
) -> None:
    """Undo a session deletion, a registration reset, or an undo (DESIGN.md rule 8)."""
    from domain import Context, Ledger, LedgerError

    ledger = Ledger(database=_database(ctx))
    who = actor or os.environ.get("SYNCLEDGER_ACTOR") or os.environ.get("USER") or "cli"
    try:
        result = ledger.undo(Context(who, f"cli-{uuid4()}"), position, reason=reason)
    except LedgerError as e:
        raise _fail(f"{e.message} ({e.code})") from None
    finally:
        ledger.close()
    out.print(
        f"undone: {result.undone} ({result.kind}) in registration {result.registration_id}"
        f"{' session ' + result.session_id if result.session_id else ''}; "
        f"recorded at position {result.position}",
        highlight=False,
    )


@app.command()
def unsynced(
    ctx: typer.Context,
    position: Annotated[
        int, typer.Argument(help="Position of a session deletion or a registration reset")
    ],
) -> None:
    """The records a session deletion or a registration reset unsynced, read back from the
    log (JSON lines; as GET /v1/audit/POSITION/unsynced)."""
    from replay.unsynced import reset_unsynced, unsynced_by_deletion

    database = _database(ctx)
    try:
        records = unsynced_by_deletion(database, position)
    except ValueError:
        try:
            records = reset_unsynced(database, position).records
        except ValueError:
            message = f"no session deletion or registration reset at position {position}"
            raise _fail(message, 2) from None
    for entity_type, key, digest in records:
        sys.stdout.write(
            orjson.dumps({"entity_type": entity_type, "key": key, "digest": digest}).decode() + "\n"
        )


@app.command()
def rebuild(
    ctx: typer.Context,
    projections: Annotated[
        list[str] | None,
        typer.Argument(metavar="[PROJECTION]...", help="Projections (default all)"),
    ] = None,
) -> None:
    """Rebuild read models into a shadow copy, print the differences, swap atomically."""
    from replay.rebuild import print_report
    from replay.rebuild import rebuild as run_rebuild

    database = _database(ctx)
    try:
        with progress_bar("rebuild", unit="events") as progress:
            report = run_rebuild(database, projections or [], progress)
    except (KeyError, ValueError) as e:
        raise _fail(f"rebuild refused: {e}", 2) from None
    differing = print_report(report, out)
    out.print(f"swapped; {differing} rows differed from the live copy")


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise _fail(f"{text!r} is not a registration id (a UUID)", 2) from None


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"--at {text!r} is not an RFC 3339 time", 2) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
