"""The funds API and the document store, in-process against a real SQLite node."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from client.signing import authorization_header
from funds.bodies import document_body, expense_request_body, pay_body, private_payee
from funds.ledger_math import check_invariants
from ledger.community import commitment
from ledger.keys import KeyPair
from ledger.records import parse_record
from ledger.state import State, replay
from ledger.statements import make_statement, sign_envelope
from node.app import create_app
from node.bootstrap import init_community
from rules import community_rules
from tests.factory import key

ORIGIN = "civic.example/funds-garden"
A, B, C = (key(f"funds-api-{n}") for n in ("alice", "bob", "chen"))
DANA = key("funds-api-dana")
INVOICE = b"%PDF-1.4 invoice 2026-001: hedge trimming, 450.00 EUR\n"


def env(type_: str, body: dict[str, Any], signer: KeyPair, *also: KeyPair) -> dict[str, Any]:
    return sign_envelope(make_statement(ORIGIN, type_, body, signer.key_id), [signer, *also])


def signed(k: KeyPair, method: str, path: str) -> dict[str, str]:
    return {"Authorization": authorization_header(k, method, path)}


class Node:
    """A TestClient with the statement helpers the tests share."""

    def __init__(self, client: TestClient) -> None:
        self.c = client
        self.account = ""
        self.invoice = ""

    @property
    def ctx(self) -> Any:
        return self.c.app.state.ctx  # type: ignore[attr-defined]

    def post(self, envelope: dict[str, Any], status: int = 201) -> dict[str, Any]:
        r = self.c.post("/v1/statements", json=envelope)
        assert r.status_code == status, r.text
        out: dict[str, Any] = r.json()
        return out

    def do(self, type_: str, body: dict[str, Any], signer: KeyPair, *also: KeyPair) -> int:
        n: int = self.post(env(type_, body, signer, *also))["index"]
        return n

    def upload(self, data: bytes, by: KeyPair = A, media: str = "application/pdf") -> Any:
        path = "/v1/documents"
        headers = {**signed(by, "POST", path), "Content-Type": media}
        return self.c.post(path, content=data, headers=headers)

    def publish(self, data: bytes, public: bool = True, by: KeyPair = A) -> str:
        assert self.upload(data, by).status_code == 201
        self.do("funds.document.publish", document_body(data, "application/pdf", public), by)
        return hashlib.sha256(data).hexdigest()

    def setup(self) -> Node:
        salt = b"unit-salt-123456"
        self.do("member.enrol", {"key": DANA.key_id, "unit_commitment": commitment("F1", salt)}, A)
        self.invoice = self.publish(INVOICE)
        body = {"code": "fees", "title": "Property fee fund", "currency": "EUR"}
        self.account = str(self.do("funds.account.open", body, A, B))
        budget = {"period": "2026", "category": "gardening", "amount": 500_000, "currency": "EUR"}
        self.do("funds.budget.set", budget, A, B)
        income = {
            "account": self.account,
            "amount": 1_000_000,
            "currency": "EUR",
            "source": "property-fees",
            "description": "Q4 fees",
            "documents": [self.invoice],
        }
        self.do("funds.income", income, A)
        return self

    def request(self, amount: int = 45_000, **kw: Any) -> str:
        kw.setdefault("payee", "Green Thumb Ltd")
        body = expense_request_body(
            amount, "EUR", "gardening", "2026", "hedge trimming", [self.invoice], **kw
        )
        return str(self.do("funds.expense.request", body, DANA))

    def version(self) -> int:
        v: int = self.c.get("/v1/community").json()["policy"]["version"]
        return v


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    d = tmp_path / "node"
    init_community(d, ORIGIN, [A, B, C])
    return d


@pytest.fixture
def node(node_dir: Path) -> Iterator[Node]:
    with TestClient(create_app(node_dir)) as c:
        yield Node(c).setup()


def test_expense_workflow_and_views(node: Node) -> None:
    c = node.c
    eid = node.request()
    node.do("funds.expense.approve", {"expense": eid, "policy_version": node.version()}, B)
    e = c.get(f"/v1/funds/expenses/{eid}").json()
    pay = node.do("funds.expense.pay", pay_body(e, node.account), C)
    accounts = c.get("/v1/funds/accounts").json()
    assert accounts["accounts"][0]["balance"] == 1_000_000 - 45_000
    assert accounts["totals"] == {"EUR": 955_000}
    line = c.get("/v1/funds/budget", params={"period": "2026"}).json()["lines"][0]
    assert (line["budgeted"], line["spent"], line["remaining"]) == (500_000, 45_000, 455_000)
    detail = c.get(f"/v1/funds/expenses/{eid}").json()
    assert [h["index"] for h in detail["history"]] == [int(eid), pay - 1, pay]
    assert detail["transaction"]["id"] == str(pay)
    assert c.get("/v1/funds/expenses", params={"status": "paid"}).json()["count"] == 1
    assert c.get("/v1/funds/expenses", params={"status": "requested"}).json()["count"] == 0
    assert c.get("/v1/funds/expenses", params={"category": "events"}).json()["count"] == 0
    assert c.get("/v1/funds/expenses", params={"period": "2026"}).json()["count"] == 1
    assert c.get("/v1/funds/expenses", params={"period": "2027"}).json()["count"] == 0
    txs = c.get("/v1/funds/transactions").json()["transactions"]
    assert [t["kind"] for t in txs] == ["income", "payment"]
    rec = c.get(f"/v1/records/{pay}").json()
    assert txs[1]["leaf_hash"] == rec["leaf_hash"], "each row names the record that proves it"
    assert c.get("/v1/funds/check").json() == {"ok": True, "problems": [], "size": pay + 1}
    assert c.get("/v1/funds/payees").json()["payees"][0]["payments"] == 1
    assert c.get("/v1/funds/documents").json()["documents"][0]["sha256"] == node.invoice
    pol = c.get("/v1/funds/policy").json()
    assert pol["currencies"] == ["EUR"] and pol["approval_bands"][0]["approvals"] == 1
    assert c.get("/v1/funds/expenses/99999").status_code == 404
    assert c.get("/v1/funds/expenses/abc").status_code == 422
    assert c.get("/v1/funds/expenses", params={"status": "lost"}).status_code == 422


def test_transactions_paginate(node: Node) -> None:
    for i in range(7):
        node.do(
            "funds.income",
            {
                "account": node.account,
                "amount": 100 + i,
                "currency": "EUR",
                "source": "donations",
                "description": f"gift {i}",
                "documents": [node.invoice],
            },
            A,
        )
    seen: list[int] = []
    params: dict[str, int] = {"limit": 3}
    while True:
        page = node.c.get("/v1/funds/transactions", params=params).json()
        seen += [t["index"] for t in page["transactions"]]
        if page["next"] is None:
            break
        params["after"] = page["next"]
    assert len(seen) == 8 and seen == sorted(seen)
    only = node.c.get("/v1/funds/transactions", params={"account": "income:donations"}).json()
    assert len(only["transactions"]) == 7


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("float amount", 422),
        ("amount as a string", 422),
        ("negative amount", 422),
        ("unknown currency", 422),
        ("unpublished document", 409),
        ("overspend", 409),
        ("self-approval", 403),
        ("unapproved payment", 409),
    ],
)
def test_rejections_over_http(node: Node, case: str, status: int) -> None:
    body = expense_request_body(45_000, "EUR", "gardening", "2026", "x", [node.invoice], "Acme")
    signer = DANA
    type_ = "funds.expense.request"
    if case == "float amount":
        body["amount"] = 450.5
    elif case == "amount as a string":
        body["amount"] = "45000"
    elif case == "negative amount":
        body["amount"] = -1
    elif case == "unknown currency":
        body["currency"] = "XTS"
    elif case == "unpublished document":
        body["documents"] = ["cd" * 32]
    elif case == "overspend":
        body["amount"] = 500_001
    elif case == "self-approval":
        eid = str(node.do(type_, body, A))
        type_, signer = "funds.expense.approve", A
        body = {"expense": eid, "policy_version": node.version()}
    elif case == "unapproved payment":
        eid = node.request()
        e = node.c.get(f"/v1/funds/expenses/{eid}").json()
        type_, signer, body = "funds.expense.pay", C, pay_body(e, node.account)
    before = node.c.get("/healthz").json()["size"]
    r = node.c.post("/v1/statements", json=env(type_, body, signer))
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json" and r.json()["detail"]
    assert node.c.get("/healthz").json()["size"] == before


def test_document_store(node: Node, node_dir: Path) -> None:
    c = node.c
    public = c.get(f"/v1/documents/{node.invoice}")
    assert public.status_code == 200 and public.content == INVOICE
    assert public.headers["content-type"] == "application/pdf"
    assert public.headers["x-content-type-options"] == "nosniff"
    assert "immutable" in public.headers["cache-control"]
    digest = base64.b64encode(hashlib.sha256(INVOICE).digest()).decode()
    assert public.headers["repr-digest"] == f"sha-256=:{digest}:"
    sha = node.invoice
    assert (node_dir / "documents" / sha[:2] / sha[2:]).read_bytes() == INVOICE
    # Unknown, malformed.
    assert c.get(f"/v1/documents/{'0' * 64}").status_code == 404
    assert c.get("/v1/documents/not-a-hash").status_code == 400
    # Uploads need a signature by the committee or an active resident.
    assert c.post("/v1/documents", content=b"x").status_code == 403
    assert node.upload(b"x", by=key("outsider")).status_code == 403
    again = node.upload(INVOICE, by=DANA)
    assert again.status_code == 201 and again.json()["published"] is True
    assert again.json()["uploaded_by"] == A.key_id, "the first upload is kept"
    assert node.upload(b"", by=DANA).status_code == 400
    assert node.upload(b"x", media="not a type").status_code == 400
    # Size limit: 413 beyond it, nothing stored.
    store = node.ctx.services["documents"]
    store.max_bytes = 1000
    big = node.upload(b"z" * 1001)
    assert big.status_code == 413 and big.headers["content-type"] == "application/problem+json"
    assert c.get(f"/v1/documents/{hashlib.sha256(b'z' * 1001).hexdigest()}").status_code == 404
    # Private and unpublished documents: committee keys only.
    minutes = b"minutes: closed session on a resident's arrears"
    msha = node.publish(minutes, public=False)
    path = f"/v1/documents/{msha}"
    assert c.get(path).status_code == 403
    assert c.get(path, headers=signed(DANA, "GET", path)).status_code == 403
    got = c.get(path, headers=signed(B, "GET", path))
    assert got.status_code == 200 and got.content == minutes
    assert got.headers["cache-control"] == "private, no-store"
    draft = b"unpublished draft"
    assert node.upload(draft).status_code == 201
    dpath = f"/v1/documents/{hashlib.sha256(draft).hexdigest()}"
    assert c.get(dpath).status_code == 403
    assert c.get(dpath, headers=signed(C, "GET", dpath)).status_code == 200
    # A file altered on disk is refused, not served.
    (node_dir / "documents" / sha[:2] / sha[2:]).write_bytes(b"swapped receipt")
    assert c.get(f"/v1/documents/{sha}").status_code == 500


def test_private_payee_and_erasure(node: Node) -> None:
    c = node.c
    resolve = "/v1/funds/payees/resolve"
    assert c.post(resolve, json={"name": "Jane Doe"}).status_code == 403
    r = c.post(resolve, json={"name": "Jane Doe"}, headers=signed(A, "POST", resolve))
    assert r.json() == {"label": None}
    fields, opening = private_payee("Jane Doe")
    label = fields["payee_label"]
    envelope = env(
        "funds.expense.request",
        expense_request_body(
            30_000, "EUR", "gardening", "2026", "tree care", [node.invoice], private=fields
        ),
        DANA,
    )
    bad = {**envelope, "private": {**opening, "value": "John Roe"}}
    assert c.post("/v1/statements", json=bad).status_code == 422
    eid = str(node.post({**envelope, "private": opening})["index"])
    rec = c.get(f"/v1/records/{eid}").json()
    assert "Jane" not in str(rec), "the name never enters the log"
    r = c.post(resolve, json={"name": "Jane Doe"}, headers=signed(A, "POST", resolve))
    assert r.json() == {"label": label}, "the same person keeps the same label"
    node.do("funds.expense.approve", {"expense": eid, "policy_version": node.version()}, A)
    e = c.get(f"/v1/funds/expenses/{eid}").json()
    node.do("funds.expense.pay", pay_body(e, node.account), B)
    path = f"/v1/funds/payees/{label}/private"
    assert c.get(path).status_code == 403
    assert c.get(path, headers=signed(DANA, "GET", path)).status_code == 403
    got = c.get(path, headers=signed(C, "GET", path)).json()
    assert got["openings"][0]["value"] == "Jane Doe"
    before = {
        "checkpoint": c.get("/log/checkpoint").content,
        "accounts": c.get("/v1/funds/accounts").json(),
        "budget": c.get("/v1/funds/budget").json(),
        "expense": c.get(f"/v1/funds/expenses/{eid}").json(),
        "record": c.get(f"/v1/records/{eid}").json(),
    }
    d = c.delete(path, headers=signed(A, "DELETE", path))
    assert d.status_code == 200 and d.json()["erased"] == 1
    assert c.get(path, headers=signed(C, "GET", path)).status_code == 404
    r = c.post(resolve, json={"name": "Jane Doe"}, headers=signed(A, "POST", resolve))
    assert r.json() == {"label": None}
    after = {
        "checkpoint": c.get("/log/checkpoint").content,
        "accounts": c.get("/v1/funds/accounts").json(),
        "budget": c.get("/v1/funds/budget").json(),
        "expense": c.get(f"/v1/funds/expenses/{eid}").json(),
        "record": c.get(f"/v1/records/{eid}").json(),
    }
    assert after == before, "erasure leaves the log, its proofs and every total intact"
    log = node.ctx.log
    replayed = replay([parse_record(x) for x in log.entries(0, log.size)], State(community_rules()))
    assert replayed.snapshot() == node.ctx.state().snapshot()


def test_views_equal_a_rebuild_and_survive_restart(node_dir: Path) -> None:
    with TestClient(create_app(node_dir)) as client:
        node = Node(client).setup()
        for amount in (10_000, 20_000, 150_000):
            eid = node.request(amount)
            signers = (A, B) if amount > 100_000 else (A,)
            node.do(
                "funds.expense.approve",
                {"expense": eid, "policy_version": node.version()},
                *signers,
            )
            if amount != 20_000:
                e = client.get(f"/v1/funds/expenses/{eid}").json()
                node.do("funds.expense.pay", pay_body(e, node.account), C)
        live = node.ctx.state().snapshot()
        log = node.ctx.log
        rebuilt = replay(
            [parse_record(x) for x in log.entries(0, log.size)], State(community_rules())
        )
        assert rebuilt.snapshot() == live
        assert node.ctx.store.read_state(community_rules()).snapshot() == live, (
            "SQL views == replay of the log"
        )
        assert check_invariants(rebuilt) == []
        views = {p: client.get(p).json() for p in ("/v1/funds/accounts", "/v1/funds/budget")}
    with TestClient(create_app(node_dir)) as again:
        assert {p: again.get(p).json() for p in views} == views


def test_a_json_document_is_stored_as_given_whatever_its_shape(node: Node, node_dir: Path) -> None:
    # The JSON limits of POST bodies (node.limits.JsonLimits) are for bodies the node
    # parses; a document is stored byte for byte, even JSON deeper than they allow.
    deep = b"[" * 100 + b"7" * 200 + b"]" * 100
    r = node.upload(deep, media="application/json")
    assert r.status_code == 201, r.text
    sha = hashlib.sha256(deep).hexdigest()
    assert r.json()["sha256"] == sha
    assert (node_dir / "documents" / sha[:2] / sha[2:]).read_bytes() == deep
