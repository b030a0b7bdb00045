"""Log-key rotation and incident records: the ``log.rotate`` and ``incident.report`` rules,
and the key history a verifier derives from them (docs/adr/0012-log-key-rotation.md).

Namespaces this module keeps in the state:

- ``log_key/<index, 12 digits>``: one row per ``log.rotate`` record; the key it names
  signs every checkpoint of size > index (until the next rotation);
- ``incident/<index, 12 digits>``: one row per ``incident.report`` record;
- ``revoked/<key id>``: keys an incident revoked, with the record that did it.
  :func:`ledger.state.apply_envelope` refuses every later statement signed with one.

Pure: values in, values out; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.c2sp.note import NoteVerifier, parse_vkey
from ledger.community import (
    committee_threshold,
    log_key_id,
    require_committee,
    require_committee_quorum,
)
from ledger.errors import ConflictError, ForbiddenError, InputError, RuleViolation
from ledger.keys import is_key_id
from ledger.ruleset import Rules
from ledger.state import Context, State
from ledger.statements import Envelope

__all__ = [
    "INCIDENT_KINDS",
    "OLD_KEY_STATUSES",
    "RULES",
    "FollowedHistory",
    "KeyHistory",
    "LogKeyEpoch",
    "current_log_vkey",
    "follow_key_history",
    "history_from_rows",
    "incidents_view",
    "key_history",
    "revocation_of",
    "revoked_view",
]

# What an incident record may be about (the runbook has one section per kind).
INCIDENT_KINDS = (
    "log_key_compromise",
    "committee_key_compromise",
    "member_key_compromise",
    "data_leak",
    "faulty_node",
    "other",
)
# What became of the old log key. Only a held key can sign its own hand-over, and then it
# must: a rotation that claims the key is held but lacks its signature is refused.
OLD_KEY_STATUSES = ("held", "lost", "compromised")
_MAX_TEXT = 4000
_MAX_LIST = 256


def _row_key(index: int) -> str:
    # Zero-padded so that the namespace's keys sort in log order.
    return f"{index:012d}"


@dataclass(frozen=True)
class LogKeyEpoch:
    """One log key and the checkpoints it signs: sizes ``first_size`` up to the next
    epoch's ``first_size`` (exclusive). ``record`` is the index of the ``log.rotate``
    record that introduced it (None for the genesis key)."""

    vkey: str
    first_size: int
    record: int | None = None
    old_key_status: str | None = None

    @property
    def verifier(self) -> NoteVerifier:
        return parse_vkey(self.vkey)


@dataclass(frozen=True)
class KeyHistory:
    """The log's keys in order; the first is the genesis key (first_size 0)."""

    epochs: tuple[LogKeyEpoch, ...]

    def __post_init__(self) -> None:
        if not self.epochs or self.epochs[0].first_size != 0:
            raise InputError("a key history starts with the genesis key at size 0")
        for a, b in zip(self.epochs, self.epochs[1:], strict=False):
            if b.first_size <= a.first_size:
                raise InputError("a key history's epochs must start at growing sizes")

    @classmethod
    def genesis_only(cls, vkey: str) -> KeyHistory:
        return cls((LogKeyEpoch(vkey, 0),))

    def epoch_for(self, size: int) -> LogKeyEpoch:
        """The epoch whose key signs the checkpoint of ``size``."""
        found = self.epochs[0]
        for e in self.epochs:
            if e.first_size <= size:
                found = e
        return found

    def key_for(self, size: int) -> NoteVerifier:
        """The one log key that may sign the checkpoint of ``size``."""
        return self.epoch_for(size).verifier

    @property
    def current(self) -> LogKeyEpoch:
        return self.epochs[-1]

    def verifiers(self) -> list[NoteVerifier]:
        """Every key the log has had, oldest first."""
        return [e.verifier for e in self.epochs]

    def with_rotation(self, epoch: LogKeyEpoch) -> KeyHistory:
        return KeyHistory((*self.epochs, epoch))

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {
                "vkey": e.vkey,
                "first_size": e.first_size,
                "record": e.record,
                "old_key_status": e.old_key_status,
            }
            for e in self.epochs
        ]


def key_history(state: State) -> KeyHistory:
    """The log's key history as the replayed ``state`` knows it; InputError before genesis."""
    g = state.peek("community", "genesis")
    if g is None:
        raise InputError("the state has no genesis yet: no log key")
    epochs = [LogKeyEpoch(str(g["log_vkey"]), 0)]
    for _, row in sorted(state.rows("log_key").items()):
        epochs.append(
            LogKeyEpoch(row["vkey"], row["record"] + 1, row["record"], row["old_key_status"])
        )
    return KeyHistory(tuple(epochs))


def current_log_vkey(state: State) -> str:
    """The vkey of the key that signs the log's next checkpoints."""
    return key_history(state).current.vkey


def revocation_of(state: State, key: str) -> Mapping[str, Any] | None:
    """The revocation row of ``key`` (None: not revoked)."""
    row: Mapping[str, Any] | None = state.peek("revoked", key)
    return row


def _text(body: Mapping[str, Any], name: str, required: bool = True) -> str:
    v = body.get(name)
    if v is None and not required:
        return ""
    if not isinstance(v, str) or not v.strip() or len(v) > _MAX_TEXT:
        raise InputError(f"body.{name} must be a non-empty text of at most {_MAX_TEXT} characters")
    return v


def _fields(body: Mapping[str, Any], required: set[str], optional: set[str]) -> None:
    missing, extra = required - set(body), set(body) - required - optional
    if missing or extra:
        raise InputError(f"body fields: missing {sorted(missing)}, unexpected {sorted(extra)}")


# --- log.rotate -------------------------------------------------------------------------


def _log_rotate(state: State, env: Envelope, ctx: Context) -> None:
    """Move the log to a new note key: checkpoints of size > this record's index are
    signed by ``new_vkey``. Committee quorum; the new key signs (proof it is held, so the
    log cannot be moved to a key nobody can sign with); the old key signs iff held."""
    require_committee(state, env, "rotating the log key")
    require_committee_quorum(state, env, "rotating the log key")
    b = env.body
    _fields(b, {"old_vkey", "new_vkey", "old_key", "reason"}, set())
    _text(b, "reason")
    if b["old_key"] not in OLD_KEY_STATUSES:
        raise InputError(f"body.old_key must be one of {', '.join(OLD_KEY_STATUSES)}")
    history = key_history(state)
    current = history.current.vkey
    if b["old_vkey"] != current:
        raise ConflictError(
            f"body.old_vkey is not the log's current key; the current key is {current}"
        )
    try:
        new = parse_vkey(b["new_vkey"])
    except (InputError, TypeError, AttributeError) as exc:
        raise InputError(f"body.new_vkey is not a note verifier key: {exc}") from exc
    origin = state.peek("community", "genesis")["origin"]
    if new.name != origin:
        raise InputError(f"the new log key is named {new.name!r}, not the origin {origin!r}")
    if any(e.vkey == new.vkey() or e.verifier.public_key == new.public_key for e in history.epochs):
        raise ConflictError("the new log key was already used by this log; rotate to a fresh key")
    if log_key_id(new.vkey()) not in env.signers:
        raise ForbiddenError(
            "a log key rotation must be signed by the new log key too (proof that it is held)"
        )
    old_id = log_key_id(current)
    if b["old_key"] == "held" and old_id not in env.signers:
        raise ForbiddenError(
            "body.old_key says the old log key is held, so it must sign the rotation too; "
            "say 'lost' or 'compromised' if it cannot"
        )
    state.put(
        "log_key",
        _row_key(ctx.index),
        {
            "vkey": new.vkey(),
            "record": ctx.index,
            "old_vkey": current,
            "old_key_status": b["old_key"],
            "old_key_signed": old_id in env.signers,
            "reason": b["reason"],
        },
    )


# --- incident.report --------------------------------------------------------------------


def _key_list(body: Mapping[str, Any], name: str) -> list[str]:
    v = body.get(name, [])
    if not isinstance(v, list) or len(v) > _MAX_LIST or not all(is_key_id(k) for k in v):
        raise InputError(f"body.{name} must be a list of at most {_MAX_LIST} key ids")
    if len(set(v)) != len(v):
        raise InputError(f"body.{name} lists a key twice")
    return list(v)


def _incident(state: State, env: Envelope, ctx: Context) -> None:
    """Record what happened, what it touches and what was done; revoke the named keys
    from this record on (committee quorum)."""
    require_committee(state, env, "reporting an incident")
    require_committee_quorum(state, env, "reporting an incident")
    b = env.body
    _fields(b, {"kind", "summary", "actions"}, {"keys", "records", "revoke", "detected"})
    if b["kind"] not in INCIDENT_KINDS:
        raise InputError(f"body.kind must be one of {', '.join(INCIDENT_KINDS)}")
    _text(b, "summary")
    _text(b, "actions")
    _text(b, "detected", required=False)
    keys = _key_list(b, "keys")
    revoke = _key_list(b, "revoke")
    records = b.get("records", [])
    if (
        not isinstance(records, list)
        or len(records) > _MAX_LIST
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in records)
        or not all(0 <= i < ctx.index for i in records)
    ):
        raise InputError(
            f"body.records must be a list of at most {_MAX_LIST} indexes of earlier records"
        )
    for k in revoke:
        if state.has("revoked", k):
            raise ConflictError(
                f"{k} was already revoked by record {state.peek('revoked', k)['at']}"
            )
    committee = set(state.rows("committee"))
    if committee and committee <= set(revoke):
        raise RuleViolation(
            "an incident cannot revoke every committee key: add new members first "
            "(committee.add), then revoke the old ones"
        )
    for k in revoke:
        role = "committee" if k in committee else "member" if state.has("member", k) else "key"
        state.put("revoked", k, {"at": ctx.index, "role": role, "kind": b["kind"]})
        if k in committee:
            # A revoked member no longer counts toward (or against) the quorum.
            state.put("committee_past", k, {**state.get("committee", k), "until": ctx.index})
            state.delete("committee", k)
        m = state.get("member", k)
        if m is not None and m["status"] == "active":
            m.update(status="revoked", revoked_at=ctx.index)
            state.put("member", k, m)
    if state.rows("committee") and committee_threshold(state) < 1:
        raise RuleViolation("the committee would have no quorum left")
    state.put(
        "incident",
        _row_key(ctx.index),
        {
            "index": ctx.index,
            "kind": b["kind"],
            "summary": b["summary"],
            "actions": b["actions"],
            "keys": keys,
            "records": list(records),
            "revoke": revoke,
            "reported_by": sorted(env.signers & committee),
        },
    )


RULES = Rules.of("keys", {"log.rotate": _log_rotate, "incident.report": _incident})


def incidents_view(state: State) -> list[dict[str, Any]]:
    """Every incident record's summary, in log order (what ``GET /v1/incidents`` serves)."""
    return [row for _, row in sorted(state.rows("incident").items())]


def revoked_view(state: State) -> dict[str, Any]:
    """Every revoked key with the record from which it is refused."""
    return dict(sorted(state.rows("revoked").items()))


def history_from_rows(genesis_vkey: str, rows: Sequence[Mapping[str, Any]]) -> KeyHistory:
    """A key history from ``log_key`` rows (as the state views hold them)."""
    epochs = [LogKeyEpoch(genesis_vkey, 0)]
    for row in sorted(rows, key=lambda r: int(r["record"])):
        epochs.append(
            LogKeyEpoch(
                row["vkey"], int(row["record"]) + 1, int(row["record"]), row["old_key_status"]
            )
        )
    return KeyHistory(tuple(epochs))


# --- following a rotation from the genesis key alone -------------------------------------


@dataclass(frozen=True)
class FollowedHistory:
    """What :func:`follow_key_history` established: the history, the witnessed checkpoint
    it was proven in, and which rotations the previous key signed itself."""

    history: KeyHistory
    checkpoint_size: int
    old_key_signed: tuple[int, ...]


def follow_key_history(doc: Mapping[str, Any], genesis_vkey: str, policy: Any) -> FollowedHistory:
    """Verify a served key history (``GET /v1/log-keys``) from the genesis key alone.

    1. every rotation is a ``log.rotate`` record whose statement signatures verify, signed
       by the key it moves to, moving from the key before it (starting at genesis), at
       growing indexes;
    2. every rotation record is included (RFC 9162) in the one checkpoint ``doc`` carries;
    3. that checkpoint is signed by the key the history gives its size and carries the
       witness quorum of ``policy`` (a :class:`~ledger.c2sp.policy.Policy`): the witnesses
       replayed every record up to it, the rotations' committee quorum included.

    SignatureError / ProofError / InputError naming the first step that fails;
    NotFoundError when the checkpoint only lacks the witness quorum (retry later).
    """
    import base64

    from ledger import merkle
    from ledger.c2sp.trust import check_trust_by_size, trusted_checkpoint_by_size
    from ledger.errors import NotFoundError, ProofError, SignatureError
    from ledger.records import parse_record
    from ledger.statements import parse_envelope

    rotations = doc.get("rotations", [])
    if not isinstance(rotations, list):
        raise InputError("log-keys: 'rotations' must be a list")
    history = KeyHistory.genesis_only(genesis_vkey)
    parsed: list[tuple[int, bytes]] = []
    signed_by_old: list[int] = []
    for n, item in enumerate(rotations):
        try:
            raw = base64.b64decode(item["record"], validate=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"log-keys rotation {n}: no base64 'record'") from exc
        rec = parse_record(raw)
        env = parse_envelope(rec.envelope)
        if env.type != "log.rotate":
            raise SignatureError(f"log-keys rotation {n}: record {rec.index} is a {env.type}")
        old, new = env.body.get("old_vkey"), env.body.get("new_vkey")
        if old != history.current.vkey:
            raise SignatureError(
                f"record {rec.index} rotates away from {old}, not from the log's key then "
                f"({history.current.vkey})"
            )
        if not isinstance(new, str) or log_key_id(new) not in env.signers:
            raise SignatureError(f"record {rec.index}: the new log key did not sign its rotation")
        if rec.index + 1 <= history.current.first_size:
            raise InputError(f"log-keys: rotation records must be in log order ({rec.index})")
        if log_key_id(history.current.vkey) in env.signers:
            signed_by_old.append(rec.index)
        history = history.with_rotation(
            LogKeyEpoch(new, rec.index + 1, rec.index, str(env.body.get("old_key")))
        )
        parsed.append((rec.index, raw))
    if not parsed:
        return FollowedHistory(history, 0, ())
    note = str(doc.get("checkpoint", "")).encode("utf-8")
    trust = check_trust_by_size(note, policy, history.key_for)
    if trust.log_ok and not trust.invalid and not trust.quorum_met:
        # Not a bad history: the witnesses have not cosigned past the rotation yet.
        raise NotFoundError(
            "no witnessed checkpoint covers the log's key rotations yet: "
            f"{trust.problem()}; retry once the witnesses have cosigned"
        )
    cp = trusted_checkpoint_by_size(note, policy, history.key_for)
    proofs = doc.get("proofs", [])
    if not isinstance(proofs, list) or len(proofs) != len(parsed):
        raise InputError("log-keys: one inclusion proof per rotation is needed")
    for (index, raw), proof in zip(parsed, proofs, strict=True):
        if index >= cp.size:
            raise ProofError(
                f"the witnessed checkpoint (size {cp.size}) does not cover rotation record "
                f"{index} yet: retry once the witnesses have cosigned it"
            )
        hashes = [base64.b64decode(h) for h in proof]
        merkle.verify_inclusion(merkle.leaf_hash(raw), index, cp.size, hashes, cp.root_hash)
    return FollowedHistory(history, cp.size, tuple(signed_by_old))


# --- building the statements --------------------------------------------------------------


def add_log_key_signature(envelope: dict[str, Any], signer: Any) -> dict[str, Any]:
    """A copy of ``envelope`` also signed by the log note key ``signer`` (a
    :class:`~ledger.c2sp.note.NoteSigner`): the same Ed25519 key, as a statement key."""
    import base64

    from ledger.keys import key_id
    from ledger.statements import signing_bytes

    kid = key_id(signer.public_key)
    if any(s["key"] == kid for s in envelope["signatures"]):
        return envelope
    sig = base64.b64encode(signer.sign(signing_bytes(envelope["statement"]))).decode()
    return {**envelope, "signatures": [*envelope["signatures"], {"key": kid, "sig": sig}]}


def rotate_envelope(
    origin: str,
    old_vkey: str,
    new_signer: Any,
    committee: Sequence[Any],
    old_key: str = "held",
    reason: str = "scheduled log key rotation",
    old_signer: Any | None = None,
    created: Any | None = None,
) -> dict[str, Any]:
    """A ``log.rotate`` envelope: signed by ``committee`` (KeyPairs, the first is the
    signer), by the new log key, and by ``old_signer`` when given (the old key, if held)."""
    from ledger.statements import make_statement, sign_envelope

    if not committee:
        raise InputError("a log key rotation needs committee signatures")
    body = {
        "old_vkey": old_vkey,
        "new_vkey": new_signer.verifier().vkey(),
        "old_key": old_key,
        "reason": reason,
    }
    st = make_statement(origin, "log.rotate", body, committee[0].key_id, created)
    env = add_log_key_signature(sign_envelope(st, list(committee)), new_signer)
    if old_signer is not None:
        env = add_log_key_signature(env, old_signer)
    return env
