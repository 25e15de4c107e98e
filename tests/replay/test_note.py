"""Signed notes, checkpoints and the signing key file (C2SP signed-note / tlog-checkpoint)."""

from __future__ import annotations

import base64
import hashlib
import os
import stat
from pathlib import Path

import pytest

from replay.keys import (
    KeyFileError,
    create_key,
    known_verifiers,
    load_or_create,
    load_verifiers,
    retired_keys,
)
from replay.note import (
    Checkpoint,
    NoteError,
    Signer,
    Verifier,
    open_checkpoint,
    open_note,
    sign_checkpoint,
    sign_note,
)


def test_key_id_and_formats_follow_the_note_spec() -> None:
    signer = Signer.generate("example.com/log")
    v = signer.verifier
    expected = hashlib.sha256(b"example.com/log\n\x01" + v.public).digest()[:4]
    assert v.id == expected
    name, key_id, b64 = v.text().split("+", 2)
    assert (name, key_id) == ("example.com/log", expected.hex())
    assert base64.b64decode(b64) == b"\x01" + v.public
    assert Verifier.parse(v.text()) == v
    assert Signer.parse(signer.text()) == signer
    assert signer.text().startswith("PRIVATE+KEY+example.com/log+" + expected.hex() + "+")
    for bad in ("a+b", "name+00000000+" + b64, "na me+" + key_id + "+" + b64):
        with pytest.raises(NoteError):
            Verifier.parse(bad)


def test_checkpoint_note_round_trip_and_layout() -> None:
    signer = Signer.generate("example.com/log")
    cp = Checkpoint("example.com/log", 20852163, bytes(range(32)), "2026-01-01T00:00:00Z")
    note = sign_checkpoint(cp, signer)
    text, sigs = note.split("\n\n")
    assert text.split("\n") == [
        "example.com/log",
        "20852163",
        base64.b64encode(bytes(range(32))).decode(),
        "timestamp 2026-01-01T00:00:00Z",
    ]
    assert sigs.startswith("\u2014 example.com/log ")
    raw = base64.b64decode(sigs.strip().rsplit(" ", 1)[1])
    assert raw[:4] == signer.verifier.id and len(raw) == 68
    opened, by = open_checkpoint(note, [signer.verifier])
    assert opened == cp and by == [signer.verifier]


def test_forged_or_unknown_signatures_are_refused() -> None:
    signer, other = Signer.generate("log"), Signer.generate("log")
    note = sign_note("hello\n", [signer])
    with pytest.raises(NoteError, match="no signature from a known key"):
        open_note(note, [other.verifier])
    forged = note.replace("hello", "hellp")
    with pytest.raises(NoteError, match="does not verify"):
        open_note(forged, [signer.verifier])
    # Signed by the key, but a checkpoint must be signed under its own origin's name.
    stranger = Signer.generate("someone-else")
    note = sign_checkpoint(Checkpoint("log", 1, bytes(32)), stranger)
    with pytest.raises(NoteError, match="not signed by that log"):
        open_checkpoint(note, [stranger.verifier])
    for malformed in ("no signature block\n", "a\n\nnot a signature\n", "a\n\n\u2014 x !!\n"):
        with pytest.raises(NoteError):
            open_note(malformed, [signer.verifier])
    with pytest.raises(NoteError):
        Checkpoint.parse_text("log\n01\nAAAA\n")


def test_key_file_created_on_first_use_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    signer = load_or_create(path, "host/syncledger")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create(path) == signer  # read, not replaced
    with pytest.raises(KeyFileError, match="--rotate"):
        create_key(path)
    path.write_text("garbage")
    with pytest.raises(KeyFileError, match="not a signing key"):
        load_or_create(path)


def test_rotation_keeps_old_checkpoints_verifiable(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    old = create_key(path, name="log")
    old_note = sign_checkpoint(Checkpoint("log", 5, bytes(32)), old)
    new = create_key(path, rotate=True)
    assert new.name == "log" and new.verifier != old.verifier
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    [retired] = retired_keys(path)
    assert retired.verifier == old.verifier
    assert retired.successor() == new.verifier  # the old key endorsed the new one
    keys = known_verifiers(path)
    assert keys == [new.verifier, old.verifier]
    assert open_checkpoint(old_note, keys)[0].tree_size == 5
    new_note = sign_checkpoint(Checkpoint("log", 6, bytes(32)), new)
    assert open_checkpoint(new_note, keys)[0].tree_size == 6
    # A verifier key given on the command line or in a file.
    assert load_verifiers(new.verifier.text()) == [new.verifier]
    listed = tmp_path / "keys.txt"
    listed.write_text(f"# trusted\n{old.verifier.text()}\n")
    assert load_verifiers(str(listed)) == [old.verifier]
    assert load_verifiers(str(path)) == keys
