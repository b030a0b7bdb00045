"""``civic funds`` against a real node process: the committee's whole path, report, export."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from frictionless import validate
from typer.testing import CliRunner

from cli.main import app
from ledger.errors import ForbiddenError
from ledger.keys import KeyPair, save_key_file
from node.bootstrap import init_community
from node.launcher import NodeProcess, start_node
from tests.factory import key

PASS = "funds cli test passphrase"
ORIGIN = "civic.example/funds-cli"
runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[NodeProcess, Path]]:
    tmp = tmp_path_factory.mktemp("funds-cli")
    people: dict[str, KeyPair] = {
        n: key(f"funds-cli-{n}") for n in ("alice", "bob", "chen", "dana")
    }
    for name, kp in people.items():
        save_key_file(tmp / f"{name}.key", kp, PASS, strength="min")
    init_community(tmp / "node", ORIGIN, [people["alice"], people["bob"], people["chen"]])
    node = start_node(tmp / "node")
    try:
        yield node, tmp
    finally:
        node.stop()


def civic(node: NodeProcess, *args: str) -> str:
    """Run ``civic ARGS`` in-process against the node; the output on success."""
    env = {"CIVIC_PASSPHRASE": PASS, "CIVIC_NODE": node.url, "COLUMNS": "200"}
    r = runner.invoke(app, list(args), env=env, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return r.output


def test_committee_path(world: tuple[NodeProcess, Path]) -> None:
    node, tmp = world
    k = {n: str(tmp / f"{n}.key") for n in ("alice", "bob", "chen", "dana")}
    dana_id = key("funds-cli-dana").key_id
    civic(node, "member", "enrol", "--resident", dana_id, "--unit", "Flat 3", "--key", k["alice"])
    civic(
        node,
        "funds",
        "open-account",
        "--code",
        "fees",
        "--title",
        "Fee fund",
        "--key",
        k["alice"],
        "--also",
        k["bob"],
    )
    civic(
        node,
        "funds",
        "budget-set",
        "--period",
        "2026",
        "--category",
        "gardening",
        "--amount",
        "5000.00",
        "--key",
        k["alice"],
        "--also",
        k["bob"],
    )
    remittance = tmp / "remittance.txt"
    remittance.write_text("fees received\n")
    civic(
        node,
        "funds",
        "income",
        "--account",
        "fees",
        "--amount",
        "10000",
        "--source",
        "property-fees",
        "--description",
        "Q4 fees",
        "--document",
        str(remittance),
        "--key",
        k["alice"],
    )
    invoice = tmp / "invoice.pdf"
    invoice.write_bytes(b"%PDF invoice 450.00")
    out = civic(
        node,
        "funds",
        "request",
        "--amount",
        "450.00",
        "--category",
        "gardening",
        "--period",
        "2026",
        "--purpose",
        "Hedge trimming",
        "--payee",
        "Green Thumb Ltd",
        "--document",
        str(invoice),
        "--key",
        k["dana"],
    )
    eid = out.split()[1]
    civic(node, "funds", "approve", eid, "--key", k["bob"])
    civic(node, "funds", "pay", eid, "--account", "fees", "--key", k["chen"])
    # A private individual, twice: the committee's lookup keeps one label.
    labels = []
    for amount in ("120.00", "80.00"):
        out = civic(
            node,
            "funds",
            "request",
            "--amount",
            amount,
            "--category",
            "gardening",
            "--period",
            "2026",
            "--purpose",
            "Tree care",
            "--private-payee",
            "Jane Doe",
            "--document",
            str(invoice),
            "--key",
            k["alice"],
        )
        pid = out.split()[1]
        civic(node, "funds", "approve", pid, "--key", k["bob"])
        civic(node, "funds", "pay", pid, "--account", "fees", "--key", k["chen"])
        e = json.loads(civic(node, "funds", "expense", pid, "--json"))
        labels.append(e["payee_label"])
    assert labels[0] == labels[1] and labels[0].startswith("p-")
    history = civic(node, "funds", "expense", eid)
    assert "funds.expense.approve" in history and "funds.expense.pay" in history
    accounts = json.loads(civic(node, "funds", "accounts", "--json"))
    assert accounts["accounts"][0]["balance"] == 1_000_000 - 45_000 - 12_000 - 8_000
    report = civic(node, "funds", "report", "--period", "2026")
    assert "Balances" in report and "gardening" in report and "9,350.00" in report
    data = json.loads(civic(node, "funds", "report", "--json"))
    assert data["budget"][0]["spent"] == 65_000
    paid = json.loads(civic(node, "funds", "expenses", "--status", "paid", "--json"))
    assert paid["count"] == 3
    payees = json.loads(civic(node, "funds", "payees", "--json"))
    assert {p["payee"]: p["payments"] for p in payees["payees"]}[labels[0]] == 2
    assert "consistent" in civic(node, "funds", "check")
    for cmd in ("accounts", "budget", "expenses", "transactions", "payees"):
        assert civic(node, "funds", cmd).strip()
    # Export: a stock Frictionless validation accepts it, one row per transaction.
    civic(node, "funds", "export", "--out", str(tmp / "export"))
    report_ = validate(str(tmp / "export" / "datapackage.json"))
    assert report_.valid, report_.flatten(["type", "note"])
    rows = (tmp / "export" / "transactions.csv").read_text().splitlines()
    assert len(rows) == 1 + 4
    # Documents come back by hash; erasure of the private payee keeps every total.
    sha = json.loads(civic(node, "funds", "expense", eid, "--json"))["documents"][0]
    civic(node, "funds", "document", sha, "--out", str(tmp / "copy.pdf"))
    assert (tmp / "copy.pdf").read_bytes() == invoice.read_bytes()
    civic(node, "funds", "erase-payee", labels[0], "--key", k["alice"])
    assert json.loads(civic(node, "funds", "accounts", "--json"))["totals"] == accounts["totals"]


def test_errors_are_one_line(world: tuple[NodeProcess, Path]) -> None:
    node, tmp = world
    env = dict(os.environ, CIVIC_PASSPHRASE=PASS, CIVIC_NODE=node.url)
    base = [sys.executable, "-m", "cli.main", "funds"]
    for args, code in (
        (
            [
                "request",
                "--amount",
                "4.505",
                "--category",
                "gardening",
                "--period",
                "2026",
                "--purpose",
                "x",
                "--payee",
                "Acme",
                "--key",
                str(tmp / "dana.key"),
            ],
            2,
        ),
        (["approve", "999999", "--key", str(tmp / "bob.key")], 3),
    ):
        r = subprocess.run([*base, *args], capture_output=True, text=True, env=env, timeout=120)
        assert r.returncode == code, r.stderr
        assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1, r.stderr


def test_a_dead_end_is_warned_and_next_says_who_acts(world: tuple[NodeProcess, Path]) -> None:
    # Issue 10, item 14: a committee of three, a member's 1,200.00 request (2 approvals).
    node, tmp = world
    k = {n: str(tmp / f"{n}.key") for n in ("alice", "bob", "chen", "dana")}
    civic(node, "funds", "open-account", "--code", "works", "--title", "Works fund",
          "--key", k["alice"], "--also", k["bob"])  # fmt: skip
    civic(node, "funds", "budget-set", "--period", "2026", "--category", "repairs",
          "--amount", "5000.00", "--key", k["alice"], "--also", k["bob"])  # fmt: skip
    quote = tmp / "quote.pdf"
    quote.write_bytes(b"%PDF roof quote 1200.00")
    env = {"CIVIC_PASSPHRASE": PASS, "CIVIC_NODE": node.url, "COLUMNS": "200"}
    args = ["funds", "request", "--amount", "1200.00", "--category", "repairs", "--period",
            "2026", "--purpose", "Roof", "--payee", "Roofers Ltd", "--document", str(quote),
            "--key", k["alice"]]  # fmt: skip
    r = runner.invoke(app, args, env=env, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    eid = r.stdout.split()[1]
    assert f"warning: expense {eid} cannot complete" in r.stderr
    assert "nobody may pay" in r.stderr and "funds_treasurers" in r.stderr
    waiting = json.loads(civic(node, "funds", "next", "--key", k["bob"], "--json"))
    assert [(e["expense"], e["action"]) for e in waiting["expenses"]] == [(eid, "approve")]
    assert "nothing is waiting on you" in civic(node, "funds", "next", "--key", k["dana"])
    civic(node, "funds", "approve", eid, "--key", k["bob"])
    civic(node, "funds", "approve", eid, "--key", k["chen"])
    out = civic(node, "funds", "next", "--all")
    assert f"expense {eid} (approved" in out and "BLOCKED: nobody may pay it" in out
    r = runner.invoke(app, ["funds", "pay", eid, "--account", "works", "--key", k["chen"]],
                      env=env)  # fmt: skip
    assert isinstance(r.exception, ForbiddenError), r.output


def test_report_is_not_cut_at_80_columns_off_a_tty(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Issue 10, item 19: piped to a file, amounts were cut to fit rich's default 80 columns.
    from cli.funds_report import render_report

    monkeypatch.delenv("COLUMNS", raising=False)
    big = 123_456_789_012
    line = {"period": "2026-Q4", "category": "playground-renovation", "currency": "EUR",
            "budgeted": big, "requested": big, "committed": big, "spent": big,
            "remaining": big, "used_pct": 100}  # fmt: skip
    render_report(
        {"size": 1, "accounts": [], "totals": {}, "budget": [line], "budget_totals": {}},
        balances=False,
    )
    out = capsys.readouterr().out
    assert out.count("1,234,567,890.12") == 5 and "playground-renovation" in out
