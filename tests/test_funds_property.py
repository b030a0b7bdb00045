"""Property: random sequences of valid and invalid funds statements never break an invariant.

After every statement (accepted or refused): postings balance per currency, every
balance is the sum of its postings, no asset account is below zero unless allowed,
budget lines hold exactly what their expenses commit and spend, segregation of duties
holds. At the end a replay of the records equals the live state.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from funds.ledger_math import check_invariants
from ledger.errors import CivicError
from ledger.records import parse_record
from ledger.state import State, replay
from rules import community_rules
from tests.support.funds import Funds

VALID = st.integers(1, 200_000)
AMOUNTS = st.one_of(
    VALID,
    VALID,
    VALID,
    VALID,
    VALID,
    st.integers(-5, 0),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=1e6),
    st.sampled_from(["100", None, True, 10**16]),
)
OPS = st.tuples(
    st.sampled_from(
        [
            "income",
            "transfer",
            "request",
            "approve",
            "pay",
            "reject",
            "withdraw",
            "reverse",
            "budget",
            "advance",
            "expire",
            "flow",
            "flow",
            "flow",
        ]
    ),
    AMOUNTS,
    st.integers(0, 7),
    st.integers(0, 7),
)


def apply(f: Funds, accounts: list[str], op: str, amount: Any, i: int, j: int) -> None:
    people = [f.a, f.b, f.c, f.resident]
    # Aim approvals at requested expenses and payments at approved ones, so that long
    # valid workflows happen as well as refusals.
    wanted = {"approve": "requested", "pay": "approved"}.get(op)
    rows = f.state.rows("funds_expense")
    expenses = sorted((k for k, e in rows.items() if e["status"] == wanted), key=int) or sorted(
        rows, key=int
    )
    txs = sorted(f.state.rows("funds_tx"), key=int)
    eid = expenses[i % len(expenses)] if expenses else "0"
    who = people[j % len(people)]
    if op == "flow":
        # A whole workflow; j picks who pays (j == 0: an approver, which must be refused).
        new = f.request(amount)
        f.approve(new, f.a, f.b)
        f.pay(new, f.a if j == 0 else f.c, account=accounts[i % 2])
    elif op == "income":
        f.income(amount, account=accounts[i % 2])
    elif op == "transfer":
        f.do(
            "funds.transfer",
            {
                "from": accounts[i % 2],
                "to": accounts[(i + 1) % 2],
                "amount": amount,
                "currency": "EUR",
                "description": "move",
            },
            f.a,
            f.b,
        )
    elif op == "request":
        f.request(amount, by=who)
    elif op == "approve":
        f.approve(eid, who, *([people[(j + 1) % 3]] if i % 3 == 0 else []))
    elif op == "pay":
        if f.state.peek("funds_expense", eid) is None:
            body = {"expense": eid, "account": accounts[0], "amount": 1, "currency": "EUR"}
        else:
            body = f.pay_body(eid, account=accounts[i % 2])
        if i % 4 == 0:
            body["amount"] = amount  # usually wrong: must match the approval
        f.do("funds.expense.pay", {**body, "payee": body.get("payee", "x")}, who)
    elif op == "reject":
        f.do("funds.expense.reject", {"expense": eid, "reason": "no"}, who)
    elif op == "withdraw":
        f.do("funds.expense.withdraw", {"expense": eid}, who)
    elif op == "reverse" and txs:
        f.do(
            "funds.transaction.reverse",
            {"transaction": txs[i % len(txs)], "reason": "mistake"},
            f.a,
            f.c,
        )
    elif op == "budget":
        f.budget(amount)
    elif op == "advance":
        f.com.advance(86400 * (1 + 5 * i))
    elif op == "expire":
        f.do("funds.expense.expire", {"expense": eid}, who)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(OPS, min_size=10, max_size=40))
def test_random_sequences_keep_the_books(ops: list[tuple[str, Any, int, int]]) -> None:
    f = Funds().setup()
    accounts = [f.account, f.open_account("float", allow_negative=True)]
    accepted = refused = 0
    for op, amount, i, j in ops:
        before = f.state.snapshot()
        try:
            apply(f, accounts, op, amount, i, j)
            accepted += 1
        except CivicError:
            refused += 1
            # A flow is several statements: the ones before the refused one stay.
            assert op == "flow" or f.state.snapshot() == before, f"refused {op} changed state"
        problems = check_invariants(f.state)
        assert problems == [], f"after {op}: {problems}"
    again = replay([parse_record(r) for r in f.com.records], State(community_rules()))
    assert again.snapshot() == f.state.snapshot()
    assert accepted + refused == len(ops)
