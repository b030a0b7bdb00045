"""C2SP tlog-checkpoint: the checkpoint note text (origin, tree size, root hash, extensions).

:func:`read_checkpoint` is the one place that reads origin, size and root out of a
checkpoint note's bytes without verifying it; :func:`open_checkpoint` verifies the log's
signature first. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.c2sp._text import (
    HASH_SIZE,
    U64_MAX,
    b64decode,
    b64encode,
    check_u64,
    has_control,
    parse_decimal,
)
from ledger.c2sp.note import (
    Note,
    NoteSigner,
    NoteVerifier,
    format_note,
    parse_note,
    sign_note,
    verify_note,
)
from ledger.errors import InputError, SignatureError

__all__ = [
    "Checkpoint",
    "log_signed_only",
    "open_checkpoint",
    "parse_checkpoint",
    "read_checkpoint",
    "sign_checkpoint",
]


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint note text: origin, tree size, RFC 6962 root hash and extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # C2SP tlog-checkpoint: the origin MUST be non-empty; it is one line of note text.
        if not isinstance(self.origin, str) or not self.origin:
            raise InputError("checkpoint origin must not be empty")
        if "\n" in self.origin or has_control(self.origin):
            raise InputError("checkpoint origin must be one line without control characters")
        check_u64(self.size, "checkpoint tree size")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise InputError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        for line in self.extensions:
            # C2SP tlog-checkpoint: extension lines, if any, MUST be non-empty.
            if not isinstance(line, str) or not line or "\n" in line or has_control(line):
                raise InputError(f"invalid checkpoint extension line {line!r}")

    def body(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` then each extension line."""
        head = f"{self.origin}\n{self.size}\n{b64encode(self.root_hash)}\n"
        return head + "".join(line + "\n" for line in self.extensions)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text strictly; InputError if malformed.

    The size is ASCII decimal without leading zeros (``0`` for the empty tree) and the root is
    32 bytes in canonical standard base64.
    """
    # C2SP tlog-checkpoint: at least three non-empty newline-terminated lines.
    if not isinstance(text, str) or not text.endswith("\n"):
        raise InputError("checkpoint text must end with a newline")
    if has_control(text):
        raise InputError("checkpoint text must not contain control characters")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise InputError("checkpoint text needs origin, tree size and root hash lines")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise InputError("checkpoint origin must not be empty")
    size = parse_decimal(size_text, "checkpoint tree size", U64_MAX)
    root = b64decode(root_text, "checkpoint root hash")
    if len(root) != HASH_SIZE:
        raise InputError(f"checkpoint root hash is {len(root)} bytes, expected {HASH_SIZE}")
    return Checkpoint(origin, size, root, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, signer: NoteSigner) -> bytes:
    """Sign a checkpoint with the log key; the key name must equal the origin."""
    # C2SP tlog-checkpoint: the log's key name SHOULD match the origin line (required here).
    if signer.name != cp.origin:
        raise InputError(f"log key {signer.name!r} cannot sign checkpoints of {cp.origin!r}")
    return sign_note(cp.body(), [signer])


def open_checkpoint(data: bytes, log_key: NoteVerifier) -> tuple[Checkpoint, Note]:
    """Verify a checkpoint note signed by ``log_key`` and parse its text.

    SignatureError if the log key did not sign it validly or its name is not the origin;
    InputError if the note or checkpoint text is malformed.
    """
    note, _ = verify_note(data, [log_key])
    cp = parse_checkpoint(note.text)
    if cp.origin != log_key.name:
        raise SignatureError(
            f"checkpoint origin {cp.origin!r} is not the log key's name {log_key.name!r}"
        )
    return cp, note


def read_checkpoint(note_bytes: bytes) -> Checkpoint:
    """Origin, size, root and extensions of a checkpoint note, NOT verified.

    For notes already verified elsewhere, or for display; InputError if the note or its
    checkpoint text is malformed. Verify with :func:`open_checkpoint` before trusting it.
    """
    return parse_checkpoint(parse_note(note_bytes).text)


def log_signed_only(note_bytes: bytes, log_key: NoteVerifier) -> tuple[Checkpoint, bytes]:
    """Verify the log's signature on a checkpoint note; return it with only that signature.

    The note kept as evidence or in a replica is the log's own statement, whatever other
    cosignatures travelled with it. SignatureError / InputError as :func:`open_checkpoint`.
    """
    cp, note = open_checkpoint(note_bytes, log_key)
    mine = tuple(
        s for s in note.signatures if (s.name, s.key_hash) == (log_key.name, log_key.key_hash)
    )
    return cp, format_note(Note(note.text, mine[:1]))
