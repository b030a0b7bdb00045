"""C2SP signed-note: notes, signature lines, key names, key IDs and Ed25519 keys.

Like golang.org/x/mod/sumdb/note. Key strings use that package's encodings, which the C2SP
specs call vkeys: ``<name>+<8 hex key ID>+<base64(type || public key)>`` and, for private
keys, ``PRIVATE+KEY+<name>+<8 hex key ID>+<base64(type || 32-byte seed)>``. The key-string
helpers take the signature type, so :mod:`ledger.c2sp.cosignature` reuses them for its
type 0x04 keys.

Malformed text or keys raise :class:`~ledger.errors.InputError` (or its subclass
:class:`~ledger.errors.TooLargeError` for limits); signatures that do not verify, and notes
signed by no known key, raise :class:`~ledger.errors.SignatureError`. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger.c2sp._ed25519 import PUBLIC_SIZE, SEED_SIZE, PrivateKey, verify
from ledger.c2sp._text import b64decode, b64encode, has_control
from ledger.errors import InputError, SignatureError, TooLargeError

__all__ = [
    "MAX_NOTE_SIGNATURES",
    "SIG_TYPE_ED25519",
    "Ed25519Key",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "add_signatures",
    "check_key_name",
    "check_public_key",
    "format_note",
    "generate_signer",
    "is_valid_key_name",
    "key_hash",
    "key_label",
    "parse_note",
    "parse_private_key",
    "parse_signature_lines",
    "parse_vkey",
    "sign_note",
    "signer_from_seed",
    "split_private_key",
    "split_vkey",
    "verify_note",
    "verify_parsed_note",
]

# C2SP signed-note: signature type 0x01 is Ed25519 over the note text.
SIG_TYPE_ED25519 = 0x01
# C2SP signed-note: verifiers SHOULD cap the number of signatures and MUST accept at least 16.
# 100 is the cap of golang.org/x/mod/sumdb/note.
MAX_NOTE_SIGNATURES = 100

_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
# C2SP signed-note: a signature line starts with an em dash (U+2014) and a space.
_SIG_PREFIX = "\u2014 "
_HEX_DIGITS = frozenset("0123456789abcdef")


# --- keys (C2SP signed-note, golang.org/x/mod/sumdb/note key strings) ---------------------


def is_valid_key_name(name: str) -> bool:
    """Whether ``name`` may be a note key name.

    C2SP signed-note: key names MUST be non-empty and MUST NOT contain Unicode spaces or ``+``.
    Control characters are refused too, since a note may not contain them.
    """
    return (
        bool(name)
        and "+" not in name
        and not any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in name)
    )


def check_key_name(name: str) -> None:
    """InputError unless ``name`` is a valid key name (:func:`is_valid_key_name`)."""
    if not isinstance(name, str) or not is_valid_key_name(name):
        raise InputError(f"invalid key name {name!r}: it must be non-empty, without spaces or '+'")


def key_hash(name: str, alg_and_key: bytes) -> bytes:
    """The 4-byte key ID of a key: ``SHA-256(name || 0x0A || type || public key)[:4]``.

    C2SP signed-note: key IDs are the first four bytes of that hash, big-endian on the wire.
    """
    return hashlib.sha256(name.encode("utf-8") + b"\n" + alg_and_key).digest()[:4]


def _parse_key_hash_hex(text: str) -> bytes:
    if len(text) != 8 or any(c not in _HEX_DIGITS for c in text):
        raise InputError(f"key ID must be 8 lowercase hex digits, got {text!r}")
    return bytes.fromhex(text)


def check_public_key(name: str, key_id: bytes, public_key: bytes, alg: int) -> None:
    """InputError unless ``key_id`` is the key ID of this Ed25519 key of type ``alg``."""
    check_key_name(name)
    if not isinstance(public_key, bytes) or len(public_key) != PUBLIC_SIZE:
        raise InputError(f"an Ed25519 public key is {PUBLIC_SIZE} bytes")
    if not isinstance(key_id, bytes) or len(key_id) != 4:
        raise InputError("a key ID is 4 bytes")
    if key_id != key_hash(name, bytes([alg]) + public_key):
        raise InputError(
            f"key ID {key_id.hex()} does not match key {name!r} "
            f"(expected {key_hash(name, bytes([alg]) + public_key).hex()})"
        )


def split_vkey(text: str, alg: int) -> tuple[str, bytes, bytes]:
    """Split ``<name>+<hex id>+<base64(type || key)>`` and check type, length and key ID."""
    if not isinstance(text, str):
        raise InputError("a verifier key must be a string")
    # The base64 part may contain '+', the name may not: split at most twice from the left.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise InputError(f"malformed verifier key {text!r}: expected <name>+<id>+<key>")
    name, hash_hex, key_b64 = parts
    check_key_name(name)
    key_id = _parse_key_hash_hex(hash_hex)
    raw = b64decode(key_b64, "verifier key")
    if not raw or raw[0] != alg:
        got = f"0x{raw[0]:02x}" if raw else "nothing"
        raise InputError(f"verifier key {name!r} has signature type {got}, expected 0x{alg:02x}")
    public_key = raw[1:]
    check_public_key(name, key_id, public_key, alg)
    return name, key_id, public_key


def split_private_key(text: str, alg: int) -> tuple[str, bytes]:
    """Split ``PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)>``; check the key ID."""
    if not isinstance(text, str) or not text.startswith(_PRIVATE_KEY_PREFIX):
        raise InputError("a private key string starts with 'PRIVATE+KEY+'")
    parts = text[len(_PRIVATE_KEY_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise InputError("malformed private key: expected PRIVATE+KEY+<name>+<id>+<key>")
    name, hash_hex, key_b64 = parts
    check_key_name(name)
    key_id = _parse_key_hash_hex(hash_hex)
    raw = b64decode(key_b64, "private key")
    if len(raw) != 1 + SEED_SIZE or raw[0] != alg:
        raise InputError(f"private key {name!r} is not a 32-byte seed of type 0x{alg:02x}")
    seed = raw[1:]
    public_key = PrivateKey(seed).public_key()
    if key_id != key_hash(name, bytes([alg]) + public_key):
        raise InputError(f"private key {name!r}: key ID {hash_hex} does not match the key")
    return name, seed


class Ed25519Key:
    """An Ed25519 key pair with a note key name; the seed never appears in ``repr``.

    The shared base of :class:`NoteSigner` and the tlog-cosignature ``CosignatureSigner``;
    ``_ALG`` is the signature type that goes into the key ID and the key strings.
    """

    __slots__ = ("_key_hash", "_name", "_private", "_public_key", "_seed")
    _ALG = SIG_TYPE_ED25519

    def __init__(self, name: str, seed: bytes) -> None:
        check_key_name(name)
        if not isinstance(seed, bytes) or len(seed) != SEED_SIZE:
            raise InputError(f"an Ed25519 seed is {SEED_SIZE} bytes")
        self._name = name
        self._seed = seed
        self._private = PrivateKey(seed)
        self._public_key = self._private.public_key()
        self._key_hash = key_hash(name, bytes([self._ALG]) + self._public_key)

    @property
    def name(self) -> str:
        """The key name."""
        return self._name

    @property
    def key_hash(self) -> bytes:
        """The 4-byte key ID."""
        return self._key_hash

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return self._public_key

    def private_key_string(self) -> str:
        """``PRIVATE+KEY+<name>+<8 hex>+<base64(type || seed)>`` (x/mod note format)."""
        encoded = b64encode(bytes([self._ALG]) + self._seed)
        return f"{_PRIVATE_KEY_PREFIX}{self._name}+{self._key_hash.hex()}+{encoded}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, key_hash={self._key_hash.hex()})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Ed25519Key)
        return self._name == other._name and secrets.compare_digest(self._seed, other._seed)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._name, self._key_hash))


@dataclass(frozen=True)
class NoteVerifier:
    """A public note-signing key (C2SP signed-note, Ed25519, signature type 0x01).

    Construction checks the name, the key length and that ``key_hash`` is the key's key ID.
    """

    name: str
    key_hash: bytes
    public_key: bytes
    alg: int = SIG_TYPE_ED25519

    def __post_init__(self) -> None:
        if self.alg != SIG_TYPE_ED25519:
            raise InputError(f"unsupported note signature type 0x{self.alg:02x}; only Ed25519")
        check_public_key(self.name, self.key_hash, self.public_key, self.alg)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (64 bytes, without the key ID) is valid over ``message``."""
        # C2SP signed-note: Ed25519 signatures are RFC 8032 signatures over the note text.
        return verify(self.public_key, message, signature)

    def vkey(self) -> str:
        """The verifier key string ``<name>+<8 hex>+<base64(0x01 || public key)>``."""
        encoded = b64encode(bytes([self.alg]) + self.public_key)
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"


class NoteSigner(Ed25519Key):
    """A private note-signing key: name, key ID and Ed25519 seed (signature type 0x01)."""

    __slots__ = ()
    _ALG = SIG_TYPE_ED25519

    def sign(self, message: bytes) -> bytes:
        """The 64-byte Ed25519 signature of ``message`` (without the 4-byte key ID)."""
        return self._private.sign(message)

    def verifier(self) -> NoteVerifier:
        """The matching public :class:`NoteVerifier`."""
        return NoteVerifier(self._name, self._key_hash, self._public_key)


def generate_signer(name: str) -> NoteSigner:
    """A new note signer with a random Ed25519 key."""
    return NoteSigner(name, secrets.token_bytes(SEED_SIZE))


def signer_from_seed(name: str, seed: bytes) -> NoteSigner:
    """The note signer for a 32-byte Ed25519 seed (deterministic)."""
    return NoteSigner(name, seed)


def parse_private_key(s: str) -> NoteSigner:
    """Parse ``PRIVATE+KEY+<name>+<8 hex>+<base64(0x01 || seed)>``; InputError if malformed."""
    name, seed = split_private_key(s, SIG_TYPE_ED25519)
    return NoteSigner(name, seed)


def parse_vkey(s: str) -> NoteVerifier:
    """Parse ``<name>+<8 hex>+<base64(0x01 || public key)>``; InputError if malformed.

    The key ID is checked against the name and key.
    """
    name, key_id, public_key = split_vkey(s, SIG_TYPE_ED25519)
    return NoteVerifier(name, key_id, public_key)


# --- signed notes (C2SP signed-note) -------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID and the signature proper (without the ID)."""

    name: str
    key_hash: bytes
    signature: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if not isinstance(self.key_hash, bytes) or len(self.key_hash) != 4:
            raise InputError("a signature's key ID is 4 bytes")
        # C2SP signed-note: signatures are the base64 encoding of 4+n bytes; n >= 1 here.
        if not isinstance(self.signature, bytes) or not self.signature:
            raise InputError("a signature must not be empty")

    def line(self) -> str:
        """The signature line ``— <name> <base64(key ID || signature)>`` with its newline."""
        # C2SP signed-note: em dash, space, key name, space, base64 signature, newline.
        return f"{_SIG_PREFIX}{self.name} {b64encode(self.key_hash + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """A note: its text (ending in a newline) and its signatures, in order of appearance."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        # C2SP signed-note: a text ending in newline; no control characters but newline.
        if not isinstance(self.text, str) or not self.text.endswith("\n"):
            raise InputError("note text must end with a newline")
        if has_control(self.text):
            raise InputError("note text must not contain control characters other than newline")
        if len(self.signatures) > MAX_NOTE_SIGNATURES:
            raise TooLargeError(f"a note may carry at most {MAX_NOTE_SIGNATURES} signatures")


def _parse_signature_line(line: str) -> NoteSignature:
    # C2SP signed-note: "— <key name> base64(32-bit key ID || signature)".
    if not line.startswith(_SIG_PREFIX):
        raise InputError(f"malformed signature line {line!r}: it must start with '— '")
    name, sep, encoded = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not is_valid_key_name(name):
        raise InputError(f"malformed signature line {line!r}: bad key name")
    raw = b64decode(encoded, f"signature of {name!r}")
    if len(raw) < 5:
        raise InputError(f"signature of {name!r} is too short ({len(raw)} bytes)")
    return NoteSignature(name, raw[:4], raw[4:])


def _parse_signature_block(block: str) -> tuple[NoteSignature, ...]:
    if not block:
        raise InputError("note has no signature lines")
    if not block.endswith("\n"):
        raise InputError("note signature lines must each end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_NOTE_SIGNATURES:
        raise TooLargeError(f"a note may carry at most {MAX_NOTE_SIGNATURES} signatures")
    return tuple(_parse_signature_line(line) for line in lines)


def _decode_note_bytes(data: bytes) -> str:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # C2SP signed-note: signed notes MUST be valid UTF-8.
        raise InputError("note is not valid UTF-8") from exc
    if has_control(text):
        raise InputError("note contains control characters other than newline")
    return text


def parse_signature_lines(data: bytes) -> tuple[NoteSignature, ...]:
    """Parse a block of one or more newline-terminated signature lines.

    This is the body of a C2SP tlog-witness ``add-checkpoint`` response. InputError if
    malformed, TooLargeError past :data:`MAX_NOTE_SIGNATURES`.
    """
    return _parse_signature_block(_decode_note_bytes(data))


def parse_note(data: bytes) -> Note:
    """Parse a signed note without verifying it; InputError if malformed.

    Every signature line is kept, in order, duplicates included, so that
    ``format_note(parse_note(data)) == data``.
    """
    text = _decode_note_bytes(data)
    # C2SP signed-note: the text is separated from the signatures by the last empty line.
    split = text.rfind("\n\n")
    if split < 0:
        raise InputError("note has no blank line between its text and its signatures")
    return Note(text[: split + 1], _parse_signature_block(text[split + 2 :]))


def format_note(note: Note) -> bytes:
    """Serialize a note: text, blank line, signature lines (inverse of :func:`parse_note`)."""
    if not note.signatures:
        # C2SP signed-note: a signed note has one or more signature lines.
        raise InputError("a note needs at least one signature to be formatted")
    return (note.text + "\n" + "".join(sig.line() for sig in note.signatures)).encode("utf-8")


def _unique_signatures(
    existing: Iterable[NoteSignature], new: Iterable[NoteSignature]
) -> tuple[NoteSignature, ...]:
    seen = {(sig.name, sig.key_hash) for sig in existing}
    added: list[NoteSignature] = []
    for sig in new:
        if (sig.name, sig.key_hash) not in seen:
            seen.add((sig.name, sig.key_hash))
            added.append(sig)
    return tuple(added)


def sign_note(text: str, signers: Sequence[NoteSigner]) -> bytes:
    """Sign ``text`` (which must end in a newline) with every signer; return the note bytes.

    A signer repeated (same name and key ID) signs once.
    """
    unsigned = Note(text, ())
    if not signers:
        raise InputError("sign_note needs at least one signer")
    message = text.encode("utf-8")
    sigs = (NoteSignature(s.name, s.key_hash, s.sign(message)) for s in signers)
    return format_note(Note(unsigned.text, _unique_signatures((), sigs)))


def add_signatures(note_bytes: bytes, sigs: Sequence[NoteSignature]) -> bytes:
    """Append signature lines to a note, skipping any whose name and key ID it already has.

    Nothing is verified here: callers check the result with :func:`verify_note` or
    :func:`ledger.c2sp.trust.trusted_checkpoint`.
    """
    note = parse_note(note_bytes)
    added = _unique_signatures(note.signatures, sigs)
    return format_note(Note(note.text, note.signatures + added))


def key_label(name: str, key_id: bytes) -> str:
    """``<name>+<8 hex key ID>``: how messages name a key."""
    return f"{name}+{key_id.hex()}"


def verify_parsed_note(note: Note, verifiers: Sequence[NoteVerifier]) -> list[NoteVerifier]:
    """:func:`verify_note` on a note already parsed: the verifiers that signed, in order."""
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for candidate in verifiers:
        slot = (candidate.name, candidate.key_hash)
        if slot in known and known[slot] != candidate:
            raise InputError(f"two different keys are named {key_label(*slot)}")
        known[slot] = candidate
    message = note.text.encode("utf-8")
    verified: list[NoteVerifier] = []
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_hash))
        if verifier is None:
            # C2SP signed-note: verifiers MUST ignore signatures from unknown keys, even if
            # they share a name or an ID (but not both) with a known key.
            continue
        # C2SP signed-note: if the name and ID match a known key, the signature MUST be
        # verified; a known key's failing signature rejects the whole note here.
        if not verifier.verify(message, sig.signature):
            raise SignatureError(
                f"the signature by {key_label(sig.name, sig.key_hash)} does not verify: "
                "the note was altered or the signature is forged"
            )
        if verifier not in verified:
            verified.append(verifier)
    if not verified:
        # C2SP signed-note: if no signature from a known key verifies, clients MUST reject.
        present = ", ".join(key_label(s.name, s.key_hash) for s in note.signatures)
        wanted = ", ".join(key_label(*slot) for slot in known) or "none"
        raise SignatureError(
            f"note is signed by no known key (signed by {present}; known keys: {wanted})"
        )
    return verified


def verify_note(data: bytes, verifiers: Sequence[NoteVerifier]) -> tuple[Note, list[NoteVerifier]]:
    """Parse a note and verify it against known keys.

    Returns the note and the known verifiers whose signatures verified (each once, in order).
    Signatures by unknown keys are ignored. InputError if malformed; SignatureError if a
    known key's signature fails or no known key signed.
    """
    note = parse_note(data)
    return note, verify_parsed_note(note, verifiers)
