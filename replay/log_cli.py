"""`syncledger log …` (checkpoint, prove, witness) and `syncledger keys create`.

Exit codes: 0 done, 1 a problem found (fork, rollback, a proof or signature that fails;
message on standard error), 2 usage error. `--json` prints JSON alone on standard output.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from replay.cli import _database, _fail, out
from replay.keys import KeyFileError, create_key, load_verifiers
from replay.note import NoteError, Verifier, open_checkpoint
from replay.progress import err

log_app = typer.Typer(
    help="The verifiable log: signed checkpoints, proofs, a witness.", no_args_is_help=True
)
keys_app = typer.Typer(help="The key that signs checkpoints.", no_args_is_help=True)

KeyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--key",
        help="Verifier key NAME+ID+KEY, or a file of them (default: the signing key file's "
        "public half and its retired keys)",
    ),
]


def _json(data: Any) -> None:
    sys.stdout.write(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode() + "\n")


def _config() -> Any:
    from replay.treelog import LogConfig

    return LogConfig.from_settings()


def verifiers_from(keys: list[str] | None) -> list[Verifier]:
    from replay.keys import known_verifiers

    try:
        if keys:
            return [v for spec in keys for v in load_verifiers(spec)]
        return known_verifiers(_config().signing_key)
    except (KeyFileError, NoteError) as e:
        raise _fail(str(e), 2) from None


def _latest_note(ctx: typer.Context) -> str:
    from replay.treelog import ForkRefused, TreeFollower

    follower = TreeFollower(_database(ctx), _config())
    try:
        follower.step(force=True)
    except (ForkRefused, KeyFileError) as e:
        raise _fail(str(e)) from None
    note = follower.latest_note()
    if note is None:
        raise _fail("no checkpoint could be signed")
    return note


@log_app.command("checkpoint")
def checkpoint(
    ctx: typer.Context,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the note here ('-': standard output)")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Bring the tree up to date and print (or write) the latest signed checkpoint."""
    from replay.proofs import checkpoint_dict

    note = _latest_note(ctx)
    if out_file is not None and str(out_file) != "-":
        out_file.write_text(note)
        err.print(f"wrote the checkpoint to {out_file}", highlight=False)
    if as_json:
        _json(checkpoint_dict(note))
    elif out_file is None or str(out_file) == "-":
        sys.stdout.write(note)


@log_app.command("prove")
def prove(
    ctx: typer.Context,
    position: Annotated[int, typer.Argument(min=1, help="The event's position")],
    checkpoint_file: Annotated[
        Path | None,
        typer.Option("--checkpoint", help="Checkpoint note to check against (default: latest)"),
    ] = None,
    key: KeyOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """An inclusion proof of the event at POSITION, checked against the checkpoint."""
    from replay.merkle import ProofError, leaf_hash, verify_inclusion
    from replay.proofs import ProofRequestError, event_at, prove_inclusion

    database = _database(ctx)
    if checkpoint_file is None:
        note = _latest_note(ctx)
    else:
        try:
            note = checkpoint_file.read_text()
        except OSError as e:
            raise _fail(f"cannot read {checkpoint_file}: {e.strerror}", 2) from None
        _latest_note(ctx)  # bring the tiles up to date
    try:
        cp, _ = open_checkpoint(note, verifiers_from(key))
    except NoteError as e:
        raise _fail(f"the checkpoint does not verify: {e}") from None
    try:
        proof = prove_inclusion(database, position, cp.tree_size)
    except ProofRequestError as e:
        raise _fail(e.message, 1) from None
    event = event_at(database, position)
    assert event is not None
    leaf = leaf_hash(*event)
    try:
        verify_inclusion(
            proof["leaf_index"],
            cp.tree_size,
            leaf,
            [bytes.fromhex(h) for h in proof["audit_path"]],
            cp.root_hash,
        )
    except ProofError as e:
        raise _fail(
            f"position {position} is NOT included in the checkpoint of size {cp.tree_size}: {e}"
        ) from None
    if as_json:
        _json({**proof, "verified": True, "checkpoint_root": cp.root_hash.hex()})
        return
    out.print(
        f"position {position} is leaf {proof['leaf_index']} of the tree of size "
        f"{cp.tree_size:,}; the proof ({len(proof['audit_path'])} hashes) checks against the "
        f"signed root {cp.root_hash.hex()}",
        highlight=False,
    )


@log_app.command("witness")
def witness(
    url: Annotated[str, typer.Option(help="The server's base URL, e.g. http://host:8000")],
    state: Annotated[Path, typer.Option(help="Directory where the witness keeps checkpoints")],
    token: Annotated[
        str | None,
        typer.Option(envvar="SYNCLEDGER_TOKEN", help="A support or auditor token (for proofs)"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Fetch the checkpoint, check it extends the one kept in STATE, keep it."""
    import httpx

    from replay.witness import WitnessError, run_witness

    try:
        with httpx.Client(timeout=30) as client:
            result = run_witness(
                client, url, state, token=token or os.environ.get("SYNCLEDGER_TOKEN")
            )
    except WitnessError as e:
        raise _fail(str(e)) from None
    for message in result.messages:
        err.print(message, highlight=False)
    if as_json:
        _json(result.as_dict())
        return
    out.print(
        f"ok: kept the checkpoint of size {result.checkpoint.tree_size:,} "
        f"(root {result.checkpoint.root_hash.hex()})",
        highlight=False,
    )


@keys_app.command("create")
def keys_create(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Key file (default: SYNCLEDGER_SIGNING_KEY)"),
    ] = None,
    name: Annotated[
        str | None, typer.Option(help="Key (and log) name, e.g. host/syncledger")
    ] = None,
    rotate: Annotated[
        bool, typer.Option(help="Replace an existing key; its public key stays listed as retired")
    ] = False,
) -> None:
    """A new Ed25519 signing key (mode 0600); prints its verifier key."""
    path = out_file or _config().signing_key
    try:
        signer = create_key(path, name=name, rotate=rotate)
    except (KeyFileError, NoteError) as e:
        raise _fail(str(e)) from None
    err.print(f"wrote a new signing key to {path} (mode 0600); its verifier key:", highlight=False)
    sys.stdout.write(signer.verifier.text() + "\n")
