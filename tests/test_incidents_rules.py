"""log.rotate, incident.report and revocation as rules (real signatures, the sequencer's code)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.c2sp.checkpoint import Checkpoint, sign_checkpoint
from ledger.c2sp.note import signer_from_seed
from ledger.c2sp.trust import check_trust_by_size
from ledger.errors import ConflictError, ForbiddenError, InputError, RuleViolation
from ledger.log_keys import (
    KeyHistory,
    LogKeyEpoch,
    key_history,
    rotate_envelope,
)
from ledger.witness_policy import policy_from_genesis
from tests.factory import ORIGIN, Community, key

NEW = signer_from_seed(ORIGIN, hashlib.sha256(b"log-2").digest())
THIRD = signer_from_seed(ORIGIN, hashlib.sha256(b"log-3").digest())


def _rotate(c: Community, **kw: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "old_vkey": key_history(c.state).current.vkey,
        "new_signer": NEW,
        "committee": c.committee[:2],
        "old_signer": c.log_signer,
        "created": c.now,
    }
    args.update(kw)
    return rotate_envelope(ORIGIN, **args)


def test_rotation_moves_the_key_from_the_next_checkpoint_on() -> None:
    c = Community()
    c.enrol("a")
    ctx = c.submit(_rotate(c))
    h = key_history(c.state)
    assert [e.vkey for e in h.epochs] == [c.log_signer.verifier().vkey(), NEW.verifier().vkey()]
    # The rotate record's own checkpoint (size index+1) is the new key's.
    assert h.key_for(ctx.index).vkey() == c.log_signer.verifier().vkey()
    assert h.key_for(ctx.index + 1).vkey() == NEW.verifier().vkey()
    assert policy_from_genesis(c.state).logs[0].verifier.vkey() == NEW.verifier().vkey()


def test_rotation_needs_the_committee_quorum() -> None:
    c = Community()
    with pytest.raises(ForbiddenError, match="needs signatures of 2 committee members"):
        c.submit(_rotate(c, committee=c.committee[:1]))
    assert c.state.rows("log_key") == {}


def test_rotation_needs_the_new_key_and_a_held_old_key() -> None:
    c = Community()
    env = _rotate(c)
    env["signatures"] = [s for s in env["signatures"] if s["key"] != _kid(NEW)]
    with pytest.raises(ForbiddenError, match="new log key too"):
        c.submit(env)
    with pytest.raises(ForbiddenError, match="old log key is held"):
        c.submit(_rotate(c, old_signer=None))
    # A lost or compromised key need not sign.
    c.submit(_rotate(c, old_signer=None, old_key="compromised"))
    assert key_history(c.state).current.old_key_status == "compromised"


def test_rotation_refuses_a_stale_old_key_and_a_reused_key() -> None:
    c = Community()
    c.submit(_rotate(c))
    with pytest.raises(ConflictError, match="not the log's current key"):
        c.submit(_rotate(c, old_vkey=c.log_signer.verifier().vkey(), new_signer=THIRD))
    with pytest.raises(ConflictError, match="already used"):
        c.submit(_rotate(c, new_signer=c.log_signer, old_signer=NEW))
    c.submit(_rotate(c, new_signer=THIRD, old_signer=NEW))
    assert len(key_history(c.state).epochs) == 3


def _kid(signer: Any) -> str:
    from ledger.keys import key_id

    return str(key_id(signer.public_key))


def _incident(c: Community, revoke: list[str], signers: list[Any] | None = None) -> Any:
    signers = signers or c.committee[:2]
    body = {
        "kind": "member_key_compromise",
        "summary": "a resident's laptop was stolen",
        "actions": "key revoked; resident re-enrolled with a new key",
        "keys": revoke,
        "revoke": revoke,
        "records": [0],
    }
    return c.do("incident.report", body, signers[0], also=signers[1:])


def test_revocation_refuses_later_statements_signed_with_the_key() -> None:
    c = Community()
    mallory = c.enrol("mallory")
    ctx = _incident(c, [mallory.key_id])
    assert c.state.peek("revoked", mallory.key_id)["at"] == ctx.index
    assert c.state.peek("member", mallory.key_id)["status"] == "revoked"
    with pytest.raises(ForbiddenError, match=f"revoked by incident record {ctx.index}"):
        c.do(
            "member.rotate",
            {"old": mallory.key_id, "new": key("m2").key_id},
            mallory,
            also=[key("m2")],
        )


def test_revoking_a_committee_key_removes_it_from_the_quorum() -> None:
    c = Community(committee=3)
    bad = c.committee[2]
    _incident(c, [bad.key_id])
    assert bad.key_id not in c.state.rows("committee")
    with pytest.raises(ForbiddenError, match="revoked"):
        c.do("member.enrol", {"key": key("x").key_id, "unit_commitment": "0" * 64}, bad)
    # An envelope that merely carries the revoked key's signature is refused too.
    with pytest.raises(ForbiddenError, match="revoked"):
        c.do(
            "member.enrol",
            {"key": key("y").key_id, "unit_commitment": "0" * 64},
            c.chair,
            also=[bad],
        )


def test_an_incident_cannot_revoke_the_whole_committee_or_twice() -> None:
    c = Community(committee=2)
    with pytest.raises(RuleViolation, match="every committee key"):
        _incident(c, [k.key_id for k in c.committee])
    r = c.enrol("r")
    _incident(c, [r.key_id])
    with pytest.raises(ConflictError, match="already revoked"):
        _incident(c, [r.key_id])


def test_incident_needs_quorum_and_a_known_kind() -> None:
    c = Community(committee=3)
    with pytest.raises(ForbiddenError, match="needs signatures"):
        _incident(c, [], signers=c.committee[:1])
    with pytest.raises(InputError, match="kind"):
        c.do(
            "incident.report",
            {"kind": "aliens", "summary": "x", "actions": "y"},
            c.chair,
            also=c.committee[1:],
        )


def test_checkpoints_are_trusted_only_under_the_key_of_their_size() -> None:
    c = Community()
    c.enrol("a")
    at = c.submit(_rotate(c)).index
    policy = policy_from_genesis(c.state)
    h = key_history(c.state)
    root = b"\x01" * 32
    old_after = sign_checkpoint(Checkpoint(ORIGIN, at + 1, root), c.log_signer)
    new_after = sign_checkpoint(Checkpoint(ORIGIN, at + 1, root), NEW)
    new_before = sign_checkpoint(Checkpoint(ORIGIN, at, root), NEW)
    old_before = sign_checkpoint(Checkpoint(ORIGIN, at, root), c.log_signer)
    assert check_trust_by_size(new_after, policy, h.key_for).trusted
    assert check_trust_by_size(old_before, policy, h.key_for).trusted
    bad = check_trust_by_size(old_after, policy, h.key_for)
    assert not bad.trusted and "must be signed by the log key" in (bad.problem() or "")
    assert not check_trust_by_size(new_before, policy, h.key_for).trusted


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=6, unique=True))
def test_key_for_size_picks_exactly_one_epoch(records: list[int]) -> None:
    records.sort()
    epochs = [LogKeyEpoch("g", 0)] + [LogKeyEpoch(f"k{r}", r + 1, r) for r in records]
    h = KeyHistory(tuple(epochs))
    for size in range(0, 60):
        e = h.epoch_for(size)
        # The epoch starts at or below the size, and the next one (if any) above it.
        assert e.first_size <= size
        later = [x for x in h.epochs if x.first_size > e.first_size]
        assert not later or later[0].first_size > size


def _served(c: Community, signer: Any, size: int | None = None) -> dict[str, Any]:
    """What GET /v1/log-keys serves for the factory's records, checkpoint signed by ``signer``."""
    import base64

    from ledger import merkle

    size = len(c.records) if size is None else size
    leaves = [merkle.leaf_hash(r) for r in c.records[:size]]
    note = sign_checkpoint(Checkpoint(ORIGIN, size, merkle.root_from_leaves(leaves)), signer)
    rows = [e.record for e in key_history(c.state).epochs[1:]]
    return {
        "rotations": [
            {"index": i, "record": base64.b64encode(c.records[i]).decode()} for i in rows
        ],
        "checkpoint": note.decode(),
        "proofs": [
            [base64.b64encode(h).decode() for h in merkle.inclusion_proof_from_leaves(i, leaves)]
            for i in rows
        ],
    }


def test_a_served_key_history_is_followed_from_genesis_alone() -> None:
    from ledger.errors import ProofError, SignatureError
    from ledger.log_keys import follow_key_history

    c = Community()
    c.enrol("a")
    at = c.submit(_rotate(c)).index
    c.enrol("b")
    genesis = c.log_signer.verifier().vkey()
    policy = policy_from_genesis(c.state)
    got = follow_key_history(_served(c, NEW), genesis, policy)
    assert got.history == key_history(c.state) and got.old_key_signed == (at,)
    # The checkpoint signed by the old key past the rotation: refused.
    with pytest.raises(SignatureError, match="must be signed by the log key"):
        follow_key_history(_served(c, c.log_signer), genesis, policy)
    # A record that is not the rotation, passed off as one.
    doc = _served(c, NEW)
    import base64

    doc["rotations"][0]["record"] = base64.b64encode(c.records[1]).decode()
    with pytest.raises(SignatureError, match=r"is a member\.enrol"):
        follow_key_history(doc, genesis, policy)
    # A proof that does not hold.
    doc = _served(c, NEW)
    doc["proofs"][0] = doc["proofs"][0][::-1]
    with pytest.raises(ProofError):
        follow_key_history(doc, genesis, policy)
    # From another genesis key: the chain does not start there.
    with pytest.raises(SignatureError, match="rotates away from"):
        follow_key_history(_served(c, NEW), NEW.verifier().vkey(), policy)
