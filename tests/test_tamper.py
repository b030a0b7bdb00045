"""Tampering scenarios on real node processes: who detects each one, and how quickly.

Each scenario starts 1 sequencer + 3 witnesses (quorum 2) + 1 mirror as child processes on
127.0.0.1 (short gossip and integrity intervals), then tampers as someone with access to the
sequencer's database file would: the append-only triggers dropped, rows rewritten with plain
SQL, on the live file while the node runs or on the file of a stopped node. It then asserts
who notices — the sequencer (``/healthz``, ``/v1/evidence``, refusing statements and
proofs), the witnesses, the mirror, ``civic audit`` (finding code and exit code) and
``civic log verify`` on a copy — and measures how long each took. The waits are bounded;
nothing asserts a time. The figures are printed (``pytest -s``) and attached to the test
report as ``detect_<who>_s`` properties.

The scenarios of forks and stale copies are in tests/test_tamper_forks.py.
"""

from __future__ import annotations

import base64
import json
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from ledger import merkle
from ledger.c2sp.note import parse_vkey
from ledger.errors import NetworkError
from ledger.evidence import evidence_from_json, verify_evidence
from node.bootstrap import init_community
from node.launcher import NodeProcess, free_port, start_node, wait_healthy
from node.mirror import init_mirror
from node.witness import init_witness
from tests.support.tamper import attacker_sql, drop_guards, node_key
from tests.test_network import CHAIR, ORIGIN, Net, enrol_env, wait_for
from tests.test_witness import append_bad_record

ROOT = Path(__file__).resolve().parent.parent
FAST = "0.3"
Record = Callable[[str, object], None]


@pytest.fixture
def record(record_property: Record) -> Record:
    """Attach a figure to the test report and print it."""

    def put(name: str, value: object) -> None:
        record_property(name, value)
        print(f"  {name} = {value}")

    return put


@contextmanager
def tamper_network(tmp: Path) -> Iterator[Net]:
    """1 sequencer + 3 witnesses (quorum 2) + 1 mirror, with fast gossip and integrity
    passes; every process is killed at the end."""
    ports = [free_port() for _ in range(5)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    witnesses = []
    for i in range(3):
        signer = init_witness(tmp / f"w{i}", f"w{i}.{tmp.name[:20]}.test", follow=urls[0])
        witnesses.append(
            {"name": signer.name, "vkey": signer.verifier().vkey(), "url": urls[1 + i]}
        )
    log_vkey = init_community(tmp / "seq", ORIGIN, [CHAIR], witnesses, 2)["log_vkey"]
    init_mirror(tmp / "mirror", urls[0], log_vkey)
    dirs = [tmp / "seq", *(tmp / f"w{i}" for i in range(3)), tmp / "mirror"]
    procs: list[NodeProcess] = []
    net: Net | None = None
    try:
        for i, d in enumerate(dirs):
            args = [a for u in urls if u != urls[i] for a in ("--peer", u)]
            args += ["--gossip-interval", FAST, "--witness-retry", FAST]
            args += ["--integrity-interval", FAST]
            if d.name != "seq":
                args += ["--log-vkey", log_vkey, "--follow-interval", "0.2"]
            procs.append(start_node(d, ports[i], args, log_file=tmp / f"{d.name}.log", wait=False))
        for p in procs:
            wait_healthy(p.url, timeout=180, proc=p.proc)
        net = Net(tmp, procs[0], procs[1:4], procs[4], log_vkey)
        yield net
    finally:
        for p in procs:
            p.kill()
        if net is not None:
            net.http.close()


def settle(net: Net, n: int) -> int:
    """Submit ``n`` statements and wait until the quorum and the mirror have them all."""
    size: int = net.submit(n)[-1]["inclusion_proof"]["tree_size"]
    wait_for("quorum", lambda: net.quorum_at(net.seq, size))
    assert net.mirror is not None
    mirror = net.mirror
    wait_for("the mirror", lambda: net.size(mirror) == size)
    for w in net.witnesses:
        wait_for("every witness", lambda w=w: net.size(w) == size)  # type: ignore[misc]
    return size


def restart(node: NodeProcess, log_file: Path) -> None:
    """Start a stopped node again and wait for it, with room for a loaded machine."""
    node.restart(wait=False, log_file=log_file)
    wait_healthy(node.url, timeout=180, proc=node.proc)


def seq_db(net: Net) -> Path:
    return net.tmp / "seq" / "ledger.sqlite"


class Clock:
    """Time from the tampering to each detection, recorded as it happens."""

    def __init__(self, record: Record) -> None:
        self.record = record
        self.t0 = time.monotonic()

    def wait(self, who: str, what: str, fn: Callable[[], Any], timeout: float = 120.0) -> Any:
        got = wait_for(f"{who}: {what}", fn, timeout)
        self.record(f"detect_{who}_s", round(time.monotonic() - self.t0, 2))
        return got


def unhealthy(net: Net, node: NodeProcess, *words: str) -> bool:
    r = net.get(node, "/healthz")
    if r.status_code != 503:
        return False
    reasons = " ".join(r.json().get("reasons", []))
    return all(w in reasons for w in words)


def refuses_statements(net: Net) -> bool:
    """The sequencer answers a new statement with 503 problem+json that names the evidence."""
    r = net.http.post(net.seq.url + "/v1/statements", json=enrol_env(f"probe-{time.time()}"))
    if r.status_code == 201:
        raise AssertionError(f"the sequencer acknowledged a write at {r.json()['index']}")
    return (
        r.status_code == 503
        and r.headers["content-type"].startswith("application/problem+json")
        and "evidence against its own log" in r.json()["title"]
        and bool(r.json()["reasons"])
    )


def kinds(net: Net, node: NodeProcess) -> set[str]:
    return {e["kind"] for e in net.evidence(node)}


def audit(tmp: Path, *nodes: NodeProcess, genesis: str) -> tuple[int, list[str]]:
    """Run ``civic audit`` as a user would; its exit code and finding codes."""
    out = tmp / f"audit-{time.monotonic_ns()}.json"
    args = [sys.executable, "-m", "cli.main", "audit", "--genesis", genesis]
    for n in nodes:
        args += ["--node", n.url]
    args += ["--json", str(out), "--quiet", "--workers", "1", "--parallel", "2"]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, timeout=120)
    report = json.loads(out.read_text())
    return r.returncode, [f["code"] for f in report["findings"]]


def log_verify_copy(net: Net) -> tuple[int, str]:
    """``civic log verify`` on a consistent copy of the sequencer's data folder."""
    src = net.tmp / "seq"
    dst = net.tmp / f"seq-copy-{time.monotonic_ns()}"
    dst.mkdir()
    for f in ("node.json", "log.key"):
        shutil.copy(src / f, dst / f)
    a, b = sqlite3.connect(src / "ledger.sqlite"), sqlite3.connect(dst / "ledger.sqlite")
    try:
        a.backup(b)  # the SQLite backup API: a consistent snapshot of the live file
    finally:
        a.close()
        b.close()
    r = subprocess.run(
        [sys.executable, "-m", "cli.main", "log", "verify", "--data", str(dst)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return r.returncode, (r.stdout + r.stderr).strip()


def genesis_of(net: Net) -> str:
    g: str = net.get(net.seq, "/v1/records/0").json()["leaf_hash"]
    return g


# --- the scenarios ----------------------------------------------------------------------


def test_edited_entry_bytes(tmp_path: Path, record: Record) -> None:
    with tamper_network(tmp_path) as net:
        settle(net, 6)
        genesis = genesis_of(net)
        (data,) = (
            sqlite3.connect(seq_db(net))
            .execute("SELECT data FROM log_entries WHERE idx = 3")
            .fetchone()
        )
        edited = bytes(data).replace(CHAIR.key_id.encode()[:24], b"M" * 24, 1)
        assert edited != bytes(data)
        clock = Clock(record)
        attacker_sql(seq_db(net), ("UPDATE log_entries SET data = ? WHERE idx = 3", (edited,)))
        clock.wait("sequencer", "/healthz 503", lambda: unhealthy(net, net.seq, "record 3"))
        assert "integrity" in kinds(net, net.seq)
        clock.wait("sequencer_writes", "refuses statements", lambda: refuses_statements(net))
        assert net.mirror is not None
        for n in (net.mirror, *net.witnesses):
            clock.wait(
                f"{n.role}_{n.port}", "/healthz 503", lambda n=n: unhealthy(net, n, "record 3")
            )
        r = net.get(net.seq, f"/v1/proofs/inclusion?index=3&tree_size={net.size(net.seq)}")
        assert r.status_code == 503 and "record 3" in r.json()["detail"]
        code, found = audit(tmp_path, net.seq, genesis=genesis)
        record("audit_exit", code)
        assert code == 3 and "entries.mismatch" in found, found
        code, text = log_verify_copy(net)
        assert code != 0 and "entry 3" in text, text


def test_edited_bytes_plus_leaf_hash(tmp_path: Path, record: Record) -> None:
    with tamper_network(tmp_path) as net:
        settle(net, 6)
        genesis = genesis_of(net)
        (data,) = (
            sqlite3.connect(seq_db(net))
            .execute("SELECT data FROM log_entries WHERE idx = 3")
            .fetchone()
        )
        edited = bytes(data).replace(CHAIR.key_id.encode()[:24], b"M" * 24, 1)
        clock = Clock(record)
        attacker_sql(
            seq_db(net),
            (
                "UPDATE log_entries SET data = ?, leaf_hash = ? WHERE idx = 3",
                (edited, merkle.leaf_hash(edited)),
            ),
        )
        # Item 5: hash(bytes) == leaf_hash still holds; the chain and the tree do not.
        clock.wait("sequencer", "/healthz 503", lambda: unhealthy(net, net.seq, "integrity"))
        reasons = " ".join(net.get(net.seq, "/healthz").json()["reasons"])
        assert "tree node" in reasons or "record 4" in reasons, reasons
        clock.wait("sequencer_writes", "refuses statements", lambda: refuses_statements(net))
        assert net.mirror is not None
        for n in (net.mirror, *net.witnesses):
            clock.wait(
                f"{n.role}_{n.port}", "/healthz 503", lambda n=n: unhealthy(net, n, "record 3")
            )
        code, found = audit(tmp_path, net.seq, genesis=genesis)
        record("audit_exit", code)
        assert code == 3 and ("checkpoint.root" in found or "tile.mismatch" in found), found
        assert "node.integrity" in found
        code, text = log_verify_copy(net)
        assert code != 0 and ("tree node" in text or "record 4" in text), text


def _tail_nodes(db: sqlite3.Connection, keep: int) -> list[int]:
    """Keys of the stored tree nodes that cover a leaf at or after ``keep``."""
    out = []
    for (nid,) in db.execute("SELECT nid FROM log_nodes"):
        level, idx = nid >> 50, nid & ((1 << 50) - 1)
        if (idx + 1) << level > keep:
            out.append(nid)
    return out


def _delete_tail(path: Path, keep: int, state_from: Path | None = None) -> None:
    """Delete records ``keep``.. with their tree nodes, checkpoints and cosignatures; with
    ``state_from``, also put the state views back as that older copy had them."""
    db = sqlite3.connect(path, timeout=30)
    try:
        drop_guards(db)
        for nid in _tail_nodes(db, keep):
            db.execute("DELETE FROM log_nodes WHERE nid = ?", (nid,))
        db.execute("DELETE FROM log_entries WHERE idx >= ?", (keep,))
        db.execute("DELETE FROM log_checkpoints WHERE size > ?", (keep,))
        db.execute("DELETE FROM checkpoint_cosignatures WHERE size > ?", (keep,))
        if state_from is not None:
            db.execute("ATTACH DATABASE ? AS old", (str(state_from),))
            for t in ("state_rows", "state_meta"):
                db.execute(f"DELETE FROM {t}")
                db.execute(f"INSERT INTO {t} SELECT * FROM old.{t}")
        db.commit()
    finally:
        db.close()


def test_deleted_tail(tmp_path: Path, record: Record) -> None:
    with tamper_network(tmp_path) as net:
        size = settle(net, 10)
        genesis = genesis_of(net)
        clock = Clock(record)
        # The last 5 records, their nodes and checkpoints, from the live file.
        _delete_tail(seq_db(net), size - 5)
        clock.wait(
            "sequencer",
            "/healthz 503",
            lambda: unhealthy(net, net.seq, f"record {size - 5} is missing"),
        )
        clock.wait("sequencer_writes", "refuses statements", lambda: refuses_statements(net))
        r = net.get(net.seq, f"/v1/proofs/inclusion?index={size - 2}&tree_size={size}")
        assert r.status_code == 503, r.text
        # The replicas still hold the records and find the log no longer serves them.
        assert net.mirror is not None
        for n in (net.mirror, *net.witnesses):
            clock.wait(
                f"{n.role}_{n.port}", "/healthz 503", lambda n=n: unhealthy(net, n, "integrity")
            )
        code, found = audit(tmp_path, net.seq, genesis=genesis)
        record("audit_exit", code)
        # 3 if a short entry bundle is downloaded, 4 if the node refuses it: never clean.
        assert code in (3, 4) and "node.integrity" in found, found
        # Restarted on that file, the sequencer refuses to run: its state views are ahead.
        net.seq.kill()
        net.seq.restart(wait=False, log_file=tmp_path / "seq.log")
        assert net.seq.proc.wait(timeout=180) != 0
        log_text = (tmp_path / "seq.log").read_text(errors="replace")
        assert "state views are at record" in log_text
        code, _text = log_verify_copy(net)
        record("log_verify_exit", code)  # a consistent truncation: only outside copies tell


def test_deleted_tail_plus_state(tmp_path: Path, record: Record) -> None:
    with tamper_network(tmp_path) as net:
        keep = settle(net, 5)
        old = tmp_path / "old-state.sqlite"
        a, b = sqlite3.connect(seq_db(net)), sqlite3.connect(old)
        a.backup(b)
        a.close()
        b.close()
        size = settle(net, 5)
        assert size == keep + 5
        genesis = genesis_of(net)
        net.seq.stop()
        clock = Clock(record)
        # The last 5 records with their nodes, checkpoints, cosignatures and state rows.
        _delete_tail(seq_db(net), keep, state_from=old)
        try:
            restart(net.seq, tmp_path / "seq.log")
        except NetworkError:
            record("sequencer_refused_to_start", True)  # issue 10 item 3 (rollback file)
            return
        r = net.http.post(net.seq.url + "/v1/statements", json=enrol_env("after-rollback"))
        record("first_write_status", r.status_code)
        if r.status_code == 201:
            # Without a rollback check at start-up, the write lands at index `keep` and
            # forks the cosigned tree: the witnesses and the mirror see two roots of one
            # size, the sequencer learns the evidence by gossip and halts.
            assert r.json()["index"] == keep
            vk = parse_vkey(net.log_vkey)

            def equivocation(n: NodeProcess) -> bool:
                for item in net.evidence(n):
                    ev = evidence_from_json(item)
                    if ev.kind == "equivocation":
                        verify_evidence(ev, vk)
                        return True
                return False

            for w in net.witnesses:
                clock.wait(f"witness_{w.port}", "equivocation", lambda w=w: equivocation(w))
            assert net.mirror is not None
            mirror = net.mirror
            clock.wait("mirror", "equivocation", lambda: equivocation(mirror))
            clock.wait("sequencer", "equivocation", lambda: equivocation(net.seq))
            clock.wait("sequencer_writes", "refuses statements", lambda: refuses_statements(net))
        else:
            # The rollback watermark outside the database (newest-checkpoint) caught it at
            # start-up: the sequencer refuses to sequence and says why.
            assert r.status_code == 503 and "behind its own newest checkpoint" in r.text, r.text
            record("sequencer_writes", "refused at start-up (rollback)")
        assert net.get(net.seq, "/healthz").status_code == 503
        code, found = audit(tmp_path, net.seq, *net.witnesses, genesis=genesis)
        record("audit_exit", code)
        if r.status_code == 201:
            # The fork the write made is evidence.
            assert code == 3, found
            assert {"node.evidence", "checkpoint.fork", "checkpoint.inconsistent"} & set(found)
        else:
            # Refused at start-up, the sequencer forked nothing: the audit names it behind
            # the witnesses' tree and cannot complete from it (exit 4, incomplete).
            assert code in (3, 4), found
            assert {"node.behind", "node.stale", "node.rollback", "node.evidence"} & set(found)


def test_rewritten_interior_node(tmp_path: Path, record: Record) -> None:
    with tamper_network(tmp_path) as net:
        size = settle(net, 49)
        assert size >= 48
        genesis = genesis_of(net)
        proof_path = f"/v1/proofs/inclusion?index=45&tree_size={size}"
        assert net.get(net.seq, proof_path).status_code == 200
        clock = Clock(record)
        # Level 2, index 10 covers records 40..43: a sibling on the paths of 44..47.
        attacker_sql(
            seq_db(net),
            ("UPDATE log_nodes SET hash = ? WHERE nid = ?", (b"\x07" * 32, node_key(2, 10))),
        )
        # Item 4: a proof that fails against the signed checkpoint is never served.
        r = net.get(net.seq, proof_path)
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "record 45" in r.json()["detail"]
        clock.wait("sequencer", "/healthz 503", lambda: unhealthy(net, net.seq, "integrity"))
        # The background pass finds the node itself, not only the proof that used it.
        clock.wait(
            "sequencer_pass",
            "pass finding",
            lambda: any(
                "tree node (level 2, index 10)" in e["reason"] for e in net.evidence(net.seq)
            ),
        )
        clock.wait("sequencer_writes", "refuses statements", lambda: refuses_statements(net))
        # The replicas computed their own trees: they are intact and serve the good proof,
        # which is what the operator restores from.
        assert net.mirror is not None
        good = net.get(net.mirror, proof_path)
        assert good.status_code == 200
        leaf = bytes.fromhex(net.get(net.mirror, "/v1/records/45").json()["leaf_hash"])
        root = net.get(net.mirror, f"/v1/checkpoints/{size}").text.splitlines()[2]
        merkle.verify_inclusion(
            leaf,
            45,
            size,
            [bytes.fromhex(h) for h in good.json()["hashes"]],
            base64.b64decode(root),
        )
        for n in (net.mirror, *net.witnesses):
            assert net.get(n, "/healthz").status_code == 200
        code, found = audit(tmp_path, net.seq, genesis=genesis)
        record("audit_exit", code)
        assert code == 4 and "node.integrity" in found, found
        code, text = log_verify_copy(net)
        assert code != 0 and "tree node (2, 10)" in text, text
        # The runbook (README, "When a node holds evidence"): set the file aside, restore a
        # consistent copy of the mirror's database, verify it, start again.
        net.seq.stop()
        aside = tmp_path / "seq-aside"
        aside.mkdir()
        for f in (tmp_path / "seq").glob("ledger.sqlite*"):
            f.rename(aside / f.name)
        a = sqlite3.connect(tmp_path / "mirror" / "ledger.sqlite")
        b = sqlite3.connect(seq_db(net))
        try:
            a.backup(b)
        finally:
            a.close()
            b.close()
        code, text = log_verify_copy(net)
        assert code == 0, text
        restart(net.seq, tmp_path / "seq.log")
        assert net.get(net.seq, "/healthz").json()["accepting_statements"] is True
        after = settle(net, 1)
        assert after == size + 1
        assert net.get(net.seq, proof_path).status_code == 200


def test_rule_breaking_record_with_a_consistent_tree(tmp_path: Path, record: Record) -> None:
    with tamper_network(tmp_path) as net:
        size = settle(net, 3)
        genesis = genesis_of(net)
        net.seq.stop()
        clock = Clock(record)
        # A corrupt sequencer (it holds the log key) appends a record the rules forbid,
        # with a correct tree and a signed checkpoint.
        bad = append_bad_record(tmp_path / "seq", ORIGIN)
        assert bad == size
        restart(net.seq, tmp_path / "seq.log")
        vk = parse_vkey(net.log_vkey)

        def invalid(n: NodeProcess) -> bool:
            for item in net.evidence(n):
                ev = evidence_from_json(item)
                if ev.kind == "invalid-record" and ev.index == bad:
                    verify_evidence(ev, vk)
                    return True
            return False

        for w in net.witnesses:
            clock.wait(f"witness_{w.port}", "invalid-record", lambda w=w: invalid(w))
        assert net.mirror is not None
        mirror = net.mirror
        clock.wait("mirror", "invalid-record", lambda: invalid(mirror))
        # The sequencer did not see it itself; it learns the evidence from its peers, and
        # then stops acknowledging writes.
        clock.wait("sequencer", "invalid-record from a peer", lambda: invalid(net.seq))
        clock.wait("sequencer_writes", "refuses statements", lambda: refuses_statements(net))
        assert net.size(mirror) == size
        code, found = audit(tmp_path, net.seq, genesis=genesis)
        record("audit_exit", code)
        assert code == 3 and "rule.violation" in found, found
        code, text = log_verify_copy(net)
        record("log_verify_exit", code)  # the tree and the chain are consistent
        assert code == 0, text
