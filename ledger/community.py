"""Genesis, members and roles, witnesses and policies: the community's own statement types.

Namespaces this module keeps in the state:

- ``community/genesis``: origin, log key, genesis leaf hash;
- ``committee/<key id>``: current committee members;
- ``member/<key id>``: residents (status active, removed or rotated);
- ``witnesses/current``: the witnesses and the cosignature quorum;
- ``policy/current``: the policy document, with a ``version`` that every change bumps.
"""

from __future__ import annotations

import hashlib
import re
from base64 import b64encode
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ledger.c2sp.cosignature import parse_cosigner_vkey
from ledger.c2sp.note import NoteSigner, parse_vkey
from ledger.canonical import canonical_json
from ledger.errors import ConflictError, ForbiddenError, InputError, RuleViolation
from ledger.keys import KeyPair, is_key_id, key_id
from ledger.records import parse_time
from ledger.ruleset import CommittedField, PolicyValidator, Rules
from ledger.state import Context, State
from ledger.statements import Envelope, make_statement, sign_envelope, signing_bytes

__all__ = [
    "DEFAULT_POLICY",
    "RULES",
    "commitment",
    "committee_keys",
    "committee_threshold",
    "community_view",
    "genesis_envelope",
    "is_active_resident",
    "log_key_id",
    "members_view",
    "require_committee",
    "require_committee_quorum",
]

DEFAULT_POLICY: dict[str, Any] = {
    # How far a statement's `created` may be from the sequencer's time.
    "statement_window_seconds": 900,
    # Committee changes, witness and policy changes need this many committee signatures;
    # null means a majority of the current committee.
    "committee_quorum": None,
    # Who may open ballots: "committee" or "resident".
    "ballot_openers": "committee",
}
COMMITMENT_DOMAIN = b"civic-ledger/commitment/v1\n"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")


def commitment(value: str, salt: bytes) -> str:
    """A salted hash committing to personal data (docs/design.md, Privacy): hex SHA-256."""
    doc = {"salt": b64encode(salt).decode(), "value": value}
    return hashlib.sha256(COMMITMENT_DOMAIN + canonical_json(doc)).hexdigest()


def log_key_id(log_vkey: str) -> str:
    """The statement key id of the log's note key (same Ed25519 key, other encoding)."""
    return key_id(parse_vkey(log_vkey).public_key)


def committee_keys(state: State) -> set[str]:
    return set(state.rows("committee"))


def committee_threshold(state: State) -> int:
    """M of the M-of-N committee rule: policy, or a majority of the current committee."""
    n = len(state.rows("committee"))
    m = state.peek("policy", "current", {}).get("committee_quorum")
    return min(n, int(m)) if m else n // 2 + 1


def require_committee(state: State, env: Envelope, what: str) -> None:
    """The statement's signer must be on the committee."""
    if env.signer not in state.rows("committee"):
        raise ForbiddenError(
            f"{what} must be signed by a committee member; {env.signer} is not one"
        )


def require_committee_quorum(state: State, env: Envelope, what: str) -> None:
    """At least M of the current committee must have signed the envelope."""
    have = env.signers & committee_keys(state)
    need = committee_threshold(state)
    if len(have) < need:
        raise ForbiddenError(
            f"{what} needs signatures of {need} committee members; it carries {len(have)}"
        )


def is_active_resident(state: State, key: str, when: datetime) -> bool:
    """Enrolled, not removed or rotated away, and not expired at ``when``."""
    m = state.peek("member", key)
    if m is None or m["status"] != "active":
        return False
    return m.get("expires") is None or when < parse_time(m["expires"])


def _key_field(body: dict[str, Any], name: str) -> str:
    v = body.get(name)
    if not is_key_id(v):
        raise InputError(f"body.{name} must be a key id (ed25519:...), got {v!r}")
    assert isinstance(v, str)
    return v


def _only_fields(
    body: dict[str, Any], required: set[str], optional: frozenset[str] | set[str] = frozenset()
) -> None:
    missing = required - set(body)
    extra = set(body) - required - optional
    if missing or extra:
        raise InputError(f"body fields: missing {sorted(missing)}, unexpected {sorted(extra)}")


def _check_witnesses(witnesses: Any, quorum: Any) -> list[dict[str, str]]:
    if not isinstance(witnesses, list):
        raise InputError("witnesses must be a list of {name, vkey, url}")
    out = []
    names = set()
    for w in witnesses:
        if not isinstance(w, dict) or set(w) != {"name", "vkey", "url"}:
            raise InputError("each witness is an object with exactly name, vkey and url")
        if not all(isinstance(w[k], str) and w[k] for k in ("name", "vkey", "url")):
            raise InputError("witness name, vkey and url must be non-empty strings")
        if w["name"] in names:
            raise InputError(f"witness {w['name']!r} is listed twice")
        names.add(w["name"])
        v = parse_cosigner_vkey(w["vkey"])
        if v.name != w["name"]:
            raise InputError(f"witness {w['name']!r}: its vkey names {v.name!r}")
        out.append(dict(w))
    if not isinstance(quorum, int) or isinstance(quorum, bool) or not 0 <= quorum <= len(out):
        raise InputError(f"witness quorum must be an integer from 0 to {len(out)}, got {quorum!r}")
    return out


def _check_policy(policy: Any, validators: Sequence[PolicyValidator]) -> dict[str, Any]:
    """The policy with its defaults; every layer's validator (from the rule set) checks its
    own keys, so a bad policy is refused when it is set, not when a statement reads it."""
    if not isinstance(policy, dict):
        raise InputError("policy must be a JSON object")
    window = policy.get("statement_window_seconds", 900)
    if not isinstance(window, int) or isinstance(window, bool) or not 10 <= window <= 86400:
        raise InputError("policy.statement_window_seconds must be an integer from 10 to 86400")
    q = policy.get("committee_quorum")
    if q is not None and (not isinstance(q, int) or isinstance(q, bool) or q < 1):
        raise InputError("policy.committee_quorum must be null or a positive integer")
    if policy.get("ballot_openers", "committee") not in ("committee", "resident"):
        raise InputError("policy.ballot_openers must be 'committee' or 'resident'")
    for validate in validators:
        validate(policy)
    return {**DEFAULT_POLICY, **policy}


def _genesis(state: State, env: Envelope, ctx: Context) -> None:
    # Record 0 only, signed by every founding committee member and by the log key.
    if ctx.index != 0 or state.peek("community", "genesis") is not None:
        raise RuleViolation("a genesis statement can only be record 0")
    b = env.body
    _only_fields(b, {"origin", "log_vkey", "committee", "witnesses", "quorum", "policy"})
    if env.statement["community"] != b["origin"]:
        raise RuleViolation("genesis statement's community must equal its origin")
    vk = parse_vkey(b["log_vkey"])
    if vk.name != b["origin"]:
        raise InputError(f"log key is named {vk.name!r}, not the origin {b['origin']!r}")
    committee = b["committee"]
    if not isinstance(committee, list) or not committee or not all(map(is_key_id, committee)):
        raise InputError("genesis committee must be a non-empty list of key ids")
    if len(set(committee)) != len(committee):
        raise InputError("genesis committee lists a key twice")
    witnesses = _check_witnesses(b["witnesses"], b["quorum"])
    policy = _check_policy(b["policy"], state.rules.policy_validators)
    need = {*committee, key_id(vk.public_key)}
    missing = need - env.signers
    if missing:
        raise ForbiddenError(
            f"genesis must be signed by every founder and the log key; missing {sorted(missing)}"
        )
    state.put(
        "community",
        "genesis",
        {
            "origin": b["origin"],
            "log_vkey": b["log_vkey"],
            "genesis_hash": ctx.leaf_hash,
            "created": ctx.time_text,
        },
    )
    for k in committee:
        state.put("committee", k, {"since": 0})
    state.put("witnesses", "current", {"witnesses": witnesses, "quorum": b["quorum"], "since": 0})
    state.put("policy", "current", {**policy, "version": 1, "since": 0})


def _enrol(state: State, env: Envelope, ctx: Context) -> None:
    require_committee(state, env, "enrolling a resident")
    b = env.body
    _only_fields(b, {"key", "unit_commitment"}, {"expires"})
    key = _key_field(b, "key")
    if not isinstance(b["unit_commitment"], str) or not _HEX64.match(b["unit_commitment"]):
        raise InputError(
            "body.unit_commitment must be a hex SHA-256 commitment, never the unit in clear"
        )
    expires = b.get("expires")
    if expires is not None and parse_time(expires) <= ctx.time:
        raise RuleViolation(f"enrolment expiry {expires} is already past")
    m = state.peek("member", key)
    if m is not None and m["status"] == "active":
        raise ConflictError(f"{key} is already enrolled (since record {m['enrolled_at']})")
    if m is not None and m["status"] == "rotated":
        raise ConflictError(f"{key} was rotated away and cannot be enrolled again")
    state.put(
        "member",
        key,
        {
            "key": key,
            "status": "active",
            "unit_commitment": b["unit_commitment"],
            "expires": expires,
            "enrolled_at": ctx.index,
            "enrolled_by": env.signer,
        },
    )


def _remove(state: State, env: Envelope, ctx: Context) -> None:
    require_committee(state, env, "removing a resident")
    b = env.body
    _only_fields(b, {"key"}, {"reason"})
    key = _key_field(b, "key")
    m = state.get("member", key)
    if m is None or m["status"] != "active":
        raise ConflictError(f"{key} is not an enrolled resident")
    m.update(status="removed", removed_at=ctx.index)
    state.put("member", key, m)


def _rotate(state: State, env: Envelope, ctx: Context) -> None:
    b = env.body
    _only_fields(b, {"old", "new"})
    old, new = _key_field(b, "old"), _key_field(b, "new")
    if env.signer != old or new not in env.signers:
        raise ForbiddenError("a key rotation is signed by the old key (as signer) and the new key")
    m = state.get("member", old)
    if m is None or m["status"] != "active":
        raise ConflictError(f"{old} is not an enrolled resident")
    if state.peek("member", new) is not None or old == new:
        raise ConflictError(f"{new} is already known; rotate to a fresh key")
    m.update(status="rotated", rotated_to=new, rotated_at=ctx.index)
    state.put("member", old, m)
    state.put(
        "member",
        new,
        {
            **{k: v for k, v in m.items() if k not in ("rotated_to", "rotated_at")},
            "key": new,
            "status": "active",
            "rotated_from": old,
        },
    )


def _committee_add(state: State, env: Envelope, ctx: Context) -> None:
    require_committee_quorum(state, env, "adding a committee member")
    _only_fields(env.body, {"key"})
    key = _key_field(env.body, "key")
    if key in state.rows("committee"):
        raise ConflictError(f"{key} is already on the committee")
    state.put("committee", key, {"since": ctx.index})


def _committee_remove(state: State, env: Envelope, ctx: Context) -> None:
    require_committee_quorum(state, env, "removing a committee member")
    _only_fields(env.body, {"key"})
    key = _key_field(env.body, "key")
    if key not in state.rows("committee"):
        raise ConflictError(f"{key} is not on the committee")
    if len(state.rows("committee")) == 1:
        raise RuleViolation("the committee cannot remove its last member")
    state.put("committee_past", key, {**state.get("committee", key), "until": ctx.index})
    state.delete("committee", key)


def _witnesses_set(state: State, env: Envelope, ctx: Context) -> None:
    require_committee_quorum(state, env, "changing the witnesses")
    _only_fields(env.body, {"witnesses", "quorum"})
    ws = _check_witnesses(env.body["witnesses"], env.body["quorum"])
    state.put(
        "witnesses", "current", {"witnesses": ws, "quorum": env.body["quorum"], "since": ctx.index}
    )


def _policy_set(state: State, env: Envelope, ctx: Context) -> None:
    require_committee_quorum(state, env, "changing the policy")
    _only_fields(env.body, {"policy"})
    cur = state.get("policy", "current")
    new = _check_policy(
        {**{k: v for k, v in cur.items() if k not in ("version", "since")}, **env.body["policy"]},
        state.rules.policy_validators,
    )
    state.put("policy", "current", {**new, "version": cur["version"] + 1, "since": ctx.index})


# The community's own statement types. A resident's unit enters the log only as a
# commitment; its opening may travel with member.enrol and is kept off the log, filed
# under the resident's key.
RULES = Rules.of(
    "community",
    {
        "community.genesis": _genesis,
        "member.enrol": _enrol,
        "member.remove": _remove,
        "member.rotate": _rotate,
        "committee.add": _committee_add,
        "committee.remove": _committee_remove,
        "witnesses.set": _witnesses_set,
        "policy.set": _policy_set,
    },
    committed_fields=[CommittedField("member.enrol", "unit_commitment", "key")],
)


def genesis_envelope(
    origin: str,
    log_signer: NoteSigner,
    committee: Sequence[KeyPair],
    witnesses: Sequence[dict[str, str]] = (),
    quorum: int = 0,
    policy: dict[str, Any] | None = None,
    created: datetime | None = None,
) -> dict[str, Any]:
    """The genesis envelope, signed by every founding committee member and the log key."""
    if not committee:
        raise InputError("a community needs at least one founding committee member")
    body = {
        "origin": origin,
        "log_vkey": log_signer.verifier().vkey(),
        "committee": [k.key_id for k in committee],
        "witnesses": list(witnesses),
        "quorum": quorum,
        "policy": {**DEFAULT_POLICY, **(policy or {})},
    }
    st = make_statement(origin, "community.genesis", body, committee[0].key_id, created)
    env = sign_envelope(st, committee)
    # The log key signs with the same Ed25519 key that signs checkpoints.
    sig = log_signer.sign(signing_bytes(st))
    env["signatures"].append({"key": key_id(log_signer.public_key), "sig": b64encode(sig).decode()})
    return env


def members_view(state: State, status: str | None = None) -> dict[str, Any]:
    """What ``GET /v1/members`` serves: residents in enrolment order, and the committee.

    The node serves it and the audit recomputes it from a replay: one definition for both.
    """
    rows = [m for m in state.rows("member").values() if status is None or m["status"] == status]
    return {
        "members": sorted(rows, key=lambda m: (m["enrolled_at"], m["key"])),
        "committee": sorted(state.rows("committee")),
    }


def community_view(state: State) -> dict[str, Any] | None:
    """The part of ``GET /v1/community`` that follows from the records (None before genesis)."""
    g = state.peek("community", "genesis")
    if g is None:
        return None
    return {
        "origin": g["origin"],
        "log_vkey": g["log_vkey"],
        "genesis_hash": g["genesis_hash"],
        "created": g["created"],
        "committee": sorted(state.rows("committee")),
        "witnesses": state.peek("witnesses", "current"),
        "policy": state.peek("policy", "current"),
        "members": sum(1 for m in state.rows("member").values() if m["status"] == "active"),
        "size": state.size,
    }
