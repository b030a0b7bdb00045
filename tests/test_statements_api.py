"""POST /v1/statements and the community reads, in-process against a real SQLite node."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from client.signing import authorization_header
from ledger import merkle
from ledger.c2sp.checkpoint import open_checkpoint
from ledger.c2sp.note import parse_vkey
from ledger.community import commitment
from ledger.keys import KeyPair
from ledger.records import parse_record
from ledger.state import State, replay
from ledger.statements import make_statement, sign_envelope
from node.app import create_app
from node.bootstrap import init_community
from rules import community_rules
from tests.factory import key

ORIGIN = "civic.example/api-garden"
COMMITTEE = [key("api-committee-0"), key("api-committee-1")]


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    d = tmp_path / "node"
    init_community(d, ORIGIN, COMMITTEE)
    return d


@pytest.fixture
def client(node_dir: Path) -> Iterator[TestClient]:
    with TestClient(create_app(node_dir)) as c:
        yield c


def enrol_env(
    resident: KeyPair, signer: KeyPair = COMMITTEE[0], unit: str = "Flat 1"
) -> dict[str, Any]:
    salt = b"salt-salt-salt-1"
    body = {"key": resident.key_id, "unit_commitment": commitment(unit, salt)}
    env = sign_envelope(make_statement(ORIGIN, "member.enrol", body, signer.key_id), [signer])
    env["private"] = {"value": unit, "salt": base64.b64encode(salt).decode()}
    return env


def size(client: TestClient) -> int:
    n: int = client.get("/healthz").json()["size"]
    return n


def test_accepted_statement_is_proven_in_its_checkpoint(client: TestClient) -> None:
    vkey = parse_vkey(client.get("/v1/community").json()["log_vkey"])
    r = client.post("/v1/statements", json=enrol_env(key("res-1")))
    assert r.status_code == 201, r.text
    body = r.json()
    cp, _ = open_checkpoint(body["checkpoint"].encode(), vkey)
    rec = client.get(f"/v1/records/{body['index']}").json()
    leaf = merkle.leaf_hash(base64.b64decode(rec["entry"]))
    assert leaf.hex() == body["leaf_hash"]
    p = body["inclusion_proof"]
    assert p["tree_size"] == cp.size
    merkle.verify_inclusion(
        leaf, body["index"], cp.size, [bytes.fromhex(h) for h in p["hashes"]], cp.root_hash
    )
    assert "private" not in rec["record"]["envelope"], "the opening must never enter the log"
    m = client.get(f"/v1/members/{key('res-1').key_id}").json()
    assert m["resident"]["status"] == "active"


@pytest.mark.parametrize(
    ("case", "status"),
    [
        ("forged", 401),
        ("not committee", 403),
        ("unknown type", 422),
        ("malformed json", 422),
        ("missing field", 422),
        ("already enrolled", 409),
        ("replay", 409),
        ("stale", 409),
        ("opening mismatch", 422),
        ("array too long", 413),
    ],
)
def test_rejections_write_nothing(client: TestClient, case: str, status: int) -> None:
    resident = key("res-2")
    env = enrol_env(resident)
    if case in ("already enrolled", "replay"):
        assert client.post("/v1/statements", json=env).status_code == 201
        if case == "already enrolled":
            env = enrol_env(resident)
    before = size(client)
    content = None
    if case == "forged":
        env["statement"]["body"]["key"] = key("mallory").key_id
    elif case == "not committee":
        env = enrol_env(resident, signer=key("nobody"))
    elif case == "unknown type":
        st = make_statement(ORIGIN, "member.teleport", {}, COMMITTEE[0].key_id)
        env = sign_envelope(st, [COMMITTEE[0]])
    elif case == "malformed json":
        content = b'{"statement": '
    elif case == "missing field":
        del env["statement"]["nonce"]
    elif case == "stale":
        from datetime import UTC, datetime

        st = make_statement(
            ORIGIN,
            "member.enrol",
            env["statement"]["body"],
            COMMITTEE[0].key_id,
            datetime(2020, 1, 1, tzinfo=UTC),
        )
        env = sign_envelope(st, [COMMITTEE[0]]) | {"private": env["private"]}
    elif case == "opening mismatch":
        env["private"]["value"] = "Flat 2"
    if case == "array too long":
        r = client.post("/v1/statements", json=[env] * 1001)
    elif content is not None:
        r = client.post(
            "/v1/statements", content=content, headers={"content-type": "application/json"}
        )
    else:
        r = client.post("/v1/statements", json=env)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"]
    assert size(client) == before


def test_array_answers_each_item(client: TestClient) -> None:
    good = [enrol_env(key(f"batch-{i}"), unit=f"Flat {i}") for i in range(5)]
    bad = copy.deepcopy(good[0])  # same resident again: conflicts with item 0
    bad["statement"]["nonce"] = base64.b64encode(b"n" * 16).decode()
    bad = sign_envelope(bad["statement"], [COMMITTEE[0]]) | {"private": good[0]["private"]}
    r = client.post("/v1/statements", json=[*good, bad, {"junk": 1}])
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["status"] for x in res] == [201] * 5 + [409, 422]
    indexes = [x["index"] for x in res[:5]]
    assert indexes == list(range(indexes[0], indexes[0] + 5))


def test_views_equal_rebuild_and_restart_resumes(node_dir: Path) -> None:
    with TestClient(create_app(node_dir)) as c:
        for i in range(10):
            assert (
                c.post("/v1/statements", json=enrol_env(key(f"r{i}"), unit=f"u{i}")).status_code
                == 201
            )
        seq = c.app.state.ctx.services["sequencer"]  # type: ignore[attr-defined]
        live = seq.state.snapshot()
        log = c.app.state.ctx.log  # type: ignore[attr-defined]
        rebuilt = replay(
            [parse_record(e) for e in log.entries(0, log.size)], State(community_rules())
        )
        assert rebuilt.snapshot() == live
        members = c.get("/v1/members").json()
    with TestClient(create_app(node_dir)) as c2:
        seq2 = c2.app.state.ctx.services["sequencer"]  # type: ignore[attr-defined]
        assert seq2.state.snapshot() == live
        assert c2.get("/v1/members").json() == members
        assert c2.post("/v1/statements", json=enrol_env(key("after"), unit="x")).status_code == 201


def test_private_opening_read_and_erase(client: TestClient) -> None:
    resident = key("private-1")
    assert (
        client.post("/v1/statements", json=enrol_env(resident, unit="Block 9")).status_code == 201
    )
    path = f"/v1/members/{resident.key_id}/private"
    assert client.get(path).status_code == 403
    outsider = {"Authorization": authorization_header(key("outsider"), "GET", path)}
    assert client.get(path, headers=outsider).status_code == 403
    hdr = {"Authorization": authorization_header(COMMITTEE[1], "GET", path)}
    got = client.get(path, headers=hdr).json()
    assert got["openings"][0]["value"] == "Block 9"
    wrong_method = {"Authorization": authorization_header(COMMITTEE[1], "GET", path)}
    assert client.delete(path, headers=wrong_method).status_code == 401
    cp_before = client.get("/log/checkpoint").content
    d = client.delete(
        path, headers={"Authorization": authorization_header(COMMITTEE[1], "DELETE", path)}
    )
    assert d.status_code == 200 and d.json()["erased"] == 1
    assert client.get(path, headers=hdr).status_code == 404
    # The log is untouched: same checkpoint, the commitment is still there.
    assert client.get("/log/checkpoint").content == cp_before
    assert client.get(f"/v1/members/{resident.key_id}").json()["resident"]["unit_commitment"]


def test_community_summary(client: TestClient) -> None:
    c = client.get("/v1/community").json()
    assert c["origin"] == ORIGIN and len(c["committee"]) == 2 and c["size"] == 1
    assert "member.enrol" in c["statement_types"]
