"""Every voting rule: the valid case of each ballot kind, and each way of breaking a rule."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ledger.canonical import canonical_json
from ledger.errors import (
    ConflictError,
    ForbiddenError,
    InputError,
    RuleViolation,
)
from ledger.keys import KeyPair
from ledger.records import parse_record
from ledger.state import State, replay
from rules import community_rules
from tests.factory import Community, key
from voting.rules import close_body, compute_result
from voting.tally import electorate_hash

HOUR = 3600


def yes_no(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "yes_no",
        "title": {"en": "Install solar panels?", "zh": "安装太阳能板？"},
        "text": {"en": "On the roof of Block 2.", "zh": "在2号楼屋顶。"},
        "closes": "2026-11-28T11:00:00Z",
        "quorum": {"votes": 0},
        "passing": "simple_majority",
    }
    return {**body, **over}


def options(*ids: str) -> list[dict[str, Any]]:
    return [{"id": i, "label": {"en": f"Option {i}", "zh": f"选项{i}"}} for i in ids]


def single(**over: Any) -> dict[str, Any]:
    return yes_no(
        **{"kind": "single", "options": options("a", "b", "c"), "passing": "plurality", **over}
    )


def approval(**over: Any) -> dict[str, Any]:
    return yes_no(
        **{"kind": "approval", "options": options("a", "b", "c"), "passing": "plurality", **over}
    )


def budget(**over: Any) -> dict[str, Any]:
    projects = [
        {"id": p, "label": {"en": p}, "cost": {"amount": c, "currency": "EUR"}}
        for p, c in (("garden", 300), ("bikes", 450), ("playground", 800))
    ]
    return yes_no(
        **{
            "kind": "budget",
            "options": projects,
            "budget": {"amount": 1000, "currency": "EUR"},
            "passing": "greedy",
            **over,
        }
    )


class Ballot:
    """A community with residents and one open ballot."""

    def __init__(self, body: dict[str, Any], residents: int = 4, **kw: Any) -> None:
        self.com = Community(**kw)
        self.residents = [self.com.enrol(f"v{i}") for i in range(residents)]
        self.id = str(self.com.do("ballot.open", body, self.com.chair).index)

    def vote(self, who: KeyPair | int, choice: Any) -> int:
        kp = self.residents[who] if isinstance(who, int) else who
        return self.com.do("vote.cast", {"ballot": self.id, "choice": choice}, kp).index

    @property
    def doc(self) -> dict[str, Any]:
        d: dict[str, Any] = self.com.state.peek("ballot", self.id)
        return d

    def close(self, signer: KeyPair | None = None, **over: Any) -> dict[str, Any]:
        self.com.advance(HOUR)
        body = {**close_body(self.com.state, self.id), **over}
        self.com.do("ballot.close", body, signer or self.com.chair)
        res: dict[str, Any] = self.doc["result"]
        return res


# --- opening ----------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [yes_no(), single(), approval(), budget()])
def test_open_each_kind(body: dict[str, Any]) -> None:
    b = Ballot(body)
    d = b.doc
    assert d["id"] == b.id and d["status"] == "open" and d["kind"] == body["kind"]
    assert d["title"]["zh"] == "安装太阳能板？"
    keys = b.com.state.peek("electorate", b.id)
    assert keys == sorted(k.key_id for k in b.residents)
    assert d["electorate_hash"] == electorate_hash(keys) and d["electorate_size"] == 4
    assert d["opens"] == "2026-11-28T10:00:00Z" and d["result"] is None


def test_ballot_id_is_the_record_index() -> None:
    b = Ballot(yes_no())
    assert parse_record(b.com.records[int(b.id)]).envelope["statement"]["type"] == "ballot.open"


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"kind": "ranked"}, "ballot kind"),
        ({"title": {}}, "title must be an object"),
        ({"title": {"English": "x"}}, "language tag"),
        ({"title": {"en": " "}}, "non-empty"),
        ({"title": {"en": "x" * 201}}, "over 200"),
        ({"text": {"zh": "长" * 5001}}, "document store"),
        ({"document": "ABC"}, "SHA-256"),
        ({"options": options("a", "b")}, "fixed options"),
        ({"kind": "single", "options": options("a"), "passing": "plurality"}, "2 to 64 options"),
        ({"kind": "single", "options": options("a", "a"), "passing": "plurality"}, "listed twice"),
        (
            {"kind": "single", "options": options("A", "b"), "passing": "plurality"},
            "options\\[0\\].id",
        ),
        ({"kind": "single", "options": options("a", "b"), "passing": "greedy"}, "does not apply"),
        ({"kind": "budget", "options": options("a"), "passing": "greedy"}, "exactly the fields"),
        ({"budget": {"amount": 5, "currency": "EUR"}}, "only a budget ballot"),
        ({"quorum": {"votes": -1}}, "quorum.votes"),
        ({"quorum": {"percent": 101}}, "quorum.percent"),
        ({"quorum": {"votes": 1, "percent": 1}}, "quorum must be"),
        ({"closes": "tomorrow"}, "RFC 3339"),
        ({"opens": "2026-11-28T12:00:00Z"}, "must be after opens"),
        ({"colour": "red"}, "unexpected \\['colour'\\]"),
    ],
)
def test_open_malformed_is_input_error(change: dict[str, Any], match: str) -> None:
    com = Community()
    com.enrol("a")
    with pytest.raises(InputError, match=match):
        com.do("ballot.open", {**yes_no(), **change}, com.chair)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"budget": {"amount": 1000, "currency": "USD"}}, "budget is in USD"),
        ({"budget": {"amount": 500, "currency": "EUR"}}, "more than the whole budget"),
        ({"budget": {"amount": 1.5, "currency": "EUR"}}, "integer"),
    ],
)
def test_open_budget_malformed(change: dict[str, Any], match: str) -> None:
    com = Community()
    com.enrol("a")
    with pytest.raises(InputError, match=match):
        com.do("ballot.open", {**budget(), **change}, com.chair)


def test_open_needs_committee_by_default() -> None:
    com = Community()
    r = com.enrol("a")
    with pytest.raises(ForbiddenError, match="committee member"):
        com.do("ballot.open", yes_no(), r)


def test_open_by_resident_when_policy_allows_and_opener_manages_it() -> None:
    com = Community(policy={"ballot_openers": "resident"})
    r = com.enrol("a")
    bid = str(com.do("ballot.open", yes_no(), r).index)
    with pytest.raises(ForbiddenError):
        com.do("ballot.open", yes_no(), key("stranger"))
    com.advance(HOUR)
    com.do("ballot.close", close_body(com.state, bid), r)
    assert com.state.peek("ballot", bid)["status"] == "closed"


def test_open_closing_in_the_past_is_conflict() -> None:
    com = Community()
    com.enrol("a")
    com.advance(2 * HOUR)
    with pytest.raises(ConflictError, match="not after the opening time"):
        com.do("ballot.open", yes_no(), com.chair)


def test_open_without_residents_is_conflict() -> None:
    com = Community()
    with pytest.raises(ConflictError, match="no active residents"):
        com.do("ballot.open", yes_no(), com.chair)


def test_policy_minimum_quorum_and_duration() -> None:
    com = Community(policy={"ballot_min_quorum_percent": 50, "ballot_min_duration_seconds": 7200})
    for i in range(5):
        com.enrol(f"r{i}")
    with pytest.raises(RuleViolation, match="at least 7200s"):
        com.do("ballot.open", yes_no(quorum={"percent": 50}), com.chair)
    later = "2026-11-28T13:00:00Z"
    with pytest.raises(RuleViolation, match="at least 50% of the electorate \\(3 of 5"):
        com.do("ballot.open", yes_no(closes=later, quorum={"votes": 2}), com.chair)
    com.do("ballot.open", yes_no(closes=later, quorum={"votes": 3}), com.chair)
    com.do("ballot.open", yes_no(closes=later, quorum={"percent": 60}), com.chair)


def test_electorate_is_frozen_at_opening() -> None:
    b = Ballot(yes_no(), residents=2)
    late = b.com.enrol("late")
    with pytest.raises(ForbiddenError, match=r"not in ballot .* electorate"):
        b.vote(late, "yes")
    # Expired or removed residents are not in a later ballot's electorate.
    b.com.do("member.remove", {"key": b.residents[0].key_id}, b.com.chair)
    b2 = str(b.com.do("ballot.open", yes_no(), b.com.chair).index)
    assert b.com.state.peek("electorate", b2) == sorted([b.residents[1].key_id, late.key_id])


# --- voting -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "choice", "stored"),
    [
        (yes_no(), "abstain", "abstain"),
        (single(), "b", "b"),
        (approval(), ["c", "a"], ["a", "c"]),
        (approval(), [], []),
        (budget(), ["bikes", "garden"], ["garden", "bikes"]),
    ],
)
def test_vote_each_kind(body: dict[str, Any], choice: Any, stored: Any) -> None:
    b = Ballot(body)
    idx = b.vote(0, choice)
    v = b.com.state.peek("vote", f"{b.id}/{b.residents[0].key_id}")
    assert v["index"] == idx and v["choice"] == stored and v["n"] == 1 and v["supersedes"] is None
    assert b.doc["votes_cast"] == 1 and b.doc["turnout"] == 1


def test_revote_last_counts_all_stay_in_log() -> None:
    b = Ballot(yes_no())
    first = b.vote(0, "yes")
    b.vote(1, "no")
    last = b.vote(0, "no")
    v = b.com.state.peek("vote", f"{b.id}/{b.residents[0].key_id}")
    assert v["index"] == last and v["supersedes"] == first and v["n"] == 2
    assert b.doc["votes_cast"] == 3 and b.doc["turnout"] == 2
    types = [parse_record(r).envelope["statement"]["type"] for r in b.com.records]
    assert types.count("vote.cast") == 3
    assert compute_result(b.com.state, b.id)["counts"] == {"yes": 0, "no": 2, "abstain": 0}


@pytest.mark.parametrize(
    ("case", "error", "match"),
    [
        ("no such ballot", ConflictError, "there is no ballot"),
        ("bad ballot id", InputError, "body.ballot"),
        ("extra field", InputError, "unexpected"),
        ("after closing time", ConflictError, "closed at"),
        ("closed ballot", ConflictError, "is closed"),
        ("cancelled ballot", ConflictError, "is cancelled"),
        ("not a resident", ForbiddenError, "not an enrolled resident"),
        ("committee is not a resident", ForbiddenError, "not an enrolled resident"),
        ("removed", ForbiddenError, "is removed"),
        ("unknown option", RuleViolation, "no option 'maybe'"),
        ("wrong shape", InputError, "one option id"),
    ],
)
def test_vote_rejections(case: str, error: type[Exception], match: str) -> None:
    b = Ballot(yes_no())
    body: dict[str, Any] = {"ballot": b.id, "choice": "yes"}
    signer = b.residents[0]
    if case == "no such ballot":
        body["ballot"] = "999"
    elif case == "bad ballot id":
        body["ballot"] = 7
    elif case == "extra field":
        body["weight"] = 2
    elif case == "after closing time":
        b.com.advance(HOUR)
    elif case == "closed ballot":
        b.close()
    elif case == "cancelled ballot":
        b.com.do("ballot.cancel", {"ballot": b.id, "reason": "typo"}, b.com.chair)
    elif case == "not a resident":
        signer = key("outsider")
    elif case == "committee is not a resident":
        signer = b.com.chair
    elif case == "removed":
        b.com.do("member.remove", {"key": signer.key_id}, b.com.chair)
    elif case == "unknown option":
        body["choice"] = "maybe"
    elif case == "wrong shape":
        body["choice"] = ["yes"]
    before = b.com.state.snapshot()
    with pytest.raises(error, match=match):
        b.com.do("vote.cast", body, signer)
    assert b.com.state.snapshot() == before


@pytest.mark.parametrize(
    ("body", "choice", "error", "match"),
    [
        (single(), "d", RuleViolation, "no option 'd'"),
        (single(), None, InputError, "one option id"),
        (approval(), ["a", "a"], RuleViolation, "chosen twice"),
        (approval(), ["a", "z"], RuleViolation, "no option 'z'"),
        (approval(), "a", InputError, "list of option ids"),
        (budget(), ["garden", "bikes", "playground"], RuleViolation, "over the budget"),
        (budget(), ["pool"], RuleViolation, "no option 'pool'"),
    ],
)
def test_choice_rejections(
    body: dict[str, Any], choice: Any, error: type[Exception], match: str
) -> None:
    b = Ballot(body)
    with pytest.raises(error, match=match):
        b.vote(0, choice)


def test_scheduled_ballot_refuses_early_votes() -> None:
    b = Ballot(yes_no(opens="2026-11-28T10:30:00Z"))
    assert b.doc["opens"] == "2026-11-28T10:30:00Z"
    with pytest.raises(ConflictError, match="opens at"):
        b.vote(0, "yes")
    b.com.advance(1800)
    b.vote(0, "yes")


def test_expired_resident_cannot_vote() -> None:
    com = Community()
    kp = key("expiring")
    com.do(
        "member.enrol",
        {"key": kp.key_id, "unit_commitment": "ab" * 32, "expires": "2026-11-28T10:10:00Z"},
        com.chair,
    )
    bid = str(com.do("ballot.open", yes_no(), com.chair).index)
    com.advance(900)
    with pytest.raises(ForbiddenError, match="expired"):
        com.do("vote.cast", {"ballot": bid, "choice": "yes"}, kp)


def test_rotated_key_votes_once_for_its_resident() -> None:
    b = Ballot(yes_no())
    old = b.residents[0]
    b.vote(old, "yes")
    new = key("rotated-new")
    b.com.do("member.rotate", {"old": old.key_id, "new": new.key_id}, old, also=[new])
    with pytest.raises(ForbiddenError, match="is rotated"):
        b.vote(old, "no")
    idx = b.vote(new, "no")
    v = b.com.state.peek("vote", f"{b.id}/{old.key_id}")
    assert v["index"] == idx and v["signer"] == new.key_id and v["n"] == 2
    assert b.doc["turnout"] == 1
    assert b.close()["counts"] == {"yes": 0, "no": 1, "abstain": 0}


def test_vote_of_removed_resident_still_counts() -> None:
    b = Ballot(yes_no())
    b.vote(0, "yes")
    b.com.do("member.remove", {"key": b.residents[0].key_id}, b.com.chair)
    assert b.close()["counts"]["yes"] == 1


# --- closing and cancelling -------------------------------------------------------------------


def test_close_records_the_result() -> None:
    b = Ballot(yes_no(quorum={"percent": 50}))
    b.vote(0, "yes")
    b.vote(1, "yes")
    b.vote(2, "no")
    res = b.close()
    assert res == {
        "counts": {"yes": 2, "no": 1, "abstain": 0},
        "turnout": 3,
        "electorate_size": 4,
        "quorum": {"percent": 50},
        "quorum_met": True,
        "passing": "simple_majority",
        "passed": True,
        "chosen": ["yes"],
    }
    d = b.doc
    assert d["status"] == "closed" and d["closed_at"] == len(b.com.records) - 1


@pytest.mark.parametrize(
    ("body", "votes", "chosen", "extra"),
    [
        (single(), ["a", "b", "a", "c"], ["a"], {}),
        (approval(passing="absolute_majority"), [["a", "b"], ["b"], ["b", "c"], []], ["b"], {}),
        (
            budget(),
            [["garden", "bikes"], ["playground"], ["garden"], ["bikes"]],
            ["garden", "bikes"],
            {"spent": {"amount": 750, "currency": "EUR"}},
        ),
    ],
)
def test_close_each_kind(
    body: dict[str, Any], votes: list[Any], chosen: list[str], extra: dict[str, Any]
) -> None:
    b = Ballot(body)
    for i, c in enumerate(votes):
        b.vote(i, c)
    res = b.close()
    assert res["passed"] and res["chosen"] == chosen and res["turnout"] == 4
    for k, v in extra.items():
        assert res[k] == v


def test_close_refuses_a_wrong_result() -> None:
    b = Ballot(yes_no())
    b.vote(0, "yes")
    b.com.advance(HOUR)
    good = close_body(b.com.state, b.id)
    for change, match in [
        ({"counts": {"yes": 2, "no": 0, "abstain": 0}}, "counts.yes: claimed 2, tallied 1"),
        ({"turnout": 2}, "turnout"),
        ({"passed": False}, "passed"),
        ({"chosen": []}, "chosen"),
        ({"extra": 1}, "extra"),
    ]:
        bad = copy.deepcopy(good)
        bad["result"].update(change)
        with pytest.raises(RuleViolation, match=match):
            b.com.do("ballot.close", bad, b.com.chair)
    with pytest.raises(RuleViolation, match="does not match"):
        b.com.do("ballot.close", {**good, "result": "yes won"}, b.com.chair)
    with pytest.raises(RuleViolation, match="electorate"):
        b.com.do("ballot.close", {**good, "electorate_hash": "00" * 32}, b.com.chair)
    assert b.doc["status"] == "open"
    b.com.do("ballot.close", good, b.com.chair)


def test_close_rejections() -> None:
    b = Ballot(yes_no())
    with pytest.raises(ConflictError, match="closes at"):
        b.com.do("ballot.close", close_body(b.com.state, b.id), b.com.chair)
    b.com.advance(HOUR)
    with pytest.raises(ForbiddenError, match="committee member, its opener or the log key"):
        b.com.do("ballot.close", close_body(b.com.state, b.id), b.residents[0])
    with pytest.raises(InputError, match="missing"):
        b.com.do("ballot.close", {"ballot": b.id}, b.com.chair)
    b.close()
    with pytest.raises(ConflictError, match="is closed"):
        b.com.do("ballot.close", close_body(b.com.state, b.id), b.com.chair)


def test_log_key_may_close() -> None:
    from base64 import b64encode

    from ledger.keys import key_id
    from ledger.statements import make_statement, signing_bytes

    b = Ballot(yes_no())
    b.com.advance(HOUR)
    signer = b.com.log_signer
    st = make_statement(
        b.com.origin,
        "ballot.close",
        close_body(b.com.state, b.id),
        key_id(signer.public_key),
        b.com.now,
    )
    sig = b64encode(signer.sign(signing_bytes(st))).decode()
    b.com.submit({"statement": st, "signatures": [{"key": key_id(signer.public_key), "sig": sig}]})
    assert b.doc["status"] == "closed" and b.doc["closed_by"] == key_id(signer.public_key)


def test_quorum_not_met_does_not_pass() -> None:
    b = Ballot(yes_no(quorum={"percent": 75}))
    b.vote(0, "yes")
    b.vote(1, "yes")
    res = b.close()
    assert not res["quorum_met"] and not res["passed"] and res["chosen"] == []


def test_cancel() -> None:
    b = Ballot(yes_no())
    with pytest.raises(ForbiddenError):
        b.com.do("ballot.cancel", {"ballot": b.id, "reason": "x"}, b.residents[0])
    with pytest.raises(InputError, match="reason"):
        b.com.do("ballot.cancel", {"ballot": b.id, "reason": ""}, b.com.chair)
    b.com.do("ballot.cancel", {"ballot": b.id, "reason": "wrong options"}, b.com.chair)
    assert b.doc["status"] == "cancelled" and b.doc["result"] is None
    b.com.advance(HOUR)
    with pytest.raises(ConflictError, match="is cancelled"):
        b.com.do("ballot.close", close_body(b.com.state, b.id), b.com.chair)


def test_replay_reaches_the_same_state() -> None:
    b = Ballot(budget())
    b.vote(0, ["garden"])
    b.vote(1, ["bikes", "garden"])
    b.vote(0, ["playground"])
    b.close()
    again = replay([parse_record(r) for r in b.com.records], State(community_rules()))
    assert canonical_json(again.snapshot()) == canonical_json(b.com.state.snapshot())
