"""The community's witness policy, derived from genesis, stated as a C2SP tlog-policy.

docs/design.md, Trust model: a checkpoint is trusted when it carries the log signature and at
least the genesis quorum of valid witness cosignatures. Genesis (and later
``witnesses.set`` statements) name the witnesses as ``{name, vkey, url}`` with a quorum
``k``; :func:`policy_from_genesis` states the same thing as a tlog-policy so that tools
nobody here wrote can read it::

    log <log vkey>
    witness <name> <cosigner vkey> <url>/witness
    ...
    group quorum <k> <name> ...
    quorum quorum

Checking a checkpoint against it is :func:`ledger.c2sp.trust.check_trust`. Pure: values
in, values out; no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ledger.c2sp.cosignature import parse_cosigner_vkey
from ledger.c2sp.note import NoteVerifier, parse_vkey
from ledger.c2sp.policy import Policy, PolicyGroup, PolicyLog, PolicyWitness
from ledger.errors import InputError, SignatureError
from ledger.state import State

__all__ = [
    "WITNESS_PATH",
    "genesis_policy",
    "policy_from_genesis",
    "quorum_statement",
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
        # The key that signs the log's checkpoints now: the newest log.rotate's, if any
        # (ledger/log_keys.py; its rows sort in log order).
        rotations = doc_or_state.rows("log_key")
        vkey = rotations[max(rotations)]["vkey"] if rotations else genesis["log_vkey"]
        return str(vkey), list(current["witnesses"]), current["quorum"]
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


def genesis_policy(record0: bytes, log_key: NoteVerifier) -> Policy:
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
    if env.body.get("log_vkey") != log_key.vkey():
        raise SignatureError("genesis names another log key than the one you trust")
    if log_key_id(log_key.vkey()) not in env.signers:
        raise SignatureError("genesis is not signed by the log key")
    return policy_from_genesis(env.body)


def quorum_statement(note: bytes, policy: Policy | None) -> dict[str, Any]:
    """What a bundle says about the checkpoint it carries: ``{"met": bool, "detail": str}``,
    by :func:`ledger.c2sp.trust.check_trust` under ``policy`` (C2SP tlog-policy). A
    statement for people; a verifier checks the checkpoint itself."""
    from ledger.c2sp.trust import check_trust

    if policy is None:
        return {"met": False, "detail": "no witness policy (no genesis yet)"}
    trust = check_trust(note, policy)
    return {"met": trust.trusted, "detail": trust.summary()}
