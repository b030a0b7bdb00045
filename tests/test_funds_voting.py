"""A threshold expense authorised by a real ballot: ballot.open, vote.cast, ballot.close.

Goes through the voting module's own statements (no state shortcut), so it checks the
contract between the two layers: ``ballot/<id>`` with ``status`` and ``result.passed``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from funds.ledger_math import check_invariants
from ledger.errors import RuleViolation
from ledger.records import format_time, parse_record
from ledger.state import State, replay
from rules import community_rules
from tests.support.funds import Funds
from voting.rules import close_body


def _ballot(f: Funds, votes: dict[str, str]) -> str:
    """Open a yes/no ballot, cast ``votes`` (resident label → choice), close it; its id."""
    residents = {name: f.com.enrol(name) for name in votes}
    body = {
        "kind": "yes_no",
        "title": {"en": "Replace the roof of the bin shelter for 2,000.00 EUR?"},
        "closes": format_time(f.com.now + timedelta(days=1)),
        "quorum": {"votes": 2},
        "passing": "simple_majority",
    }
    bid = str(f.do("ballot.open", body, f.a).index)
    for name, choice in votes.items():
        f.do("vote.cast", {"ballot": bid, "choice": choice}, residents[name])
    f.com.advance(86400 + 1)
    f.do("ballot.close", close_body(f.state, bid), f.a)
    assert f.state.peek("ballot", bid)["status"] == "closed"
    return bid


def test_threshold_expense_with_a_real_ballot() -> None:
    f = Funds(policy={"funds_ballot_threshold": 100_000}).setup()
    eid = f.request(200_000)
    with pytest.raises(RuleViolation, match="needs a passed ballot"):
        f.approve(eid, f.a, f.b)
    failed = _ballot(f, {"eli": "no", "fatima": "no", "gus": "yes"})
    assert f.state.peek("ballot", failed)["result"]["passed"] is False
    with pytest.raises(RuleViolation, match="did not pass"):
        f.approve(eid, f.a, f.b, ballot=failed)
    passed = _ballot(f, {"hana": "yes", "ivan": "yes", "jo": "no"})
    assert f.state.peek("ballot", passed)["result"]["passed"] is True
    f.approve(eid, f.a, f.b, ballot=passed)
    f.pay(eid, f.c)
    e = f.state.peek("funds_expense", eid)
    assert (e["status"], e["ballot"]) == ("paid", passed)
    assert check_invariants(f.state) == []
    again = replay([parse_record(r) for r in f.com.records], State(community_rules()))
    assert again.snapshot() == f.state.snapshot()
