"""The funds report: balances and budget against actual, as data and as rich tables.

:func:`build_report` takes what ``/v1/funds/accounts`` and ``/v1/funds/budget`` answer
(or :func:`funds.views.accounts_view` and :func:`~funds.views.budget_view` in-process)
and :func:`render_report` prints it. Money is formatted only here, at the edge; the data
stays integers of minor units.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from funds.model import format_money

__all__ = ["build_report", "render_report"]


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


def _pct_style(pct: float | None) -> str:
    if pct is None:
        return ""
    return "red" if pct >= 100 else "yellow" if pct >= 90 else "green"


def render_report(
    report: Mapping[str, Any], console: Console | None = None, balances: bool = True
) -> None:
    """Print the report as two tables: balances (unless ``balances`` is false), and budget
    against actual."""
    console = console or Console()
    if balances:
        _render_balances(report, console)
    _render_budget(report, console)


def _render_balances(report: Mapping[str, Any], console: Console) -> None:
    table = Table(title=f"Balances (log size {report['size']})", title_justify="left")
    for col, justify in (("id", "right"), ("account", "left"), ("title", "left"),
                         ("currency", "left"), ("balance", "right")):  # fmt: skip
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for a in report["accounts"]:
        table.add_row(
            a["id"], a["code"], a["title"], a["currency"], format_money(a["balance"], a["currency"])
        )
    for cur, total in sorted(report["totals"].items()):
        table.add_row("", "[b]total[/b]", "", cur, f"[b]{format_money(total, cur)}[/b]")
    console.print(table)


def _render_budget(report: Mapping[str, Any], console: Console) -> None:
    period = report.get("period") or "all periods"
    budget = Table(title=f"Budget against actual ({period})", title_justify="left")
    cols = ("period", "category", "currency", "budgeted", "requested", "committed", "spent",
            "remaining", "used")  # fmt: skip
    for col in cols:
        budget.add_column(col, justify="left" if col in cols[:3] else "right")
    for line in report["budget"]:
        cur = line["currency"]
        pct = line["used_pct"]
        budget.add_row(
            line["period"],
            line["category"],
            cur,
            *(format_money(line[k], cur) for k in cols[3:8]),
            f"[{_pct_style(pct)}]{pct}%[/]" if pct is not None else "-",
        )
    for cur, t in sorted(report["budget_totals"].items()):
        budget.add_row(
            "", "[b]total[/b]", cur, *(f"[b]{format_money(t[k], cur)}[/b]" for k in cols[3:8]), ""
        )
    console.print(budget)
