"""The community's checkpoint trust policy, as C2SP tlog-policy, and the client-side check.

DESIGN.md, Trust model: a checkpoint is trusted when it carries the log signature and at
least the genesis quorum of valid witness cosignatures. Genesis (and later
``witnesses.set`` statements) name the witnesses as ``{name, vkey, url}`` with a quorum
``k``; :func:`policy_from_genesis` states the same thing as a tlog-policy so that tools
nobody here wrote can read it::

    log <log vkey>
    witness <name> <cosigner vkey> <url>/witness
    ...
    group quorum <k> <name> ...
    quorum quorum

Pure: values in, values out; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.errors import InputError, SignatureError
from ledger.notes import (
    Checkpoint,
    Note,
    NoteSignature,
    NoteVerifier,
    Policy,
    PolicyGroup,
    PolicyLog,
    PolicyWitness,
    open_checkpoint,
    parse_cosigner_vkey,
    parse_note,
    parse_vkey,
    policy_satisfied,
    trusted_checkpoint,
)
from ledger.state import State

__all__ = [
    "WITNESS_PATH",
    "CheckpointReport",
    "check_checkpoint",
    "genesis_policy",
    "policy_from_genesis",
    "quorum_cosigners",
    "trusted",
    "witness_submission_prefix",
]

# A civic node serves the C2SP tlog-witness API under this path of its base URL.
WITNESS_PATH = "/witness"
_GROUP_NAME = "quorum"


def witness_submission_prefix(base_url: str) -> str:
    """The tlog-witness submission prefix of a witness node at ``base_url``."""
    return base_url.rstrip("/") + WITNESS_PATH


def _witness_doc(doc_or_state: Mapping[str, Any] | State) -> tuple[str, list[Any], Any]:
    """(log vkey, witnesses, quorum) from a genesis body or a replayed state."""
    if isinstance(doc_or_state, State):
        genesis = doc_or_state.peek("community", "genesis")
        current = doc_or_state.peek("witnesses", "current")
        if genesis is None or current is None:
            raise InputError("the state has no genesis yet: no policy to derive")
        return str(genesis["log_vkey"]), list(current["witnesses"]), current["quorum"]
    body = doc_or_state
    # A whole genesis statement or envelope is accepted too: find its body.
    if "statement" in body:
        body = body["statement"]
    if "body" in body and "log_vkey" not in body:
        body = body["body"]
    try:
        return str(body["log_vkey"]), list(body["witnesses"]), body["quorum"]
    except (KeyError, TypeError) as exc:
        raise InputError(f"not a genesis body: missing {exc}") from exc


def policy_from_genesis(doc_or_state: Mapping[str, Any] | State) -> Policy:
    """The tlog-policy of a community: its log key, its witnesses and their quorum.

    Takes the genesis body (``origin, log_vkey, witnesses, quorum, ...``), the genesis
    envelope, or a replayed :class:`State` (whose ``witnesses/current`` reflects later
    ``witnesses.set`` statements). A quorum of 0 is ``quorum none``; otherwise a group of
    all witnesses with threshold ``k`` is the quorum. Witness URLs become submission
    prefixes (``<url>/witness``), as tlog-policy recommends.
    """
    log_vkey, witnesses, quorum = _witness_doc(doc_or_state)
    if isinstance(quorum, bool) or not isinstance(quorum, int):
        raise InputError(f"witness quorum must be an integer, got {quorum!r}")
    entries: list[PolicyWitness] = []
    for w in witnesses:
        if not isinstance(w, Mapping) or not {"name", "vkey"} <= set(w):
            raise InputError("each witness needs a name and a vkey")
        url = w.get("url")
        prefix = witness_submission_prefix(url) if isinstance(url, str) and url else None
        entries.append(PolicyWitness(str(w["name"]), parse_cosigner_vkey(str(w["vkey"])), prefix))
    if not 0 <= quorum <= len(entries):
        raise InputError(f"quorum {quorum} is not between 0 and {len(entries)} witnesses")
    groups: tuple[PolicyGroup, ...] = ()
    name = "none"
    if quorum:
        # tlog-policy: witnesses and groups share one namespace; pick a free group name.
        taken = {w.name for w in entries}
        name = _GROUP_NAME
        while name in taken:
            name += "_"
        groups = (PolicyGroup(name, quorum, tuple(w.name for w in entries)),)
    return Policy((PolicyLog(parse_vkey(log_vkey)),), tuple(entries), groups, name)


def quorum_cosigners(
    checkpoint_text: str, signatures: Sequence[NoteSignature], policy: Policy
) -> set[str]:
    """Policy names of the witnesses whose cosignature on ``checkpoint_text`` verifies.

    Signatures by keys the policy does not list, and invalid ones, are left out (this is a
    counting helper; :func:`trusted` rejects a note with an invalid known signature).
    """
    by_key = {(w.verifier.name, w.verifier.key_hash): w for w in policy.witnesses}
    out: set[str] = set()
    for sig in signatures:
        w = by_key.get((sig.name, sig.key_hash))
        if w is not None and w.verifier.verify_cosignature(checkpoint_text, sig) is not None:
            out.add(w.name)
    return out


@dataclass(frozen=True)
class CheckpointReport:
    """What a client found in a checkpoint note: inspect it, or use :func:`trusted`."""

    checkpoint: Checkpoint
    cosigned_by: tuple[str, ...]
    quorum: str
    quorum_met: bool

    def summary(self) -> str:
        """One line for a person: size, witnesses, and whether the quorum is met."""
        who = ", ".join(self.cosigned_by) or "no witness"
        verdict = "quorum met" if self.quorum_met else f"quorum {self.quorum!r} NOT met"
        return f"checkpoint of size {self.checkpoint.size} cosigned by {who}: {verdict}"


def check_checkpoint(note_bytes: bytes, policy: Policy) -> CheckpointReport:
    """Verify the log signature and count valid witness cosignatures (no exception for a
    missing quorum: see ``quorum_met``).

    SignatureError if no policy log signed the note or its origin is not the log's name;
    InputError if the note is malformed.
    """
    # 1. The note must be signed by a policy log whose key name is the origin
    #    (C2SP tlog-policy, tlog-checkpoint).
    last: SignatureError | None = None
    cp: Checkpoint | None = None
    for log in policy.logs:
        try:
            cp, _ = open_checkpoint(note_bytes, log.verifier)
            break
        except SignatureError as exc:
            last = exc
    if cp is None:
        raise last or SignatureError("the policy names no log to verify the checkpoint with")
    # 2. Count the witnesses whose cosignature verifies (C2SP tlog-cosignature).
    note: Note = parse_note(note_bytes)
    names = quorum_cosigners(note.text, note.signatures, policy)
    # 3. Evaluate the quorum rule (C2SP tlog-policy).
    return CheckpointReport(
        cp, tuple(sorted(names)), policy.quorum, policy_satisfied(policy, names)
    )


def trusted(note_bytes: bytes, policy: Policy) -> Checkpoint:
    """The checkpoint if it is trusted under ``policy``; SignatureError saying why not."""
    return trusted_checkpoint(note_bytes, policy)


def genesis_policy(record0: bytes, log_verifier: NoteVerifier) -> Policy:
    """The trust policy stated by genesis, from record 0's exact bytes.

    1. record 0 parses as a record whose envelope is a ``community.genesis`` statement;
    2. every signature in it verifies, and the log key (the one the caller pinned) signed;
    3. its ``log_vkey`` is that same key — then its witnesses and quorum are the policy.
    """
    from ledger.community import log_key_id
    from ledger.records import parse_record
    from ledger.statements import parse_envelope

    rec = parse_record(record0)
    if rec.index != 0:
        raise InputError(f"genesis is record 0, got record {rec.index}")
    env = parse_envelope(rec.envelope)
    if env.type != "community.genesis":
        raise SignatureError(f"record 0 is a {env.type}, not the community's genesis")
    if env.body.get("log_vkey") != log_verifier.vkey():
        raise SignatureError("genesis names another log key than the one you trust")
    if log_key_id(log_verifier.vkey()) not in env.signers:
        raise SignatureError("genesis is not signed by the log key")
    return policy_from_genesis(env.body)
