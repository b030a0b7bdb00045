"""``civic funds``: the committee's and residents' commands for the community's money.

Writes (request, approve, pay, ...) sign a ``funds.*`` statement with your key and submit
it to a node; reads (accounts, budget, expenses, report, export) show what the node's
replay of the log says. Amounts are typed as decimals (``450.00``) and travel as
integers of minor units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cli.common import KEY_OPTION, NODE_OPTION, client, load_key
from cli.funds_report import render_report
from cli.output import emit_json
from client.documents import publish_files
from client.submit import submit_statement
from funds.bodies import expense_request_body, pay_body, private_payee
from funds.export import write_package
from funds.model import format_money, parse_money
from funds.report import build_report
from ledger.c2sp.checkpoint import read_checkpoint
from ledger.errors import InputError

__all__ = ["app"]

app = typer.Typer(
    help="Community funds: request, approve and pay expenses; income, transfers, budgets; "
    "documents; balances, reports and the open-data export.",
    no_args_is_help=True,
)

ALSO_OPTION = typer.Option(
    [], "--also", help="Another committee key file that co-signs (repeat for each)."
)
JSON_OPTION = typer.Option(False, "--json", help="Print JSON.")


# --- helpers -------------------------------------------------------------------------------


def _submit(
    node: str,
    type_: str,
    body: dict[str, Any],
    key: Path,
    also: list[Path] | None = None,
    private: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Sign ``body`` as a ``type_`` statement with ``key`` (and ``also``); submit it."""
    kp = load_key(key)
    co = [load_key(p) for p in also or []]
    with client(node) as c:
        return submit_statement(c, type_, body, kp, co, private)


def _publish(node: str, key: Path, files: list[Path], public: bool, kind: str) -> list[str]:
    """Upload each file to the node's document store and publish its hash (once)."""
    if not files:
        return []  # no key (and no passphrase prompt) needed
    kp = load_key(key)
    with client(node) as c:
        return publish_files(c, kp, files, public, kind)


def _account(node: str, ref: str) -> str:
    """An account id from an id or a code."""
    with client(node) as c:
        accounts = c.get_json("/v1/funds/accounts")["accounts"]
    for a in accounts:
        if ref in (a["id"], a["code"]):
            found: str = a["id"]
            return found
    raise InputError(f"no funds account {ref!r}; see `civic funds accounts`")


def _done(out: dict[str, Any], what: str) -> None:
    typer.echo(f"{what} at record {out['index']} (leaf {out['leaf_hash'][:16]}...)")


# --- the expense workflow --------------------------------------------------------------------


@app.command("request")
def request(
    amount: str = typer.Option(..., "--amount", help="Amount as a decimal, e.g. 450.00."),
    currency: str = typer.Option("EUR", "--currency", help="ISO 4217 code."),
    category: str = typer.Option(..., "--category", help="Budget category, e.g. gardening."),
    period: str = typer.Option(..., "--period", help="Budget period: 2026, 2026-Q4 or 2026-11."),
    purpose: str = typer.Option(..., "--purpose", help="What the money is for (public)."),
    payee: str | None = typer.Option(None, "--payee", help="A company or public body."),
    private_payee_name: str | None = typer.Option(
        None, "--private-payee", help="A private individual: only a label enters the log."
    ),
    document: list[Path] = typer.Option([], "--document", help="Invoice or quote (public)."),
    private_document: list[Path] = typer.Option(
        [], "--private-document", help="A document only committee keys may read."
    ),
    ballot: str | None = typer.Option(None, "--ballot", help="Id of the ballot that passed it."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Request an expense (documents are uploaded and published first).

    Example: civic funds request --amount 450.00 --category gardening --period 2026 --purpose "Hedge trimming" --payee "Green Thumb Ltd" --document invoice.pdf --key dana.key
    """
    if (payee is None) == (private_payee_name is None):
        raise InputError("give exactly one of --payee and --private-payee")
    docs = _publish(node, key, document, True, "invoice")
    docs += _publish(node, key, private_document, False, "invoice")
    fields, opening = None, None
    if private_payee_name is not None:
        label = None
        kp = load_key(key)
        with client(node) as c:
            if kp.key_id in c.community()["committee"]:
                r = c.signed_request(
                    "POST", "/v1/funds/payees/resolve", kp, json={"name": private_payee_name}
                )
                label = r.json()["label"]
        fields, opening = private_payee(private_payee_name, label)
    body = expense_request_body(
        parse_money(amount, currency),
        currency,
        category,
        period,
        purpose,
        docs,
        payee=payee,
        private=fields,
        ballot=ballot,
    )
    out = _submit(node, "funds.expense.request", body, key, private=opening)
    _done(out, f"expense {out['index']} requested")


@app.command("approve")
def approve(
    expense: str = typer.Argument(..., help="The expense id."),
    ballot: str | None = typer.Option(None, "--ballot", help="Id of the passed ballot."),
    note: str | None = typer.Option(None, "--note", help="A public note."),
    key: Path = KEY_OPTION,
    also: list[Path] = ALSO_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Approve an expense under the policy version in force (committee keys).

    Example: civic funds approve 1042 --key bob.key
    """
    with client(node) as c:
        version = c.community()["policy"]["version"]
    body: dict[str, Any] = {"expense": expense, "policy_version": version}
    if ballot:
        body["ballot"] = ballot
    if note:
        body["note"] = note
    _done(_submit(node, "funds.expense.approve", body, key, also), f"expense {expense} approved")


@app.command("pay")
def pay(
    expense: str = typer.Argument(..., help="The expense id."),
    account: str = typer.Option(..., "--account", help="Account id or code to pay from."),
    receipt: list[Path] = typer.Option([], "--receipt", help="Proof of payment (public)."),
    reference: str | None = typer.Option(None, "--reference", help="Bank reference."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Pay an approved expense: the amount and payee are the approved ones.

    Example: civic funds pay 1042 --account property-fees --receipt transfer.pdf --key chen.key
    """
    with client(node) as c:
        e = c.get_json(f"/v1/funds/expenses/{expense}")
    docs = _publish(node, key, receipt, True, "receipt")
    body = pay_body(e, _account(node, account), docs, reference)
    _done(_submit(node, "funds.expense.pay", body, key), f"expense {expense} paid")


@app.command("reject")
def reject(
    expense: str = typer.Argument(..., help="The expense id."),
    reason: str = typer.Option(..., "--reason", help="Why (public)."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Reject an expense request (a committee member other than the requester).

    Example: civic funds reject 1042 --reason "over budget" --key bob.key
    """
    body = {"expense": expense, "reason": reason}
    _done(_submit(node, "funds.expense.reject", body, key), f"expense {expense} rejected")


@app.command("withdraw")
def withdraw(
    expense: str = typer.Argument(..., help="The expense id."),
    reason: str | None = typer.Option(None, "--reason", help="Why (public)."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Withdraw your own expense request.

    Example: civic funds withdraw 1042 --key dana.key
    """
    body = {"expense": expense} | ({"reason": reason} if reason else {})
    _done(_submit(node, "funds.expense.withdraw", body, key), f"expense {expense} withdrawn")


@app.command("expire")
def expire(
    expense: str = typer.Argument(..., help="The expense id."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Record that an expense request expired unpaid (committee keys).

    Example: civic funds expire 1042 --key alice.key
    """
    _done(_submit(node, "funds.expense.expire", {"expense": expense}, key), "expired")


@app.command("reverse")
def reverse(
    transaction: str = typer.Argument(..., help="The transaction id."),
    reason: str = typer.Option(..., "--reason", help="Why (public)."),
    key: Path = KEY_OPTION,
    also: list[Path] = ALSO_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Reverse a transaction with the opposite one (committee quorum: add --also keys).

    Example: civic funds reverse 1043 --reason "refund received" --key alice.key --also bob.key
    """
    body = {"transaction": transaction, "reason": reason}
    _done(_submit(node, "funds.transaction.reverse", body, key, also), "reversed")


# --- money in, accounts, budgets -----------------------------------------------------------


@app.command("income")
def income(
    account: str = typer.Option(..., "--account", help="Account id or code."),
    amount: str = typer.Option(..., "--amount", help="Amount as a decimal."),
    currency: str = typer.Option("EUR", "--currency", help="ISO 4217 code."),
    source: str = typer.Option(..., "--source", help="Income category, e.g. property-fees."),
    description: str = typer.Option(..., "--description", help="What it is (public)."),
    payer: str | None = typer.Option(None, "--payer", help="Who paid (an organisation)."),
    document: list[Path] = typer.Option([], "--document", help="Remittance, letter (public)."),
    key: Path = KEY_OPTION,
    also: list[Path] = ALSO_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Record money received into an account.

    Example: civic funds income --account property-fees --amount 1200.00 --source property-fees --description "Q4 fees" --document remittance.pdf --key alice.key
    """
    body: dict[str, Any] = {
        "account": _account(node, account),
        "amount": parse_money(amount, currency),
        "currency": currency,
        "source": source,
        "description": description,
        "documents": _publish(node, key, document, True, "statement"),
    }
    if payer:
        body["payer"] = payer
    _done(_submit(node, "funds.income", body, key, also), "income recorded")


@app.command("transfer")
def transfer(
    from_: str = typer.Option(..., "--from", help="Account id or code."),
    to: str = typer.Option(..., "--to", help="Account id or code."),
    amount: str = typer.Option(..., "--amount", help="Amount as a decimal."),
    currency: str = typer.Option("EUR", "--currency", help="ISO 4217 code."),
    description: str = typer.Option(..., "--description", help="Why (public)."),
    key: Path = KEY_OPTION,
    also: list[Path] = ALSO_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Move money between two of the community's accounts (committee quorum).

    Example: civic funds transfer --from donations --to property-fees --amount 300.00 --description "top up" --key alice.key --also bob.key
    """
    body = {
        "from": _account(node, from_),
        "to": _account(node, to),
        "amount": parse_money(amount, currency),
        "currency": currency,
        "description": description,
    }
    _done(_submit(node, "funds.transfer", body, key, also), "transfer recorded")


@app.command("open-account")
def open_account(
    code: str = typer.Option(..., "--code", help="Short code, e.g. property-fees."),
    title: str = typer.Option(..., "--title", help="Name of the account."),
    currency: str = typer.Option("EUR", "--currency", help="ISO 4217 code."),
    allow_negative: bool = typer.Option(False, "--allow-negative", help="May go below zero."),
    key: Path = KEY_OPTION,
    also: list[Path] = ALSO_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Open a funds account (committee quorum).

    Example: civic funds open-account --code property-fees --title "Property fee fund" --key alice.key --also bob.key
    """
    body: dict[str, Any] = {"code": code, "title": title, "currency": currency}
    if allow_negative:
        body["allow_negative"] = True
    out = _submit(node, "funds.account.open", body, key, also)
    _done(out, f"account {out['index']} ({code}) opened")


@app.command("budget-set")
def budget_set(
    period: str = typer.Option(..., "--period", help="2026, 2026-Q4 or 2026-11."),
    category: str = typer.Option(..., "--category", help="e.g. gardening."),
    amount: str = typer.Option(..., "--amount", help="Budgeted amount as a decimal."),
    currency: str = typer.Option("EUR", "--currency", help="ISO 4217 code."),
    note: str | None = typer.Option(None, "--note", help="A public note."),
    key: Path = KEY_OPTION,
    also: list[Path] = ALSO_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Set (or revise) a budget line (committee quorum).

    Example: civic funds budget-set --period 2026 --category gardening --amount 5000.00 --key alice.key --also bob.key
    """
    body: dict[str, Any] = {
        "period": period,
        "category": category,
        "amount": 0 if amount.strip() in ("0", "0.00") else parse_money(amount, currency),
        "currency": currency,
    }
    if note:
        body["note"] = note
    _done(_submit(node, "funds.budget.set", body, key, also), f"budget {period}/{category} set")


# --- documents and private payees ----------------------------------------------------------


@app.command("upload")
def upload(
    file: Path = typer.Argument(..., help="The document."),
    private: bool = typer.Option(False, "--private", help="Only committee keys may read it."),
    kind: str = typer.Option("other", "--kind", help="invoice, receipt, quote, contract, ..."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Upload a document and publish its hash in the log; prints the SHA-256.

    Example: civic funds upload minutes-2026-11.pdf --kind minutes --key alice.key
    """
    (sha,) = _publish(node, key, [file], not private, kind)
    typer.echo(sha)


@app.command("document")
def document(
    sha256: str = typer.Argument(..., help="The document's SHA-256."),
    out: Path = typer.Option(..., "--out", help="File to write."),
    key: Path | None = typer.Option(None, "--key", help="Committee key, for private documents."),
    node: str = NODE_OPTION,
) -> None:
    """Download a document by its hash (checked against the hash before writing).

    Example: civic funds document 3f9a... --out invoice.pdf
    """
    import hashlib

    path = f"/v1/documents/{sha256}"
    with client(node) as c:
        data = c.signed_request("GET", path, load_key(key)).content if key else c.get_bytes(path)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise InputError(f"the node answered bytes that do not hash to {sha256}")
    out.write_bytes(data)
    typer.echo(f"wrote {len(data)} bytes to {out}")


@app.command("erase-payee")
def erase_payee(
    label: str = typer.Argument(..., help="The private payee's label, e.g. p-3f9a0c21d4."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Erase a private payee's identity from the node; the log and totals stay intact.

    Example: civic funds erase-payee p-3f9a0c21d4 --key alice.key
    """
    with client(node) as c:
        r = c.signed("DELETE", f"/v1/funds/payees/{label}/private", load_key(key))
    typer.echo(f"erased {r['erased']} opening(s) of {label}")


# --- reads ----------------------------------------------------------------------------------


@app.command("accounts")
def accounts(node: str = NODE_OPTION, json_out: bool = JSON_OPTION) -> None:
    """Balances of the community's accounts.

    Example: civic funds accounts --node http://127.0.0.1:8000
    """
    with client(node) as c:
        info = c.get_json("/v1/funds/accounts")
    if json_out:
        emit_json(info)
        return
    t = Table(title="Accounts")
    for col in ("id", "code", "title", "balance"):
        t.add_column(col, justify="right" if col in ("id", "balance") else "left")
    for a in info["accounts"]:
        t.add_row(
            a["id"],
            a["code"],
            a["title"],
            f"{format_money(a['balance'], a['currency'])} {a['currency']}",
        )
    Console().print(t)


@app.command("budget")
def budget(
    period: str | None = typer.Option(None, "--period", help="2026, 2026-Q4 or 2026-11."),
    node: str = NODE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Budget lines against actual spending.

    Example: civic funds budget --period 2026
    """
    with client(node) as c:
        info = c.get_json("/v1/funds/budget", period=period)
    if json_out:
        emit_json(info)
        return
    with client(node) as c:
        report = build_report(c.get_json("/v1/funds/accounts"), info)
    render_report(report, balances=False)


@app.command("expenses")
def expenses(
    status: str | None = typer.Option(None, "--status", help="requested, approved, paid, ..."),
    category: str | None = typer.Option(None, "--category", help="Budget category."),
    period: str | None = typer.Option(None, "--period", help="Budget period."),
    payee: str | None = typer.Option(None, "--payee", help="Payee name or label."),
    node: str = NODE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """List expenses, filtered by status, category, period or payee.

    Example: civic funds expenses --status requested
    """
    with client(node) as c:
        info = c.get_json(
            "/v1/funds/expenses", status=status, category=category, period=period, payee=payee
        )
    if json_out:
        emit_json(info)
        return
    t = Table(title=f"{info['count']} expenses")
    for col in ("id", "status", "amount", "category", "period", "payee", "approvals", "purpose"):
        t.add_column(col, justify="right" if col in ("id", "amount") else "left")
    for e in info["expenses"]:
        t.add_row(
            e["id"],
            e["status"],
            f"{format_money(e['amount'], e['currency'])} {e['currency']}",
            e["category"],
            e["period"],
            e["payee"] or e["payee_label"],
            f"{len(e['approvals'])}/{e['approvals_needed']}",
            e["purpose"][:40],
        )
    Console().print(t)


@app.command("expense")
def expense(
    expense_id: str = typer.Argument(..., help="The expense id."),
    node: str = NODE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """One expense and its whole history, with record indexes.

    Example: civic funds expense 1042
    """
    with client(node) as c:
        e = c.get_json(f"/v1/funds/expenses/{expense_id}")
    if json_out:
        emit_json(e)
        return
    money = f"{format_money(e['amount'], e['currency'])} {e['currency']}"
    typer.echo(f"expense {e['id']}: {e['status']}, {money} to {e['payee'] or e['payee_label']}")
    typer.echo(f"  {e['purpose']} ({e['budget_line']})")
    for h in e["history"]:
        typer.echo(f"  record {h['index']:>8}  {h['time']}  {h['type']:<24} by {h['by']}")


@app.command("transactions")
def transactions(
    account: str | None = typer.Option(None, "--account", help="Only this account id."),
    kind: str | None = typer.Option(None, "--kind", help="income, transfer, payment, reversal."),
    after: int | None = typer.Option(None, "--after", help="Start after this record index."),
    limit: int = typer.Option(50, "--limit", help="How many."),
    node: str = NODE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Transactions in log order.

    Example: civic funds transactions --kind payment --limit 20
    """
    with client(node) as c:
        info = c.get_json(
            "/v1/funds/transactions", account=account, kind=kind, after=after, limit=limit
        )
    if json_out:
        emit_json(info)
        return
    t = Table(title="Transactions")
    for col in ("record", "time", "kind", "from", "to", "amount", "counterparty"):
        t.add_column(col, justify="right" if col in ("record", "amount") else "left")
    for x in info["transactions"]:
        t.add_row(
            str(x["index"]),
            x["time"],
            x["kind"],
            x["from_account"],
            x["to_account"],
            f"{format_money(x['amount'], x['currency'])} {x['currency']}",
            x["counterparty"] or "",
        )
    Console().print(t)


@app.command("payees")
def payees(node: str = NODE_OPTION, json_out: bool = JSON_OPTION) -> None:
    """Payees by name or pseudonymous label: how often and how much they were paid.

    Example: civic funds payees
    """
    with client(node) as c:
        info = c.get_json("/v1/funds/payees")
    if json_out:
        emit_json(info)
        return
    t = Table(title="Payees")
    for col in ("payee", "private", "requests", "payments", "paid"):
        t.add_column(col)
    for p in info["payees"]:
        paid = ", ".join(f"{format_money(v, c_)} {c_}" for c_, v in sorted(p["paid"].items()))
        t.add_row(
            p["payee"], "yes" if p["private"] else "", str(p["requests"]), str(p["payments"]), paid
        )
    Console().print(t)


@app.command("report")
def report(
    period: str | None = typer.Option(None, "--period", help="2026, 2026-Q4 or 2026-11."),
    node: str = NODE_OPTION,
    json_out: bool = JSON_OPTION,
) -> None:
    """Balances and budget against actual, as tables.

    Example: civic funds report --period 2026 --node http://127.0.0.1:8000
    """
    with client(node) as c:
        data = build_report(
            c.get_json("/v1/funds/accounts"), c.get_json("/v1/funds/budget", period=period)
        )
    if json_out:
        emit_json(data)
        return
    render_report(data)


@app.command("check")
def check(node: str = NODE_OPTION, json_out: bool = JSON_OPTION) -> None:
    """Ask the node to recompute every balance and budget figure from the transactions.

    Example: civic funds check
    """
    with client(node) as c:
        info = c.get_json("/v1/funds/check")
    if json_out:
        emit_json(info)
    elif info["ok"]:
        typer.echo(f"funds consistent at log size {info['size']}")
    else:
        for p in info["problems"]:
            typer.echo(f"problem: {p}", err=True)
    if not info["ok"]:
        raise typer.Exit(3)


@app.command("export")
def export(
    out: Path = typer.Option(..., "--out", help="Folder for the data package."),
    node: str = NODE_OPTION,
) -> None:
    """Write a Frictionless data package (CSV + datapackage.json) of transactions and
    budget lines; each row names the log record (index, leaf hash) that proves it.

    Example: civic funds export --node http://127.0.0.1:8000 --out funds-2026
    """
    with client(node) as c:
        note = c.checkpoint()
        checkpoint = note.decode()
        origin = c.community()["origin"]
        size = read_checkpoint(note).size

        def rows() -> Any:
            after: int | None = None
            while True:
                page = c.get_json("/v1/funds/transactions", after=after, limit=5000)
                for t in page["transactions"]:
                    # Only rows inside the checkpoint that the package names.
                    if t["index"] < size:
                        yield t
                if page["next"] is None:
                    return
                after = page["next"]

        budget_lines = c.get_json("/v1/funds/budget")["lines"]
        res = write_package(out, rows(), budget_lines, origin, checkpoint, c.url)
    typer.echo(
        f"wrote {res.transactions} transactions and {res.budget_lines} budget lines to "
        f"{res.descriptor}"
    )
