"""Read views over the funds state: what the API serves, the report shows and the export writes.

Pure functions of a :class:`~ledger.state.State`: nothing here is stored, so a view is
always what a replay of the log gives. The node's sequencer thread may be applying
statements while a view reads, so every view first takes a snapshot of a namespace
with ``list(...)`` (one C-level call under the GIL) before it iterates.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from typing import Any

from funds.model import funds_policy
from funds.workflow import next_step
from ledger.errors import NotFoundError
from ledger.state import State

__all__ = [
    "accounts_view",
    "budget_view",
    "documents_view",
    "expense_detail",
    "expense_summary",
    "expenses_view",
    "in_period",
    "payees_view",
    "transaction_row",
    "transactions_view",
    "waiting_view",
]

MAX_PAGE = 5000
OPEN = ("requested", "approved")
# The last ordering computed: (the namespace dict itself, its size, sorted ids). Holding
# the dict (not its id) means a new state can never be mistaken for an old one.
_ORDER: list[tuple[dict[str, Any], int, list[int]]] = []


def in_period(period: str, wanted: str | None) -> bool:
    """``period`` falls within ``wanted``: equal, or a quarter/month of a wanted year."""
    return wanted is None or period == wanted or period.startswith(wanted + "-")


def accounts_view(state: State) -> dict[str, Any]:
    """Asset accounts with their balances, the nominal accounts, totals per currency."""
    accounts = list(state.rows("funds_account").values())
    assets, nominal = [], []
    totals: dict[str, int] = defaultdict(int)
    for a in accounts:
        if a["kind"] == "asset":
            bal = a["balances"].get(a["currency"], 0)
            totals[a["currency"]] += bal
            assets.append({**a, "balance": bal})
        else:
            nominal.append(a)
    assets.sort(key=lambda a: a["opened_at"])
    nominal.sort(key=lambda a: a["id"])
    return {"accounts": assets, "nominal": nominal, "totals": dict(totals), "size": state.size}


def budget_view(state: State, period: str | None = None) -> dict[str, Any]:
    """Budget against actual per line: budgeted, requested (awaiting approval), committed
    (approved, unpaid), spent (paid, not reversed), remaining."""
    requested: dict[str, int] = defaultdict(int)
    for e in list(state.rows("funds_expense").values()):
        if e["status"] == "requested":
            requested[e["budget_line"]] += e["amount"]
    lines = []
    totals: dict[str, dict[str, int]] = {}
    for line in list(state.rows("funds_budget").values()):
        if not in_period(line["period"], period):
            continue
        row = {
            "key": line["key"],
            "period": line["period"],
            "category": line["category"],
            "currency": line["currency"],
            "budgeted": line["amount"],
            "requested": requested.get(line["key"], 0),
            "committed": line["committed"],
            "spent": line["spent"],
            "remaining": line["amount"] - line["committed"] - line["spent"],
            "set_at": line["set_at"],
            "leaf_hash": line["leaf_hash"],
            "revisions": line["revisions"],
        }
        lines.append(row)
        t = totals.setdefault(
            line["currency"],
            {"budgeted": 0, "requested": 0, "committed": 0, "spent": 0, "remaining": 0},
        )
        for k in t:
            t[k] += row[k]
    lines.sort(key=lambda r: (r["period"], r["category"]))
    return {"lines": lines, "totals": totals, "period": period, "size": state.size}


def expense_summary(e: dict[str, Any]) -> dict[str, Any]:
    """An expense without its history (for lists)."""
    return {k: v for k, v in e.items() if k != "history"}


def expenses_view(
    state: State,
    status: str | None = None,
    category: str | None = None,
    period: str | None = None,
    payee: str | None = None,
) -> dict[str, Any]:
    """Expenses filtered by status, category, budget period and payee (name or label)."""
    out = [
        expense_summary(e)
        for e in list(state.rows("funds_expense").values())
        if (status is None or e["status"] == status)
        and (category is None or e["category"] == category)
        and in_period(e["period"], period)
        and (payee is None or payee in (e["payee"], e["payee_label"]))
    ]
    out.sort(key=lambda e: e["index"])
    return {"expenses": out, "count": len(out), "size": state.size}


def expense_detail(state: State, expense_id: str) -> dict[str, Any]:
    """One expense with its whole history (each step with its record index)."""
    e = state.peek("funds_expense", expense_id)
    if e is None:
        raise NotFoundError(f"there is no expense {expense_id}")
    detail: dict[str, Any] = dict(e)
    pay = e.get("payment")
    if pay is not None:
        detail["transaction"] = state.peek("funds_tx", pay["transaction"])
    return detail


def _ordered_ids(state: State) -> list[int]:
    # Transactions are never deleted, so (namespace object, count) identifies the key set.
    rows = state.rows("funds_tx")
    keys = list(rows)
    for cached_rows, n, order in list(_ORDER):
        if cached_rows is rows and n == len(keys):
            return order
    order = sorted(map(int, keys))
    _ORDER[:] = [(rows, len(keys), order)]
    return order


def transaction_row(tx: dict[str, Any]) -> dict[str, Any]:
    """A transaction as one flat row: money moves from ``from_account`` to ``to_account``.

    Every funds transaction has two postings of opposite sign, so the row is exact; the
    postings themselves are kept in ``postings`` for the general case.
    """
    credits = [p for p in tx["postings"] if p["amount"] < 0]
    debits = [p for p in tx["postings"] if p["amount"] > 0]
    return {
        "id": tx["id"],
        "index": tx["index"],
        "leaf_hash": tx["leaf_hash"],
        "time": tx["time"],
        "kind": tx["kind"],
        "from_account": ",".join(p["account"] for p in credits),
        "to_account": ",".join(p["account"] for p in debits),
        "amount": sum(p["amount"] for p in debits),
        "currency": tx["postings"][0]["currency"],
        "expense": tx["expense"],
        "reverses": tx["reverses"],
        "reversed_by": tx["reversed_by"],
        "counterparty": tx["counterparty"],
        "description": tx["description"],
        "documents": tx["documents"],
        "by": tx["by"],
        "postings": tx["postings"],
    }


def transactions_view(
    state: State,
    after: int | None = None,
    limit: int = 1000,
    account: str | None = None,
    kind: str | None = None,
) -> dict[str, Any]:
    """Transactions in log order after record ``after``, at most ``limit`` (≤ 5000), with
    ``next`` to continue from (None at the end)."""
    limit = max(1, min(limit, MAX_PAGE))
    order = _ordered_ids(state)
    rows = state.rows("funds_tx")
    pos = 0 if after is None else bisect.bisect_right(order, after)
    out: list[dict[str, Any]] = []
    while pos < len(order) and len(out) < limit:
        tx = rows[str(order[pos])]
        pos += 1
        if kind is not None and tx["kind"] != kind:
            continue
        if account is not None and all(p["account"] != account for p in tx["postings"]):
            continue
        out.append(transaction_row(tx))
    nxt = out[-1]["index"] if out and pos < len(order) else None
    return {"transactions": out, "next": nxt, "size": state.size}


def documents_view(state: State) -> dict[str, Any]:
    """Every published document (hash, size, media type, public flag, where published)."""
    docs = sorted(list(state.rows("funds_document").values()), key=lambda d: d["published_at"])
    return {"documents": docs, "count": len(docs)}


def payees_view(state: State) -> dict[str, Any]:
    """Per payee (organisation name or private label): requests, payments, totals paid.

    A private individual appears only under a pseudonymous label, so "the same person
    was paid five times" stays visible without naming them.
    """
    out: dict[str, dict[str, Any]] = {}
    for e in list(state.rows("funds_expense").values()):
        name = e["payee"] or e["payee_label"]
        p = out.setdefault(
            name,
            {
                "payee": name,
                "private": e["payee"] is None,
                "requests": 0,
                "payments": 0,
                "paid": {},
                "expenses": [],
            },
        )
        p["requests"] += 1
        p["expenses"].append(e["id"])
        if e["status"] == "paid":
            p["payments"] += 1
            p["paid"][e["currency"]] = p["paid"].get(e["currency"], 0) + e["amount"]
    rows = sorted(out.values(), key=lambda p: p["payee"])
    return {"payees": rows, "count": len(rows)}


def waiting_view(
    state: State, key: str | None = None, expense: str | None = None
) -> dict[str, Any]:
    """Every open expense (or only ``expense``) with who must act next, or why nobody can;
    with ``key``, only those waiting on that key (``civic funds next``)."""
    pol = funds_policy(state.peek("policy", "current"))
    committee = list(state.rows("committee"))
    if expense is not None:
        docs = [expense_detail(state, expense)]
    else:
        docs = [e for e in list(state.rows("funds_expense").values()) if e["status"] in OPEN]
        docs.sort(key=lambda e: e["index"])
    steps = []
    for e in docs:
        step = next_step(e, committee, pol)
        if key is not None and key not in step.who:
            continue
        steps.append(
            {
                **step.to_json(),
                "amount": e["amount"],
                "currency": e["currency"],
                "purpose": e["purpose"],
                "requester": e["requester"],
            }
        )
    return {"expenses": steps, "key": key, "size": state.size}
