"""The Frictionless export and the report, from a community's replayed state."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from frictionless import validate
from rich.console import Console

from cli.funds_report import render_report
from funds.export import BUDGET_FIELDS, TRANSACTION_FIELDS, write_package
from funds.report import build_report
from funds.views import accounts_view, budget_view, transactions_view
from tests.support.funds import Funds

CHECKPOINT = "civic.example/test-garden\n12\nAAAA\n\n— civic.example/test-garden sig\n"


def books() -> Funds:
    f = Funds().setup()
    paid = f.request(45_000)
    f.approve(paid, f.a)
    tx = f.pay(paid, f.c)
    f.do(
        "funds.transaction.reverse",
        {"transaction": str(tx.index), "reason": 'refund, "partial", with\nnewline'},
        f.a,
        f.b,
    )
    private = f.request(12_000, payee=None, **f.private_payee())
    f.approve(private, f.a)
    f.pay(private, f.c)
    f.budget(200_000, category="events")
    return f


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_export_is_a_valid_data_package(tmp_path: Path) -> None:
    f = books()
    txs = transactions_view(f.state)["transactions"]
    res = write_package(tmp_path, txs, budget_view(f.state)["lines"], f.com.origin, CHECKPOINT)
    assert (res.transactions, res.budget_lines) == (4, 2)
    report = validate(str(res.descriptor))
    assert report.valid, report.flatten(["type", "note"])
    rows = read_csv(tmp_path / "transactions.csv")
    assert [r["kind"] for r in rows] == ["income", "payment", "reversal", "payment"]
    for r, t in zip(rows, txs, strict=True):
        # Each row names the record that proves it.
        assert int(r["record_index"]) == t["index"]
        assert r["leaf_hash"] == f.state.peek("funds_tx", str(t["index"]))["leaf_hash"]
        assert len(r["leaf_hash"]) == 64
    assert rows[1]["amount_minor"] == "45000" and rows[1]["amount"] == "450.00"
    assert rows[3]["counterparty"].startswith("p-"), "a private payee appears by label only"
    budget = read_csv(tmp_path / "budget.csv")
    assert {b["category"]: b["spent_minor"] for b in budget} == {
        "gardening": "12000",
        "events": "0",
    }
    desc = json.loads(res.descriptor.read_text())
    assert desc["civic"]["checkpoint"] == CHECKPOINT
    assert [f["name"] for f in desc["resources"][0]["schema"]["fields"]] == [
        x["name"] for x in TRANSACTION_FIELDS
    ]
    assert len(desc["resources"][1]["schema"]["fields"]) == len(BUDGET_FIELDS)


def test_a_tampered_export_fails_validation(tmp_path: Path) -> None:
    f = books()
    res = write_package(
        tmp_path,
        transactions_view(f.state)["transactions"],
        budget_view(f.state)["lines"],
        f.com.origin,
        CHECKPOINT,
    )
    path = tmp_path / "transactions.csv"
    path.write_text(path.read_text().replace("45000,450.00", "4500,45.00"))
    assert not validate(str(res.descriptor)).valid, "the resource hash no longer matches"


def test_report_tables() -> None:
    f = books()
    data = build_report(accounts_view(f.state), budget_view(f.state, "2026"))
    assert data["totals"] == {"EUR": 1_000_000 - 12_000}
    assert data["income"] == {"income:property-fees": {"EUR": 1_000_000}}
    gardening = next(b for b in data["budget"] if b["category"] == "gardening")
    assert gardening["used_pct"] == 2.4
    out = io.StringIO()
    render_report(data, Console(file=out, width=140))
    text = out.getvalue()
    assert "Balances" in text and "Budget against actual (2026)" in text
    assert "9,880.00" in text and "120.00" in text and "2.4%" in text
