"""The budget aggregate: ``funds.budget.set``.

Namespace ``funds_budget/<period>/<category>``: the line's amount, what is committed
(approved and unpaid) and spent (paid and not reversed), and its revisions. A line is
never set below what it has committed and spent.
"""

from __future__ import annotations

from typing import Any

from funds.model import (
    check_amount,
    check_currency,
    check_fields,
    check_period,
    check_slug,
    check_text,
)
from funds.rules._common import copy_doc, current_policy, money
from ledger.community import require_committee_quorum
from ledger.errors import ConflictError, RuleViolation
from ledger.state import Context, State
from ledger.statements import Envelope

__all__ = ["adjust_line", "available", "get_line", "set_line"]


def get_line(state: State, key: str) -> dict[str, Any]:
    """A copy of budget line ``key`` to change and put back; ConflictError if none."""
    line = copy_doc(state, "funds_budget", key)
    if line is None:
        raise ConflictError(f"there is no budget line {key}; set it with funds.budget.set")
    result: dict[str, Any] = line
    return result


def available(line: dict[str, Any]) -> int:
    """What is left of a line: amount less committed and spent."""
    left: int = line["amount"] - line["committed"] - line["spent"]
    return left


def adjust_line(state: State, line: dict[str, Any], *, committed: int = 0, spent: int = 0) -> None:
    """Move what ``line`` (from :func:`get_line`) has committed and spent, and store it:
    the expense workflow reserves, releases, spends and un-spends only through here."""
    line["committed"] += committed
    line["spent"] += spent
    state.put("funds_budget", line["key"], line)


def set_line(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.budget.set``: committee quorum."""
    require_committee_quorum(state, env, "setting a budget line")
    b = env.body
    check_fields(b, {"period", "category", "amount", "currency"}, {"note"})
    pol = current_policy(state)
    period = check_period(b["period"])
    category = check_slug(b["category"], "category")
    # A line may be cut to zero, so 0 is allowed here (but never negative or a float).
    amount = 0 if b["amount"] == 0 and type(b["amount"]) is int else check_amount(b["amount"])
    currency = check_currency(b["currency"], pol)
    note = check_text(b.get("note", ""), "note", 500, required=False)
    key = f"{period}/{category}"
    line = copy_doc(state, "funds_budget", key)
    if line is None:
        line = {
            "key": key,
            "period": period,
            "category": category,
            "currency": currency,
            "amount": 0,
            "committed": 0,
            "spent": 0,
            "revisions": [],
        }
    elif line["currency"] != currency:
        raise RuleViolation(f"budget line {key} is in {line['currency']}, not {currency}")
    if amount < line["committed"] + line["spent"]:
        raise RuleViolation(
            f"budget line {key} already has {money(line['committed'] + line['spent'], currency)}"
            f" committed or spent; it cannot be set to {money(amount, currency)}"
        )
    line["amount"] = amount
    line["set_at"] = ctx.index
    line["leaf_hash"] = ctx.leaf_hash
    line["revisions"] = [*line["revisions"], {"index": ctx.index, "amount": amount, "note": note}]
    state.put("funds_budget", key, line)
