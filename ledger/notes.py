"""Signed notes, checkpoints, cosignatures, policies and proofs in the C2SP text formats.

Pure functions and frozen values only: nothing here reads files, sockets or clocks.

Specifications followed (github.com/C2SP/C2SP):

* ``signed-note.md``      notes, signature lines, key IDs, Ed25519 (signature type 0x01)
* ``tlog-checkpoint.md``  the checkpoint note text (origin, tree size, root hash, extensions)
* ``tlog-cosignature.md`` Ed25519 witness cosignatures (signature type 0x04, ``cosignature/v1``)
* ``tlog-policy.md``      ``log`` / ``witness`` / ``group`` / ``quorum`` policy files
* ``tlog-proof.md``       ``c2sp.org/tlog-proof@v1`` offline proofs

Key strings use the golang.org/x/mod/sumdb/note encodings, which the C2SP specs call vkeys:
``<name>+<8 hex key ID>+<base64(type || public key)>`` and, for private keys,
``PRIVATE+KEY+<name>+<8 hex key ID>+<base64(type || 32-byte seed)>``.

Malformed text or keys raise :class:`~ledger.errors.InputError` (or its subclass
:class:`~ledger.errors.TooLargeError` for limits); signatures that do not verify, and notes
signed by no known key, raise :class:`~ledger.errors.SignatureError`.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ledger.errors import InputError, SignatureError, TooLargeError

__all__ = [
    "COSIGNATURE_V1_HEADER",
    "MAX_NOTE_SIGNATURES",
    "MAX_PROOF_HASHES",
    "SIG_TYPE_COSIGNATURE_V1",
    "SIG_TYPE_ED25519",
    "TLOG_PROOF_HEADER",
    "Checkpoint",
    "CosignatureSigner",
    "CosignatureVerifier",
    "LineReader",
    "Note",
    "NoteSignature",
    "NoteSigner",
    "NoteVerifier",
    "Policy",
    "PolicyGroup",
    "PolicyLog",
    "PolicyWitness",
    "TlogProof",
    "add_signatures",
    "cosigner_from_seed",
    "format_note",
    "format_policy",
    "format_tlog_proof",
    "generate_cosigner",
    "generate_signer",
    "is_valid_key_name",
    "key_hash",
    "open_checkpoint",
    "parse_checkpoint",
    "parse_cosigner_private_key",
    "parse_cosigner_vkey",
    "parse_note",
    "parse_policy",
    "parse_private_key",
    "parse_signature_lines",
    "parse_tlog_proof",
    "parse_vkey",
    "policy_satisfied",
    "sign_checkpoint",
    "sign_note",
    "signer_from_seed",
    "trusted_checkpoint",
    "verify_note",
]

# C2SP signed-note: signature type 0x01 is Ed25519 over the note text.
SIG_TYPE_ED25519 = 0x01
# C2SP signed-note / tlog-cosignature: signature type 0x04 is a timestamped Ed25519 cosignature.
SIG_TYPE_COSIGNATURE_V1 = 0x04
# C2SP tlog-cosignature: the header line of the Ed25519 signed message (domain separation).
COSIGNATURE_V1_HEADER = b"cosignature/v1\n"
# C2SP signed-note: verifiers SHOULD cap the number of signatures and MUST accept at least 16.
# 100 is the cap of golang.org/x/mod/sumdb/note.
MAX_NOTE_SIGNATURES = 100
# C2SP tlog-proof: the first line of a proof.
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
# An RFC 6962 inclusion proof in a tree of fewer than 2**64 leaves has at most 64 hashes.
MAX_PROOF_HASHES = 64

_PRIVATE_KEY_PREFIX = "PRIVATE+KEY+"
# C2SP signed-note: a signature line starts with an em dash (U+2014) and a space.
_SIG_PREFIX = "\u2014 "
_U64_MAX = 2**64 - 1
# C2SP tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
_TIMESTAMP_MAX = 2**63 - 1
_HEX_DIGITS = frozenset("0123456789abcdef")
_DEC_DIGITS = frozenset("0123456789")
_ED25519_SEED_SIZE = 32
_ED25519_PUBLIC_SIZE = 32
_ED25519_SIGNATURE_SIZE = 64
_HASH_SIZE = 32


# ---------------------------------------------------------------------------------------------
# Small strict codecs
# ---------------------------------------------------------------------------------------------


def _b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64decode(text: str, what: str) -> bytes:
    """Decode standard, padded, canonical base64 (RFC 4648 section 4) or raise InputError.

    Non-canonical encodings (stray bits in the last character) are refused so that every
    value has exactly one text form and parse/format round trips are the identity.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except ValueError as exc:  # binascii.Error and UnicodeEncodeError are ValueErrors
        raise InputError(f"{what} is not valid standard base64: {text!r}") from exc
    if _b64encode(raw) != text:
        raise InputError(f"{what} is not canonical base64: {text!r}")
    return raw


def _parse_decimal(text: str, what: str, maximum: int) -> int:
    """ASCII decimal with no leading zeroes (except ``0`` itself), at most ``maximum``."""
    if (
        not text
        or len(text) > 20
        or any(c not in _DEC_DIGITS for c in text)
        or (len(text) > 1 and text[0] == "0")
    ):
        raise InputError(f"{what} must be a decimal number without leading zeros, got {text!r}")
    value = int(text)
    if value > maximum:
        raise InputError(f"{what} {value} is larger than {maximum}")
    return value


def _has_control(text: str) -> bool:
    # C2SP signed-note: no ASCII control characters (below U+0020) other than newline.
    return any(ord(c) < 0x20 and c != "\n" for c in text)


def _check_u64(value: int, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _U64_MAX:
        raise InputError(f"{what} must be an integer between 0 and 2**64-1, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Keys (C2SP signed-note, golang.org/x/mod/sumdb/note key strings)
# ---------------------------------------------------------------------------------------------


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


def _check_key_name(name: str) -> None:
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


def _ed25519_public(private: Ed25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def _ed25519_verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    if len(signature) != _ED25519_SIGNATURE_SIZE:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def _check_public_key(name: str, key_id: bytes, public_key: bytes, alg: int) -> None:
    _check_key_name(name)
    if not isinstance(public_key, bytes) or len(public_key) != _ED25519_PUBLIC_SIZE:
        raise InputError(f"an Ed25519 public key is {_ED25519_PUBLIC_SIZE} bytes")
    try:
        Ed25519PublicKey.from_public_bytes(public_key)
    except ValueError as exc:
        raise InputError("invalid Ed25519 public key") from exc
    if not isinstance(key_id, bytes) or len(key_id) != 4:
        raise InputError("a key ID is 4 bytes")
    if key_id != key_hash(name, bytes([alg]) + public_key):
        raise InputError(
            f"key ID {key_id.hex()} does not match key {name!r} "
            f"(expected {key_hash(name, bytes([alg]) + public_key).hex()})"
        )


def _split_vkey(text: str, alg: int) -> tuple[str, bytes, bytes]:
    """Split ``<name>+<hex id>+<base64(type || key)>`` and check type, length and key ID."""
    if not isinstance(text, str):
        raise InputError("a verifier key must be a string")
    # The base64 part may contain '+', the name may not: split at most twice from the left.
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise InputError(f"malformed verifier key {text!r}: expected <name>+<id>+<key>")
    name, hash_hex, key_b64 = parts
    _check_key_name(name)
    key_id = _parse_key_hash_hex(hash_hex)
    raw = _b64decode(key_b64, "verifier key")
    if not raw or raw[0] != alg:
        got = f"0x{raw[0]:02x}" if raw else "nothing"
        raise InputError(f"verifier key {name!r} has signature type {got}, expected 0x{alg:02x}")
    public_key = raw[1:]
    _check_public_key(name, key_id, public_key, alg)
    return name, key_id, public_key


def _split_private_key(text: str, alg: int) -> tuple[str, bytes]:
    """Split ``PRIVATE+KEY+<name>+<hex id>+<base64(type || seed)>``; check the key ID."""
    if not isinstance(text, str) or not text.startswith(_PRIVATE_KEY_PREFIX):
        raise InputError("a private key string starts with 'PRIVATE+KEY+'")
    parts = text[len(_PRIVATE_KEY_PREFIX) :].split("+", 2)
    if len(parts) != 3:
        raise InputError("malformed private key: expected PRIVATE+KEY+<name>+<id>+<key>")
    name, hash_hex, key_b64 = parts
    _check_key_name(name)
    key_id = _parse_key_hash_hex(hash_hex)
    raw = _b64decode(key_b64, "private key")
    if len(raw) != 1 + _ED25519_SEED_SIZE or raw[0] != alg:
        raise InputError(f"private key {name!r} is not a 32-byte seed of type 0x{alg:02x}")
    seed = raw[1:]
    public_key = _ed25519_public(Ed25519PrivateKey.from_private_bytes(seed))
    if key_id != key_hash(name, bytes([alg]) + public_key):
        raise InputError(f"private key {name!r}: key ID {hash_hex} does not match the key")
    return name, seed


class _Ed25519Signer:
    """An Ed25519 key pair with a note key name; the seed never appears in ``repr``."""

    __slots__ = ("_key_hash", "_name", "_private", "_public_key", "_seed")
    _ALG = SIG_TYPE_ED25519

    def __init__(self, name: str, seed: bytes) -> None:
        _check_key_name(name)
        if not isinstance(seed, bytes) or len(seed) != _ED25519_SEED_SIZE:
            raise InputError(f"an Ed25519 seed is {_ED25519_SEED_SIZE} bytes")
        self._name = name
        self._seed = seed
        self._private = Ed25519PrivateKey.from_private_bytes(seed)
        self._public_key = _ed25519_public(self._private)
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
        encoded = _b64encode(bytes([self._ALG]) + self._seed)
        return f"{_PRIVATE_KEY_PREFIX}{self._name}+{self._key_hash.hex()}+{encoded}"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self._name!r}, key_hash={self._key_hash.hex()})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Ed25519Signer)
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
        _check_public_key(self.name, self.key_hash, self.public_key, self.alg)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Whether ``signature`` (64 bytes, without the key ID) is valid over ``message``."""
        # C2SP signed-note: Ed25519 signatures are RFC 8032 signatures over the note text.
        return _ed25519_verify(self.public_key, message, signature)

    def vkey(self) -> str:
        """The verifier key string ``<name>+<8 hex>+<base64(0x01 || public key)>``."""
        encoded = _b64encode(bytes([self.alg]) + self.public_key)
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"


class NoteSigner(_Ed25519Signer):
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
    return NoteSigner(name, secrets.token_bytes(_ED25519_SEED_SIZE))


def signer_from_seed(name: str, seed: bytes) -> NoteSigner:
    """The note signer for a 32-byte Ed25519 seed (deterministic)."""
    return NoteSigner(name, seed)


def parse_private_key(s: str) -> NoteSigner:
    """Parse ``PRIVATE+KEY+<name>+<8 hex>+<base64(0x01 || seed)>``; InputError if malformed."""
    name, seed = _split_private_key(s, SIG_TYPE_ED25519)
    return NoteSigner(name, seed)


def parse_vkey(s: str) -> NoteVerifier:
    """Parse ``<name>+<8 hex>+<base64(0x01 || public key)>``; InputError if malformed.

    The key ID is checked against the name and key.
    """
    name, key_id, public_key = _split_vkey(s, SIG_TYPE_ED25519)
    return NoteVerifier(name, key_id, public_key)


# ---------------------------------------------------------------------------------------------
# Signed notes (C2SP signed-note)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID and the signature proper (without the ID)."""

    name: str
    key_hash: bytes
    signature: bytes

    def __post_init__(self) -> None:
        _check_key_name(self.name)
        if not isinstance(self.key_hash, bytes) or len(self.key_hash) != 4:
            raise InputError("a signature's key ID is 4 bytes")
        # C2SP signed-note: signatures are the base64 encoding of 4+n bytes; n >= 1 here.
        if not isinstance(self.signature, bytes) or not self.signature:
            raise InputError("a signature must not be empty")

    def line(self) -> str:
        """The signature line ``— <name> <base64(key ID || signature)>`` with its newline."""
        # C2SP signed-note: em dash, space, key name, space, base64 signature, newline.
        return f"{_SIG_PREFIX}{self.name} {_b64encode(self.key_hash + self.signature)}\n"


@dataclass(frozen=True)
class Note:
    """A note: its text (ending in a newline) and its signatures, in order of appearance."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def __post_init__(self) -> None:
        # C2SP signed-note: a text ending in newline; no control characters but newline.
        if not isinstance(self.text, str) or not self.text.endswith("\n"):
            raise InputError("note text must end with a newline")
        if _has_control(self.text):
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
    raw = _b64decode(encoded, f"signature of {name!r}")
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
    if _has_control(text):
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
    :func:`trusted_checkpoint`.
    """
    note = parse_note(note_bytes)
    added = _unique_signatures(note.signatures, sigs)
    return format_note(Note(note.text, note.signatures + added))


def _key_label(name: str, key_id: bytes) -> str:
    return f"{name}+{key_id.hex()}"


def _verify_parsed(note: Note, verifiers: Sequence[NoteVerifier]) -> list[NoteVerifier]:
    known: dict[tuple[str, bytes], NoteVerifier] = {}
    for candidate in verifiers:
        slot = (candidate.name, candidate.key_hash)
        if slot in known and known[slot] != candidate:
            raise InputError(f"two different keys are named {_key_label(*slot)}")
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
                f"the signature by {_key_label(sig.name, sig.key_hash)} does not verify: "
                "the note was altered or the signature is forged"
            )
        if verifier not in verified:
            verified.append(verifier)
    if not verified:
        # C2SP signed-note: if no signature from a known key verifies, clients MUST reject.
        present = ", ".join(_key_label(s.name, s.key_hash) for s in note.signatures)
        wanted = ", ".join(_key_label(*slot) for slot in known) or "none"
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
    return note, _verify_parsed(note, verifiers)


# ---------------------------------------------------------------------------------------------
# Checkpoints (C2SP tlog-checkpoint)
# ---------------------------------------------------------------------------------------------


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
        if "\n" in self.origin or _has_control(self.origin):
            raise InputError("checkpoint origin must be one line without control characters")
        _check_u64(self.size, "checkpoint tree size")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != _HASH_SIZE:
            raise InputError(f"checkpoint root hash must be {_HASH_SIZE} bytes")
        for line in self.extensions:
            # C2SP tlog-checkpoint: extension lines, if any, MUST be non-empty.
            if not isinstance(line, str) or not line or "\n" in line or _has_control(line):
                raise InputError(f"invalid checkpoint extension line {line!r}")

    def body(self) -> str:
        """The note text: ``origin\\nsize\\nbase64(root)\\n`` then each extension line."""
        head = f"{self.origin}\n{self.size}\n{_b64encode(self.root_hash)}\n"
        return head + "".join(line + "\n" for line in self.extensions)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text strictly; InputError if malformed.

    The size is ASCII decimal without leading zeros (``0`` for the empty tree) and the root is
    32 bytes in canonical standard base64.
    """
    # C2SP tlog-checkpoint: at least three non-empty newline-terminated lines.
    if not isinstance(text, str) or not text.endswith("\n"):
        raise InputError("checkpoint text must end with a newline")
    if _has_control(text):
        raise InputError("checkpoint text must not contain control characters")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise InputError("checkpoint text needs origin, tree size and root hash lines")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise InputError("checkpoint origin must not be empty")
    size = _parse_decimal(size_text, "checkpoint tree size", _U64_MAX)
    root = _b64decode(root_text, "checkpoint root hash")
    if len(root) != _HASH_SIZE:
        raise InputError(f"checkpoint root hash is {len(root)} bytes, expected {_HASH_SIZE}")
    return Checkpoint(origin, size, root, tuple(extensions))


def sign_checkpoint(cp: Checkpoint, signer: NoteSigner) -> bytes:
    """Sign a checkpoint with the log key; the key name must equal the origin."""
    # C2SP tlog-checkpoint: the log's key name SHOULD match the origin line (required here).
    if signer.name != cp.origin:
        raise InputError(f"log key {signer.name!r} cannot sign checkpoints of {cp.origin!r}")
    return sign_note(cp.body(), [signer])


def open_checkpoint(data: bytes, log_verifier: NoteVerifier) -> tuple[Checkpoint, Note]:
    """Verify a checkpoint note signed by ``log_verifier`` and parse its text.

    SignatureError if the log key did not sign it validly or its name is not the origin;
    InputError if the note or checkpoint text is malformed.
    """
    note, _ = verify_note(data, [log_verifier])
    cp = parse_checkpoint(note.text)
    if cp.origin != log_verifier.name:
        raise SignatureError(
            f"checkpoint origin {cp.origin!r} is not the log key's name {log_verifier.name!r}"
        )
    return cp, note


# ---------------------------------------------------------------------------------------------
# Cosignatures (C2SP tlog-cosignature, Ed25519, signature type 0x04)
# ---------------------------------------------------------------------------------------------


def _cosigned_message(checkpoint_body: str, timestamp: int) -> bytes:
    # C2SP tlog-cosignature: "cosignature/v1\n", "time <decimal>\n", then the whole note body.
    return (
        COSIGNATURE_V1_HEADER
        + b"time "
        + str(timestamp).encode("ascii")
        + b"\n"
        + checkpoint_body.encode("utf-8")
    )


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's public Ed25519 cosigning key (vkey signature type 0x04)."""

    name: str
    key_hash: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        # C2SP tlog-cosignature: key ID = SHA-256(name || "\n" || 0x04 || public key)[:4].
        _check_public_key(self.name, self.key_hash, self.public_key, SIG_TYPE_COSIGNATURE_V1)

    def vkey(self) -> str:
        """The verifier key string ``<name>+<8 hex>+<base64(0x04 || public key)>``."""
        # C2SP tlog-cosignature: Ed25519 cosigner vkeys use signature type 0x04.
        encoded = _b64encode(bytes([SIG_TYPE_COSIGNATURE_V1]) + self.public_key)
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"

    def verify_cosignature(self, checkpoint_body: str, sig: NoteSignature) -> int | None:
        """The cosignature's timestamp if ``sig`` is this witness's valid cosignature, else None.

        ``checkpoint_body`` is the whole note text of the checkpoint (extension lines too).
        """
        if sig.name != self.name or sig.key_hash != self.key_hash:
            return None
        # C2SP tlog-cosignature: timestamped_signature = u64 big-endian timestamp || 64 bytes.
        if len(sig.signature) != 8 + _ED25519_SIGNATURE_SIZE:
            return None
        (timestamp,) = struct.unpack(">Q", sig.signature[:8])
        if timestamp > _TIMESTAMP_MAX:
            return None
        message = _cosigned_message(checkpoint_body, timestamp)
        if not _ed25519_verify(self.public_key, message, sig.signature[8:]):
            return None
        return int(timestamp)


class CosignatureSigner(_Ed25519Signer):
    """A witness's private Ed25519 cosigning key (signature type 0x04)."""

    __slots__ = ()
    _ALG = SIG_TYPE_COSIGNATURE_V1

    def cosign(self, checkpoint_body: str, timestamp: int) -> NoteSignature:
        """The cosignature of a checkpoint note text at ``timestamp`` (POSIX seconds)."""
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise InputError("cosignature timestamp must be an integer")
        # C2SP tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
        if not 0 <= timestamp <= _TIMESTAMP_MAX:
            raise InputError(f"cosignature timestamp {timestamp} is out of range")
        signature = self._private.sign(_cosigned_message(checkpoint_body, timestamp))
        return NoteSignature(self._name, self._key_hash, struct.pack(">Q", timestamp) + signature)

    def verifier(self) -> CosignatureVerifier:
        """The matching public :class:`CosignatureVerifier`."""
        return CosignatureVerifier(self._name, self._key_hash, self._public_key)


def generate_cosigner(name: str) -> CosignatureSigner:
    """A new witness cosigner with a random Ed25519 key."""
    return CosignatureSigner(name, secrets.token_bytes(_ED25519_SEED_SIZE))


def cosigner_from_seed(name: str, seed: bytes) -> CosignatureSigner:
    """The witness cosigner for a 32-byte Ed25519 seed (deterministic)."""
    return CosignatureSigner(name, seed)


def parse_cosigner_vkey(s: str) -> CosignatureVerifier:
    """Parse ``<name>+<8 hex>+<base64(0x04 || public key)>``; InputError if malformed."""
    name, key_id, public_key = _split_vkey(s, SIG_TYPE_COSIGNATURE_V1)
    return CosignatureVerifier(name, key_id, public_key)


def parse_cosigner_private_key(s: str) -> CosignatureSigner:
    """Parse ``PRIVATE+KEY+<name>+<8 hex>+<base64(0x04 || seed)>``; InputError if malformed."""
    name, seed = _split_private_key(s, SIG_TYPE_COSIGNATURE_V1)
    return CosignatureSigner(name, seed)


# ---------------------------------------------------------------------------------------------
# Policies (C2SP tlog-policy)
# ---------------------------------------------------------------------------------------------

# C2SP tlog-policy: whitespace is sequences of ASCII space and tab only.
_POLICY_WS = re.compile(r"[ \t]+")
_NONE = "none"


@dataclass(frozen=True)
class PolicyLog:
    """A ``log <vkey> [<url>]`` line: a trusted log key (its name is the log's origin)."""

    verifier: NoteVerifier
    url: str | None = None


@dataclass(frozen=True)
class PolicyWitness:
    """A ``witness <name> <vkey> [<url>]`` line: a policy-local name and a cosigner key."""

    name: str
    verifier: CosignatureVerifier
    url: str | None = None


@dataclass(frozen=True)
class PolicyGroup:
    """A ``group <name> <k> <member>...`` line: witnessed when ``threshold`` members are."""

    name: str
    threshold: int
    members: tuple[str, ...]


def _check_policy_token(value: str, what: str) -> None:
    # C2SP tlog-policy: items are separated by space/tab; only tab and newline are allowed
    # control characters, and the file's octets with the high bit set are opaque.
    if not isinstance(value, str) or not value:
        raise InputError(f"{what} must not be empty")
    if any(c in " \t\n" or ord(c) < 0x20 or c == "\x7f" for c in value):
        raise InputError(f"{what} {value!r} must not contain whitespace or control characters")


class _PolicyBuilder:
    """Incremental checks of the tlog-policy rules, in definition order."""

    def __init__(self) -> None:
        self.logs: list[PolicyLog] = []
        self.witnesses: list[PolicyWitness] = []
        self.groups: list[PolicyGroup] = []
        self.quorum: str | None = None
        self._names: set[str] = set()
        self._members: set[str] = set()
        self._log_keys: set[bytes] = set()
        self._witness_keys: set[bytes] = set()
        self._witness_ids: set[tuple[str, bytes]] = set()

    def add_log(self, log: PolicyLog) -> None:
        if log.url is not None:
            _check_policy_token(log.url, "log URL")
        # C2SP tlog-policy: duplicate logs (same public key) are not allowed.
        if log.verifier.public_key in self._log_keys:
            raise InputError(f"duplicate log key {log.verifier.vkey()}")
        self._log_keys.add(log.verifier.public_key)
        self.logs.append(log)

    def _define(self, name: str, what: str) -> None:
        _check_policy_token(name, f"{what} name")
        # C2SP tlog-policy: witnesses and groups share one namespace; "none" is predefined.
        if name == _NONE or name in self._names:
            raise InputError(f"{what} name {name!r} is already defined")
        self._names.add(name)

    def add_witness(self, witness: PolicyWitness) -> None:
        self._define(witness.name, "witness")
        if witness.url is not None:
            _check_policy_token(witness.url, "witness URL")
        # C2SP tlog-policy: duplicate witnesses (same public key) are not allowed.
        slot = (witness.verifier.name, witness.verifier.key_hash)
        if witness.verifier.public_key in self._witness_keys or slot in self._witness_ids:
            raise InputError(f"duplicate witness key {witness.verifier.vkey()}")
        self._witness_keys.add(witness.verifier.public_key)
        self._witness_ids.add(slot)
        self.witnesses.append(witness)

    def add_group(self, group: PolicyGroup) -> None:
        # C2SP tlog-policy: at least one member, 1 <= k <= n, members defined on earlier
        # lines, "none" is not a member, and each name is a group member at most once.
        if not group.members:
            raise InputError(f"group {group.name!r} has no members")
        seen: set[str] = set()
        for member in group.members:
            if member == _NONE:
                raise InputError(f"group {group.name!r}: 'none' cannot be a group member")
            if member not in self._names:
                raise InputError(f"group {group.name!r}: member {member!r} is not defined")
            if member in self._members or member in seen:
                raise InputError(f"{member!r} is listed as a group member more than once")
            seen.add(member)
        threshold = group.threshold
        if isinstance(threshold, bool) or not isinstance(threshold, int):
            raise InputError(f"group {group.name!r}: threshold must be an integer")
        if not 1 <= threshold <= len(group.members):
            raise InputError(
                f"group {group.name!r}: threshold {threshold} is not between 1 and "
                f"{len(group.members)}"
            )
        self._define(group.name, "group")
        self._members.update(seen)
        self.groups.append(group)

    def set_quorum(self, name: str) -> None:
        # C2SP tlog-policy: exactly one quorum line, naming "none" or an earlier definition.
        if self.quorum is not None:
            raise InputError("a policy has exactly one quorum line")
        if name != _NONE and name not in self._names:
            raise InputError(f"quorum {name!r} is not a defined witness or group")
        self.quorum = name


@dataclass(frozen=True)
class Policy:
    """A trust policy: accepted logs, witnesses, witness groups and the quorum name."""

    logs: tuple[PolicyLog, ...]
    witnesses: tuple[PolicyWitness, ...]
    groups: tuple[PolicyGroup, ...]
    quorum: str

    def __post_init__(self) -> None:
        builder = _PolicyBuilder()
        for log in self.logs:
            builder.add_log(log)
        for witness in self.witnesses:
            builder.add_witness(witness)
        for group in self.groups:
            builder.add_group(group)
        builder.set_quorum(self.quorum)


def _parse_threshold(text: str, members: int) -> int:
    # C2SP tlog-policy: "all" is k = n, "any" is k = 1, otherwise decimal k.
    if text == "all":
        return members
    if text == "any":
        return 1
    return _parse_decimal(text, "group threshold", _U64_MAX)


def _parse_policy_line(builder: _PolicyBuilder, items: list[str]) -> None:
    keyword, args = items[0], items[1:]
    if keyword == "log" and len(args) in (1, 2):
        url = args[1] if len(args) == 2 else None
        builder.add_log(PolicyLog(parse_vkey(args[0]), url))
    elif keyword == "witness" and len(args) in (2, 3):
        url = args[2] if len(args) == 3 else None
        builder.add_witness(PolicyWitness(args[0], parse_cosigner_vkey(args[1]), url))
    elif keyword == "group" and len(args) >= 3:
        members = tuple(args[2:])
        builder.add_group(PolicyGroup(args[0], _parse_threshold(args[1], len(members)), members))
    elif keyword == "quorum" and len(args) == 1:
        builder.set_quorum(args[0])
    elif keyword in ("log", "witness", "group", "quorum"):
        raise InputError(f"wrong number of items on a {keyword!r} line")
    else:
        raise InputError(f"unknown policy keyword {keyword!r}")


def parse_policy(text: str) -> Policy:
    """Parse a C2SP tlog-policy file; InputError (naming the line) if invalid.

    A final line without its newline is accepted.
    """
    builder = _PolicyBuilder()
    for number, line in enumerate(text.split("\n"), start=1):
        try:
            # C2SP tlog-policy: allowed octets are tab, newline, 0x20-0x7E and 0x80-0xFF.
            if any((ord(c) < 0x20 and c != "\t") or c == "\x7f" for c in line):
                raise InputError("control characters are not allowed")
            stripped = line.strip(" \t")
            # C2SP tlog-policy: empty lines and lines starting with '#' are ignored.
            if not stripped or stripped.startswith("#"):
                continue
            _parse_policy_line(builder, _POLICY_WS.split(stripped))
        except InputError as exc:
            raise InputError(f"policy line {number}: {exc.message}") from exc
    if builder.quorum is None:
        raise InputError("policy has no quorum line")
    return Policy(
        tuple(builder.logs), tuple(builder.witnesses), tuple(builder.groups), builder.quorum
    )


def format_policy(p: Policy) -> str:
    """Serialize a policy: log lines, witness lines, group lines, then the quorum line."""
    out: list[str] = []
    for log in p.logs:
        url = [] if log.url is None else [log.url]
        out.append(" ".join(["log", log.verifier.vkey(), *url]))
    for w in p.witnesses:
        url = [] if w.url is None else [w.url]
        out.append(" ".join(["witness", w.name, w.verifier.vkey(), *url]))
    for g in p.groups:
        n = len(g.members)
        k = "all" if g.threshold == n else "any" if g.threshold == 1 else str(g.threshold)
        out.append(" ".join(["group", g.name, k, *g.members]))
    out.append(f"quorum {p.quorum}")
    return "\n".join(out) + "\n"


def _quorum_nodes(policy: Policy) -> tuple[set[str], dict[str, PolicyGroup]]:
    return {w.name for w in policy.witnesses}, {g.name: g for g in policy.groups}


def policy_satisfied(policy: Policy, verified_witness_names: set[str]) -> bool:
    """Whether witnesses with these policy names having cosigned satisfies the quorum."""
    witnesses, groups = _quorum_nodes(policy)

    def witnessed(name: str) -> bool:
        # C2SP tlog-policy: a group witnesses iff at least k of its members witnessed.
        if name == _NONE:
            return True
        if name in witnesses:
            return name in verified_witness_names
        group = groups[name]
        return sum(1 for m in group.members if witnessed(m)) >= group.threshold

    return witnessed(policy.quorum)


def _min_cosignatures(policy: Policy) -> int:
    """The fewest witness cosignatures that can satisfy the quorum."""
    witnesses, groups = _quorum_nodes(policy)

    def needed(name: str) -> int:
        if name == _NONE:
            return 0
        if name in witnesses:
            return 1
        group = groups[name]
        return sum(sorted(needed(m) for m in group.members)[: group.threshold])

    return needed(policy.quorum)


def trusted_checkpoint(
    note_bytes: bytes,
    policy: Policy,
    *,
    log_verifiers: Sequence[NoteVerifier] = (),
) -> Checkpoint:
    """Verify a checkpoint against a policy and return it.

    The note must carry a valid signature by one of the policy's logs (or ``log_verifiers``,
    for policies whose logs are known from context) whose key name is the checkpoint origin,
    and valid cosignatures by policy witnesses satisfying the quorum. SignatureError otherwise,
    naming how many valid cosignatures were found and how many the quorum needs.
    """
    note = parse_note(note_bytes)
    # C2SP tlog-policy: a checkpoint is valid if signed by any one of the listed logs ...
    logs = [log.verifier for log in policy.logs] + list(log_verifiers)
    verified_logs = _verify_parsed(note, logs)
    cp = parse_checkpoint(note.text)
    # C2SP tlog-policy: the log's key name MUST correspond to the checkpoint's origin line.
    if not any(v.name == cp.origin for v in verified_logs):
        names = ", ".join(repr(v.name) for v in verified_logs)
        raise SignatureError(f"checkpoint origin {cp.origin!r} was signed by log key {names}")
    # ... and it is cosigned by witnesses according to the quorum rule.
    by_key = {(w.verifier.name, w.verifier.key_hash): w for w in policy.witnesses}
    cosigned: set[str] = set()
    for sig in note.signatures:
        witness = by_key.get((sig.name, sig.key_hash))
        if witness is None:
            continue
        if witness.verifier.verify_cosignature(note.text, sig) is None:
            # C2SP signed-note: a known key's signature that fails rejects the whole note.
            raise SignatureError(
                f"the cosignature by witness {witness.name!r} "
                f"({_key_label(sig.name, sig.key_hash)}) does not verify"
            )
        cosigned.add(witness.name)
    if not policy_satisfied(policy, cosigned):
        raise SignatureError(
            f"checkpoint has {len(cosigned)} valid witness cosignature(s) but quorum "
            f"{policy.quorum!r} needs at least {_min_cosignatures(policy)}"
        )
    return cp


# ---------------------------------------------------------------------------------------------
# Proofs (C2SP tlog-proof)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TlogProof:
    """An offline proof: optional extra data, leaf index, inclusion proof and checkpoint note.

    ``checkpoint`` holds the signed checkpoint note verbatim; it is not parsed or verified
    here (use :func:`trusted_checkpoint` or :func:`open_checkpoint`).
    """

    extra: bytes | None
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: bytes

    def __post_init__(self) -> None:
        if self.extra is not None and not isinstance(self.extra, bytes):
            raise InputError("proof extra data must be bytes or None")
        _check_u64(self.index, "proof index")
        if len(self.hashes) > MAX_PROOF_HASHES:
            raise TooLargeError(f"an inclusion proof has at most {MAX_PROOF_HASHES} hashes")
        if any(not isinstance(h, bytes) or len(h) != _HASH_SIZE for h in self.hashes):
            raise InputError(f"inclusion proof hashes must be {_HASH_SIZE} bytes")
        if not isinstance(self.checkpoint, bytes) or not self.checkpoint.endswith(b"\n"):
            raise InputError("proof checkpoint must be a note ending with a newline")


class LineReader:
    """Reads the text lines that precede a signed note in C2SP proof messages.

    tlog-proof and tlog-witness ``add-checkpoint`` share a shape: ASCII header lines,
    base64 hash lines up to an empty line, then a note kept verbatim.
    """

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.what = what
        self.pos = 0

    def line(self) -> str:
        """The next line, without its newline; InputError if the data ends first."""
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            raise InputError(f"{self.what} ends before the empty line preceding the checkpoint")
        raw = self.data[self.pos : end]
        self.pos = end + 1
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.what} header lines must be ASCII") from exc

    def hashes(self, limit: int) -> list[bytes]:
        """32-byte hashes in canonical base64, one a line, up to the empty line."""
        out: list[bytes] = []
        while (line := self.line()) != "":
            if len(out) == limit:
                raise TooLargeError(f"{self.what} carries more than {limit} proof hashes")
            digest = _b64decode(line, f"{self.what} hash")
            if len(digest) != _HASH_SIZE:
                raise InputError(f"{self.what} hash is {len(digest)} bytes, expected {_HASH_SIZE}")
            out.append(digest)
        return out

    def rest(self) -> bytes:
        """The note after the empty line, verbatim; InputError if there is none."""
        note = self.data[self.pos :]
        if not note:
            raise InputError(f"{self.what} has no checkpoint after the empty line")
        return note


def parse_tlog_proof(data: bytes) -> TlogProof:
    """Parse a ``c2sp.org/tlog-proof@v1`` proof; InputError if malformed.

    The checkpoint after the empty line is kept verbatim and not verified.
    """
    r = LineReader(data, "tlog-proof")
    next_line = r.line
    # C2SP tlog-proof: the first line MUST be "c2sp.org/tlog-proof@v1".
    if next_line() != TLOG_PROOF_HEADER:
        raise InputError(f"tlog-proof must start with {TLOG_PROOF_HEADER!r}")
    line = next_line()
    extra: bytes | None = None
    # C2SP tlog-proof: an optional "extra <base64>" line.
    if line.startswith("extra "):
        extra = _b64decode(line[len("extra ") :], "tlog-proof extra data")
        line = next_line()
    # C2SP tlog-proof: "index <decimal>", no leading zeroes.
    if not line.startswith("index "):
        raise InputError(f"expected an 'index <n>' line in tlog-proof, got {line!r}")
    index = _parse_decimal(line[len("index ") :], "tlog-proof index", _U64_MAX)
    # C2SP tlog-proof: zero or more base64 hash lines, then an empty line, then the
    # checkpoint, verbatim.
    hashes = r.hashes(MAX_PROOF_HASHES)
    return TlogProof(extra, index, tuple(hashes), r.rest())


def format_tlog_proof(p: TlogProof) -> bytes:
    """Serialize a proof (inverse of :func:`parse_tlog_proof`)."""
    lines = [TLOG_PROOF_HEADER]
    if p.extra is not None:
        lines.append(f"extra {_b64encode(p.extra)}")
    lines.append(f"index {p.index}")
    lines.extend(_b64encode(h) for h in p.hashes)
    return ("\n".join(lines) + "\n\n").encode("ascii") + p.checkpoint
