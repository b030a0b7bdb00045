"""The voting API in-process against a real SQLite node: votes through POST /v1/statements,
reads under /v1/ballots, bundles and receipts checked with the pure verifiers."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger.c2sp.checkpoint import open_checkpoint
from ledger.c2sp.note import parse_vkey
from ledger.keys import KeyPair
from ledger.records import format_time
from ledger.statements import make_statement, sign_envelope
from node.app import create_app
from node.bootstrap import init_community
from tests.factory import key
from voting.evidence import parse_bundle, tally_bundle
from voting.receipts import build_receipt, verify_receipt

ORIGIN = "civic.example/vote-garden"
CHAIR = key("vote-api-chair")
RESIDENTS = [key(f"vote-api-r{i}") for i in range(6)]


class Node:
    """A TestClient over a real node whose sequencer clock the test moves."""

    def __init__(self, client: TestClient) -> None:
        self.c = client
        self.seq = client.app.state.ctx.services["sequencer"]  # type: ignore[attr-defined]
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.seq.clock = lambda: self.now

    def advance(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)

    def env(self, type_: str, body: dict[str, Any], signer: KeyPair) -> dict[str, Any]:
        return sign_envelope(make_statement(ORIGIN, type_, body, signer.key_id, self.now), [signer])

    def post(self, type_: str, body: dict[str, Any], signer: KeyPair) -> Any:
        return self.c.post("/v1/statements", json=self.env(type_, body, signer))

    def vote(self, bid: str, who: int, choice: Any) -> Any:
        return self.post("vote.cast", {"ballot": bid, "choice": choice}, RESIDENTS[who])


@pytest.fixture
def node(tmp_path: Path) -> Iterator[Node]:
    d = tmp_path / "node"
    init_community(d, ORIGIN, [CHAIR])
    with TestClient(create_app(d)) as c:
        n = Node(c)
        envs = [
            n.env("member.enrol", {"key": r.key_id, "unit_commitment": "ab" * 32}, CHAIR)
            for r in RESIDENTS
        ]
        res = c.post("/v1/statements", json=envs).json()["results"]
        assert all(r["status"] == 201 for r in res)
        yield n


def open_ballot(n: Node, **over: Any) -> str:
    body = {
        "kind": "single",
        "title": {"en": "Spring cleaning day", "zh": "春季大扫除"},
        "options": [
            {"id": "sat", "label": {"en": "Saturday", "zh": "星期六"}},
            {"id": "sun", "label": {"en": "Sunday", "zh": "星期日"}},
        ],
        "closes": format_time(n.now + timedelta(hours=1)),
        "quorum": {"percent": 50},
        "passing": "plurality",
        **over,
    }
    r = n.post("ballot.open", body, CHAIR)
    assert r.status_code == 201, r.text
    return str(r.json()["index"])


def test_ballot_reads(node: Node) -> None:
    bid = open_ballot(node)
    for i, c in enumerate(["sat", "sun", "sat", "sat"]):
        assert node.vote(bid, i, c).status_code == 201
    assert node.vote(bid, 1, "sat").status_code == 201  # re-vote
    c = node.c
    lst = c.get("/v1/ballots").json()
    assert lst["total"] == 1 and lst["ballots"][0]["id"] == bid
    assert lst["ballots"][0]["title"]["zh"] == "春季大扫除"
    assert c.get("/v1/ballots?status=closed").json()["total"] == 0
    doc = c.get(f"/v1/ballots/{bid}").json()
    assert doc["status"] == "open" and doc["electorate_size"] == 6 and doc["votes_cast"] == 5
    res = c.get(f"/v1/ballots/{bid}/result").json()
    assert res["result"] is None and res["provisional"]["counts"] == {"sat": 4, "sun": 0}
    el = c.get(f"/v1/ballots/{bid}/electorate").json()
    assert el["size"] == 6 and el["keys"] == sorted(r.key_id for r in RESIDENTS)
    page1 = c.get(f"/v1/ballots/{bid}/votes?offset=0&limit=3").json()
    page2 = c.get(f"/v1/ballots/{bid}/votes?offset=3&limit=3").json()
    assert page1["total"] == 4 and len(page1["votes"]) == 3 and len(page2["votes"]) == 1
    idx = [v["index"] for v in page1["votes"] + page2["votes"]]
    assert idx == sorted(idx)
    one = c.get(f"/v1/ballots/{bid}/votes", params={"key": RESIDENTS[1].key_id}).json()
    assert one["votes"][0]["n"] == 2 and one["votes"][0]["choice"] == "sat"
    assert c.get("/v1/ballots/999").status_code == 404
    assert c.get("/v1/ballots/abc").status_code == 400
    assert c.get(f"/v1/ballots/{bid}/votes?limit=0").status_code == 422


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("not eligible", 403),
        ("committee opens only", 403),
        ("unknown option", 409),
        ("after close", 409),
        ("no such ballot", 409),
        ("malformed choice", 422),
        ("malformed ballot", 422),
    ],
)
def test_rejections(node: Node, case: str, status: int) -> None:
    bid = open_ballot(node)
    before = node.c.get("/healthz").json()["size"]
    if case == "not eligible":
        r = node.post("vote.cast", {"ballot": bid, "choice": "sat"}, key("stranger"))
    elif case == "committee opens only":
        r = node.post("ballot.open", {"kind": "yes_no"}, RESIDENTS[0])
    elif case == "unknown option":
        r = node.vote(bid, 0, "mon")
    elif case == "after close":
        node.advance(3600)
        r = node.vote(bid, 0, "sat")
    elif case == "no such ballot":
        r = node.vote("12345", 0, "sat")
    elif case == "malformed choice":
        r = node.vote(bid, 0, 3)
    else:
        r = node.post("ballot.open", {"kind": "yes_no"}, CHAIR)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json" and r.json()["detail"]
    assert node.c.get("/healthz").json()["size"] == before


def test_close_bundle_tally_and_receipt(node: Node) -> None:
    c = node.c
    vkey = parse_vkey(c.get("/v1/community").json()["log_vkey"])

    def opener(note: bytes) -> Any:
        return open_checkpoint(note, vkey)[0]

    bid = open_ballot(node)
    r = node.vote(bid, 0, "sun")
    assert r.status_code == 201
    out = r.json()
    record = base64.b64decode(c.get(f"/v1/records/{out['index']}").json()["entry"])
    receipt = build_receipt(
        out["index"],
        [bytes.fromhex(h) for h in out["inclusion_proof"]["hashes"]],
        out["checkpoint"].encode(),
        record,
        vkey,
    )
    for i in (1, 2, 3):
        node.vote(bid, i, "sun" if i < 3 else "sat")
    # Too early: the sequencer's clock decides.
    body = {"ballot": bid, "electorate_hash": "", "result": {}}
    assert node.post("ballot.close", body, CHAIR).status_code == 409
    node.advance(3600)
    b = parse_bundle(c.get(f"/v1/ballots/{bid}/bundle").content)
    t = tally_bundle(b, opener, c.get(f"/v1/ballots/{bid}/result").json())
    assert t.ok and t.history.status == "open" and t.computed["counts"] == {"sat": 1, "sun": 3}
    wrong = {**t.computed, "chosen": ["sat"]}
    doc = c.get(f"/v1/ballots/{bid}").json()
    body = {"ballot": bid, "electorate_hash": doc["electorate_hash"], "result": wrong}
    r = node.post("ballot.close", body, CHAIR)
    assert r.status_code == 409 and "does not match" in r.json()["detail"]
    body["result"] = t.computed
    r = node.post("ballot.close", body, CHAIR)
    assert r.status_code == 201, r.text
    res = c.get(f"/v1/ballots/{bid}/result").json()
    assert (
        res["status"] == "closed" and res["result"]["passed"] and res["result"]["chosen"] == ["sun"]
    )
    # Records after the close stay outside the ballot's range.
    node.post("ballot.open", {**doc_body(node)}, CHAIR)
    size = out["inclusion_proof"]["tree_size"]
    b = parse_bundle(c.get(f"/v1/ballots/{bid}/bundle", params={"consistency_from": size}).content)
    assert b.end == r.json()["index"] + 1
    t = tally_bundle(b, opener, c.get(f"/v1/ballots/{bid}/result").json())
    assert t.ok and t.recorded == t.computed
    report = verify_receipt(receipt, vkey, (), b, open_cp=opener)
    assert report.ok, report.to_json()
    assert report.step(9).status == "pass"
    assert c.get(f"/v1/ballots/{bid}/bundle", params={"consistency_from": 10**6}).status_code == 400


def doc_body(n: Node) -> dict[str, Any]:
    return {
        "kind": "yes_no",
        "title": {"en": "Another question"},
        "closes": format_time(n.now + timedelta(hours=1)),
        "quorum": {"votes": 0},
        "passing": "two_thirds",
    }


def test_state_survives_restart(tmp_path: Path) -> None:
    d = tmp_path / "n"
    init_community(d, ORIGIN, [CHAIR])
    with TestClient(create_app(d)) as c:
        n = Node(c)
        c.post(
            "/v1/statements",
            json=n.env(
                "member.enrol", {"key": RESIDENTS[0].key_id, "unit_commitment": "cd" * 32}, CHAIR
            ),
        )
        bid = open_ballot(n, quorum={"votes": 1})
        assert n.vote(bid, 0, "sat").status_code == 201
        before = c.get(f"/v1/ballots/{bid}/votes").json()
    with TestClient(create_app(d)) as c2:
        assert c2.get(f"/v1/ballots/{bid}/votes").json() == before
