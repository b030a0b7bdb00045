"""client.submit and client.documents against a real node app, in-process (TestClient)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from client.documents import publish_files
from client.http import NodeClient
from client.submit import signed_statement, submit_statement
from ledger import merkle
from ledger.community import commitment
from ledger.errors import ConflictError, ForbiddenError, InputError
from ledger.records import parse_record
from node.app import create_app
from node.bootstrap import init_community
from tests.factory import key

ORIGIN = "civic.example/client-garden"
A, B = key("client-a"), key("client-b")
OUTSIDER = key("client-outsider")


@pytest.fixture
def c(tmp_path: Path) -> Iterator[NodeClient]:
    init_community(tmp_path / "node", ORIGIN, [A, B])
    with TestClient(create_app(tmp_path / "node")) as tc:
        yield NodeClient("http://testserver", client=tc)


def _size(c: NodeClient) -> int:
    return int(c.checkpoint().decode().splitlines()[1])


def test_submit_statement_signs_with_every_key_and_returns_the_receipt_inputs(
    c: NodeClient,
) -> None:
    salt = b"s" * 16
    body = {"key": key("client-r").key_id, "unit_commitment": commitment("Flat 3", salt)}
    private = {"value": "Flat 3", "salt": base64.b64encode(salt).decode()}
    out = submit_statement(c, "member.enrol", body, A, private=private)
    assert out["index"] == 1 and out["checkpoint"].startswith(ORIGIN + "\n")
    entry = base64.b64decode(c.record(out["index"])["entry"])
    assert out["leaf_hash"] == merkle.leaf_hash(entry).hex()
    env = parse_record(entry).envelope
    assert env["statement"]["community"] == ORIGIN and env["statement"]["body"] == body
    assert [s["key"] for s in env["signatures"]] == [A.key_id]
    assert "private" not in env  # kept by the node, never in the log
    two = signed_statement(
        ORIGIN, "funds.account.open", {"code": "f", "title": "F", "currency": "EUR"}, A, [B]
    )
    assert [s["key"] for s in two["signatures"]] == [A.key_id, B.key_id]


def test_submit_statement_rejections_keep_their_error_class(c: NodeClient) -> None:
    body = {"key": key("client-s").key_id, "unit_commitment": "00" * 32}
    with pytest.raises(ForbiddenError, match="must be signed by a committee member") as info:
        submit_statement(c, "member.enrol", body, OUTSIDER)
    assert info.value.status == 403
    with pytest.raises(ConflictError, match="this log is 'civic\\.example/client-garden'"):
        submit_statement(c, "member.enrol", body, A, origin="civic.example/elsewhere")
    assert _size(c) == 1


def test_publish_files_uploads_then_publishes_each_hash_once(c: NodeClient, tmp_path: Path) -> None:
    inv, rec = tmp_path / "invoice.pdf", tmp_path / "receipt.txt"
    inv.write_bytes(b"%PDF-1.4 invoice\n")
    rec.write_bytes(b"paid\n")
    shas = publish_files(c, A, [inv, rec], True, "invoice")
    assert shas == [hashlib.sha256(p.read_bytes()).hexdigest() for p in (inv, rec)]
    size = _size(c)
    assert size == 3  # genesis + two funds.document.publish
    # Publishing the same bytes again uploads nothing new into the log.
    assert publish_files(c, A, [inv], True, "invoice") == shas[:1]
    assert _size(c) == size
    assert c.get_bytes(f"/v1/documents/{shas[0]}") == inv.read_bytes()


def test_publish_files_reads_every_file_before_uploading(c: NodeClient, tmp_path: Path) -> None:
    ok = tmp_path / "ok.txt"
    ok.write_bytes(b"fine\n")
    with pytest.raises(InputError, match="cannot read"):
        publish_files(c, A, [ok, tmp_path / "missing.pdf"], True, "invoice")
    assert _size(c) == 1
    with pytest.raises(ForbiddenError):
        publish_files(c, OUTSIDER, [ok], True, "invoice")
    assert publish_files(c, A, [], True, "invoice") == []
