"""kill -9 the writer under load: the standby takes over, and no acknowledged vote is lost.

Two real sequencer processes on one real PostgreSQL; residents vote through
:class:`client.failover.FailoverSubmitter` (arrays and singles), which retries against
the standby and treats a replay of its own statement, once found in the log, as
acknowledged.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from client.failover import Ack, FailoverSubmitter
from ledger import merkle
from ledger.c2sp.checkpoint import open_checkpoint
from ledger.c2sp.note import parse_vkey
from ledger.keys import KeyPair
from ledger.records import format_time, parse_record
from ledger.sql import SqlStore
from ledger.state import State, replay
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.config import load_config, save_config
from node.launcher import NodeProcess, free_port, start_node
from rules import community_rules
from tests.factory import key
from tests.pg import PgServer

ORIGIN = "civic.example/standby-street"
CHAIR = key("failover-chair")
RESIDENTS = 120


def env(type_: str, body: dict[str, Any], kp: KeyPair) -> dict[str, Any]:
    return sign_envelope(make_statement(ORIGIN, type_, body, kp.key_id), [kp])


def health(url: str) -> dict[str, Any]:
    out: dict[str, Any] = httpx.get(url + "/healthz", timeout=10).json()
    return out


def test_kill_9_the_writer_under_load(pg_server: PgServer, tmp_path: Path) -> None:
    url = pg_server.create_database("sbf_" + uuid.uuid4().hex[:12])
    a, b = tmp_path / "a", tmp_path / "b"
    init_community(a, ORIGIN, [CHAIR], database=url)
    b.mkdir()
    for f in ("node.json", "log.key"):
        shutil.copy2(a / f, b / f)
    ports = {"seq-a": free_port(), "seq-b": free_port()}
    for d, name in ((a, "seq-a"), (b, "seq-b")):
        cfg = load_config(d)
        cfg.extra["standby"] = {"name": name, "url": f"http://127.0.0.1:{ports[name]}"}
        save_config(d, cfg)
    vkey = parse_vkey(str(load_config(a).log_vkey))
    nodes: list[NodeProcess] = []
    try:
        na = start_node(a, port=ports["seq-a"], log_file=tmp_path / "a.log")
        nodes.append(na)
        nb = start_node(b, port=ports["seq-b"], log_file=tmp_path / "b.log")
        nodes.append(nb)
        assert health(na.url)["standby"]["role"] == "writer"
        hb = health(nb.url)
        assert hb["standby"]["role"] == "standby" and hb["accepting_statements"] is False

        people = [key(f"failover-resident-{i}") for i in range(RESIDENTS)]
        enrol = [
            env("member.enrol", {"key": p.key_id, "unit_commitment": "ab" * 32}, CHAIR)
            for p in people
        ]
        r = httpx.post(na.url + "/v1/statements", json=enrol, timeout=60)
        assert all(x["status"] == 201 for x in r.json()["results"])

        # Before the kill the standby refuses writes, naming the writer, and serves reads.
        refused = httpx.post(nb.url + "/v1/statements", json=enrol[0], timeout=10)
        assert refused.status_code == 503
        assert refused.headers["content-type"].startswith("application/problem+json")
        problem = refused.json()
        assert "seq-a" in problem["detail"] and problem["writer"]["url"] == na.url
        deadline = time.monotonic() + 30
        while len(httpx.get(nb.url + "/v1/members", timeout=10).json()["members"]) != RESIDENTS:
            assert time.monotonic() < deadline, "the standby does not serve the writer's commits"
            time.sleep(0.2)

        closes = format_time(datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1))
        opened = httpx.post(
            na.url + "/v1/statements",
            json=env(
                "ballot.open",
                {
                    "kind": "yes_no",
                    "title": {"en": "Street lights?"},
                    "closes": closes,
                    "quorum": {"percent": 50},
                    "passing": "simple_majority",
                },
                CHAIR,
            ),
            timeout=30,
        )
        assert opened.status_code == 201, opened.text
        ballot = str(opened.json()["index"])
        votes = [
            env("vote.cast", {"ballot": ballot, "choice": ("yes", "no")[i % 2]}, p)
            for i, p in enumerate(people)
        ]

        acks: dict[int, Ack | dict[str, Any]] = {}
        lock = threading.Lock()

        def client(ids: list[int]) -> None:
            sub = FailoverSubmitter([na.url, nb.url], timeout=30)
            try:
                pos, k = 0, 0
                while pos < len(ids):
                    n = 5 if k % 2 == 0 else 1  # arrays and single submissions
                    chunk = ids[pos : pos + n]
                    res = sub.submit([votes[i] for i in chunk])
                    with lock:
                        acks.update(zip(chunk, res, strict=True))
                    pos, k = pos + n, k + 1
                    time.sleep(0.02)
            finally:
                sub.close()

        threads = [
            threading.Thread(target=client, args=(list(range(t, RESIDENTS, 4)),)) for t in range(4)
        ]
        for t in threads:
            t.start()
        while len(acks) < RESIDENTS // 3:
            time.sleep(0.02)
        pre = httpx.get(na.url + "/log/checkpoint", timeout=10).content
        na.kill()
        killed = time.monotonic()
        while health(nb.url)["standby"]["role"] != "writer":
            assert time.monotonic() - killed < 60, "the standby did not take over"
            time.sleep(0.1)
        for t in threads:
            t.join(timeout=300)
        assert not any(t.is_alive() for t in threads)

        # Every vote acknowledged, before, during and after the take-over.
        bad = {i: a for i, a in acks.items() if not isinstance(a, Ack)}
        assert not bad and len(acks) == RESIDENTS, bad
        hb = health(nb.url)
        assert hb["standby"]["writer"]["name"] == "seq-b" and hb["accepting_statements"]

        # The tree the standby serves extends the checkpoint seen before the kill.
        cp_pre, _ = open_checkpoint(pre, vkey)
        final = httpx.get(nb.url + "/log/checkpoint", timeout=10).content
        cp_end, _ = open_checkpoint(final, vkey)
        proof = httpx.get(
            nb.url + "/v1/proofs/consistency",
            params={"first": cp_pre.size, "second": cp_end.size},
            timeout=10,
        ).json()
        merkle.verify_consistency(
            cp_pre.size,
            cp_end.size,
            [bytes.fromhex(h) for h in proof["hashes"]],
            cp_pre.root_hash,
            cp_end.root_hash,
        )
        assert cp_end.size == 1 + RESIDENTS + 1 + RESIDENTS

        # Each acknowledged vote is in the log exactly once, where its acknowledgement says.
        store = SqlStore(url)
        try:
            entries = store.read_entries(0, cp_end.size)
            records = [parse_record(e) for e in entries]
            by_sig: dict[str, list[int]] = {}
            for rec in records:
                by_sig.setdefault(str(rec.envelope["signatures"]), []).append(rec.index)
            for i, ack in acks.items():
                assert isinstance(ack, Ack)
                assert by_sig[str(votes[i]["signatures"])] == [ack.index]
                if ack.leaf_hash is not None:
                    assert merkle.leaf_hash(entries[ack.index]).hex() == ack.leaf_hash
            # The state the views hold is the state a replay computes.
            rules = community_rules()
            assert store.read_state(rules).snapshot() == replay(records, State(rules)).snapshot()
        finally:
            store.close()
        counted = httpx.get(nb.url + f"/v1/ballots/{ballot}/votes", timeout=10).json()
        assert counted["total"] == RESIDENTS, counted
    finally:
        for n in nodes:
            n.kill()
