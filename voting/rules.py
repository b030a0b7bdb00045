"""Ballot and vote statement types and their rules (:data:`RULES`, for the rule set).

Statement types:

- ``ballot.open`` (body: see :mod:`voting.spec`): opens a ballot. Signed by a committee
  member, or also by any active resident when policy ``ballot_openers`` is ``"resident"``.
  The ballot's id is the string of this record's index. The electorate is frozen here: every
  resident active at this record's sequencer time, as a sorted list of key ids whose
  :func:`~voting.tally.electorate_hash` is in the ballot.
- ``vote.cast`` (body ``{"ballot": "12", "choice": ...}``): a resident's vote, signed with
  their own key, between ``opens`` (inclusive) and ``closes`` (exclusive) in sequencer time.
  Re-voting replaces the earlier vote (the last one counts; every vote stays in the log).
  A resident who rotated their key after the ballot opened votes with the new key, and the
  vote counts for their key in the electorate snapshot (same single vote).
- ``ballot.close`` (body ``{"ballot", "electorate_hash", "result"}``): at or after ``closes``,
  by a committee member, the ballot's opener or the log key (the sequencer). The handler
  recomputes the tally from the votes in the state (themselves a replay of the log) and
  refuses a close whose result or electorate hash is not exactly that.
- ``ballot.cancel`` (body ``{"ballot", "reason"}``): a committee member or the opener stops
  an open ballot; it never gets a result.

State (namespace/key → document):

- ``ballot/<id>``: id, kind, title, text, document, options, budget, quorum, passing,
  status (``open`` | ``closed`` | ``cancelled``), opens, closes, opened_by, electorate_hash,
  electorate_size, votes_cast, turnout, result (null until closed), closed_at, closed_by;
- ``electorate/<id>``: the sorted list of eligible key ids;
- ``vote/<id>/<key id>``: the counted (last) vote of that electorate key: index, choice,
  signer, time, supersedes (the index it replaced, or null) and n (votes cast so far).

Voting policy keys (optional in ``policy/current``, with these defaults):

- ``ballot_openers``: ``"committee"`` (ledger.community's default) or ``"resident"``;
- ``ballot_min_quorum_percent``: 0 — a ballot's quorum must be at least this share of its
  electorate (a ``{"votes": N}`` quorum is compared with the rounded-up equivalent);
- ``ballot_min_duration_seconds``: 0 — the least time between opening and closing.

Votes cast while eligible stay counted if the resident is removed before the close: the
electorate is the snapshot, and removal only stops later votes.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from datetime import timedelta
from typing import Any

from ledger.canonical import canonical_json
from ledger.community import is_active_resident, log_key_id
from ledger.errors import ConflictError, ForbiddenError, InputError, RuleViolation
from ledger.log_keys import current_log_vkey
from ledger.records import format_time, parse_time
from ledger.ruleset import Rules
from ledger.state import Context, State
from ledger.statements import Envelope
from voting import secret_rules
from voting.spec import check_choice, parse_open_body, spec_from_doc
from voting.tally import describe_difference, electorate_hash, tally

__all__ = [
    "BALLOT_ID",
    "RULES",
    "close_body",
    "compute_result",
    "electorate_key",
    "get_ballot",
    "is_secret",
    "provisional_result",
]

BALLOT_ID = re.compile(r"^(0|[1-9][0-9]{0,18})$")
# A rotation chain longer than this is refused rather than walked (it cannot occur honestly
# within one ballot's life, and it bounds the work of a statement).
_MAX_ROTATIONS = 64


def _only_fields(
    body: dict[str, Any], required: set[str], optional: set[str] | None = None
) -> None:
    missing = required - set(body)
    extra = set(body) - required - (optional or set())
    if missing or extra:
        raise InputError(f"body fields: missing {sorted(missing)}, unexpected {sorted(extra)}")


def _ballot_id(body: dict[str, Any]) -> str:
    bid = body.get("ballot")
    if not isinstance(bid, str) or not BALLOT_ID.match(bid):
        raise InputError(
            f'body.ballot must be a ballot id, the string of a record index like "12", got {bid!r}'
        )
    return bid


def get_ballot(state: State, bid: str) -> dict[str, Any]:
    """The ballot document (read-only); ConflictError if there is no such ballot."""
    b = state.peek("ballot", bid)
    if b is None:
        raise ConflictError(
            f"there is no ballot {bid}: a ballot's id is the index of its ballot.open record"
        )
    doc: dict[str, Any] = b
    return doc


def _policy_int(state: State, name: str, default: int) -> int:
    v = state.peek("policy", "current", {}).get(name, default)
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise RuleViolation(f"policy.{name} must be a non-negative integer, it is {v!r}")
    return v


def electorate_key(state: State, bid: str, signer: str) -> str | None:
    """The key in ballot ``bid``'s electorate that ``signer`` votes for, or None.

    The signer itself if it is in the snapshot; else, following ``rotated_from`` links, the
    key it was rotated from that is (a resident who rotated after the ballot opened).
    """
    keys: list[str] = state.peek("electorate", bid, [])
    k: str | None = signer
    for _ in range(_MAX_ROTATIONS):
        if k is None:
            return None
        i = bisect_left(keys, k)
        if i < len(keys) and keys[i] == k:
            return k
        m = state.peek("member", k)
        k = m.get("rotated_from") if m is not None else None
    return None


def is_secret(doc: dict[str, Any]) -> bool:
    """Whether a ballot document is a secret ballot (its choices are never in clear)."""
    return doc.get("mode") == "secret"


def provisional_result(state: State, bid: str) -> dict[str, Any] | None:
    """The running tally of an open ballot in open mode; None otherwise (a secret ballot
    has no running tally: only the trustees' decryption gives its result)."""
    doc = get_ballot(state, bid)
    if doc["status"] != "open" or is_secret(doc):
        return None
    return compute_result(state, bid)


def compute_result(state: State, bid: str) -> dict[str, Any]:
    """The tally of ballot ``bid`` from the counted votes in the state, right now."""
    ballot = get_ballot(state, bid)
    if is_secret(ballot):
        raise ConflictError(
            f"ballot {bid} is secret: its result comes from the trustees' decryptions"
        )
    keys: list[str] = state.peek("electorate", bid, [])
    choices = []
    for k in keys:
        v = state.peek("vote", f"{bid}/{k}")
        if v is not None:
            choices.append(v["choice"])
    return tally(spec_from_doc(ballot), choices, len(keys))


def close_body(state: State, bid: str) -> dict[str, Any]:
    """The body of a ``ballot.close`` the handler will accept (for the CLI, demo, sequencer)."""
    ballot = get_ballot(state, bid)
    if is_secret(ballot):
        return secret_rules.secret_close_body(state, bid)
    return {
        "ballot": bid,
        "electorate_hash": ballot["electorate_hash"],
        "result": compute_result(state, bid),
    }


def _is_committee(state: State, key: str) -> bool:
    return key in state.rows("committee")


def _open(state: State, env: Envelope, ctx: Context) -> None:
    # 1. who may open: policy ballot_openers
    openers = state.peek("policy", "current", {}).get("ballot_openers", "committee")
    if not _is_committee(state, env.signer) and not (
        openers == "resident" and is_active_resident(state, env.signer, ctx.time)
    ):
        who = "a committee member" if openers == "committee" else "a committee member or resident"
        raise ForbiddenError(f"opening a ballot must be signed by {who}; {env.signer} is not one")
    # 2. a well-formed body (the mode and its setup aside: the rest is an open ballot's)
    body = dict(env.body)
    mode = body.pop("mode", "open")
    setup = body.pop("secret", None)
    if mode not in secret_rules.MODES:
        raise InputError(f"body.mode must be one of {', '.join(secret_rules.MODES)}, not {mode!r}")
    if (mode == "secret") != (setup is not None):
        raise InputError('a ballot has body.secret exactly when its mode is "secret"')
    ob = parse_open_body(body)
    # 3. times, in sequencer time: a past or missing opening time means now
    opens = ctx.time
    if ob.opens is not None and parse_time(ob.opens) > ctx.time:
        opens = parse_time(ob.opens)
    closes = parse_time(ob.closes)
    if closes <= opens:
        raise ConflictError(
            f"closing time {ob.closes} is not after the opening time {format_time(opens)} "
            "(sequencer time): choose a later closing time"
        )
    least = _policy_int(state, "ballot_min_duration_seconds", 0)
    if closes - opens < timedelta(seconds=least):
        raise RuleViolation(
            f"policy requires ballots to stay open at least {least}s; this one is open "
            f"{int((closes - opens).total_seconds())}s"
        )
    # 4. the electorate snapshot: residents active now
    keys = sorted(k for k in state.rows("member") if is_active_resident(state, k, ctx.time))
    if not keys:
        raise ConflictError(
            "there are no active residents: enrol residents before opening a ballot"
        )
    # 5. the quorum policy
    pct = _policy_int(state, "ballot_min_quorum_percent", 0)
    need = -(-pct * len(keys) // 100)
    if ob.spec.quorum.min_votes(len(keys)) < need:
        raise RuleViolation(
            f"policy requires a quorum of at least {pct}% of the electorate ({need} of "
            f"{len(keys)} residents); this ballot asks for {ob.spec.quorum.to_json()}"
        )
    bid = str(ctx.index)
    state.put("electorate", bid, keys)
    doc: dict[str, Any] = {
        "id": bid,
        "kind": ob.spec.kind,
        "title": ob.title,
        "text": ob.text,
        "document": ob.document,
        "options": ob.options,
        "budget": (
            {"amount": ob.spec.budget, "currency": ob.spec.currency}
            if ob.spec.budget is not None
            else None
        ),
        "quorum": ob.spec.quorum.to_json(),
        "passing": ob.spec.passing,
        "status": "open",
        "opens": format_time(opens),
        "closes": ob.closes,
        "opened_by": env.signer,
        "opened_time": ctx.time_text,
        "electorate_hash": electorate_hash(keys),
        "electorate_size": len(keys),
        "votes_cast": 0,
        "turnout": 0,
        "result": None,
        "closed_at": None,
        "closed_by": None,
        "closed_time": None,
    }
    if mode == "secret":
        secret_rules.secret_open(state, doc, setup, keys, ctx)
    state.put("ballot", bid, doc)


def _require_open(ballot: dict[str, Any]) -> None:
    if ballot["status"] != "open":
        raise ConflictError(f"ballot {ballot['id']} is {ballot['status']}")


def _vote(state: State, env: Envelope, ctx: Context) -> None:
    bid = _ballot_id(env.body)
    ballot = get_ballot(state, bid)
    secret = is_secret(ballot)
    _only_fields(env.body, {"ballot", "belenios" if secret else "choice"})
    if secret and ballot["status"] == "setup":
        raise ConflictError(
            f"ballot {bid} takes no votes yet: its key ceremony is not complete or its "
            "credentials are not all posted"
        )
    # 1. the ballot takes votes now (sequencer time decides)
    _require_open(ballot)
    if ctx.time < parse_time(ballot["opens"]):
        raise ConflictError(
            f"ballot {bid} opens at {ballot['opens']}; the sequencer's time is {ctx.time_text}"
        )
    if ctx.time >= parse_time(ballot["closes"]):
        raise ConflictError(
            f"voting on ballot {bid} closed at {ballot['closes']}; "
            f"the sequencer's time is {ctx.time_text}"
        )
    # 2. an active resident, in the electorate snapshot
    if not is_active_resident(state, env.signer, ctx.time):
        m = state.peek("member", env.signer)
        why = "is not an enrolled resident" if m is None else f"is {m['status']}"
        if m is not None and m["status"] == "active":
            why = "has an expired enrolment"
        raise ForbiddenError(f"{env.signer} {why}: only active residents vote")
    voter = electorate_key(state, bid, env.signer)
    if voter is None:
        raise ForbiddenError(
            f"{env.signer} is not in ballot {bid}'s electorate: only residents enrolled "
            f"when it opened (record {bid}) may vote"
        )
    # 3. a choice the ballot offers (secret: a valid Belenios ballot with their credential)
    if secret:
        extra = secret_rules.vote_secret(state, env, ctx, ballot, voter)
    else:
        extra = {"choice": check_choice(spec_from_doc(ballot), env.body["choice"])}
    key = f"{bid}/{voter}"
    old = state.peek("vote", key)
    state.put(
        "vote",
        key,
        {
            "ballot": bid,
            "key": voter,
            "signer": env.signer,
            "index": ctx.index,
            **extra,
            "time": ctx.time_text,
            "supersedes": None if old is None else old["index"],
            "n": 1 if old is None else old["n"] + 1,
        },
    )
    b = dict(ballot)
    b["votes_cast"] += 1
    if old is None:
        b["turnout"] += 1
    state.put("ballot", bid, b)


def _may_manage(state: State, ballot: dict[str, Any], signer: str, log_key: bool) -> bool:
    if _is_committee(state, signer) or signer == ballot["opened_by"]:
        return True
    if not log_key:
        return False
    if state.peek("community", "genesis") is None:
        return False
    # The log's key now, after any log.rotate (ledger/log_keys.py), not genesis's.
    return signer == log_key_id(current_log_vkey(state))


def _close(state: State, env: Envelope, ctx: Context) -> None:
    bid = _ballot_id(env.body)
    ballot = get_ballot(state, bid)
    secret = is_secret(ballot)
    _only_fields(env.body, {"ballot", "electorate_hash", "encrypted_tally" if secret else "result"})
    # 1. who: a committee member, the opener, or the log key (the sequencer)
    if not _may_manage(state, ballot, env.signer, log_key=True):
        raise ForbiddenError(
            f"closing ballot {bid} must be signed by a committee member, its opener or "
            f"the log key; {env.signer} is none of them"
        )
    # 2. when: open, and at or after its closing time
    _require_open(ballot)
    if ctx.time < parse_time(ballot["closes"]):
        raise ConflictError(
            f"ballot {bid} closes at {ballot['closes']}; the sequencer's time is "
            f"{ctx.time_text}: close it after that"
        )
    # 3. what: exactly the tally recomputed from the counted votes
    if env.body["electorate_hash"] != ballot["electorate_hash"]:
        raise RuleViolation(
            f"ballot {bid}: the close names electorate {env.body['electorate_hash']!r}, "
            f"the ballot's is {ballot['electorate_hash']}"
        )
    if secret:
        b = dict(ballot)
        b.update(
            secret_rules.close_secret(state, env, ballot),
            closed_at=ctx.index,
            closed_by=env.signer,
            closed_time=ctx.time_text,
        )
        state.put("ballot", bid, b)
        return
    expected = compute_result(state, bid)
    claimed = env.body["result"]
    try:
        same = canonical_json(claimed) == canonical_json(expected)
    except InputError:
        same = False
    if not same:
        raise RuleViolation(
            f"ballot {bid}: the close's result does not match the tally recomputed from the "
            f"log ({describe_difference(claimed, expected)})"
        )
    b = dict(ballot)
    b.update(
        status="closed",
        result=expected,
        closed_at=ctx.index,
        closed_by=env.signer,
        closed_time=ctx.time_text,
    )
    state.put("ballot", bid, b)


def _cancel(state: State, env: Envelope, ctx: Context) -> None:
    _only_fields(env.body, {"ballot", "reason"})
    bid = _ballot_id(env.body)
    reason = env.body["reason"]
    if not isinstance(reason, str) or not reason.strip() or len(reason) > 1000:
        raise InputError(
            "body.reason must be a non-empty public explanation (up to 1000 characters)"
        )
    ballot = get_ballot(state, bid)
    if not _may_manage(state, ballot, env.signer, log_key=False):
        raise ForbiddenError(
            f"cancelling ballot {bid} must be signed by a committee member or its opener"
        )
    if ballot["status"] != "setup":
        _require_open(ballot)
    b = dict(ballot)
    b.update(
        status="cancelled",
        cancel_reason=reason,
        closed_at=ctx.index,
        closed_by=env.signer,
        closed_time=ctx.time_text,
    )
    state.put("ballot", bid, b)


def _result(state: State, env: Envelope, ctx: Context) -> None:
    _only_fields(env.body, {"ballot", "result"})
    bid = _ballot_id(env.body)
    ballot = get_ballot(state, bid)
    if not is_secret(ballot):
        raise ConflictError(f"ballot {bid} is not secret: its ballot.close records its result")
    if not _may_manage(state, ballot, env.signer, log_key=True) and env.signer not in ballot.get(
        "trustees", []
    ):
        raise ForbiddenError(
            f"recording ballot {bid}'s result must be signed by a committee member, its "
            f"opener, a trustee or the log key; {env.signer} is none of them"
        )
    secret_rules.record_result(state, env, ctx, ballot)


# The voting layer's statement types, for the community's rule set (``rules``).
RULES = Rules.of(
    "voting",
    {
        "ballot.open": _open,
        "vote.cast": _vote,
        "ballot.close": _close,
        "ballot.cancel": _cancel,
        "ballot.credentials": secret_rules.ballot_credentials,
        "trustee.cert": secret_rules.trustee_cert,
        "trustee.polynomial": secret_rules.trustee_polynomial,
        "trustee.voutput": secret_rules.trustee_voutput,
        "trustee.decrypt": secret_rules.decrypt,
        "ballot.result": _result,
    },
)
