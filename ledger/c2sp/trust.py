"""The trusted-checkpoint check: a checkpoint note under a C2SP tlog-policy.

C2SP tlog-policy: a checkpoint is valid if it is signed by one of the policy's logs, whose
key name is the checkpoint's origin, and cosigned by witnesses according to the quorum
rule. :func:`check_trust` reports every part of that (for a doctor, an audit or a web
page to show); :func:`trusted_checkpoint` is the same check that raises.

It lives beside :mod:`ledger.c2sp.policy` rather than in it because it uses all of note,
checkpoint, cosignature and policy, while the policy module is only the text format and
the quorum rule. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from ledger.c2sp.checkpoint import Checkpoint, parse_checkpoint, read_checkpoint
from ledger.c2sp.note import NoteSignature, NoteVerifier, key_label, parse_note, verify_parsed_note
from ledger.c2sp.policy import Policy, PolicyLog, min_cosignatures, policy_satisfied
from ledger.errors import SignatureError

__all__ = [
    "INVALID",
    "MISSING",
    "VALID",
    "CheckpointTrust",
    "KeyForSize",
    "WitnessCosignature",
    "check_trust",
    "check_trust_by_size",
    "trusted_checkpoint",
    "trusted_checkpoint_by_size",
]

# The one log key that may sign a checkpoint of a given size (a rotated log's key history,
# ledger/log_keys.py; docs/adr/0012-log-key-rotation.md).
KeyForSize = Callable[[int], NoteVerifier]

VALID = "valid"
INVALID = "invalid"
MISSING = "missing"


@dataclass(frozen=True)
class WitnessCosignature:
    """What a checkpoint note carries from one policy witness.

    ``status`` is :data:`VALID`, :data:`INVALID` (a signature line with the witness's key
    name and ID that does not verify) or :data:`MISSING`; for a valid one, ``signature`` is
    its signature line and ``timestamp`` its time (POSIX seconds).
    """

    witness: str
    key: str
    status: str
    timestamp: int | None = None
    signature: NoteSignature | None = None


@dataclass(frozen=True)
class CheckpointTrust:
    """Every finding of :func:`check_trust`, in the order the policy rules are applied.

    ``checkpoint`` is None when no policy log signed the note (``log_error`` says why).
    ``cosignatures`` has one entry per policy witness, in policy order.
    """

    checkpoint: Checkpoint | None
    log_error: str | None
    cosignatures: tuple[WitnessCosignature, ...]
    quorum: str
    quorum_needs: int
    quorum_met: bool

    @property
    def log_ok(self) -> bool:
        """Whether a policy log whose key name is the origin signed the note validly."""
        return self.log_error is None

    @property
    def cosigned_by(self) -> tuple[str, ...]:
        """Policy names of the witnesses whose cosignature verifies, sorted."""
        return tuple(sorted(c.witness for c in self.cosignatures if c.status == VALID))

    @property
    def invalid(self) -> tuple[WitnessCosignature, ...]:
        """The policy witnesses' cosignatures that do not verify."""
        return tuple(c for c in self.cosignatures if c.status == INVALID)

    @property
    def trusted(self) -> bool:
        """Log signature good, no bad cosignature by a policy witness, quorum met."""
        return self.problem() is None

    def problem(self) -> str | None:
        """Why the checkpoint is not trusted (the first rule that fails), or None."""
        if self.log_error is not None:
            return self.log_error
        for c in self.invalid:
            # C2SP signed-note: a known key's signature that fails rejects the whole note.
            return f"the cosignature by witness {c.witness!r} ({c.key}) does not verify"
        if not self.quorum_met:
            return (
                f"checkpoint has {len(self.cosigned_by)} valid witness cosignature(s) but "
                f"quorum {self.quorum!r} needs at least {self.quorum_needs}"
            )
        return None

    def summary(self) -> str:
        """One line for a person: size, witnesses, and whether the quorum is met."""
        if self.checkpoint is None:
            return f"checkpoint not signed by the log: {self.log_error}"
        who = ", ".join(self.cosigned_by) or "no witness"
        verdict = "quorum met" if self.quorum_met else f"quorum {self.quorum!r} NOT met"
        bad = "".join(f"; {c.witness}'s cosignature does not verify" for c in self.invalid)
        return f"checkpoint of size {self.checkpoint.size} cosigned by {who}: {verdict}{bad}"


def check_trust(
    note_bytes: bytes, policy: Policy, *, log_verifiers: Sequence[NoteVerifier] = ()
) -> CheckpointTrust:
    """Check a checkpoint note against ``policy`` and report every finding; never raises
    for a bad signature or a missing quorum (see :class:`CheckpointTrust`).

    ``log_verifiers`` are log keys accepted besides the policy's ``log`` lines (for
    policies whose logs are known from context). InputError if the note, or the checkpoint
    text under a good log signature, is malformed.
    """
    note = parse_note(note_bytes)
    # 1. C2SP tlog-policy: signed by any one of the listed logs (C2SP signed-note rules:
    #    unknown keys are ignored, a known key's bad signature rejects the note) ...
    logs = [log.verifier for log in policy.logs] + list(log_verifiers)
    cp: Checkpoint | None = None
    log_error: str | None = None
    try:
        signed_by = verify_parsed_note(note, logs)
    except SignatureError as exc:
        log_error = exc.message
    else:
        cp = parse_checkpoint(note.text)
        # ... whose key name MUST correspond to the checkpoint's origin line.
        if not any(v.name == cp.origin for v in signed_by):
            names = ", ".join(repr(v.name) for v in signed_by)
            log_error = f"checkpoint origin {cp.origin!r} was signed by log key {names}"
            cp = None
    # 2. C2SP tlog-cosignature: each policy witness's cosignature over the note text.
    found: list[WitnessCosignature] = []
    for w in policy.witnesses:
        slot = (w.verifier.name, w.verifier.key_hash)
        got = WitnessCosignature(w.name, key_label(*slot), MISSING)
        for sig in note.signatures:
            if (sig.name, sig.key_hash) != slot:
                continue
            ts = w.verifier.verify_cosignature(note.text, sig)
            if ts is None:
                got = WitnessCosignature(w.name, got.key, INVALID)
                break
            if got.status == MISSING:
                got = WitnessCosignature(w.name, got.key, VALID, ts, sig)
        found.append(got)
    # 3. C2SP tlog-policy: the quorum rule over the witnesses whose cosignature verifies.
    valid = {c.witness for c in found if c.status == VALID}
    return CheckpointTrust(
        cp,
        log_error,
        tuple(found),
        policy.quorum,
        min_cosignatures(policy),
        policy_satisfied(policy, valid),
    )


def trusted_checkpoint(
    note_bytes: bytes, policy: Policy, *, log_verifiers: Sequence[NoteVerifier] = ()
) -> Checkpoint:
    """The checkpoint if it is trusted under ``policy`` (:func:`check_trust`).

    SignatureError naming the first rule that fails: the log signature, a policy witness's
    cosignature that does not verify, or how many valid cosignatures the quorum needs.
    """
    result = check_trust(note_bytes, policy, log_verifiers=log_verifiers)
    problem = result.problem()
    if problem is not None:
        raise SignatureError(problem)
    assert result.checkpoint is not None
    return result.checkpoint


def check_trust_by_size(
    note_bytes: bytes, policy: Policy, key_for_size: KeyForSize
) -> CheckpointTrust:
    """:func:`check_trust` for a log whose key was rotated: the note must be signed by
    ``key_for_size(size)``, the key of the epoch its size falls in, and by no other log key
    standing in for it (an old key signing past its rotation is refused, as is a new key
    signing before it). The policy's witnesses and quorum apply unchanged."""
    size = read_checkpoint(note_bytes).size
    key = key_for_size(size)
    result = check_trust(note_bytes, replace(policy, logs=(PolicyLog(key),)))
    if result.log_error is not None:
        result = replace(
            result,
            log_error=f"a checkpoint of size {size} must be signed by the log key {key.vkey()} "
            f"(the log's key history): {result.log_error}",
        )
    return result


def trusted_checkpoint_by_size(
    note_bytes: bytes, policy: Policy, key_for_size: KeyForSize
) -> Checkpoint:
    """:func:`trusted_checkpoint` under a key history (:func:`check_trust_by_size`)."""
    result = check_trust_by_size(note_bytes, policy, key_for_size)
    problem = result.problem()
    if problem is not None:
        raise SignatureError(problem)
    assert result.checkpoint is not None
    return result.checkpoint
