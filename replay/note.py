"""Signed notes and checkpoints in the C2SP `signed-note` / `tlog-checkpoint` text formats.

A checkpoint is the note text

    <origin>\\n<tree size>\\n<base64 root hash>\\n[timestamp <RFC 3339>\\n]

followed by a blank line and one signature line per key:
`— <key name> <base64(4-byte key id || 64-byte Ed25519 signature)>`. The key id is the
first four bytes of SHA-256(name || 0x0A || 0x01 || public key); a verifier key is written
`<name>+<8 hex digits of the key id>+<base64(0x01 || public key)>` and a private key
`PRIVATE+KEY+<name>+<key id hex>+<base64(0x01 || 32-byte seed)>`, as other tools expect.
The timestamp line is a tlog-checkpoint extension line: covered by the signature, ignored
by verifiers that do not know it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ALG_ED25519 = b"\x01"
DASH = "\u2014 "
MAX_NOTE_BYTES = 1 << 20
MAX_SIGNATURES = 100


class NoteError(ValueError):
    """A malformed note or key, or a signature that does not verify."""


def check_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise NoteError(f"a key name must be non-empty, without spaces or '+': {name!r}")
    return name


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ALG_ED25519 + public).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    name: str
    public: bytes  # 32 raw bytes

    @property
    def id(self) -> bytes:
        return key_id(self.name, self.public)

    @property
    def key_id(self) -> str:
        return self.id.hex()

    def text(self) -> str:
        return f"{self.name}+{self.key_id}+{base64.b64encode(ALG_ED25519 + self.public).decode()}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public).verify(signature, message)
        except InvalidSignature:
            return False
        return True

    @classmethod
    def parse(cls, text: str) -> Verifier:
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise NoteError("a verifier key reads NAME+KEYID+BASE64KEY")
        name, hex_id, b64 = parts
        try:
            raw = base64.b64decode(b64, validate=True)
            wanted = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raise NoteError("the verifier key's id or key is not hex/base64") from None
        if len(raw) != 33 or raw[:1] != ALG_ED25519:
            raise NoteError("the verifier key is not an Ed25519 key")
        verifier = cls(check_name(name), raw[1:])
        if verifier.id != wanted:
            raise NoteError("the verifier key's id does not match its name and key")
        return verifier


@dataclass(frozen=True)
class Signer:
    name: str
    seed: bytes  # 32 raw bytes of the Ed25519 private key

    @classmethod
    def generate(cls, name: str) -> Signer:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        key = Ed25519PrivateKey.generate()
        seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(check_name(name), seed)

    @property
    def verifier(self) -> Verifier:
        key = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return Verifier(self.name, key.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)

    def text(self) -> str:
        seed = base64.b64encode(ALG_ED25519 + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id}+{seed}"

    @classmethod
    def parse(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise NoteError("a signing key reads PRIVATE+KEY+NAME+KEYID+BASE64SEED")
        _, _, name, hex_id, b64 = parts
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise NoteError("the signing key is not base64") from None
        if len(raw) != 33 or raw[:1] != ALG_ED25519:
            raise NoteError("the signing key is not an Ed25519 key")
        signer = cls(check_name(name), raw[1:])
        if signer.verifier.key_id != hex_id.lower():
            raise NoteError("the signing key's id does not match its name and key")
        return signer


def sign_note(text: str, signers: list[Signer]) -> str:
    if not text.endswith("\n") or "\n\n" in text:
        raise NoteError("note text must end in a newline and hold no blank line")
    lines = []
    for signer in signers:
        sig = signer.verifier.id + signer.sign(text.encode())
        lines.append(f"{DASH}{signer.name} {base64.b64encode(sig).decode()}\n")
    return text + "\n" + "".join(lines)


@dataclass(frozen=True)
class OpenedNote:
    text: str
    verified_by: list[Verifier]


def open_note(note: str, verifiers: list[Verifier]) -> OpenedNote:
    """The note's text once at least one known key's signature verifies; else NoteError.

    A signature line from a known key (same name and key id) that fails rejects the whole
    note, as the signed-note specification asks; unknown keys' lines are ignored.
    """
    if len(note.encode()) > MAX_NOTE_BYTES:
        raise NoteError("the note is too large")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("the note holds control characters")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("the note has no signature block (blank line, then signature lines)")
    text, block = note[: cut + 1], note[cut + 2 :]
    if not block.endswith("\n"):
        raise NoteError("the note's last signature line does not end in a newline")
    known = {(v.name, v.id): v for v in verifiers}
    verified: list[Verifier] = []
    sig_lines = block[:-1].split("\n")
    if len(sig_lines) > MAX_SIGNATURES:
        raise NoteError("too many signature lines")
    for line in sig_lines:
        if not line.startswith(DASH):
            raise NoteError(f"not a signature line: {line[:60]!r}")
        name, _, b64 = line[len(DASH) :].partition(" ")
        try:
            raw = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise NoteError("a signature is not base64") from None
        if len(raw) < 5 or not name:
            raise NoteError("a signature line is too short")
        verifier = known.get((name, raw[:4]))
        if verifier is None:
            continue
        if not verifier.verify(text.encode(), raw[4:]):
            raise NoteError(f"the signature of {name} ({raw[:4].hex()}) does not verify")
        if verifier not in verified:
            verified.append(verifier)
    if not verified:
        names = ", ".join(sorted({f"{v.name}+{v.key_id}" for v in verifiers})) or "none"
        raise NoteError(f"no signature from a known key (known: {names})")
    return OpenedNote(text, verified)


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: str | None = None

    def text(self) -> str:
        lines = [
            check_name(self.origin),
            str(self.tree_size),
            base64.b64encode(self.root_hash).decode(),
        ]
        if self.timestamp:
            lines.append(f"timestamp {self.timestamp}")
        return "\n".join(lines) + "\n"

    @classmethod
    def parse_text(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
            raise NoteError("a checkpoint is at least three non-empty lines")
        origin, size, b64 = lines[:3]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise NoteError(f"tree size {size!r} is not a decimal number")
        try:
            root = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise NoteError("the root hash is not base64") from None
        if len(root) != 32:
            raise NoteError("the root hash is not 32 bytes")
        timestamp = None
        for extra in lines[3:-1]:
            if extra.startswith("timestamp "):
                timestamp = extra.removeprefix("timestamp ")
        return cls(origin, int(size), root, timestamp)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    return sign_note(checkpoint.text(), [signer])


def open_checkpoint(note: str, verifiers: list[Verifier]) -> tuple[Checkpoint, list[Verifier]]:
    """Verify a checkpoint note and parse it; NoteError when either fails."""
    opened = open_note(note, verifiers)
    checkpoint = Checkpoint.parse_text(opened.text)
    if not any(v.name == checkpoint.origin for v in opened.verified_by):
        raise NoteError(f"the checkpoint of {checkpoint.origin!r} is not signed by that log's key")
    return checkpoint, opened.verified_by


def peek_checkpoint(note: str) -> Checkpoint:
    """Parse a checkpoint note WITHOUT checking its signature (to report what it claims)."""
    cut = note.rfind("\n\n")
    return Checkpoint.parse_text(note[: cut + 1] if cut >= 0 else note)
