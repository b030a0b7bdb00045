"""The funds report: balances and budget against actual, as data. Pure.

:func:`build_report` takes what ``/v1/funds/accounts`` and ``/v1/funds/budget`` answer
(or :func:`funds.views.accounts_view` and :func:`~funds.views.budget_view` in-process);
the CLI prints it as tables (``cli/funds_report.py``). The data stays integers of minor
units; money is formatted only at that edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["build_report"]


def build_report(accounts: Mapping[str, Any], budget: Mapping[str, Any]) -> dict[str, Any]:
    """The report's data: asset balances, totals, budget lines with their use in percent."""
    lines = []
    for line in budget["lines"]:
        used = line["committed"] + line["spent"]
        pct = None if line["budgeted"] == 0 else round(100 * used / line["budgeted"], 1)
        lines.append({**{k: v for k, v in line.items() if k != "revisions"}, "used_pct": pct})
    return {
        "size": accounts.get("size"),
        "period": budget.get("period"),
        "accounts": [
            {
                "id": a["id"],
                "code": a["code"],
                "title": a["title"],
                "currency": a["currency"],
                "balance": a["balance"],
            }
            for a in accounts["accounts"]
        ],
        "totals": dict(accounts["totals"]),
        "income": {
            a["id"]: {c: -v for c, v in a["balances"].items()}
            for a in accounts.get("nominal", [])
            if a["kind"] == "income"
        },
        "spending": {
            a["id"]: dict(a["balances"])
            for a in accounts.get("nominal", [])
            if a["kind"] == "expense"
        },
        "budget": lines,
        "budget_totals": dict(budget["totals"]),
    }
