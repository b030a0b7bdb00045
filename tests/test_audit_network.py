"""``civic audit`` against real node processes on 127.0.0.1: a clean network, and each way a
node or a log can be wrong, found with the right code and exit status."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cli.main import app
from cli.output import EXIT_EVIDENCE, EXIT_UNREACHABLE, EXIT_USAGE
from client.http import NodeClient
from ledger import merkle
from ledger.log import Log
from ledger.records import format_time
from ledger.sql import SqlStore
from ledger.statements import make_statement, sign_envelope
from node.config import load_config, load_log_key
from node.launcher import NodeProcess, free_port, start_node
from tests.factory import key
from tests.support.audit import (
    CHAIR,
    COMMITTEE,
    ORIGIN,
    TamperingProxy,
    copy_node,
    enrol_env,
    make_community,
    sql,
    submit,
)

RESIDENTS = 300  # 301 records: a full entry bundle and a partial one
ROOT = Path(__file__).parent.parent


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    d = tmp_path_factory.mktemp("audit-net") / "base"
    info = make_community(d, RESIDENTS)
    return d, str(info["genesis_hash"])


@pytest.fixture
def nodes() -> Iterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    yield started
    for n in started:
        n.stop()


def start(nodes: list[NodeProcess], data: Path) -> NodeProcess:
    n = start_node(data)
    nodes.append(n)
    return n


def civic(*args: str) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args))
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout


def audit_json(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any]]:
    out = tmp_path / "report.json"
    code, _ = civic("audit", *args, "--json", str(out), "--quiet")
    return code, json.loads(out.read_text())


def codes(report: dict[str, Any]) -> list[tuple[str, int | None]]:
    return [(f["code"], f["index"]) for f in report["findings"]]


def test_clean_network_then_an_unreachable_node(
    base: tuple[Path, str], nodes: list[NodeProcess], tmp_path: Path
) -> None:
    a = start(nodes, copy_node(base[0], tmp_path / "a"))
    b = start(nodes, copy_node(base[0], tmp_path / "b"))
    # Residents keep being enrolled over HTTP; b is a copy that stays behind.
    with NodeClient(a.url) as c:
        results = c.submit([enrol_env(key(f"http{i}"), unit=f"H{i}") for i in range(20)])
        assert all(r["status"] == 201 for r in results)
    md = tmp_path / "audit.md"
    code, report = audit_json(
        tmp_path, "--node", a.url, "--node", b.url, "--genesis", base[1], "--markdown", str(md)
    )
    assert code == 0, report["findings"]
    assert report["verdict"] == "clean"
    assert codes(report) == [("node.behind", None)]
    assert report["verified"]["records"] == RESIDENTS + 21
    by_node = {n["name"]: n for n in report["nodes"]}
    assert by_node[a.url]["views"] == "match" and by_node[a.url]["checkpoint"] == "ok"
    assert by_node[b.url]["checkpoint"] == "behind"
    assert "No problem found" in md.read_text()
    # The same audit with a node nobody answers at: incomplete, not clean.
    dead = f"http://127.0.0.1:{free_port()}"
    code, report = audit_json(tmp_path, "--node", a.url, "--node", dead, "--genesis", base[1])
    assert code == EXIT_UNREACHABLE
    assert report["verdict"] == "incomplete"
    assert ("node.unreachable", None) in codes(report)
    assert {n["name"]: n["reachable"] for n in report["nodes"]} == {a.url: True, dead: False}
    # Pinned by the log key instead; and the real command line turns usage errors into 2.
    code, report = audit_json(tmp_path, "--node", a.url, "--vkey", _vkey(a))
    assert code == 0 and report["trust"]["pinned_by"] == "vkey"
    r = subprocess.run(
        [sys.executable, "-m", "cli.main", "audit"], cwd=ROOT, capture_output=True, timeout=60
    )
    assert r.returncode == EXIT_USAGE and b"nothing to audit" in r.stderr


def _vkey(n: NodeProcess) -> str:
    vkey = load_config(n.data_dir).log_vkey
    assert vkey is not None
    return vkey


def test_tampered_tile_served_by_a_proxy(
    base: tuple[Path, str], nodes: list[NodeProcess], tmp_path: Path
) -> None:
    a = start(nodes, copy_node(base[0], tmp_path / "a"))
    proxy = TamperingProxy(a.url, "/log/tile/0/000", offset=32 * 7 + 3)
    try:
        code, report = audit_json(tmp_path, "--node", proxy.url, "--genesis", base[1])
    finally:
        proxy.close()
    assert proxy.hits == 1
    assert code == EXIT_EVIDENCE
    assert codes(report) == [("tile.mismatch", 7)]
    f = report["findings"][0]
    assert f["node"] == proxy.url and f["detail"]["tile"] == "tile/0/000"


def test_edited_record(base: tuple[Path, str], nodes: list[NodeProcess], tmp_path: Path) -> None:
    d = copy_node(base[0], tmp_path / "edited")
    (data,) = sql(d, "SELECT data FROM log_entries WHERE idx = 5")[0]
    edited = bytes(data).replace(b'"unit_commitment":"', b'"unit_commitment":"0', 1)
    edited = edited.replace(b'","expires', b'","expires', 1)
    # Keep the stored leaf hash, so the node's tree and checkpoint still agree and it starts.
    sql(d, "UPDATE log_entries SET data = ? WHERE idx = 5", params=(edited,))
    a = start(nodes, d)
    code, report = audit_json(tmp_path, "--node", a.url, "--genesis", base[1])
    assert code == EXIT_EVIDENCE
    found = codes(report)
    assert found[0] == ("entries.mismatch", 5), found
    assert ("record.chain", 6) in found
    assert report["findings"][0]["node"] == a.url


def test_bad_signature_slipped_into_the_database(
    base: tuple[Path, str], nodes: list[NodeProcess], tmp_path: Path
) -> None:
    d = copy_node(base[0], tmp_path / "badsig")
    # The operator appends a forged enrolment with the log key (the tree and the new
    # checkpoint are valid), and moves the node's views along so it starts without replay.
    env = sign_envelope(
        make_statement(
            ORIGIN, "member.enrol", {"key": key("mallory").key_id, "unit_commitment": "ab" * 32},
            CHAIR.key_id,
        ),
        [CHAIR],
    )  # fmt: skip
    env["statement"]["body"]["unit_commitment"] = "cd" * 32  # the signature no longer holds
    cfg = load_config(d)
    store = SqlStore(cfg.database_url(d))
    try:
        log = Log(store, cfg.origin, load_log_key(d))
        res = log.append_records([env])
        head = log.head
    finally:
        store.close()
    sql(d, "UPDATE state_meta SET size = ?, head = ?", params=(res.size, head))
    a = start(nodes, d)
    code, report = audit_json(tmp_path, "--node", a.url, "--genesis", base[1])
    assert code == EXIT_EVIDENCE
    assert codes(report) == [("statement.signature", RESIDENTS + 1)]
    assert "does not verify" in report["findings"][0]["message"]


def test_forked_checkpoint(
    base: tuple[Path, str], nodes: list[NodeProcess], tmp_path: Path
) -> None:
    left = copy_node(base[0], tmp_path / "left")
    right = copy_node(base[0], tmp_path / "right")
    # The same log key signs two different records at the same index: a fork.
    submit(left, [enrol_env(key("only-left"))])
    submit(right, [enrol_env(key("only-right"))])
    pl, pr = free_port(), free_port()
    url_l, url_r = f"http://127.0.0.1:{pl}", f"http://127.0.0.1:{pr}"
    gossip = ["--gossip-interval", "0.2"]
    a = start_node(left, pl, extra_args=["--peer", url_r, *gossip])
    nodes.append(a)
    b = start_node(right, pr, extra_args=["--peer", url_l, *gossip])
    nodes.append(b)
    code, report = audit_json(tmp_path, "--node", a.url, "--node", b.url, "--genesis", base[1])
    assert code == EXIT_EVIDENCE
    assert codes(report)[0] == ("checkpoint.fork", None)
    fork = report["findings"][0]
    assert a.url in fork["node"] and b.url in fork["node"]
    assert len(fork["detail"]["roots"]) == 2
    # The nodes gossip, find the fork themselves and serve it as evidence; the audit checks
    # that evidence with the log key and reports it too.
    with NodeClient(a.url) as c:
        deadline = time.monotonic() + 20
        while c.get_json("/v1/evidence")["count"] == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
    code, report = audit_json(tmp_path, "--node", a.url, "--genesis", base[1])
    assert code == EXIT_EVIDENCE
    held = [f for f in report["findings"] if f["code"] == "node.evidence"]
    assert held and held[0]["detail"]["kind"] == "equivocation" and held[0]["node"] == a.url


def test_wrong_view_in_a_node(
    base: tuple[Path, str], nodes: list[NodeProcess], tmp_path: Path
) -> None:
    d = copy_node(base[0], tmp_path / "liar")
    victim = key("r3").key_id
    (value,) = sql(d, f"SELECT value FROM state_rows WHERE ns = 'member' AND key = '{victim}'")[0]
    doc = json.loads(value)
    doc["status"] = "removed"
    sql(d, "UPDATE state_rows SET value = ? WHERE ns = 'member' AND key = ?",
        params=(json.dumps(doc), victim))  # fmt: skip
    a = start(nodes, d)
    code, report = audit_json(tmp_path, "--node", a.url, "--genesis", base[1])
    assert code == EXIT_EVIDENCE
    views = [f for f in report["findings"] if f["code"] == "view.mismatch"]
    assert {f["detail"]["path"] for f in views} == {"v1/members", "v1/community"}
    members = next(f for f in views if f["detail"]["path"] == "v1/members")
    assert "status" in members["message"] and members["node"] == a.url
    assert "'active'" in members["message"] and "'removed'" in members["message"]


def test_bundle_and_state_file(
    base: tuple[Path, str], nodes: list[NodeProcess], tmp_path: Path
) -> None:
    a = start(nodes, copy_node(base[0], tmp_path / "a"))
    out = tmp_path / "log.zip"
    code, text = civic("log", "bundle", "--node", a.url, "--out", str(out), "--json")
    assert code == 0, text
    made = json.loads(text)
    assert made["size"] == RESIDENTS + 1 and made["genesis_hash"] == base[1]
    code, text = civic("audit", "--from-bundle", str(out), "--genesis", base[1], "--json", "-")
    report = json.loads(text)
    assert code == 0 and report["verdict"] == "clean", report["findings"]
    state = tmp_path / "state.json"
    code, report = audit_json(tmp_path, "--node", a.url, "--state", str(state))
    assert code == 0 and state.exists()
    with NodeClient(a.url) as c:
        c.submit(enrol_env(key("newcomer")))
    code, report = audit_json(tmp_path, "--node", a.url, "--state", str(state))
    assert code == 0, report["findings"]
    assert report["verified"] == {"from": RESIDENTS + 1, "to": RESIDENTS + 2, "records": 1}
    assert report["trust"]["pinned_by"] == "state"
    assert merkle.HASH_SIZE == 32


def _signed(type_: str, body: dict[str, Any], *signers: Any) -> dict[str, Any]:
    return sign_envelope(make_statement(ORIGIN, type_, body, signers[0].key_id), list(signers))


def test_wrong_ballot_result_and_balance_views(
    base: tuple[Path, str], nodes: list[NodeProcess], tmp_path: Path
) -> None:
    d = copy_node(base[0], tmp_path / "money")
    closes = format_time((datetime.now(UTC) + timedelta(days=7)).replace(microsecond=0))
    ballot = {
        "kind": "yes_no",
        "title": {"en": "Paint the fence?"},
        "closes": closes,
        "quorum": {"votes": 1},
        "passing": "simple_majority",
    }
    invoice = hashlib.sha256(b"remittance").hexdigest()
    submit(
        d,
        [
            _signed("ballot.open", ballot, CHAIR),
            _signed("funds.document.publish",
                    {"sha256": invoice, "size": 10, "media_type": "application/pdf",
                     "public": True}, CHAIR),
            _signed("funds.account.open", {"code": "fees", "title": "Fees", "currency": "EUR"},
                    *COMMITTEE),
            _signed("funds.budget.set", {"period": "2026", "category": "gardening",
                                         "amount": 50_000, "currency": "EUR"}, *COMMITTEE),
        ],
    )  # fmt: skip
    bid, account = str(RESIDENTS + 1), str(RESIDENTS + 3)
    submit(
        d,
        [
            _signed("vote.cast", {"ballot": bid, "choice": "yes"}, key("r1")),
            _signed("vote.cast", {"ballot": bid, "choice": "no"}, key("r2")),
            _signed("vote.cast", {"ballot": bid, "choice": "yes"}, key("r3")),
            _signed("funds.income", {"account": account, "amount": 120_000, "currency": "EUR",
                                     "source": "fees", "description": "quarterly fees",
                                     "documents": [invoice]}, CHAIR),
        ],
    )  # fmt: skip
    a = start(nodes, d)
    code, report = audit_json(tmp_path, "--node", a.url, "--genesis", base[1])
    assert code == 0, report["findings"]
    assert report["nodes"][0]["views"] == "match"
    a.stop()
    # The operator edits the node's views: one vote counted the other way, one balance.
    vote_key = f"{bid}/{key('r2').key_id}"
    (vote,) = sql(d, f"SELECT value FROM state_rows WHERE ns = 'vote' AND key = '{vote_key}'")[0]
    sql(d, "UPDATE state_rows SET value = ? WHERE ns = 'vote' AND key = ?",
        params=(vote.replace('"no"', '"yes"'), vote_key))  # fmt: skip
    (acc,) = sql(
        d, f"SELECT value FROM state_rows WHERE ns = 'funds_account' AND key = '{account}'"
    )[0]
    sql(d, "UPDATE state_rows SET value = ? WHERE ns = 'funds_account' AND key = ?",
        params=(acc.replace("120000", "125000"), account))  # fmt: skip
    a.restart()
    code, report = audit_json(tmp_path, "--node", a.url, "--genesis", base[1])
    assert code == EXIT_EVIDENCE
    paths = {f["detail"]["path"] for f in report["findings"] if f["code"] == "view.mismatch"}
    assert f"v1/ballots/{bid}/result" in paths and "v1/funds/accounts" in paths
    ballot_f = next(
        f for f in report["findings"] if f["detail"].get("path", "").startswith("v1/ballots")
    )
    assert "provisional" in ballot_f["message"] and ballot_f["node"] == a.url


def test_doctor(base: tuple[Path, str], nodes: list[NodeProcess], tmp_path: Path) -> None:
    import typer

    from cli.doctor_cmds import doctor
    from ledger.keys import save_key_file

    doc_app = typer.Typer()
    doc_app.command()(doctor)
    behind = start(nodes, copy_node(base[0], tmp_path / "behind"))
    a = start(nodes, copy_node(base[0], tmp_path / "a"))
    with NodeClient(a.url) as c:
        c.submit(enrol_env(key("doctor-visit")))
    keyfile = tmp_path / "me.key"
    save_key_file(keyfile, key("me"), "pw", strength="min")

    def run(*args: str) -> tuple[int, list[dict[str, str]]]:
        r = CliRunner().invoke(doc_app, [*args, "--json"], env={"CIVIC_PASSPHRASE": "pw"})
        return r.exit_code, json.loads(r.output)

    code, checks = run("--node", a.url, "--node", behind.url, "--key", str(keyfile),
                       "--genesis", base[1])  # fmt: skip
    assert code == 0, checks
    status = {c["check"]: c["status"] for c in checks}
    assert status["key file"] == "ok" and status["passphrase"] == "ok"
    assert status["trust root"] == "ok" and status[f"checkpoint {a.url}"] == "ok"
    assert status["agreement"] == "ok"
    dead = f"http://127.0.0.1:{free_port()}"
    code, checks = run("--node", a.url, "--node", dead)
    assert code == EXIT_UNREACHABLE
    assert {c["check"]: c["status"] for c in checks}["trust root"] == "warn"
    code, checks = run("--node", a.url, "--genesis", "ab" * 32)
    assert code == EXIT_EVIDENCE
    code, checks = run("--key", str(tmp_path / "missing.key"))
    assert code == EXIT_USAGE


def test_witnessed_network_with_a_mirror(tmp_path: Path) -> None:
    from tests.test_network import network, wait_for

    with network(tmp_path) as net:
        bodies = net.submit(6)
        size = bodies[-1]["inclusion_proof"]["tree_size"]
        wait_for("a quorum checkpoint", lambda: net.quorum_at(net.seq, size))
        assert net.mirror is not None
        mirror = net.mirror
        wait_for("the mirror", lambda: net.size(mirror) == size)
        urls = [a for n in net.nodes for a in ("--node", n.url)]
        code, report = audit_json(tmp_path, *urls, "--vkey", net.log_vkey)
        assert code == 0, report["findings"]
        assert {f["code"] for f in report["findings"]} <= {"checkpoint.pending", "node.behind"}
        views = {n["name"]: n["views"] for n in report["nodes"]}
        assert views[mirror.url] == "match" and views[net.seq.url] == "match"
        # A witness that cosigned the log's checkpoints; the policy is genesis's: 2 of 3.
        assert report["warnings"] == []
