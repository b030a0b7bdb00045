"""Shared helpers for the funds tests: a community with accounts, a budget and money in it.

Other ``test_funds_*`` modules import :class:`Funds` from here; the one test at the end
checks that the helpers build what they say.
"""

from __future__ import annotations

import hashlib
from typing import Any

from ledger.community import commitment
from ledger.keys import KeyPair
from ledger.state import Context
from tests.factory import Community, key

PERIOD = "2026"
SALT = b"payee-salt-0123456789"


class Funds:
    """A :class:`Community` (3 committee members) with funds helpers.

    ``setup()`` opens account ``fees`` (EUR), sets budget line ``2026/gardening`` to
    5,000.00 and records 10,000.00 of income, so expenses can be requested and paid.
    """

    def __init__(self, policy: dict[str, Any] | None = None, committee: int = 3) -> None:
        self.com = Community(committee=committee, policy=policy)
        self.a, self.b, self.c = self.com.committee[:3]
        self.resident = self.com.enrol("dana")
        self.docs = 0
        self.account = ""
        self.invoice = ""

    @property
    def state(self) -> Any:
        return self.com.state

    def version(self) -> int:
        v: int = self.state.peek("policy", "current")["version"]
        return v

    def do(self, type_: str, body: dict[str, Any], signer: KeyPair, *also: KeyPair) -> Context:
        return self.com.do(type_, body, signer, also=list(also))

    def doc(self, public: bool = True, signer: KeyPair | None = None) -> str:
        """Publish a fresh document; its hash."""
        self.docs += 1
        sha = hashlib.sha256(f"document {self.docs}".encode()).hexdigest()
        body = {"sha256": sha, "size": 100 + self.docs, "media_type": "application/pdf"}
        self.do("funds.document.publish", {**body, "public": public}, signer or self.a)
        return sha

    def open_account(self, code: str = "fees", currency: str = "EUR", **extra: Any) -> str:
        body = {"code": code, "title": f"{code} fund", "currency": currency, **extra}
        return str(self.do("funds.account.open", body, self.a, *self.com.committee[1:]).index)

    def budget(self, amount: int, category: str = "gardening", currency: str = "EUR") -> None:
        body = {"period": PERIOD, "category": category, "amount": amount, "currency": currency}
        self.do("funds.budget.set", body, self.a, *self.com.committee[1:])

    def income(self, amount: int, account: str | None = None, currency: str = "EUR") -> str:
        body = {
            "account": account or self.account,
            "amount": amount,
            "currency": currency,
            "source": "property-fees",
            "description": "quarterly fees",
            "documents": [self.invoice],
        }
        return str(self.do("funds.income", body, self.a).index)

    def setup(self) -> Funds:
        self.invoice = self.doc()
        self.account = self.open_account()
        self.budget(500_000)
        self.income(1_000_000)
        return self

    def request_body(self, amount: int = 45_000, **extra: Any) -> dict[str, Any]:
        body: dict[str, Any] = {
            "amount": amount,
            "currency": "EUR",
            "category": "gardening",
            "budget_line": f"{PERIOD}/gardening",
            "purpose": "hedge trimming",
            "documents": [self.invoice],
            "payee": "Green Thumb Ltd",
        }
        body.update(extra)
        return {k: v for k, v in body.items() if v is not None}

    def request(self, amount: int = 45_000, by: KeyPair | None = None, **extra: Any) -> str:
        return str(
            self.do(
                "funds.expense.request", self.request_body(amount, **extra), by or self.resident
            ).index
        )

    def approve(self, eid: str, signer: KeyPair, *also: KeyPair, **extra: Any) -> Context:
        body = {"expense": eid, "policy_version": self.version(), **extra}
        return self.do("funds.expense.approve", body, signer, *also)

    def pay_body(self, eid: str, **extra: Any) -> dict[str, Any]:
        e = self.state.peek("funds_expense", eid)
        body: dict[str, Any] = {
            "expense": eid,
            "account": self.account,
            "amount": e["amount"],
            "currency": e["currency"],
        }
        if e["payee"] is not None:
            body["payee"] = e["payee"]
        else:
            body["payee_label"] = e["payee_label"]
        body.update(extra)
        return {k: v for k, v in body.items() if v is not None}

    def pay(self, eid: str, payer: KeyPair | None = None, **extra: Any) -> Context:
        return self.do("funds.expense.pay", self.pay_body(eid, **extra), payer or self.c)

    def private_payee(self, name: str = "Jane Doe", salt: bytes = SALT) -> dict[str, Any]:
        """Request fields for a private individual: label and commitment."""
        label = "p-" + hashlib.sha256(name.encode()).hexdigest()[:8]
        return {"payee_label": label, "payee_commitment": commitment(name, salt)}

    def balance(self, account: str | None = None) -> int:
        acc = self.state.peek("funds_account", account or self.account)
        b: int = acc["balances"].get("EUR", 0)
        return b

    def line(self, category: str = "gardening") -> dict[str, Any]:
        line: dict[str, Any] = self.state.peek("funds_budget", f"{PERIOD}/{category}")
        return line


def resident(label: str) -> KeyPair:
    return key(f"resident-{label}")


def test_support_builds_a_funded_community() -> None:
    f = Funds().setup()
    assert f.balance() == 1_000_000
    assert f.line()["amount"] == 500_000
    assert f.state.peek("funds_document", f.invoice)["public"] is True
