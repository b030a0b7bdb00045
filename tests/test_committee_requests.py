"""Issue 10, items 7-9: committee requests cannot be replayed, re-targeted or re-bodied, and
an unsigned caller cannot tell which private documents a node holds. In-process app,
real SQLite node, real Ed25519; each request is sent as a client would capture it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from client.signing import signature_headers
from node.app import create_app
from node.bootstrap import init_community
from node.documents import documents_of
from tests.test_funds_api import ORIGIN, A, B, C, Node, signed

MINUTES = b"minutes: closed session on a resident's arrears"


@pytest.fixture
def node_dir(tmp_path: Path) -> Path:
    d = tmp_path / "node"
    init_community(d, ORIGIN, [A, B, C])
    return d


@pytest.fixture
def node(node_dir: Path) -> Iterator[Node]:
    with TestClient(create_app(node_dir)) as c:
        yield Node(c).setup()


def _private(node: Node) -> str:
    return f"/v1/documents/{node.publish(MINUTES, public=False)}"


def test_a_captured_request_is_refused_when_replayed(node: Node) -> None:
    path = _private(node)
    captured = signed(B, "GET", path)
    first = node.c.get(path, headers=captured)
    assert first.status_code == 200 and first.content == MINUTES
    again = node.c.get(path, headers=captured)
    assert again.status_code == 401 and "already used" in again.json()["detail"]
    # A fresh signature still works: only the nonce was spent.
    assert node.c.get(path, headers=signed(B, "GET", path)).status_code == 200


def test_a_captured_request_is_refused_on_another_target(node: Node) -> None:
    path = _private(node)
    captured = signed(B, "GET", path)
    extra_query = node.c.get(path + "?x=1", headers=captured)
    assert extra_query.status_code == 401 and "does not verify" in extra_query.json()["detail"]
    other_host = node.c.get(path, headers={**captured, "host": "mirror.example"})
    assert other_host.status_code == 401
    # The erasure of a member's opening, signed as a read, is no erasure.
    member = f"/v1/members/{B.key_id}/private"
    assert node.c.delete(member, headers=signed(B, "GET", member)).status_code == 401


def test_created_in_the_future_or_too_old_is_refused(node: Node) -> None:
    import time

    path = _private(node)
    url = "http://testserver" + path
    future = node.c.get(path, headers=signature_headers(B, "GET", url, now=int(time.time()) + 850))
    assert future.status_code == 401 and "future" in future.json()["detail"]
    old = node.c.get(path, headers=signature_headers(B, "GET", url, now=int(time.time()) - 65))
    assert old.status_code == 401 and "old" in old.json()["detail"]


def test_a_replay_after_a_restart_is_refused(node_dir: Path) -> None:
    with TestClient(create_app(node_dir)) as c:
        node = Node(c).setup()
        path = _private(node)
        captured = signed(C, "GET", path)
        assert c.get(path, headers=captured).status_code == 200
    # The nonce book is a file in the data folder, fsynced before the answer.
    assert (node_dir / "request-nonces").read_text().count(C.key_id) == 1
    with TestClient(create_app(node_dir)) as c:
        r = c.get(path, headers=captured)
        assert r.status_code == 401 and "already used" in r.json()["detail"]


def test_an_upload_replayed_with_other_bytes_is_refused(node: Node, node_dir: Path) -> None:
    path = "/v1/documents"
    invoice = b"%PDF-1.4 invoice 2026-002\n"
    captured = signed(A, "POST", path, invoice, "application/pdf")
    forged = b"%PDF-1.4 pay 9,999 EUR to M. Allory\n"
    r = node.c.post(path, content=forged, headers=captured)
    assert r.status_code == 401 and "Content-Digest" in r.json()["detail"]
    sha = hashlib.sha256(forged).hexdigest()
    assert not (node_dir / "documents" / sha[:2] / sha[2:]).exists()
    assert documents_of(node.ctx).info(sha) is None
    ok = node.c.post(path, content=invoice, headers=captured)
    assert ok.status_code == 201 and ok.json()["sha256"] == hashlib.sha256(invoice).hexdigest()
    # Replayed with the very same bytes, it is refused too (the nonce is spent).
    assert node.c.post(path, content=invoice, headers=captured).status_code == 401
    # The signed media type cannot be swapped either.
    pdf = signed(A, "POST", path, forged, "application/pdf")
    swapped = node.c.post(path, content=forged, headers={**pdf, "Content-Type": "text/html"})
    assert swapped.status_code == 401
    pdf = signed(A, "POST", path, forged, "application/pdf")
    two = [*pdf.items(), ("Content-Type", "text/html")]
    assert node.c.post(path, content=forged, headers=two).status_code == 401


def test_a_json_body_is_covered(node: Node) -> None:
    path = "/v1/funds/payees/resolve"
    body = b'{"name": "Jane Doe"}'
    captured = signed(A, "POST", path, body, "application/json")
    other = b'{"name": "John Roe"}'
    assert node.c.post(path, content=other, headers=captured).status_code == 401
    assert node.c.post(path, content=body, headers=captured).json() == {"label": None}


def test_unsigned_callers_cannot_tell_held_private_documents_from_unknown(node: Node) -> None:
    held = _private(node)
    unknown = "/v1/documents/" + hashlib.sha256(b"never uploaded").hexdigest()
    a, b = node.c.get(held), node.c.get(unknown)
    assert a.status_code == b.status_code == 404
    assert a.headers["content-type"] == b.headers["content-type"] == "application/problem+json"
    strip = {**a.json(), "detail": a.json()["detail"].replace(held.rsplit("/", 1)[1], "H")}
    assert strip == {
        **b.json(),
        "detail": b.json()["detail"].replace(unknown.rsplit("/", 1)[1], "H"),
    }
    # A committee member's signed request tells them apart.
    assert node.c.get(held, headers=signed(B, "GET", held)).status_code == 200
    assert node.c.get(unknown, headers=signed(B, "GET", unknown)).status_code == 404
