"""Data-quality warnings: each one found on a state that deserves it, none on a plain one."""

from __future__ import annotations

from audits.findings import Severity
from audits.verify import check_entry, replay_checked
from audits.warnings import MANY_APPROVALS, WarningCollector
from ledger import merkle
from ledger.state import State
from rules import community_rules
from tests.factory import Community
from tests.support.funds import Funds
from tests.test_voting_rules import Ballot, yes_no


def warnings_of(records: list[bytes]) -> list[str]:
    """Replay ``records`` as the audit does and return the warning codes."""
    state, collector = State(community_rules()), WarningCollector()
    for i, data in enumerate(records):
        rec = check_entry(data, i)
        assert replay_checked(state, rec, merkle.leaf_hash(data).hex()) == []
        collector.observe(rec, state)
    found = collector.finish(state)
    assert all(f.severity == Severity.WARNING for f in found)
    return [f.code for f in found]


def test_a_plain_community_only_lacks_witnesses() -> None:
    com = Community()
    com.enrol("a")
    assert warnings_of(com.records) == ["warn.unwitnessed_policy"]


def test_time_going_backwards() -> None:
    com = Community()
    com.enrol("a")
    com.advance(-60)
    com.enrol("b")
    codes = warnings_of(com.records)
    assert "warn.time_backwards" in codes


def test_payment_without_a_public_document() -> None:
    f = Funds().setup()
    secret = f.doc(public=False)
    eid = f.request(documents=[secret])
    f.approve(eid, f.a, f.b)
    f.pay(eid)
    public = f.request()
    f.approve(public, f.a, f.b)
    f.pay(public)
    codes = warnings_of(f.com.records)
    assert codes.count("warn.payment_without_document") == 1


def test_one_member_approving_many_expenses_of_one_payee() -> None:
    f = Funds().setup()
    f.budget(5_000_000)
    for _ in range(MANY_APPROVALS):
        f.approve(f.request(1_000), f.a, f.b)
    codes = warnings_of(f.com.records)
    assert codes.count("warn.approver_payee_concentration") == 2  # a and b each


def test_spending_spike_against_earlier_periods() -> None:
    f = Funds().setup()
    for year, amount in (("2023", 10_000), ("2024", 12_000), ("2025", 90_000)):
        body = {"period": year, "category": "gardening", "amount": 100_000, "currency": "EUR"}
        f.do("funds.budget.set", body, f.a, f.b, f.c)
        eid = f.request(amount, budget_line=f"{year}/gardening")
        f.approve(eid, f.a, f.b)
        f.pay(eid)
    codes = warnings_of(f.com.records)
    assert codes.count("warn.spending_spike") == 1


def test_ballot_closed_under_its_quorum() -> None:
    b = Ballot(yes_no(quorum={"votes": 3}))
    b.vote(0, "yes")
    b.close()
    assert "warn.turnout_below_quorum" in warnings_of(b.com.records)
    ok = Ballot(yes_no(quorum={"votes": 1}))
    ok.vote(0, "yes")
    ok.close()
    assert "warn.turnout_below_quorum" not in warnings_of(ok.com.records)
