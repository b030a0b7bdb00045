"""Every funds rule: the valid workflow, and each way of breaking it (state unchanged)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from funds.ledger_math import check_invariants
from funds.model import FUNDS_POLICY_DEFAULTS, format_money, funds_policy, parse_money
from funds.views import accounts_view, budget_view, expenses_view, payees_view
from ledger.errors import (
    CivicError,
    ConflictError,
    ForbiddenError,
    InputError,
    RuleViolation,
)
from ledger.records import parse_record
from ledger.state import State, replay
from rules import community_rules
from tests.factory import key
from tests.support.funds import PERIOD, Funds

UNPUBLISHED = "ab" * 32


@pytest.fixture
def f() -> Funds:
    return Funds().setup()


def sound(f: Funds) -> None:
    """Invariants hold and a replay of the records gives the same state."""
    assert check_invariants(f.state) == []
    again = replay([parse_record(r) for r in f.com.records], State(community_rules()))
    assert again.snapshot() == f.state.snapshot()


# --- the valid workflow -------------------------------------------------------------------


def test_request_approve_pay(f: Funds) -> None:
    eid = f.request(45_000)
    e = f.state.peek("funds_expense", eid)
    assert e["status"] == "requested" and e["approvals_needed"] == 1 and e["id"] == eid
    appr = f.approve(eid, f.a)
    e = f.state.peek("funds_expense", eid)
    assert e["status"] == "approved"
    assert e["approvals"] == [
        {"by": f.a.key_id, "index": appr.index, "policy_version": 1, "time": appr.time_text}
    ]
    assert f.line()["committed"] == 45_000
    paid = f.pay(eid, f.c)
    e = f.state.peek("funds_expense", eid)
    assert e["status"] == "paid" and e["payment"]["transaction"] == str(paid.index)
    assert f.balance() == 1_000_000 - 45_000
    assert f.line()["committed"] == 0 and f.line()["spent"] == 45_000
    tx = f.state.peek("funds_tx", str(paid.index))
    assert tx["leaf_hash"] == paid.leaf_hash and tx["kind"] == "payment"
    assert sorted(p["amount"] for p in tx["postings"]) == [-45_000, 45_000]
    assert [h["type"] for h in e["history"]] == [
        "funds.expense.request",
        "funds.expense.approve",
        "funds.expense.pay",
    ]
    assert [h["index"] for h in e["history"]] == [int(eid), appr.index, paid.index]
    assert f.state.peek("funds_account", "expense:gardening")["balances"] == {"EUR": 45_000}
    sound(f)


def test_two_approvals_in_one_envelope_or_two(f: Funds) -> None:
    big = f.request(150_000)
    assert f.state.peek("funds_expense", big)["approvals_needed"] == 2
    f.approve(big, f.a, f.b)  # M-of-N in one envelope
    assert f.state.peek("funds_expense", big)["status"] == "approved"
    other = f.request(120_000)
    f.approve(other, f.a)
    assert f.state.peek("funds_expense", other)["status"] == "requested"
    f.approve(other, f.b)
    assert f.state.peek("funds_expense", other)["status"] == "approved"
    f.pay(big, f.c)
    sound(f)


def test_policy_version_is_frozen_into_each_approval(f: Funds) -> None:
    eid = f.request(150_000)
    f.approve(eid, f.a)
    f.do("policy.set", {"policy": {"statement_window_seconds": 600}}, f.a, f.b)
    with pytest.raises(ConflictError, match="version 2"):
        f.do("funds.expense.approve", {"expense": eid, "policy_version": 1}, f.b)
    f.approve(eid, f.b)
    versions = [a["policy_version"] for a in f.state.peek("funds_expense", eid)["approvals"]]
    assert versions == [1, 2]
    sound(f)


def test_bands_follow_the_policy() -> None:
    bands = [
        {"up_to": 10_000, "approvals": 1},
        {"up_to": 100_000, "approvals": 2},
        {"up_to": None, "approvals": 3},
    ]
    f = Funds(policy={"funds_approval_bands": bands}, committee=4).setup()
    assert [
        f.state.peek("funds_expense", f.request(n))["approvals_needed"]
        for n in (10_000, 10_001, 100_001)
    ] == [1, 2, 3]
    d = f.com.committee[3]
    eid = f.request(100_001)
    f.approve(eid, f.a, f.b, f.c)
    f.pay(eid, d)
    sound(f)


def test_threshold_expense_needs_a_passed_ballot() -> None:
    f = Funds(policy={"funds_ballot_threshold": 100_000}).setup()
    eid = f.request(200_000, ballot="7")
    f.approve(eid, f.a)
    with pytest.raises(RuleViolation, match="ballot 7 does not exist"):
        f.approve(eid, f.b)
    f.state.put("ballot", "7", {"status": "open", "result": None})
    with pytest.raises(RuleViolation, match="not closed"):
        f.approve(eid, f.b)
    f.state.put("ballot", "7", {"status": "closed", "result": {"passed": False}})
    with pytest.raises(RuleViolation, match="did not pass"):
        f.approve(eid, f.b)
    f.state.put("ballot", "7", {"status": "closed", "result": {"passed": True}})
    f.approve(eid, f.b)
    assert f.state.peek("funds_expense", eid)["status"] == "approved"
    assert f.state.peek("funds_ballot_use", "7") == eid
    # The same ballot cannot authorise a second expense.
    other = f.request(150_000, ballot="7")
    f.approve(other, f.a)
    with pytest.raises(ConflictError, match="already authorised"):
        f.approve(other, f.b)
    f.pay(eid, f.c)
    assert check_invariants(f.state) == []


def test_ballot_can_be_named_at_approval() -> None:
    f = Funds(policy={"funds_ballot_threshold": 100_000}).setup()
    f.state.put("ballot", "9", {"status": "closed", "result": {"passed": True, "yes": 40}})
    eid = f.request(200_000)
    with pytest.raises(RuleViolation, match="needs a passed ballot"):
        f.approve(eid, f.a, f.b)
    f.approve(eid, f.a, f.b, ballot="9")
    assert f.state.peek("funds_expense", eid)["ballot"] == "9"


def test_reject_withdraw_expire_release_the_budget(f: Funds) -> None:
    a = f.request(100_000)
    f.approve(a, f.a)
    assert f.line()["committed"] == 100_000
    f.do("funds.expense.reject", {"expense": a, "reason": "too expensive"}, f.b)
    b = f.request(50_000)
    f.approve(b, f.b)
    f.do("funds.expense.withdraw", {"expense": b, "reason": "not needed"}, f.resident)
    c = f.request(60_000)
    f.approve(c, f.a)
    with pytest.raises(ConflictError, match="does not expire before"):
        f.do("funds.expense.expire", {"expense": c}, f.b)
    f.com.advance(91 * 86400)
    with pytest.raises(ConflictError, match="expired"):
        f.pay(c, f.c)
    f.do("funds.expense.expire", {"expense": c}, f.b)
    statuses = [f.state.peek("funds_expense", x)["status"] for x in (a, b, c)]
    assert statuses == ["rejected", "withdrawn", "expired"]
    assert f.line()["committed"] == 0 and f.line()["spent"] == 0
    assert expenses_view(f.state, status="rejected")["count"] == 1
    sound(f)


def test_reversal_of_a_payment(f: Funds) -> None:
    eid = f.request(45_000)
    f.approve(eid, f.a)
    paid = f.pay(eid, f.c)
    with pytest.raises(ForbiddenError, match="needs signatures of 2"):
        f.do("funds.transaction.reverse", {"transaction": str(paid.index), "reason": "refund"}, f.a)
    rev = f.do(
        "funds.transaction.reverse",
        {"transaction": str(paid.index), "reason": "refunded, hedge not trimmed"},
        f.a,
        f.b,
    )
    assert f.state.peek("funds_expense", eid)["status"] == "reversed"
    assert f.balance() == 1_000_000 and f.line()["spent"] == 0
    assert f.state.peek("funds_tx", str(paid.index))["reversed_by"] == str(rev.index)
    assert f.state.peek("funds_tx", str(rev.index))["reverses"] == str(paid.index)
    sound(f)


def test_transfer_and_income_rules(f: Funds) -> None:
    other = f.open_account("donations")
    f.do(
        "funds.transfer",
        {"from": f.account, "to": other, "amount": 250_000, "currency": "EUR", "description": "x"},
        f.a,
        f.b,
    )
    assert f.balance() == 750_000 and f.balance(other) == 250_000
    assert accounts_view(f.state)["totals"] == {"EUR": 1_000_000}
    sound(f)


def test_income_by_quorum_when_the_policy_says_so() -> None:
    g = Funds(policy={"funds_income_recorders": "quorum"})
    g.invoice = g.doc()
    g.account = g.open_account()
    with pytest.raises(ForbiddenError, match="needs signatures of 2"):
        g.income(1000)
    body = {
        "account": g.account,
        "amount": 1000,
        "currency": "EUR",
        "source": "grant",
        "description": "city grant",
        "documents": [g.invoice],
    }
    g.do("funds.income", body, g.a, g.b)
    assert g.balance() == 1000
    assert g.state.peek("funds_account", "income:grant")["balances"] == {"EUR": -1000}


def test_allow_negative_account(f: Funds) -> None:
    overdraft = f.open_account("float", allow_negative=True)
    eid = f.request(45_000)
    f.approve(eid, f.a)
    f.pay(eid, f.c, account=overdraft)
    assert f.balance(overdraft) == -45_000
    sound(f)


def test_private_payee_keeps_a_stable_label(f: Funds) -> None:
    first = f.request(10_000, payee=None, **f.private_payee("Jane Doe", b"s" * 16))
    second = f.request(12_000, payee=None, **f.private_payee("Jane Doe", b"t" * 16))
    for eid in (first, second):
        f.approve(eid, f.a)
        f.pay(eid, f.c)
    e1, e2 = (f.state.peek("funds_expense", x) for x in (first, second))
    assert e1["payee_label"] == e2["payee_label"] and e1["payee"] is None
    assert e1["payee_commitment"] != e2["payee_commitment"]
    p = next(p for p in payees_view(f.state)["payees"] if p["private"])
    assert (p["payments"], p["paid"]) == (2, {"EUR": 22_000})
    assert "Jane" not in str(f.state.snapshot())
    sound(f)


def test_budget_view_and_revision(f: Funds) -> None:
    eid = f.request(45_000)
    f.request(5_000)
    f.approve(eid, f.a)
    f.budget(600_000)
    line = budget_view(f.state, PERIOD)["lines"][0]
    assert (line["budgeted"], line["requested"], line["committed"], line["remaining"]) == (
        600_000,
        5_000,
        45_000,
        555_000,
    )
    assert [r["amount"] for r in line["revisions"]] == [500_000, 600_000]
    assert budget_view(f.state, "2027")["lines"] == []
    sound(f)


# --- rejections ---------------------------------------------------------------------------


def _committee_request(f: Funds, amount: int = 45_000) -> str:
    return f.request(amount, by=f.a)


def case(f: Funds, name: str) -> Callable[[], Any]:
    """Prepare the state for rejection ``name``; return the call that must fail."""
    if name == "overspend budget":
        return lambda: f.request(500_001)
    if name == "overspend budget at approval":
        a, b = f.request(300_000), f.request(300_000)
        f.approve(a, f.a, f.b)
        return lambda: f.approve(b, f.a, f.b)
    if name == "overspend account":
        empty = f.open_account("empty")
        eid = f.request()
        f.approve(eid, f.a)
        return lambda: f.pay(eid, f.c, account=empty)
    if name == "unapproved payment":
        eid = f.request()
        return lambda: f.pay(eid, f.c)
    if name == "under-approved payment":
        eid = f.request(150_000)
        f.approve(eid, f.a)
        return lambda: f.pay(eid, f.c)
    if name == "self-approval":
        eid = _committee_request(f)
        return lambda: f.approve(eid, f.a)
    if name == "self-approval in a multi-signed envelope":
        eid = _committee_request(f, 150_000)
        return lambda: f.approve(eid, f.b, f.a)
    if name == "duplicate approval":
        eid = f.request(150_000)
        f.approve(eid, f.a)
        return lambda: f.approve(eid, f.a)
    if name == "approval of an approved expense":
        eid = f.request()
        f.approve(eid, f.a)
        return lambda: f.approve(eid, f.b)
    if name == "approval by a resident":
        eid = f.request()
        return lambda: f.approve(eid, f.resident)
    if name == "approval co-signed by an outsider":
        eid = f.request(150_000)
        return lambda: f.approve(eid, f.a, key("outsider"))
    if name == "approval with a stale policy version":
        eid = f.request()
        return lambda: f.do("funds.expense.approve", {"expense": eid, "policy_version": 0}, f.a)
    if name == "approval of an unknown expense":
        return lambda: f.approve("999", f.a)
    if name == "approval after rejection":
        eid = f.request()
        f.do("funds.expense.reject", {"expense": eid, "reason": "no"}, f.b)
        return lambda: f.approve(eid, f.a)
    if name == "payer who requested":
        eid = _committee_request(f)
        f.approve(eid, f.b)
        return lambda: f.pay(eid, f.a)
    if name == "payer who approved":
        eid = f.request()
        f.approve(eid, f.a)
        return lambda: f.pay(eid, f.a)
    if name == "payer not on the committee":
        eid = f.request()
        f.approve(eid, f.a)
        return lambda: f.pay(eid, f.resident)
    if name == "payment amount differs":
        eid = f.request()
        f.approve(eid, f.a)
        return lambda: f.pay(eid, f.c, amount=45_001)
    if name == "payment payee differs":
        eid = f.request()
        f.approve(eid, f.a)
        return lambda: f.pay(eid, f.c, payee="Brown Thumb Ltd")
    if name == "payment currency differs":
        eid = f.request()
        f.approve(eid, f.a)
        return lambda: f.pay(eid, f.c, currency="GBP")
    if name == "payment twice":
        eid = f.request()
        f.approve(eid, f.a)
        f.pay(eid, f.c)
        return lambda: f.pay(eid, f.c)
    if name == "threshold expense without a ballot":
        f.budget(5_000_000)
        f.income(5_000_000)
        eid = f.request(1_000_001)
        f.approve(eid, f.a)
        return lambda: f.approve(eid, f.b)
    if name == "threshold expense with a failed ballot":
        f.budget(5_000_000)
        f.com.state.put("ballot", "3", {"status": "closed", "result": {"passed": False}})
        eid = f.request(1_000_001, ballot="3")
        return lambda: f.approve(eid, f.a, f.b)
    if name == "request with an unpublished document":
        return lambda: f.request(documents=[UNPUBLISHED])
    if name == "approval with an unpublished document":
        eid = f.request()
        return lambda: f.approve(eid, f.a, documents=[UNPUBLISHED])
    if name == "payment with an unpublished receipt":
        eid = f.request()
        f.approve(eid, f.a)
        return lambda: f.pay(eid, f.c, documents=[UNPUBLISHED])
    if name == "income with an unpublished document":
        return lambda: f.do(
            "funds.income",
            {
                "account": f.account,
                "amount": 5,
                "currency": "EUR",
                "source": "x",
                "description": "x",
                "documents": [UNPUBLISHED],
            },
            f.a,
        )
    if name == "request without a document":
        return lambda: f.request(documents=[])
    if name == "float amount":
        return lambda: f.request(450.0)  # type: ignore[arg-type]
    if name == "negative amount":
        return lambda: f.request(-45_000)
    if name == "zero amount":
        return lambda: f.request(0)
    if name == "amount as a string":
        return lambda: f.request("45000")  # type: ignore[arg-type]
    if name == "amount as a boolean":
        return lambda: f.request(True)
    if name == "float income":
        return lambda: f.income(10.5)  # type: ignore[arg-type]
    if name == "negative budget":
        return lambda: f.budget(-1)
    if name == "unknown currency":
        return lambda: f.request(currency="USD")
    if name == "not a currency code":
        return lambda: f.request(currency="euro")
    if name == "request by an outsider":
        return lambda: f.request(by=key("outsider"))
    if name == "unknown budget line":
        return lambda: f.request(category="events", budget_line=f"{PERIOD}/events")
    if name == "budget line of another category":
        return lambda: f.request(category="events")
    if name == "payee named and labelled":
        return lambda: f.request(**f.private_payee())
    if name == "private payee label is a name":
        return lambda: f.request(payee=None, payee_label="Jane Doe", payee_commitment="ab" * 32)
    if name == "private payee commitment reused":
        f.request(payee=None, **f.private_payee())
        return lambda: f.request(payee=None, **f.private_payee())
    if name == "extra body field":
        return lambda: f.request(colour="red")
    if name == "income by a resident":
        return lambda: f.do(
            "funds.income",
            {
                "account": f.account,
                "amount": 5,
                "currency": "EUR",
                "source": "x",
                "description": "x",
                "documents": [f.invoice],
            },
            f.resident,
        )
    if name == "transfer without quorum":
        other = f.open_account("other")
        return lambda: f.do(
            "funds.transfer",
            {"from": f.account, "to": other, "amount": 5, "currency": "EUR", "description": "x"},
            f.a,
        )
    if name == "transfer overspend":
        other = f.open_account("other")
        return lambda: f.do(
            "funds.transfer",
            {
                "from": f.account,
                "to": other,
                "amount": 1_000_001,
                "currency": "EUR",
                "description": "x",
            },
            f.a,
            f.b,
        )
    if name == "transfer to the same account":
        return lambda: f.do(
            "funds.transfer",
            {
                "from": f.account,
                "to": f.account,
                "amount": 5,
                "currency": "EUR",
                "description": "x",
            },
            f.a,
            f.b,
        )
    if name == "account opened by one member":
        return lambda: f.do(
            "funds.account.open", {"code": "x", "title": "x", "currency": "EUR"}, f.a
        )
    if name == "account code taken":
        return lambda: f.open_account("fees")
    if name == "budget cut below commitments":
        eid = f.request(300_000)
        f.approve(eid, f.a, f.b)
        return lambda: f.budget(200_000)
    if name == "document published twice":
        return lambda: f.do(
            "funds.document.publish",
            {"sha256": f.invoice, "size": 1, "media_type": "application/pdf", "public": True},
            f.a,
        )
    if name == "document published by an outsider":
        return lambda: f.doc(signer=key("outsider"))
    if name == "reject by the requester":
        eid = _committee_request(f)
        return lambda: f.do("funds.expense.reject", {"expense": eid, "reason": "x"}, f.a)
    if name == "withdraw by someone else":
        eid = f.request()
        return lambda: f.do("funds.expense.withdraw", {"expense": eid}, f.a)
    if name == "reversal twice":
        eid = f.request()
        f.approve(eid, f.a)
        tx = str(f.pay(eid, f.c).index)
        f.do("funds.transaction.reverse", {"transaction": tx, "reason": "x"}, f.a, f.b)
        return lambda: f.do(
            "funds.transaction.reverse", {"transaction": tx, "reason": "x"}, f.a, f.b
        )
    if name == "reversal of spent income":
        tx = f.income(10)
        eid = f.request(45_000)
        f.approve(eid, f.a)
        f.pay(eid, f.c)
        f.do(
            "funds.transfer",
            {
                "from": f.account,
                "to": f.open_account("other"),
                "amount": f.balance(),
                "currency": "EUR",
                "description": "sweep",
            },
            f.a,
            f.b,
        )
        return lambda: f.do(
            "funds.transaction.reverse", {"transaction": tx, "reason": "x"}, f.a, f.b
        )
    raise AssertionError(name)


CASES: dict[str, type[CivicError]] = {
    "overspend budget": RuleViolation,
    "overspend budget at approval": RuleViolation,
    "overspend account": RuleViolation,
    "unapproved payment": RuleViolation,
    "under-approved payment": RuleViolation,
    "self-approval": ForbiddenError,
    "self-approval in a multi-signed envelope": ForbiddenError,
    "duplicate approval": ConflictError,
    "approval of an approved expense": ConflictError,
    "approval by a resident": ForbiddenError,
    "approval co-signed by an outsider": ForbiddenError,
    "approval with a stale policy version": ConflictError,
    "approval of an unknown expense": ConflictError,
    "approval after rejection": ConflictError,
    "payer who requested": ForbiddenError,
    "payer who approved": ForbiddenError,
    "payer not on the committee": ForbiddenError,
    "payment amount differs": RuleViolation,
    "payment payee differs": RuleViolation,
    "payment currency differs": InputError,
    "payment twice": ConflictError,
    "threshold expense without a ballot": RuleViolation,
    "threshold expense with a failed ballot": RuleViolation,
    "request with an unpublished document": RuleViolation,
    "approval with an unpublished document": RuleViolation,
    "payment with an unpublished receipt": RuleViolation,
    "income with an unpublished document": RuleViolation,
    "request without a document": RuleViolation,
    "float amount": InputError,
    "negative amount": InputError,
    "zero amount": InputError,
    "amount as a string": InputError,
    "amount as a boolean": InputError,
    "float income": InputError,
    "negative budget": InputError,
    "unknown currency": InputError,
    "not a currency code": InputError,
    "request by an outsider": ForbiddenError,
    "unknown budget line": ConflictError,
    "budget line of another category": InputError,
    "payee named and labelled": InputError,
    "private payee label is a name": InputError,
    "private payee commitment reused": ConflictError,
    "extra body field": InputError,
    "income by a resident": ForbiddenError,
    "transfer without quorum": ForbiddenError,
    "transfer overspend": RuleViolation,
    "transfer to the same account": InputError,
    "account opened by one member": ForbiddenError,
    "account code taken": ConflictError,
    "budget cut below commitments": RuleViolation,
    "document published twice": ConflictError,
    "document published by an outsider": ForbiddenError,
    "reject by the requester": ForbiddenError,
    "withdraw by someone else": ForbiddenError,
    "reversal twice": ConflictError,
    "reversal of spent income": RuleViolation,
}


@pytest.mark.parametrize(("name", "error"), list(CASES.items()), ids=list(CASES))
def test_rejections_leave_the_state_unchanged(f: Funds, name: str, error: type[CivicError]) -> None:
    attempt = case(f, name)
    before = f.state.snapshot()
    with pytest.raises(error) as info:
        attempt()
    assert type(info.value) is error, f"{name}: {type(info.value).__name__}: {info.value}"
    assert info.value.args == (info.value.message,) and info.value.message
    assert f.state.snapshot() == before, f"{name}: a rejected statement changed the state"
    assert check_invariants(f.state) == []


def test_payment_currency_must_match_when_both_are_known() -> None:
    f = Funds(policy={"funds_currencies": ["EUR", "GBP"]}).setup()
    eid = f.request()
    f.approve(eid, f.a)
    with pytest.raises(RuleViolation, match="does not match"):
        f.pay(eid, f.c, currency="GBP")


# --- the pure parts -------------------------------------------------------------------------


def test_policy_defaults_and_bad_policy() -> None:
    p = funds_policy(None)
    assert p.currencies == ("EUR",) and p.approvals_needed(100_000) == 1
    assert p.approvals_needed(100_001) == 2 and p.needs_ballot(1_000_001)
    assert not p.needs_ballot(1_000_000)
    assert funds_policy({"funds_ballot_threshold": None}).needs_ballot(10**12) is False
    bads: list[dict[str, Any]] = [
        {"funds_currencies": []},
        {"funds_currencies": ["eur"]},
        {"funds_approval_bands": [{"up_to": None, "approvals": 1}, {"up_to": 5, "approvals": 2}]},
        {"funds_approval_bands": [{"up_to": 5, "approvals": 0}]},
        {"funds_ballot_threshold": 1.5},
        {"funds_income_recorders": "anyone"},
        {"funds_request_expiry_days": 0},
    ]
    for bad in bads:
        with pytest.raises(InputError):
            funds_policy({**FUNDS_POLICY_DEFAULTS, **bad})


def test_money_text_round_trip() -> None:
    assert parse_money("450.00", "EUR") == 45_000
    assert parse_money("450", "JPY") == 450
    assert parse_money("1.234", "KWD") == 1234
    assert format_money(45_000, "EUR") == "450.00"
    assert format_money(-123_456_789, "EUR") == "-1,234,567.89"
    for bad in ("4.505", "abc", "-1", "0", "NaN", "Infinity"):
        with pytest.raises(InputError):
            parse_money(bad, "EUR")
