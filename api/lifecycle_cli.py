"""`syncledger webhooks …`, `syncledger approvals …` and `syncledger registrations set`:
the command-line side of issue 13, on the same database the API uses."""

from __future__ import annotations

import os
from typing import Annotated, Any
from uuid import UUID, uuid4

import orjson
import typer
from rich.console import Console

from api.webhooks.catalog import EVENT_TYPES
from domain.infra.database import Database
from domain.liveness import system_clock, to_micros

webhooks_app = typer.Typer(help="Webhook receivers (Standard Webhooks).", no_args_is_help=True)
approvals_app = typer.Typer(help="Four-eyes approvals (rule 17).", no_args_is_help=True)
registrations_app = typer.Typer(help="Registration settings (rule 18).", no_args_is_help=True)

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON alone on standard output")]


def _db(ctx: typer.Context) -> Database:
    from api.cli import database

    return database(ctx)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False)
    return typer.Exit(code)


def cli_actor(actor: str | None) -> str:
    """Who runs a command (rule 11): --actor, else $SYNCLEDGER_ACTOR, else $USER."""
    return actor or os.environ.get("SYNCLEDGER_ACTOR") or os.environ.get("USER") or "cli"


def _print(value: Any, as_json: bool) -> None:
    if as_json:
        typer.echo(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())
    else:
        out.print(value, highlight=False)


# --- webhooks --------------------------------------------------------------------------------


@webhooks_app.command("create")
def webhooks_create(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Receiver URL (http or https)")],
    event: Annotated[list[str], typer.Option("--event", help=" | ".join(EVENT_TYPES))],
    description: Annotated[str | None, typer.Option(help="What the receiver is for")] = None,
    actor: Annotated[str | None, typer.Option(help="Who (default: $USER)")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Subscribe a receiver; the signing secret is printed once, alone on the last line."""
    from pydantic import ValidationError

    from api.webhooks.models import WebhookIn
    from api.webhooks.store import WebhookStore

    try:
        body = WebhookIn(url=url, events=event, description=description)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise _fail(str(exc.errors()[0]["msg"]) + f" ({exc.errors()[0]['loc']})", 2) from None
    store = WebhookStore(_db(ctx))
    try:
        row = store.create(
            url=body.url,
            events=list(body.events),
            description=body.description,
            actor=cli_actor(actor),
            now=to_micros(system_clock()),
        )
    finally:
        store.close()
    if as_json:
        _print(row, True)
        return
    err.print(f"webhook {row['id']} -> {row['url']} ({', '.join(row['events'])})")
    typer.echo(row["secret"])


@webhooks_app.command("list")
def webhooks_list(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Active webhooks (secrets are never shown again)."""
    from api.webhooks.store import WebhookStore

    store = WebhookStore(_db(ctx))
    try:
        items, _ = store.list_hooks(limit=1000, cursor=None)
    finally:
        store.close()
    if as_json:
        _print(items, True)
        return
    for h in items:
        out.print(f"{h['id']}  {h['url']}  {','.join(h['events'])}", highlight=False)


@webhooks_app.command("delete")
def webhooks_delete(
    ctx: typer.Context,
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id")],
    actor: Annotated[str | None, typer.Option(help="Who (default: $USER)")] = None,
) -> None:
    """Stop a webhook; its pending deliveries are cancelled."""
    from api.webhooks.store import WebhookStore

    store = WebhookStore(_db(ctx))
    try:
        done = store.delete(webhook_id, actor=cli_actor(actor), now=to_micros(system_clock()))
    finally:
        store.close()
    if not done:
        raise _fail(f"no active webhook with id {webhook_id}")
    err.print(f"webhook {webhook_id} deleted")


@webhooks_app.command("deliveries")
def webhooks_deliveries(
    ctx: typer.Context,
    webhook_id: Annotated[str, typer.Argument(help="The webhook's id")],
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
    as_json: JsonFlag = False,
) -> None:
    """The delivery log: each message, its attempts and its next retry."""
    from api.webhooks.store import WebhookStore

    store = WebhookStore(_db(ctx))
    try:
        if store.get(webhook_id) is None:
            raise _fail(f"no webhook with id {webhook_id}")
        items, _ = store.deliveries(webhook_id, status=None, limit=limit, cursor=None)
    finally:
        store.close()
    if as_json:
        _print(items, True)
        return
    for d in items:
        out.print(
            f"{d['position']:>8}  {d['event_type']:<20} {d['status']:<10} attempts={d['attempts']}"
            f" code={d['last_response_code']} next={d['next_attempt_at']}",
            highlight=False,
        )


# --- approvals -------------------------------------------------------------------------------


@approvals_app.command("list")
def approvals_list(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option(help="pending|approved|rejected|expired")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Pending and decided approvals, newest first (deciding needs a support token: use the
    API or the console, so the approver is authenticated)."""
    from projections.read_models import ReadModels

    models = ReadModels(_db(ctx))
    try:
        models.run_once()
        page = models.list_approvals(status=status, limit=1000, cursor=None)
    finally:
        models.close()
    if as_json:
        _print(page.items, True)
        return
    for a in page.items:
        out.print(
            f"{a['id']}  {a['action']:<6} {a['status']:<9} by {a['requested_by']}"
            f"  {a['registration_id']} {a['session_id'] or ''}  {a['reason']}",
            highlight=False,
        )


# --- registration settings -------------------------------------------------------------------


@registrations_app.command("set")
def registrations_set(
    ctx: typer.Context,
    registration: Annotated[str, typer.Argument(help="Registration id")],
    name: Annotated[str | None, typer.Option()] = None,
    sync_interval_minutes: Annotated[int | None, typer.Option()] = None,
    stuck_after_minutes: Annotated[int | None, typer.Option()] = None,
    auto_remove_stuck_after_minutes: Annotated[
        int | None, typer.Option(help="Self-healing after this many idle minutes (rule 16)")
    ] = None,
    no_auto_remove: Annotated[bool, typer.Option(help="Turn self-healing off")] = False,
    approvals_required: Annotated[
        bool | None, typer.Option("--approvals-required/--no-approvals-required")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="Who (default: $USER)")] = None,
) -> None:
    """Change settings (support's action, rule 18): one event for what differs."""
    from domain import Context, Ledger, LedgerError

    wanted: dict[str, Any] = {
        k: v
        for k, v in {
            "name": name,
            "sync_interval_minutes": sync_interval_minutes,
            "stuck_after_minutes": stuck_after_minutes,
            "auto_remove_stuck_after_minutes": auto_remove_stuck_after_minutes,
            "approvals_required": approvals_required,
        }.items()
        if v is not None
    }
    if no_auto_remove:
        wanted["auto_remove_stuck_after_minutes"] = None
    try:
        rid = UUID(registration)
    except ValueError:
        raise _fail(f"not a registration id: {registration!r}", 2) from None
    ledger = Ledger(database=_db(ctx))
    try:
        result = ledger.update_settings(Context(cli_actor(actor), f"cli-{uuid4()}"), rid, wanted)
    except LedgerError as e:
        raise _fail(f"{e.message} ({e.code})") from None
    finally:
        ledger.close()
    changed = ", ".join(f"{k}={v}" for k, v in result.changed.items()) or "nothing changed"
    out.print(f"{changed}; position {result.position}", highlight=False)
