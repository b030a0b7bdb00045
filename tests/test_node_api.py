"""The node's HTTP API in-process: tiles, records, proofs, problem+json errors."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ledger import merkle
from ledger.c2sp.checkpoint import open_checkpoint
from ledger.c2sp.note import parse_vkey
from ledger.statements import make_statement, sign_envelope
from ledger.tiles import decode_bundle
from node.app import create_app
from node.bootstrap import init_community
from node.context import open_context
from tests.factory import key


@pytest.fixture(scope="module")
def node_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("node") / "n"
    chair = key("node-api-chair")
    init_community(d, "civic.example/api", [chair])
    ctx = open_context(d, serve=True)
    try:
        envs = [
            sign_envelope(
                make_statement(
                    "civic.example/api",
                    "member.enrol",
                    {"key": key(f"r{i}").key_id, "unit_commitment": "ab" * 32},
                    chair.key_id,
                ),
                [chair],
            )
            for i in range(599)
        ]
        for lo in range(0, 599, 200):
            assert all(
                not isinstance(r, Exception)
                for r in ctx.services["sequencer"].submit(envs[lo : lo + 200])
            )
    finally:
        ctx.close()
    return d


@pytest.fixture(scope="module")
def client(node_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(node_dir)) as c:
        yield c


def _problem(r: object, status: int) -> dict[str, object]:
    resp = r  # httpx.Response
    assert resp.status_code == status, resp.text  # type: ignore[attr-defined]
    assert resp.headers["content-type"] == "application/problem+json"  # type: ignore[attr-defined]
    body: dict[str, object] = resp.json()  # type: ignore[attr-defined]
    assert body["status"] == status and body["detail"]
    return body


def test_checkpoint_and_tiles(client: TestClient, node_dir: Path) -> None:
    from node.config import load_config

    vkey = load_config(node_dir).log_vkey
    assert vkey
    r = client.get("/log/checkpoint")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-cache"
    cp, _ = open_checkpoint(r.content, parse_vkey(vkey))
    assert cp.size == 600
    full = client.get("/log/tile/0/001")
    assert full.status_code == 200 and "immutable" in full.headers["cache-control"]
    assert len(full.content) == 256 * 32
    part = client.get("/log/tile/0/002.p/88")
    assert len(part.content) == 88 * 32 and part.headers["cache-control"] == "no-cache"
    bundle = decode_bundle(client.get("/log/tile/entries/002.p/88").content)
    assert len(bundle) == 88
    assert bundle[5] == base64.b64decode(client.get("/v1/records/517").json()["entry"])
    # Recompute the root from the level-0 tiles.
    leaves = []
    for path in ("tile/0/000", "tile/0/001", "tile/0/002.p/88"):
        data = client.get("/log/" + path).content
        leaves += [data[i : i + 32] for i in range(0, len(data), 32)]
    assert merkle.root_from_leaves(leaves) == cp.root_hash


def test_record_and_proofs(client: TestClient) -> None:
    rec = client.get("/v1/records/17").json()
    data = base64.b64decode(rec["entry"])
    assert rec["leaf_hash"] == merkle.leaf_hash(data).hex() and rec["record"]["index"] == 17
    p = client.get("/v1/proofs/inclusion", params={"index": 17, "tree_size": 400}).json()
    root = client.app.state.ctx.log.root_at(400)  # type: ignore[attr-defined]
    merkle.verify_inclusion(
        bytes.fromhex(rec["leaf_hash"]), 17, 400, [bytes.fromhex(h) for h in p["hashes"]], root
    )
    by_hash = client.get(
        "/v1/proofs/inclusion", params={"leaf_hash": rec["leaf_hash"], "tree_size": 400}
    ).json()
    assert by_hash == p and p["leaf_index"] == 17
    c = client.get("/v1/proofs/consistency", params={"first": 200, "second": 600}).json()
    log = client.app.state.ctx.log  # type: ignore[attr-defined]
    merkle.verify_consistency(
        200, 600, [bytes.fromhex(h) for h in c["hashes"]], log.root_at(200), log.root()
    )


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/v1/records/600", 404),
        ("/v1/records/-1", 404),
        ("/v1/records/abc", 422),
        ("/v1/proofs/inclusion?index=1&tree_size=601", 400),
        ("/v1/proofs/inclusion?index=5&tree_size=5", 400),
        ("/v1/proofs/inclusion?index=x&tree_size=5", 422),
        ("/v1/proofs/inclusion?tree_size=5", 400),
        ("/v1/proofs/inclusion?index=1&leaf_hash=" + "00" * 32 + "&tree_size=5", 400),
        ("/v1/proofs/inclusion?leaf_hash=zz&tree_size=5", 422),
        ("/v1/proofs/inclusion?leaf_hash=" + "00" * 32 + "&tree_size=5", 404),
        ("/v1/proofs/consistency?first=10&second=5", 400),
        ("/v1/proofs/consistency?first=1&second=601", 400),
        ("/v1/proofs/consistency?first=-1&second=5", 422),
        ("/log/tile/0/003", 404),
        ("/log/tile/0/002", 404),
        ("/log/tile/0/1", 400),
        ("/log/tile/entries/003.p/5", 404),
        ("/nope", 404),
        # Found by schemathesis: numbers beyond 64 bits must not reach the database.
        ("/v1/checkpoints/6885846753980074426368", 404),
        ("/v1/proofs/consistency?first=1&second=6885846753980074426368", 400),
        ("/v1/funds/transactions?after=6885846753980074426368", 422),
    ],
)
def test_bad_requests_get_problems(client: TestClient, path: str, status: int) -> None:
    _problem(client.get(path), status)


def test_body_limit(client: TestClient) -> None:
    r = client.post("/v1/records/1", content=b"x" * (9 * 1024 * 1024))
    _problem(r, 413)


def test_openapi_and_health(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/v1/proofs/inclusion" in spec["paths"]
    h = client.get("/healthz").json()
    assert h["ok"] is True and h["size"] == 600
