"""Tally rules: a table of exact cases per passing rule, and property tests."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.records import parse_record
from tests.factory import Community, key
from voting.ballot_records import scan_ballot
from voting.rules import compute_result
from voting.spec import BallotSpec, Choice, Quorum, check_choice
from voting.tally import VoteEvent, electorate_hash, last_votes, tally

YN = ("yes", "no", "abstain")
ABC = ("a", "b", "c")


def spec(kind: str, passing: str, quorum: Quorum | None = None) -> BallotSpec:
    q = quorum or Quorum(votes=0)
    if kind == "yes_no":
        return BallotSpec(kind, YN, passing, q)
    if kind == "budget":
        return BallotSpec(kind, ABC, passing, q, costs=(500, 300, 400), budget=800, currency="EUR")
    return BallotSpec(kind, ABC, passing, q)


@pytest.mark.parametrize(
    ("kind", "passing", "choices", "chosen"),
    [
        ("yes_no", "simple_majority", ["yes", "no", "abstain", "abstain"], []),  # tie
        ("yes_no", "simple_majority", ["yes", "abstain", "abstain"], ["yes"]),
        ("yes_no", "absolute_majority", ["yes", "abstain", "abstain"], []),
        ("yes_no", "absolute_majority", ["yes", "yes", "no"], ["yes"]),
        ("yes_no", "two_thirds", ["yes", "yes", "no"], ["yes"]),
        ("yes_no", "two_thirds", ["yes", "yes", "no", "no"], []),
        ("yes_no", "two_thirds", ["abstain"], []),
        ("single", "plurality", ["a", "b", "a"], ["a"]),
        ("single", "plurality", ["a", "b"], []),  # tie: no winner
        ("single", "absolute_majority", ["a", "a", "b", "c"], []),
        ("single", "absolute_majority", ["a", "a", "b"], ["a"]),
        ("single", "two_thirds", ["a", "a", "b"], ["a"]),
        ("single", "two_thirds", ["a", "a", "b", "c"], []),
        ("approval", "plurality", [["a", "b"], ["b"]], ["b"]),
        ("approval", "plurality", [["a", "b"], []], []),
        ("approval", "absolute_majority", [["a", "b"], ["b", "c"], ["a"]], ["a", "b"]),
        ("approval", "absolute_majority", [[], []], []),
        # budget 800; costs a 500, b 300, c 400. Votes a 2, b 1, c 1: a, then b fits, c not.
        ("budget", "greedy", [["a"], ["a", "b"], ["c"]], ["a", "b"]),
        # equal votes: cheaper first: b (300), c (400); a no longer fits.
        ("budget", "greedy", [["a", "b"], ["c", "b"], ["a", "c"]], ["b", "c"]),
        ("budget", "greedy", [[]], []),
    ],
)
def test_passing_rules(kind: str, passing: str, choices: list[Choice], chosen: list[str]) -> None:
    r = tally(spec(kind, passing), choices, 10)
    assert r["chosen"] == chosen and r["passed"] == bool(chosen)
    assert r["turnout"] == len(choices)


def test_quorum_percent_rounds_up_in_integers() -> None:
    q = Quorum(percent=30)
    assert q.min_votes(10) == 3 and q.min_votes(11) == 4 and q.min_votes(0) == 0
    r = tally(spec("yes_no", "simple_majority", q), ["yes"] * 3, 11)
    assert not r["quorum_met"] and not r["passed"] and r["chosen"] == []


def test_budget_result_lists_spending() -> None:
    r = tally(spec("budget", "greedy"), [["a", "b"]], 3)
    # equal votes: the cheaper project is picked first, and chosen keeps the picking order
    assert r["spent"] == {"amount": 800, "currency": "EUR"} and r["chosen"] == ["b", "a"]


def test_electorate_hash_is_sha256_of_jcs_sorted() -> None:
    import hashlib
    import json

    keys = ["ed25519:b", "ed25519:a"]
    want = hashlib.sha256(json.dumps(sorted(keys), separators=(",", ":")).encode()).hexdigest()
    assert electorate_hash(keys) == want


# --- properties -------------------------------------------------------------------------------

KINDS = [
    ("yes_no", "simple_majority"),
    ("yes_no", "two_thirds"),
    ("single", "plurality"),
    ("single", "absolute_majority"),
    ("approval", "plurality"),
    ("approval", "absolute_majority"),
    ("budget", "greedy"),
]


@st.composite
def ballots(draw: st.DrawFn) -> tuple[BallotSpec, list[Choice]]:
    kind, passing = draw(st.sampled_from(KINDS))
    sp = spec(kind, passing, Quorum(votes=draw(st.integers(0, 5))))
    choices: list[Choice]
    if kind in ("yes_no", "single"):
        choices = list(draw(st.lists(st.sampled_from(sp.options), max_size=30)))
    else:
        subsets = st.lists(st.sampled_from(sp.options), unique=True).map(
            lambda c: [o for o in sp.options if o in c]
        )
        if kind == "budget":
            subsets = subsets.filter(lambda c: sum(sp.cost_of(o) for o in c) <= 800)
        choices = list(draw(st.lists(subsets, max_size=30)))
    return sp, choices


@given(ballots(), st.randoms(use_true_random=False))
def test_tally_is_independent_of_order(b: tuple[BallotSpec, list[Choice]], rnd: Any) -> None:
    sp, choices = b
    shuffled = list(choices)
    rnd.shuffle(shuffled)
    assert tally(sp, choices, 40) == tally(sp, shuffled, 40)


@given(ballots())
def test_counts_and_turnout_agree(b: tuple[BallotSpec, list[Choice]]) -> None:
    sp, choices = b
    r = tally(sp, choices, 40)
    assert r["turnout"] == len(choices)
    total = sum(r["counts"].values())
    if sp.kind in ("yes_no", "single"):
        assert total == r["turnout"]
    else:
        assert total == sum(len(c) for c in choices) <= r["turnout"] * len(sp.options)
    assert r["passed"] == (r["quorum_met"] and bool(r["chosen"]))
    assert set(r["chosen"]) <= set(sp.options)
    if sp.kind == "budget":
        assert r["spent"]["amount"] <= 800
        assert all(r["counts"][o] > 0 for o in r["chosen"])
    if sp.kind in ("single", "yes_no"):
        assert len(r["chosen"]) <= 1


@given(
    st.lists(
        st.tuples(st.sampled_from(["k1", "k2", "k3", "k4"]), st.sampled_from(YN)),
        max_size=25,
    ),
    st.randoms(use_true_random=False),
)
def test_last_vote_per_resident_whatever_the_order(events: list[tuple[str, str]], rnd: Any) -> None:
    evs = [VoteEvent(voter, i, c, voter) for i, (voter, c) in enumerate(events)]
    shuffled = list(evs)
    rnd.shuffle(shuffled)
    got = last_votes(shuffled)
    assert got == last_votes(evs)
    for voter, ev in got.items():
        assert ev.index == max(e.index for e in evs if e.voter == voter)
    sp = spec("yes_no", "simple_majority")
    r = tally(sp, [e.choice for e in got.values()], 4)
    assert r["turnout"] == len({v for v, _ in events})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from(["garden", "bikes", "lights", "none"])),
        max_size=12,
    ),
    st.booleans(),
)
def test_state_tally_equals_tally_from_records(votes: list[tuple[int, str]], rotate: bool) -> None:
    """The handler's tally (from the state) and the verifier's (from the records) agree."""
    com = Community()
    people = [com.enrol(f"p{i}") for i in range(4)]
    projects = [
        {"id": p, "label": {"en": p}, "cost": {"amount": c, "currency": "EUR"}}
        for p, c in (("garden", 3), ("bikes", 4), ("lights", 5))
    ]
    body = {
        "kind": "budget",
        "title": {"en": "PB"},
        "options": projects,
        "budget": {"amount": 8, "currency": "EUR"},
        "closes": "2026-11-28T11:00:00Z",
        "quorum": {"votes": 1},
        "passing": "greedy",
    }
    bid = str(com.do("ballot.open", body, com.chair).index)
    sp = scan_ballot(bid, [parse_record(r) for r in com.records[int(bid) :]]).spec
    for n, (who, pick) in enumerate(votes):
        if rotate and n == len(votes) // 2:
            new = key(f"p{who}-new")
            com.do(
                "member.rotate",
                {"old": people[who].key_id, "new": new.key_id},
                people[who],
                also=[new],
            )
            people[who] = new
        choice = [] if pick == "none" else [pick]
        check_choice(sp, choice)
        com.do("vote.cast", {"ballot": bid, "choice": choice}, people[who])
    history = scan_ballot(bid, [parse_record(r) for r in com.records[int(bid) :]])
    assert history.recompute(4) == compute_result(com.state, bid)
