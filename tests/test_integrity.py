"""A node's checks on its own log, in one process on a real SQLite file.

The tampering is what someone with the database file does: drop the append-only triggers,
rewrite rows with SQL. The multi-process versions, with witnesses, a mirror and the audit,
are in tests/test_tamper.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ledger import merkle
from ledger.errors import SelfIntegrityError
from ledger.evidence import evidence_from_json
from node.app import create_app
from node.bootstrap import init_community
from node.config import load_config, save_config
from node.context import NodeContext, open_context
from node.integrity import IntegrityPass, next_wait
from tests.support.tamper import attacker_sql, node_key
from tests.test_witness import CHAIR, ORIGIN, WITNESSES, enrol, enrol_env


@pytest.fixture
def seq(tmp_path: Path) -> Iterator[NodeContext]:
    """A sequencer (no background threads) holding genesis and 51 enrolments: size 52."""
    d = tmp_path / "seq"
    init_community(d, ORIGIN, [CHAIR], WITNESSES, 2)
    ctx = open_context(d, serve=True)
    try:
        enrol(ctx, *(f"i{i}" for i in range(51)))
        assert ctx.log.size == 52
        yield ctx
    finally:
        ctx.close()


def db(ctx: NodeContext) -> Path:
    return ctx.data_dir / "ledger.sqlite"


def integrity_pass(ctx: NodeContext, batch: int = 4096) -> IntegrityPass:
    ev = ctx.evidence()
    assert ev is not None
    return IntegrityPass(ctx.log, ev, ctx.name, interval=1.0, batch=batch)


def run_cycle(p: IntegrityPass, ticks: int = 100) -> str | None:
    """Tick until a problem or one full cycle."""
    start = p.status().cycles
    for _ in range(ticks):
        found = p.tick()
        if found is not None:
            return found
        if p.status().cycles > start:
            return None
    raise AssertionError("the pass did not finish a cycle")


def integrity_items(ctx: NodeContext) -> list[dict[str, object]]:
    ev = ctx.evidence()
    assert ev is not None
    return [e for e in ev.all() if e["kind"] == "integrity"]


def test_pass_is_bounded_per_tick_and_resumes_and_cycles(seq: NodeContext) -> None:
    p = integrity_pass(seq, batch=16)
    seen = []
    for _ in range(4):
        assert p.tick() is None
        seen.append(p.status().position)
    # 16 records a tick; the fourth tick reaches 52, checks the root and starts over.
    assert seen == [16, 32, 48, 0]
    st = p.status()
    assert st.cycles == 1 and st.last_cycle_size == 52
    # The log grows: the next cycle covers the new records too.
    enrol(seq, "later")
    assert run_cycle(p) is None and p.status().last_cycle_size == 53
    assert integrity_items(seq) == []


def test_the_pass_checks_at_most_its_duty_of_the_time(seq: NodeContext) -> None:
    # Quick ticks wait the interval; a tick of 0.5 s at duty 0.1 waits 4.5 s (10 % busy).
    assert next_wait(1.0, 0.002, 0.1) == 1.0
    assert next_wait(1.0, 0.5, 0.1) == pytest.approx(4.5)
    assert next_wait(1.0, 0.5, 1.0) == 1.0
    ev = seq.evidence()
    assert ev is not None
    with pytest.raises(ValueError, match="duty"):
        IntegrityPass(seq.log, ev, seq.name, interval=1.0, duty=0)


def test_bytes_and_leaf_hash_rewritten_are_found_by_the_chain_and_tree(
    seq: NodeContext,
) -> None:
    # Item 5: the leaf hash is made to match the edited bytes, so hash(bytes) == leaf_hash
    # still holds; only the chain (record 8's prev) and the tree (node (1, 3)) can tell.
    data = seq.log.entry(7)
    edited = data.replace(CHAIR.key_id.encode()[:20], b"X" * 20, 1)
    assert edited != data
    leaf = merkle.leaf_hash(edited)
    attacker_sql(
        db(seq),
        ("UPDATE log_entries SET data = ?, leaf_hash = ? WHERE idx = 7", (edited, leaf)),
    )
    found = run_cycle(integrity_pass(seq))
    assert found is not None
    assert "tree node (level 1, index 3)" in found or "record 8" in found
    (item,) = integrity_items(seq)
    assert "integrity pass" in str(item["found_by"])


def test_broken_prev_link_is_found_even_with_a_consistent_leaf(seq: NodeContext) -> None:
    # Record 51 is the last one: no completed node covers it alone, so only the chain and
    # the root against the signed checkpoint remain.
    data = seq.log.entry(51)
    prev = seq.log.leaf_hashes(50, 51)[0].hex()
    edited = data.replace(prev.encode(), b"0" * 64)
    assert edited != data
    attacker_sql(
        db(seq),
        (
            "UPDATE log_entries SET data = ?, leaf_hash = ? WHERE idx = 51",
            (edited, merkle.leaf_hash(edited)),
        ),
    )
    found = run_cycle(integrity_pass(seq))
    assert found is not None and "record 51: its index or prev link" in found


def test_rewritten_interior_node_is_found_and_its_proofs_are_refused(seq: NodeContext) -> None:
    # Item 4: node (level 2, index 10) covers records 40..43; it is a sibling on the
    # inclusion paths of records 44..47.
    size = seq.log.size
    good = seq.proofs().inclusion(45, size)
    merkle.verify_inclusion(merkle.leaf_hash(seq.log.entry(45)), 45, size, good, seq.log.root())
    attacker_sql(
        db(seq), ("UPDATE log_nodes SET hash = ? WHERE nid = ?", (b"\x07" * 32, node_key(2, 10)))
    )
    # The raw tree now gives a proof that fails; the node refuses to serve it.
    bad = seq.log.inclusion_proof(45, size)
    assert bad != good
    with pytest.raises(SelfIntegrityError, match="record 45") as exc:
        seq.proofs().inclusion(45, size)
    assert exc.value.status == 503
    (item,) = integrity_items(seq)
    assert item["index"] == 45 and "proof check" in str(item["found_by"])
    # A consistency proof through that node is refused too.
    with pytest.raises(SelfIntegrityError):
        seq.proofs().consistency(46, size)
    # Proofs that do not touch the node are still served (and verified).
    seq.proofs().inclusion(3, size)
    # The background pass finds the node itself, without anyone asking for a proof.
    found = run_cycle(integrity_pass(seq))
    assert found is not None and "tree node (level 2, index 10)" in found


def test_deleted_tail_on_a_running_node_is_found(seq: NodeContext) -> None:
    attacker_sql(db(seq), ("DELETE FROM log_entries WHERE idx >= 47", ()))
    found = run_cycle(integrity_pass(seq))
    assert found is not None and "record 47 is missing" in found
    with pytest.raises(SelfIntegrityError):
        seq.proofs().inclusion(48, seq.log.size)


def test_http_sequencer_with_evidence_refuses_statements_and_says_why(tmp_path: Path) -> None:
    d = tmp_path / "seq"
    init_community(d, ORIGIN, [CHAIR], WITNESSES, 2)
    cfg = load_config(d)
    cfg.integrity_interval = 0.05
    save_config(d, cfg)
    with TestClient(create_app(d)) as c:
        assert c.post("/v1/statements", json=enrol_env("before")).status_code == 201
        health = c.get("/healthz").json()
        assert health["accepting_statements"] is True
        assert health["integrity"]["interval"] == 0.05
        size = health["size"]
        data = c.get(f"/v1/records/{size - 1}").json()
        assert data["index"] == size - 1
        attacker_sql(
            d / "ledger.sqlite",
            ("UPDATE log_entries SET leaf_hash = ? WHERE idx = ?", (b"\x01" * 32, size - 1)),
        )
        for _ in range(200):
            if c.get("/healthz").status_code == 503:
                break
            import time

            time.sleep(0.05)
        health = c.get("/healthz")
        assert health.status_code == 503
        assert health.json()["accepting_statements"] is False
        assert any("integrity" in r for r in health.json()["reasons"])
        (item,) = c.get("/v1/evidence").json()["evidence"]
        assert evidence_from_json(item).kind == "integrity"
        # Item 6: no statement is acknowledged while the evidence is held.
        r = c.post("/v1/statements", json=enrol_env("after"))
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert "evidence against its own log" in body["title"]
        assert "When a node holds evidence" in body["detail"] and body["reasons"]
        assert c.get("/healthz").json()["size"] == size


def test_audit_counts_a_nodes_own_integrity_finding_as_incomplete(seq: NodeContext) -> None:
    # Not checkable by the auditor, but what that node serves is not to be relied on: the
    # audit may not come out clean (it was a note before, issue 10 item 4).
    from audits.findings import Severity, verdict
    from audits.found import Collector
    from audits.witnesses import _one_evidence
    from ledger.evidence import integrity_alert

    col = Collector()
    item = integrity_alert(ORIGIN, "tree node (level 2, index 10) does not match", 40).to_json()
    _one_evidence(col, seq.log.verifier, "http://node", item)
    (f,) = col.found().findings
    assert f.code == "node.integrity" and f.index == 40
    assert verdict([f]) is Severity.INCOMPLETE
