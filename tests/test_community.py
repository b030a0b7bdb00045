"""Every community rule: the valid case, and each way of breaking it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.community import commitment, genesis_envelope
from ledger.errors import (
    CivicError,
    ConflictError,
    ForbiddenError,
    InputError,
    RuleViolation,
    SignatureError,
)
from ledger.records import parse_record
from ledger.state import State, replay
from ledger.statements import parse_envelope
from rules import community_rules
from tests.factory import ORIGIN, Community, key

C = commitment("Block 3, Flat 12", b"0123456789abcdef")


@pytest.fixture
def com() -> Community:
    return Community()


def test_genesis_state(com: Community) -> None:
    g = com.state.peek("community", "genesis")
    assert g["origin"] == ORIGIN
    assert g["genesis_hash"] == com.state.head
    assert set(com.state.rows("committee")) == {k.key_id for k in com.committee}
    assert com.state.peek("policy", "current")["version"] == 1


def test_genesis_needs_every_founder_and_log_key() -> None:
    com = Community()
    env = parse_envelope(genesis_envelope(ORIGIN, com.log_signer, com.committee))
    assert len(env.signers) == 4
    # Dropping any one signature makes genesis invalid.
    for drop in range(1, 4):
        raw = genesis_envelope(ORIGIN, com.log_signer, com.committee, created=com.now)
        del raw["signatures"][drop]
        fresh = Community.__new__(Community)
        fresh.__dict__.update(com.__dict__, state=State(community_rules()), records=[])
        with pytest.raises(ForbiddenError, match="genesis must be signed"):
            fresh.submit(raw)


def test_second_genesis_refused(com: Community) -> None:
    from ledger.community import genesis_envelope

    with pytest.raises(RuleViolation):
        com.submit(genesis_envelope(ORIGIN, com.log_signer, com.committee, created=com.now))


def test_enrol_valid(com: Community) -> None:
    r = key("r1")
    ctx = com.do("member.enrol", {"key": r.key_id, "unit_commitment": C}, com.chair)
    m = com.state.peek("member", r.key_id)
    assert m["status"] == "active" and m["enrolled_at"] == ctx.index and m["unit_commitment"] == C


@pytest.mark.parametrize(
    ("case", "error"),
    [
        ("not committee", ForbiddenError),
        ("already enrolled", ConflictError),
        ("unit in clear", InputError),
        ("bad key id", InputError),
        ("extra field", InputError),
        ("expired", RuleViolation),
        ("wrong community", RuleViolation),
        ("stale", ConflictError),
        ("future", ConflictError),
        ("replay", ConflictError),
    ],
)
def test_enrol_rejections(com: Community, case: str, error: type[CivicError]) -> None:
    r = key("r1")
    body: dict[str, Any] = {"key": r.key_id, "unit_commitment": C}
    signer, kw = com.chair, {}
    if case == "not committee":
        signer = com.enrol("x")
    elif case == "already enrolled":
        com.do("member.enrol", body, com.chair)
    elif case == "unit in clear":
        body["unit_commitment"] = "Block 3, Flat 12"
    elif case == "bad key id":
        body["key"] = "alice"
    elif case == "extra field":
        body["unit"] = "Block 3"
    elif case == "expired":
        body["expires"] = "2020-01-01T00:00:00Z"
    elif case == "wrong community":
        kw = {"community": "civic.example/elsewhere"}
    elif case == "stale":
        kw = {"created": com.now.replace(hour=com.now.hour - 1)}
    elif case == "future":
        kw = {"created": com.now.replace(hour=com.now.hour + 1)}
    env = com.envelope("member.enrol", body, signer, **kw)
    if case == "replay":
        com.submit(env)
    before = com.state.snapshot()
    with pytest.raises(error):
        com.submit(env)
    assert com.state.snapshot() == before, "a rejected statement changed the state"


def test_forged_and_malformed_envelopes(com: Community) -> None:
    env = com.envelope("member.enrol", {"key": key("r").key_id, "unit_commitment": C}, com.chair)
    forged = copy.deepcopy(env)
    forged["statement"]["body"]["key"] = key("mallory").key_id
    with pytest.raises(SignatureError):
        com.submit(forged)
    wrong_key = copy.deepcopy(env)
    wrong_key["signatures"][0]["key"] = com.committee[1].key_id
    wrong_key["statement"]["signer"] = com.committee[1].key_id
    with pytest.raises(SignatureError):
        com.submit(wrong_key)
    for mutate in (
        lambda e: e.pop("signatures"),
        lambda e: e["statement"].pop("nonce"),
        lambda e: e["statement"].update(v=2),
        lambda e: e["statement"].update(nonce="short"),
        lambda e: e["statement"].update(created="yesterday"),
        lambda e: e.update(signatures=[]),
        lambda e: e["signatures"].append(dict(e["signatures"][0])),
        lambda e: e["signatures"][0].update(sig="AAAA"),
        lambda e: e["statement"].update(body=[]),
    ):
        bad = copy.deepcopy(env)
        mutate(bad)
        with pytest.raises(InputError):
            com.submit(bad)
    unknown = com.envelope("member.teleport", {}, com.chair)
    with pytest.raises(InputError, match="unknown statement type"):
        com.submit(unknown)


def test_remove_and_reenrol(com: Community) -> None:
    r = com.enrol("a")
    with pytest.raises(ForbiddenError):
        com.do("member.remove", {"key": r.key_id}, r)
    com.do("member.remove", {"key": r.key_id, "reason": "moved out"}, com.chair)
    assert com.state.peek("member", r.key_id)["status"] == "removed"
    with pytest.raises(ConflictError):
        com.do("member.remove", {"key": r.key_id}, com.chair)
    com.do("member.enrol", {"key": r.key_id, "unit_commitment": C}, com.chair)
    assert com.state.peek("member", r.key_id)["status"] == "active"


def test_rotation(com: Community) -> None:
    old = com.enrol("a")
    new = key("a-new")
    with pytest.raises(ForbiddenError):  # new key did not sign
        com.do("member.rotate", {"old": old.key_id, "new": new.key_id}, old)
    with pytest.raises(ForbiddenError):  # signer must be the old key
        com.do("member.rotate", {"old": old.key_id, "new": new.key_id}, new, also=[old])
    com.do("member.rotate", {"old": old.key_id, "new": new.key_id}, old, also=[new])
    assert com.state.peek("member", old.key_id)["status"] == "rotated"
    assert com.state.peek("member", new.key_id)["rotated_from"] == old.key_id
    with pytest.raises(ConflictError):  # old key is gone
        com.do("member.rotate", {"old": old.key_id, "new": key("z").key_id}, old, also=[key("z")])
    with pytest.raises(ConflictError):  # a rotated key cannot come back
        com.do("member.enrol", {"key": old.key_id, "unit_commitment": C}, com.chair)


def test_committee_changes_need_quorum(com: Community) -> None:
    newcomer = key("newcomer")
    a, b, c = com.committee
    with pytest.raises(ForbiddenError, match="needs signatures of 2"):
        com.do("committee.add", {"key": newcomer.key_id}, a)
    outsider = key("outsider")
    with pytest.raises(ForbiddenError):  # outsider signatures do not count
        com.do("committee.add", {"key": newcomer.key_id}, a, also=[outsider])
    com.do("committee.add", {"key": newcomer.key_id}, a, also=[b])
    assert newcomer.key_id in com.state.rows("committee")
    with pytest.raises(ConflictError):
        com.do("committee.add", {"key": newcomer.key_id}, a, also=[b, c])
    # Now 4 members: a majority is 3.
    with pytest.raises(ForbiddenError, match="needs signatures of 3"):
        com.do("committee.remove", {"key": c.key_id}, a, also=[b])
    com.do("committee.remove", {"key": c.key_id}, a, also=[b, newcomer])
    assert c.key_id not in com.state.rows("committee")
    with pytest.raises(ForbiddenError):  # a removed member can no longer enrol residents
        com.do("member.enrol", {"key": key("r").key_id, "unit_commitment": C}, c)


def test_last_committee_member_stays() -> None:
    com = Community(committee=1)
    with pytest.raises(RuleViolation, match="last member"):
        com.do("committee.remove", {"key": com.chair.key_id}, com.chair)


def test_policy_and_witness_changes(com: Community) -> None:
    a, b, _ = com.committee
    with pytest.raises(ForbiddenError):
        com.do("policy.set", {"policy": {"committee_quorum": 3}}, a)
    with pytest.raises(InputError):
        com.do("policy.set", {"policy": {"statement_window_seconds": 1}}, a, also=[b])
    com.do("policy.set", {"policy": {"committee_quorum": 3}}, a, also=[b])
    pol = com.state.peek("policy", "current")
    assert pol["committee_quorum"] == 3 and pol["version"] == 2
    with pytest.raises(ForbiddenError, match="needs signatures of 3"):
        com.do("witnesses.set", {"witnesses": [], "quorum": 0}, a, also=[b])
    from ledger.c2sp.cosignature import cosigner_from_seed

    w = cosigner_from_seed("witness.example/w1", b"w" * 32).verifier().vkey()
    ws = [{"name": "witness.example/w1", "vkey": w, "url": "http://127.0.0.1:1"}]
    with pytest.raises(InputError):
        com.do("witnesses.set", {"witnesses": ws, "quorum": 2}, a, also=com.committee[1:])
    com.do("witnesses.set", {"witnesses": ws, "quorum": 1}, a, also=com.committee[1:])
    assert com.state.peek("witnesses", "current")["quorum"] == 1


def test_expiry_makes_resident_inactive(com: Community) -> None:
    from datetime import timedelta

    from ledger.community import is_active_resident
    from ledger.records import format_time

    r = key("temp")
    expires = format_time(com.now + timedelta(days=1))
    com.do("member.enrol", {"key": r.key_id, "unit_commitment": C, "expires": expires}, com.chair)
    assert is_active_resident(com.state, r.key_id, com.now)
    assert not is_active_resident(com.state, r.key_id, com.now + timedelta(days=2))


def test_replay_reproduces_state(com: Community) -> None:
    for i in range(5):
        com.enrol(str(i))
    com.do("member.remove", {"key": key("resident-2").key_id}, com.chair)
    again = replay([parse_record(r) for r in com.records], State(community_rules()))
    assert again.snapshot() == com.state.snapshot()
    assert (again.size, again.head) == (com.state.size, com.state.head)


def test_replay_names_the_bad_record(com: Community) -> None:
    com.enrol("a")
    recs = [parse_record(r) for r in com.records]
    tampered = recs[1].raw.replace(b'"member.enrol"', b'"member.remove"')
    from ledger.records import Record

    bad = Record(1, recs[1].prev, recs[1].time, parse_record(tampered).envelope, tampered)
    with pytest.raises(SignatureError, match="record 1"):
        replay([recs[0], bad], State(community_rules()))


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["enrol", "remove", "rotate", "junk"]), st.integers(0, 5)),
        max_size=25,
    )
)
def test_random_sequences_keep_replay_equal(ops: list[tuple[str, int]]) -> None:
    com = Community()
    for op, n in ops:
        r = key(f"resident-{n}")
        try:
            if op == "enrol":
                com.do("member.enrol", {"key": r.key_id, "unit_commitment": C}, com.chair)
            elif op == "remove":
                com.do("member.remove", {"key": r.key_id}, com.chair)
            elif op == "rotate":
                new = key(f"resident-{n}-rot-{com.counter}")
                com.do("member.rotate", {"old": r.key_id, "new": new.key_id}, r, also=[new])
            else:
                com.do("member.enrol", {"key": "junk", "unit_commitment": C}, com.chair)
        except CivicError:
            pass
        active = [m for m in com.state.rows("member").values() if m["status"] == "active"]
        assert len({m["key"] for m in active}) == len(active)
    again = replay([parse_record(r) for r in com.records], State(community_rules()))
    assert again.snapshot() == com.state.snapshot()


def test_layer_policy_keys_are_checked_when_set(com: Community) -> None:
    # funds registers a validator: a malformed funds key is refused by policy.set itself.
    a, b, _ = com.committee
    with pytest.raises(InputError, match="funds_currencies"):
        com.do("policy.set", {"policy": {"funds_currencies": ["euro"]}}, a, also=[b])
    com.do("policy.set", {"policy": {"funds_currencies": ["EUR", "CHF"]}}, a, also=[b])
