"""The funds report as rich tables: balances, and budget against actual (``civic funds report``).

The data comes from :func:`funds.report.build_report`; money is formatted here, at the edge.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

from funds.model import format_money

__all__ = ["render_report"]


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
