"""Double-entry arithmetic and the invariants every funds state must satisfy.

Sign convention (as in beancount): a posting's amount is positive for a debit and
negative for a credit, and the postings of a transaction sum to zero per currency.
Asset accounts (the community's funds) hold positive balances and may not go below zero
unless the account was opened with ``allow_negative``; income accounts
(``income:<source>``) carry credits, so their balances are zero or negative; expense
accounts (``expense:<category>``) carry debits, zero or positive.

:func:`check_invariants` recomputes everything that the handlers keep incrementally —
balances from postings, budget commitments and spending from expenses, the approval
rules of each expense — and lists every disagreement. Pure: no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from ledger.errors import RuleViolation
from ledger.state import State

__all__ = [
    "Posting",
    "account_kind",
    "check_balanced",
    "check_invariants",
    "sum_postings",
]

Posting = dict[str, Any]  # {"account": id, "amount": signed minor units, "currency": code}


def account_kind(account_id: str) -> str:
    """``asset`` for opened accounts (numeric ids), else the nominal prefix."""
    if account_id.startswith("income:"):
        return "income"
    if account_id.startswith("expense:"):
        return "expense"
    return "asset"


def sum_postings(postings: Iterable[Posting]) -> dict[str, int]:
    """Sum of the postings per currency."""
    out: dict[str, int] = defaultdict(int)
    for p in postings:
        out[p["currency"]] += p["amount"]
    return dict(out)


def check_balanced(postings: Iterable[Posting]) -> None:
    """RuleViolation unless the postings sum to zero in every currency."""
    for cur, total in sorted(sum_postings(postings).items()):
        if total != 0:
            raise RuleViolation(f"postings do not balance: they sum to {total} {cur}, not 0")


def _balance_problems(state: State) -> list[str]:
    problems: list[str] = []
    accounts: Mapping[str, Any] = state.rows("funds_account")
    derived: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for tid, tx in state.rows("funds_tx").items():
        # 1. every transaction balances per currency
        sums = sum_postings(tx["postings"])
        if any(v != 0 for v in sums.values()):
            problems.append(f"transaction {tid} does not balance: {sums}")
        for p in tx["postings"]:
            derived[p["account"]][p["currency"]] += p["amount"]
            if p["account"] not in accounts:
                problems.append(f"transaction {tid} posts to unknown account {p['account']}")
    totals: dict[str, int] = defaultdict(int)
    for aid, acc in accounts.items():
        # 2. each stored balance equals the sum of its postings
        stored = {c: v for c, v in acc["balances"].items() if v != 0}
        again = {c: v for c, v in derived.get(aid, {}).items() if v != 0}
        if stored != again:
            problems.append(f"account {aid} balance {stored} != sum of its postings {again}")
        for cur, v in acc["balances"].items():
            totals[cur] += v
            # 3. the sign each kind of account may carry
            kind = acc["kind"]
            if kind == "asset" and v < 0 and not acc.get("allow_negative"):
                problems.append(f"account {aid} is below zero ({v} {cur})")
            if kind == "income" and v > 0:
                problems.append(f"income account {aid} has a debit balance ({v} {cur})")
            if kind == "expense" and v < 0:
                problems.append(f"expense account {aid} has a credit balance ({v} {cur})")
    # 4. the whole ledger balances per currency
    for cur, v in sorted(totals.items()):
        if v != 0:
            problems.append(f"the ledger does not balance in {cur}: accounts sum to {v}")
    return problems


def _expense_problems(state: State) -> list[str]:
    problems: list[str] = []
    committed: dict[str, int] = defaultdict(int)
    spent: dict[str, int] = defaultdict(int)
    txs = state.rows("funds_tx")
    for eid, e in state.rows("funds_expense").items():
        approvers = [a["by"] for a in e["approvals"]]
        # 5. segregation of duties: no self-approval, one approval per member
        if e["requester"] in approvers:
            problems.append(f"expense {eid} was approved by its requester")
        if len(set(approvers)) != len(approvers):
            problems.append(f"expense {eid} has two approvals by one member")
        status = e["status"]
        if status in ("approved", "paid", "reversed") and len(approvers) < e["approvals_needed"]:
            problems.append(f"expense {eid} is {status} with too few approvals")
        if status == "approved":
            committed[e["budget_line"]] += e["amount"]
        pay = e.get("payment")
        if status in ("paid", "reversed"):
            if pay is None or pay["transaction"] not in txs:
                problems.append(f"expense {eid} is {status} without a payment transaction")
                continue
            # 6. the payer is neither the requester nor an approver; it paid what was approved
            if pay["by"] == e["requester"] or pay["by"] in approvers:
                problems.append(f"expense {eid} was paid by its requester or an approver")
            tx = txs[pay["transaction"]]
            out = [p for p in tx["postings"] if p["account"] == pay["account"]]
            if [p["amount"] for p in out] != [-e["amount"]]:
                problems.append(f"expense {eid}: payment does not match the approved amount")
            reversed_ = tx.get("reversed_by") is not None
            if reversed_ != (status == "reversed"):
                problems.append(f"expense {eid} is {status} but its payment reversal disagrees")
            if status == "paid":
                spent[e["budget_line"]] += e["amount"]
    for key, line in state.rows("funds_budget").items():
        # 7. budget commitments and spending are what the expenses say, within the budget
        if line["committed"] != committed.get(key, 0) or line["spent"] != spent.get(key, 0):
            problems.append(
                f"budget line {key}: committed/spent {line['committed']}/{line['spent']} "
                f"!= expenses {committed.get(key, 0)}/{spent.get(key, 0)}"
            )
        if line["committed"] + line["spent"] > line["amount"]:
            problems.append(f"budget line {key} is overspent")
    return problems


def check_invariants(state: State) -> list[str]:
    """Every way the funds state disagrees with its own records; empty when sound."""
    return _balance_problems(state) + _expense_problems(state)
