"""Evidence against a log's sequencer, in a form anyone can check: pure, no I/O.

docs/design.md, Trust model: two validly signed checkpoints that cannot both be true are
evidence of equivocation; an invalid record found in a log is evidence too. Kinds:

``equivocation``
    Two checkpoint notes signed by the log key. Same size and different roots; or
    different sizes, with a consistency proof from ``prefix_root`` at the smaller size to
    the larger checkpoint while the smaller checkpoint claims another root. An RFC 9162
    consistency proof fixes the root of the prefix it starts from, so such a pair can have
    no valid consistency proof between them.
``invalid-record``
    A checkpoint signed by the log key, the bytes of record ``index`` with an inclusion
    proof into it, and the rule it breaks (``reason``). The inclusion is checked here; the
    rule is checked by replaying the log up to ``index``, as every witness and auditor can.
``integrity``
    A node's own finding that stored or served bytes no longer match what the log signed
    (e.g. a record edited in a database). Reported loudly, but not verifiable by others,
    so :func:`verify_evidence` refuses it and gossip does not spread it.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, open_checkpoint, read_checkpoint
from ledger.c2sp.note import NoteVerifier
from ledger.canonical import canonical_json
from ledger.errors import InputError, NotFoundError, ProofError, VerificationError

__all__ = [
    "KINDS",
    "SHAREABLE_KINDS",
    "Evidence",
    "SignedTree",
    "equivocation",
    "equivocation_with",
    "evidence_from_json",
    "integrity_alert",
    "invalid_record",
    "verify_evidence",
]

KINDS = ("equivocation", "invalid-record", "integrity")
SHAREABLE_KINDS = ("equivocation", "invalid-record")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise InputError(f"evidence {what} must be base64 text")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise InputError(f"evidence {what} is not base64") from exc


@dataclass(frozen=True)
class Evidence:
    """One piece of evidence; ``notes`` are checkpoint notes verbatim (bytes)."""

    kind: str
    origin: str
    notes: tuple[bytes, ...] = ()
    index: int | None = None
    record: bytes | None = None
    proof: tuple[bytes, ...] = ()
    prefix_root: bytes | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"unknown evidence kind {self.kind!r}; known: {', '.join(KINDS)}")
        if not isinstance(self.origin, str) or not self.origin:
            raise InputError("evidence needs the log's origin")

    def content(self) -> dict[str, Any]:
        """The checkable content (everything but the finder's ``reason``)."""
        return {
            "kind": self.kind,
            "origin": self.origin,
            "notes": [n.decode("utf-8") for n in self.notes],
            "index": self.index,
            "record": None if self.record is None else _b64(self.record),
            "proof": [_b64(h) for h in self.proof],
            "prefix_root": None if self.prefix_root is None else _b64(self.prefix_root),
        }

    @property
    def id(self) -> str:
        """Hex SHA-256 of the canonical content: the same facts have the same id anywhere."""
        return hashlib.sha256(canonical_json(self.content())).hexdigest()

    def to_json(self) -> dict[str, Any]:
        """The wire form served at ``GET /v1/evidence``."""
        return {"id": self.id, **self.content(), "reason": self.reason}


def evidence_from_json(value: Any) -> Evidence:
    """Parse the wire form; InputError if malformed (the id is recomputed, not trusted)."""
    if not isinstance(value, dict):
        raise InputError("evidence must be a JSON object")
    try:
        notes = value.get("notes") or []
        if not isinstance(notes, list) or not all(isinstance(n, str) for n in notes):
            raise InputError("evidence notes must be a list of note texts")
        index = value.get("index")
        if index is not None and (not isinstance(index, int) or isinstance(index, bool)):
            raise InputError("evidence index must be an integer")
        record = value.get("record")
        prefix = value.get("prefix_root")
        proof = value.get("proof") or []
        if not isinstance(proof, list):
            raise InputError("evidence proof must be a list")
        return Evidence(
            kind=str(value.get("kind")),
            origin=str(value.get("origin") or ""),
            notes=tuple(n.encode("utf-8") for n in notes),
            index=index,
            record=None if record is None else _unb64(record, "record"),
            proof=tuple(_unb64(h, "proof hash") for h in proof),
            prefix_root=None if prefix is None else _unb64(prefix, "prefix root"),
            reason=str(value.get("reason") or ""),
        )
    except (TypeError, UnicodeError) as exc:
        raise InputError(f"malformed evidence: {exc}") from exc


def equivocation(
    origin: str,
    note_a: bytes,
    note_b: bytes,
    proof: Sequence[bytes] = (),
    prefix_root: bytes | None = None,
    reason: str = "",
) -> Evidence:
    """Equivocation evidence; the notes are put in a fixed order so every finder agrees.

    For notes of different sizes, ``proof`` is a consistency proof from ``prefix_root`` (the
    root of the larger tree's prefix) to the larger note.
    """
    if prefix_root is None:
        a, b = sorted((note_a, note_b))
    else:
        a, b = note_a, note_b
    return Evidence("equivocation", origin, (a, b), None, None, tuple(proof), prefix_root, reason)


class SignedTree(Protocol):
    """The reads :func:`equivocation_with` makes on a node's own verified log."""

    def signed_checkpoint(self) -> bytes:
        """The newest checkpoint note with the log's signature only."""
        ...

    def signed_checkpoint_at(self, size: int) -> bytes:
        """The log-signed checkpoint note of ``size``; NotFoundError if none is held."""
        ...

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 §2.1.4 consistency proof between two sizes of the tree."""
        ...

    def root_at(self, size: int) -> bytes:
        """The root hash of the tree's first ``size`` leaves."""
        ...


def equivocation_with(tree: SignedTree, origin: str, cp: Checkpoint, note: bytes) -> Evidence:
    """Equivocation evidence for a log-signed checkpoint ``cp`` (its note ``note``, with the
    log's signature only) whose root is not ``tree``'s root at ``cp.size``.

    When ``tree`` holds its own signed checkpoint of that size the two notes are the
    evidence; otherwise its newest checkpoint with a consistency proof from ``cp.size``,
    which fixes the root of that prefix (RFC 9162 §2.1.4.2). Reads ``tree``, writes nothing.
    """
    try:
        mine = tree.signed_checkpoint_at(cp.size)
    except NotFoundError:
        ours = tree.signed_checkpoint()
        big = read_checkpoint(ours)
        return equivocation(
            origin,
            note,
            ours,
            tree.consistency_proof(cp.size, big.size),
            tree.root_at(cp.size),
            reason=f"checkpoint of size {cp.size} is inconsistent with the checkpoint of "
            f"size {big.size}",
        )
    return equivocation(
        origin, mine, note, reason=f"two checkpoints of size {cp.size} with different roots"
    )


def invalid_record(
    origin: str, checkpoint: bytes, index: int, record: bytes, proof: Sequence[bytes], reason: str
) -> Evidence:
    """Evidence that record ``index``, included in ``checkpoint``, breaks a rule."""
    return Evidence(
        "invalid-record", origin, (checkpoint,), index, record, tuple(proof), None, reason
    )


def integrity_alert(
    origin: str,
    reason: str,
    index: int | None = None,
    served: bytes | None = None,
    checkpoint: bytes | None = None,
) -> Evidence:
    """A node's own finding that bytes no longer match what the log signed."""
    notes = () if checkpoint is None else (checkpoint,)
    return Evidence("integrity", origin, notes, index, served, (), None, reason)


def _open_all(ev: Evidence, verifier: NoteVerifier, count: int) -> list[Checkpoint]:
    if len(ev.notes) != count:
        raise InputError(f"{ev.kind} evidence carries {count} checkpoint note(s)")
    out = []
    for note in ev.notes:
        cp, _ = open_checkpoint(note, verifier)
        if cp.origin != ev.origin:
            raise InputError(f"a note is for {cp.origin!r}, the evidence for {ev.origin!r}")
        out.append(cp)
    return out


def verify_evidence(ev: Evidence, log_key: NoteVerifier) -> str:
    """Check that ``ev`` proves misbehaviour of the log with key ``log_key``.

    Returns a one-line description; raises VerificationError (or InputError for a malformed
    or unshareable piece) when it proves nothing.
    """
    if ev.kind == "equivocation":
        # 1. Both notes are validly signed by the log key, for its origin.
        a, b = _open_all(ev, log_key, 2)
        # 2. Same size, different roots: both cannot be the log's tree of that size.
        if a.size == b.size:
            if a.root_hash == b.root_hash:
                raise VerificationError("the two checkpoints agree: no equivocation")
            return f"two checkpoints of size {a.size} with different roots"
        # 3. Different sizes: the proof fixes the smaller tree's root, which the smaller
        #    checkpoint contradicts (RFC 9162 §2.1.4.2).
        small, big = sorted((a, b), key=lambda c: c.size)
        if ev.prefix_root is None:
            raise InputError("equivocation across sizes needs the proof's prefix root")
        try:
            merkle.verify_consistency(small.size, big.size, ev.proof, ev.prefix_root, big.root_hash)
        except ProofError as exc:
            raise VerificationError(f"the evidence's consistency proof fails: {exc}") from exc
        if ev.prefix_root == small.root_hash:
            raise VerificationError("the checkpoints are consistent: no equivocation")
        return f"checkpoint of size {small.size} is inconsistent with checkpoint of size {big.size}"
    if ev.kind == "invalid-record":
        # 1. The checkpoint is the log's; 2. the record bytes are in it at ``index``.
        (cp,) = _open_all(ev, log_key, 1)
        if ev.index is None or ev.record is None:
            raise InputError("invalid-record evidence needs the index and the record bytes")
        merkle.verify_inclusion(
            merkle.leaf_hash(ev.record), ev.index, cp.size, ev.proof, cp.root_hash
        )
        # 3. The rule itself is checked by replaying the log to ``index`` (not pure here).
        return f"record {ev.index} in checkpoint of size {cp.size} breaks a rule: {ev.reason}"
    raise InputError(f"{ev.kind} findings are a node's own and cannot be verified by others")
