"""The funds part of the demo community: accounts, a budget, income and expenses.

Made through the same paths as real use: documents into the node's document store,
every step a signed statement through the sequencer. The committee (alice, bob, chen)
opens accounts and sets the year's budget; residents (dana, eli, fatima) request
expenses; one request is rejected, one pays a private individual (only a label and a
commitment enter the log), one needs two approvals, one still waits.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from client.submit import signed_statement
from funds.bodies import document_body, expense_request_body, pay_body, private_payee
from ledger.keys import KeyPair, load_key_file
from node import routes_funds  # noqa: F401  (registers the private payee field)
from node.context import NodeContext
from node.documents import documents_of

__all__ = ["populate"]

_DOCUMENTS = {
    "allocation": (b"City of Maple: 2026 allocation letter, 25,000.00 EUR\n", True, "statement"),
    "fees": (b"Property fee remittance, Q1-Q3 2026: 8,400.00 EUR\n", True, "statement"),
    "invoice-garden": (
        b"Green Thumb Ltd invoice GT-2026-114: hedges, 450.00 EUR\n",
        True,
        "invoice",
    ),
    "quote-roof": (b"Roofers & Sons quote RS-77: bin shelter roof, 1,800.00 EUR\n", True, "quote"),
    "invoice-music": (b"Invoice: live music at the summer party, 120.00 EUR\n", False, "invoice"),
    "quote-fireworks": (b"Sparks quote: fireworks display, 3,000.00 EUR\n", True, "quote"),
    "quote-benches": (b"Parkline quote: two benches, 640.00 EUR\n", True, "quote"),
    "minutes": (b"Committee minutes, 2026-03-12: budget adopted unanimously\n", True, "minutes"),
}


def populate(ctx: NodeContext, keys: Path) -> dict[str, Any]:
    """Add sample funds statements to the demo community; return a summary for demo.json."""
    from demo.community import DEMO_PASSPHRASE, submit_all

    def kp(name: str) -> KeyPair:
        return load_key_file(keys / f"{name}.key", DEMO_PASSPHRASE)

    alice, bob, chen = kp("alice"), kp("bob"), kp("chen")
    dana, eli, fatima = kp("dana"), kp("eli"), kp("fatima")
    origin = ctx.cfg.origin
    state = ctx.state()
    version = state.peek("policy", "current")["version"]
    year = str(datetime.now(UTC).year)

    def one(
        type_: str,
        body: dict[str, Any],
        signer: KeyPair,
        *also: KeyPair,
        private: dict[str, str] | None = None,
    ) -> int:
        (res,) = submit_all(ctx, [signed_statement(origin, type_, body, signer, also, private)])
        index: int = res.index
        return index

    # 1. Documents: bytes into the store, hashes into the log.
    store = documents_of(ctx)
    docs: dict[str, str] = {}
    for name, (data, public, kind) in _DOCUMENTS.items():
        info = store.put(data, "text/plain", alice.key_id)
        one("funds.document.publish", document_body(data, "text/plain", public, kind, name), alice)
        docs[name] = info.sha256

    # 2. Accounts and the year's budget (committee quorum: two of three).
    accounts = {}
    for code, title in (
        ("government-allocation", "Government allocation"),
        ("property-fees", "Property fee fund"),
        ("donations", "Donations"),
    ):
        body: dict[str, Any] = {"code": code, "title": title, "currency": "EUR"}
        accounts[code] = str(one("funds.account.open", body, alice, bob))
    for category, amount in (
        ("gardening", 300_000),
        ("maintenance", 800_000),
        ("events", 150_000),
        ("security", 250_000),
    ):
        body = {
            "period": year,
            "category": category,
            "amount": amount,
            "currency": "EUR",
            "note": "adopted at the March meeting",
        }
        one("funds.budget.set", body, alice, bob)

    # 3. Income.
    for account, amount, source, doc, payer in (
        (
            "government-allocation",
            2_500_000,
            "government-allocation",
            "allocation",
            "City of Maple",
        ),
        ("property-fees", 840_000, "property-fees", "fees", None),
        ("donations", 35_000, "donations", "minutes", None),
    ):
        body = {
            "account": accounts[account],
            "amount": amount,
            "currency": "EUR",
            "source": source,
            "description": f"{source.replace('-', ' ')} {year}",
            "documents": [docs[doc]],
        }
        if payer:
            body["payer"] = payer
        one("funds.income", body, alice)

    def request(
        who: KeyPair,
        amount: int,
        category: str,
        purpose: str,
        doc: str,
        payee: str | None = None,
        private: dict[str, str] | None = None,
        opening: dict[str, str] | None = None,
    ) -> str:
        body = expense_request_body(
            amount, "EUR", category, year, purpose, [docs[doc]], payee=payee, private=private
        )
        return str(one("funds.expense.request", body, who, private=opening))

    def approve(eid: str, *signers: KeyPair) -> None:
        body = {"expense": eid, "policy_version": version}
        one("funds.expense.approve", body, signers[0], *signers[1:])

    def pay(eid: str, account: str, payer: KeyPair) -> None:
        one(
            "funds.expense.pay",
            pay_body(ctx.state().peek("funds_expense", eid), accounts[account]),
            payer,
        )

    # 4. Expenses through the workflow.
    garden = request(
        dana,
        45_000,
        "gardening",
        "Hedge trimming along the north path",
        "invoice-garden",
        payee="Green Thumb Ltd",
    )
    approve(garden, bob)
    pay(garden, "property-fees", chen)

    fields, opening = private_payee("Marta Kowalska")
    music = request(
        eli,
        12_000,
        "events",
        "Live music at the summer party",
        "invoice-music",
        private=fields,
        opening=opening,
    )
    approve(music, alice)
    pay(music, "donations", bob)

    roof = request(
        fatima,
        180_000,
        "maintenance",
        "Roof for the bin shelter",
        "quote-roof",
        payee="Roofers & Sons",
    )
    approve(roof, alice, bob)  # above 1,000.00: two approvals
    pay(roof, "government-allocation", chen)

    fireworks = request(
        dana,
        90_000,
        "events",
        "Fireworks for the summer party",
        "quote-fireworks",
        payee="Sparks Pyrotechnics",
    )
    one(
        "funds.expense.reject",
        {"expense": fireworks, "reason": "not a good use of shared funds"},
        chen,
    )

    benches = request(
        eli,
        64_000,
        "maintenance",
        "Two benches by the playground",
        "quote-benches",
        payee="Parkline Furniture",
    )

    one(
        "funds.transfer",
        {
            "from": accounts["donations"],
            "to": accounts["property-fees"],
            "amount": 10_000,
            "currency": "EUR",
            "description": "donations towards garden upkeep",
        },
        alice,
        chen,
    )

    final = ctx.state()
    return {
        "accounts": {
            code: {"id": aid, "balance": final.peek("funds_account", aid)["balances"]["EUR"]}
            for code, aid in accounts.items()
        },
        "budget_period": year,
        "expenses": {
            eid: {"status": final.peek("funds_expense", eid)["status"], "what": what}
            for eid, what in (
                (garden, "paid, one approval"),
                (music, "paid to a private individual (label only in the log)"),
                (roof, "paid, two approvals"),
                (fireworks, "rejected"),
                (benches, "awaiting approval"),
            )
        },
        "private_payee_label": fields["payee_label"],
        "documents": docs,
        "try": [
            "civic funds report --node URL",
            f"civic funds expense {roof} --node URL",
            "civic funds export --node URL --out funds-export",
        ],
    }
