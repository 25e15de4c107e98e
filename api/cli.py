"""The `syncledger` command line: serve, tokens, projections, demo (replay, log, keys mounted)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID, uuid4

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.auth import ROLES, TokenError, TokenStore
from api.lifecycle_cli import approvals_app, registrations_app, webhooks_app
from api.settings import get_settings
from domain.infra.database import (
    DATABASE_URL_ENV,
    DEFAULT_DATABASE_URL,
    Database,
    DatabaseURLError,
    unreachable,
)
from domain.infra.outage import classify, first_line
from replay.cli import app as replay_app
from replay.log_cli import keys_app, log_app

app = typer.Typer(
    name="syncledger",
    help="An event-sourced ledger of data-sync sessions.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tokens_app = typer.Typer(help="Bearer tokens for the API.", no_args_is_help=True)
projections_app = typer.Typer(help="Projection runners.", no_args_is_help=True)
app.add_typer(tokens_app, name="tokens")
app.add_typer(projections_app, name="projections")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(approvals_app, name="approvals")
app.add_typer(registrations_app, name="registrations")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


@app.callback()
def main_options(
    ctx: typer.Context,
    database_url: Annotated[
        str,
        typer.Option(
            "--database-url",
            envvar=DATABASE_URL_ENV,
            help="sqlite:///file.db, sqlite:////abs/file.db or postgresql://user@host/db",
        ),
    ] = DEFAULT_DATABASE_URL,
) -> None:
    ctx.obj = database_url


def database(ctx: typer.Context) -> Database:
    url = ctx.obj if isinstance(ctx.obj, str) else None
    root = ctx.find_root()
    if isinstance(root.obj, str):
        url = root.obj
    try:
        db = Database.from_url(url or DEFAULT_DATABASE_URL)
    except DatabaseURLError as exc:
        raise fail(str(exc), 2) from None
    problem = unreachable(db)
    if problem is not None:
        raise fail(problem)
    return db


# --- serve -----------------------------------------------------------------------------------


@app.command()
def serve(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port")] = 8000,
    runners: Annotated[
        str,
        typer.Option(
            envvar="SYNCLEDGER_RUNNERS",
            help="process: read-model runners in a child process (a core of their own); "
            "thread: inside the API process",
        ),
    ] = "process",
) -> None:
    """API, console and projection runners, started together."""
    if runners not in ("process", "thread"):
        raise fail(f"--runners must be process or thread, not {runners!r}", 2)
    import uvicorn

    from api.app import create_app

    db = database(ctx)
    try:
        application = create_app(db, runners=runners)
    except Exception as exc:  # noqa: BLE001 - tell the operator, not a traceback
        raise fail(f"cannot open the database {db.url}: {exc}") from None
    base = f"http://{host}:{port}"
    err.print(
        f"syncledger: {db.kind} database {db.path or db.dbname}\n"
        f"  console  {base}/console\n  API docs {base}/docs  (API under {base}/v1)",
        highlight=False,
    )
    # With the JSON request log on, the middleware writes one JSON line per request
    # (api/metrics.py); uvicorn's own access line would be a second, in another format,
    # for every request, and its logging call ~6% of a small request's time (issue 16).
    access_log = not get_settings().log_json
    uvicorn.run(application, host=host, port=port, log_level="info", access_log=access_log)


# --- tokens ----------------------------------------------------------------------------------


@tokens_app.command("create")
def tokens_create(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Who uses the token (recorded as the actor)")
    ],
    role: Annotated[str, typer.Option(help=" | ".join(ROLES))],
) -> None:
    """Create a token; it is printed once, alone on the last line (only its hash is kept)."""
    if role not in ROLES:
        raise fail(f"unknown role {role!r}: use one of {', '.join(ROLES)}", 2)
    store = TokenStore(database(ctx))
    try:
        token = store.create(name, role)
    except TokenError as exc:
        raise fail(str(exc)) from None
    finally:
        store.close()
    err.print(f"Token for {name!r} ({role}) — shown once, keep it safe:")
    sys.stdout.write(token + "\n")


@tokens_app.command("list")
def tokens_list(ctx: typer.Context) -> None:
    """List tokens (names and roles; never the tokens themselves)."""
    store = TokenStore(database(ctx))
    try:
        rows = store.list_tokens()
    finally:
        store.close()
    table = Table("name", "role", "created", "revoked")
    for row in rows:
        table.add_row(row.name, row.role, row.created_at, row.revoked_at or "")
    out.print(table)


@tokens_app.command("revoke")
def tokens_revoke(
    ctx: typer.Context, name: Annotated[str, typer.Argument(metavar="NAME", help="Token name")]
) -> None:
    """Revoke a token: it stops working at once."""
    store = TokenStore(database(ctx))
    try:
        revoked = store.revoke(name)
    finally:
        store.close()
    if not revoked:
        raise fail(f"no active token named {name!r}")
    out.print(f"Revoked {name!r}.")


@tokens_app.command("grant")
def tokens_grant(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The worker token's name")],
    registration: Annotated[str, typer.Argument(metavar="REGISTRATION", help="Registration id")],
    reason: Annotated[str | None, typer.Option(help="Why (kept on the audit log)")] = None,
    actor: Annotated[str | None, typer.Option(help="Who grants (default: $USER)")] = None,
) -> None:
    """Let worker token NAME reach a registration another worker holds (rule 13)."""
    from api.grants import grant

    _grant_command(ctx, grant, name, registration, reason, actor, "may now reach")


@tokens_app.command("revoke-grant")
def tokens_revoke_grant(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(metavar="NAME", help="The worker token's name")],
    registration: Annotated[str, typer.Argument(metavar="REGISTRATION", help="Registration id")],
    reason: Annotated[str | None, typer.Option(help="Why (kept on the audit log)")] = None,
    actor: Annotated[str | None, typer.Option(help="Who revokes (default: $USER)")] = None,
) -> None:
    """Take a grant back: worker token NAME no longer reaches the registration."""
    from api.grants import revoke

    _grant_command(ctx, revoke, name, registration, reason, actor, "no longer reaches")


def _grant_command(
    ctx: typer.Context,
    action: Callable[..., Any],
    name: str,
    registration: str,
    reason: str | None,
    actor: str | None,
    verb: str,
) -> None:
    from api.lifecycle_cli import cli_actor
    from domain import Context, Ledger, LedgerError

    try:
        rid = UUID(registration)
    except ValueError:
        raise fail(f"not a registration id: {registration!r}", 2) from None
    db = database(ctx)
    ledger, store = Ledger(database=db), TokenStore(db)
    try:
        result = action(
            ledger, store, Context(cli_actor(actor), f"cli-{uuid4()}"), rid, name, reason
        )
    except LedgerError as e:
        raise fail(f"{e.message} ({e.code})") from None
    finally:
        store.close()
        ledger.close()
    if not result.changed:
        out.print(f"{name!r} could already reach {rid}; nothing recorded.", highlight=False)
        return
    out.print(f"{name!r} {verb} {rid}; position {result.position}.", highlight=False)


# --- projections -----------------------------------------------------------------------------


@projections_app.command("run")
def projections_run(ctx: typer.Context) -> None:
    """Run the projection runners alone (for PostgreSQL deployments)."""
    from projections.runner import run_forever

    db = database(ctx)
    where = db.path if db.kind == "sqlite" else f"{db.host}:{db.port}/{db.dbname}"

    def announce() -> None:
        err.print(f"projection runners: following the {db.kind} log at {where}; Ctrl-C to stop")

    try:
        run_forever(db, ready=announce)
    finally:
        err.print("projection runners: stopped")


# --- demo ------------------------------------------------------------------------------------


@app.command()
def demo(
    ctx: typer.Context,
    sessions: Annotated[
        int, typer.Option(min=3, max=100_000, help="Completed Accountlink sessions")
    ] = 150,
    stuck_after: Annotated[
        int,
        typer.Option(min=1, help="stuck_after_minutes of the Accountlink registration"),
    ] = 1,
) -> None:
    """Fill the database with realistic history (both support articles' situations)."""
    from api.demo import DemoExists, run_demo

    try:
        summary = run_demo(database(ctx), sessions=sessions, stuck_after=stuck_after, console=err)
    except DemoExists as exc:
        raise fail(str(exc)) from None
    for line in summary:
        out.print(line, highlight=False, soft_wrap=True)


app.add_typer(replay_app, name="replay")
app.add_typer(log_app, name="log")
app.add_typer(keys_app, name="keys")


def main() -> None:
    try:
        app()
    except DatabaseURLError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # noqa: BLE001 - a message on stderr, not a traceback
        code = classify(exc)
        what = code if code is not None else type(exc).__name__
        # One line: driver messages (psycopg's) run over several.
        err.print(f"[bold red]error:[/] {what}: {escape(first_line(exc))}", highlight=False)
        sys.exit(1)
