"""Nodes that cross-verify, as real processes on 127.0.0.1.

Each test builds a community whose genesis names three witnesses (quorum 2), starts the
sequencer, the witnesses and (mostly) a mirror as child processes on free ports, with
short gossip intervals, and tears every process down even when the test fails.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from ledger.c2sp.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.c2sp.note import parse_vkey
from ledger.c2sp.policy import Policy, parse_policy
from ledger.c2sp.trust import check_trust, trusted_checkpoint
from ledger.c2sp.witness import SIZE_MEDIA_TYPE, format_add_checkpoint
from ledger.community import commitment
from ledger.errors import SignatureError
from ledger.evidence import evidence_from_json, verify_evidence
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.config import load_log_key
from node.launcher import NodeProcess, free_port, start_node, wait_healthy
from node.mirror import init_mirror
from node.witness import init_witness
from tests.factory import key
from tests.test_witness import append_bad_record

ORIGIN = "civic.example/network-garden"
CHAIR = key("net-committee-0")
GOSSIP = "0.3"
T = TypeVar("T")


def enrol_env(label: str) -> dict[str, Any]:
    salt = os.urandom(16)
    body = {"key": key(label).key_id, "unit_commitment": commitment(label, salt)}
    return sign_envelope(make_statement(ORIGIN, "member.enrol", body, CHAIR.key_id), [CHAIR])


def wait_for(what: str, fn: Callable[[], T | None], timeout: float = 40.0) -> T:
    """Poll ``fn`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except (httpx.HTTPError, ValueError) as exc:
            last = exc
        if last:
            return last  # type: ignore[return-value]
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@dataclass
class Net:
    """A running network and a client to poke it."""

    tmp: Path
    seq: NodeProcess
    witnesses: list[NodeProcess]
    mirror: NodeProcess | None
    log_vkey: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    counter: int = 0

    @property
    def nodes(self) -> list[NodeProcess]:
        return [self.seq, *self.witnesses, *([self.mirror] if self.mirror else [])]

    def get(self, node: NodeProcess, path: str) -> httpx.Response:
        return self.http.get(node.url + path)

    def submit(self, n: int) -> list[dict[str, Any]]:
        """Submit ``n`` enrolments one by one; their 201 bodies."""
        out = []
        for _ in range(n):
            self.counter += 1
            r = self.http.post(
                self.seq.url + "/v1/statements", json=enrol_env(f"{self.tmp.name}-{self.counter}")
            )
            assert r.status_code == 201, r.text
            out.append(r.json())
        return out

    def policy(self) -> Policy:
        return parse_policy(self.get(self.seq, "/v1/policy").text)

    def size(self, node: NodeProcess) -> int:
        n: int = self.get(node, "/healthz").json()["size"]
        return n

    def quorum_at(self, node: NodeProcess, size: int) -> bool:
        """Whether ``node`` serves a checkpoint of at least ``size`` trusted by the policy."""
        r = self.get(node, "/v1/checkpoints/witnessed")
        return r.status_code == 200 and trusted_checkpoint(r.content, self.policy()).size >= size

    def cosigned_by(self, name: str) -> int | None:
        for w in self.get(self.seq, "/v1/witnesses").json()["witnesses"]:
            if w["name"] == name:
                got: int | None = w["cosigned_size"]
                return got
        return None

    def evidence(self, node: NodeProcess) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.get(node, "/v1/evidence").json()["evidence"]
        return items


@contextmanager
def network(tmp: Path, mirror: bool = True) -> Iterator[Net]:
    """1 sequencer + 3 witnesses (quorum 2) [+ 1 mirror], all torn down at the end."""
    ports = [free_port() for _ in range(5)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    witnesses = []
    for i in range(3):
        signer = init_witness(tmp / f"w{i}", f"w{i}.{tmp.name[:20]}.test", follow=urls[0])
        witnesses.append(
            {"name": signer.name, "vkey": signer.verifier().vkey(), "url": urls[1 + i]}
        )
    info = init_community(tmp / "seq", ORIGIN, [CHAIR], witnesses, 2)
    log_vkey = info["log_vkey"]
    dirs = [tmp / "seq", *(tmp / f"w{i}" for i in range(3))]
    if mirror:
        init_mirror(tmp / "mirror", urls[0], log_vkey)
        dirs.append(tmp / "mirror")
    procs: list[NodeProcess] = []
    net: Net | None = None
    try:
        for i, d in enumerate(dirs):
            args = [a for u in urls[: len(dirs)] if u != urls[i] for a in ("--peer", u)]
            args += ["--gossip-interval", GOSSIP, "--witness-retry", GOSSIP]
            if d.name != "seq":
                args += ["--log-vkey", log_vkey, "--follow-interval", "0.2"]
            procs.append(start_node(d, ports[i], args, log_file=tmp / f"{d.name}.log", wait=False))
        for p in procs:
            wait_healthy(p.url, proc=p.proc)
        net = Net(tmp, procs[0], procs[1:4], procs[4] if mirror else None, log_vkey)
        yield net
    finally:
        for p in procs:
            p.kill()
        if net is not None:
            net.http.close()


def test_statements_flow_checkpoints_reach_quorum_and_the_mirror_converges(
    tmp_path: Path,
) -> None:
    with network(tmp_path) as net:
        bodies = net.submit(12)
        # The receipt's checkpoint is issued at commit, before any witness saw it.
        assert bodies[-1]["cosignatures"] == 0
        size = bodies[-1]["inclusion_proof"]["tree_size"]
        wait_for("a quorum checkpoint", lambda: net.quorum_at(net.seq, size))
        # The receipt's checkpoint can be upgraded to the cosigned one of the same size.
        got = wait_for(
            "all three cosignatures",
            lambda: (
                (r := net.get(net.seq, bodies[-1]["cosigned_checkpoint"]))
                and r.headers["x-civic-cosignatures"] == "3"
                and r
            ),
        )
        report = check_trust(got.content, net.policy())
        assert report.quorum_met and len(report.cosigned_by) == 3
        # The mirror converges to the same root and serves the same reads, trusted too.
        assert net.mirror is not None
        mirror = net.mirror
        wait_for("the mirror", lambda: net.size(mirror) == size and net.quorum_at(mirror, size))
        vk = parse_vkey(net.log_vkey)
        seq_cp, _ = open_checkpoint(net.get(net.seq, "/log/checkpoint").content, vk)
        mir_cp, _ = open_checkpoint(net.get(mirror, "/log/checkpoint").content, vk)
        assert (mir_cp.size, mir_cp.root_hash) == (seq_cp.size, seq_cp.root_hash)
        assert net.get(mirror, "/v1/members").json() == net.get(net.seq, "/v1/members").json()
        proof = net.get(mirror, f"/v1/proofs/inclusion?index=3&tree_size={size}").json()
        assert proof == net.get(net.seq, f"/v1/proofs/inclusion?index=3&tree_size={size}").json()
        assert net.http.post(mirror.url + "/v1/statements", json=enrol_env("m")).status_code == 405
        # Gossip: every node has seen every peer's checkpoint; nobody holds evidence.
        peers = net.get(mirror, "/v1/peers?refresh=true").json()["peers"]
        assert len(peers) == 4 and all(p["error"] == "" and p["size"] for p in peers)
        for n in net.nodes:
            assert net.get(n, "/healthz").status_code == 200
            assert net.evidence(n) == []


def test_witnesses_killed_with_sigkill_then_restarted_catch_up(tmp_path: Path) -> None:
    with network(tmp_path, mirror=False) as net:
        w0, w1, w2 = net.witnesses
        names = [w["name"] for w in net.get(net.seq, "/v1/witnesses").json()["witnesses"]]
        size = net.submit(3)[-1]["inclusion_proof"]["tree_size"]
        wait_for("quorum", lambda: net.quorum_at(net.seq, size))
        before = wait_for(
            "w0 to cosign",
            lambda: net.get(w0, "/v1/witnesses").json()["witness"]["cosigned_size"],
        )
        w0.kill()
        # One witness down: appends continue and the quorum is still met.
        size = net.submit(4)[-1]["inclusion_proof"]["tree_size"]
        wait_for("quorum with two witnesses", lambda: net.quorum_at(net.seq, size))
        w1.kill()
        # Two down: appends continue, but checkpoints lack the quorum and clients say so.
        size = net.submit(3)[-1]["inclusion_proof"]["tree_size"]
        last = sorted(names)[2]
        wait_for("the last witness", lambda: (net.cosigned_by(last) or 0) >= size)
        note = net.get(net.seq, "/log/checkpoint").content
        report = check_trust(note, net.policy())
        assert report.checkpoint.size == size and len(report.cosigned_by) == 1
        assert not report.quorum_met
        with pytest.raises(SignatureError, match="quorum"):
            trusted_checkpoint(note, net.policy())
        assert not net.quorum_at(net.seq, size)
        # Both come back (same data, same port): they catch up and cosign.
        w0.restart()
        w1.restart()
        # A witness's state survives kill -9 and never goes backwards.
        assert net.get(w0, "/v1/witnesses").json()["witness"]["cosigned_size"] >= before
        wait_for("quorum after the restarts", lambda: net.quorum_at(net.seq, size))
        size = net.submit(2)[-1]["inclusion_proof"]["tree_size"]
        for name in names:
            wait_for(f"{name} to catch up", lambda n=name: net.cosigned_by(n) == size)  # type: ignore[misc]
        for w in (w0, w1, w2):
            assert net.size(w) == size


def test_sequencer_kill_9_mid_stream_loses_no_acknowledged_statement(tmp_path: Path) -> None:
    with network(tmp_path) as net:
        acked: list[tuple[int, str]] = []
        lock = threading.Lock()
        stop = threading.Event()

        def client(k: int) -> None:
            with httpx.Client(timeout=10) as c:
                i = 0
                while not stop.is_set():
                    i += 1
                    try:
                        r = c.post(net.seq.url + "/v1/statements", json=enrol_env(f"k{k}-{i}"))
                    except httpx.HTTPError:
                        return
                    if r.status_code == 201:
                        with lock:
                            acked.append((r.json()["index"], r.json()["leaf_hash"]))

        threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        try:
            wait_for("acknowledgements", lambda: len(acked) >= 40)
            net.seq.kill()  # SIGKILL, in the middle of the stream
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=30)
        with lock:
            done = list(acked)
        net.seq.restart()
        size = net.size(net.seq)
        assert size >= len(done) + 1
        for index, leaf in done:
            rec = net.get(net.seq, f"/v1/records/{index}").json()
            assert rec["leaf_hash"] == leaf, f"acknowledged record {index} is missing"
        # The witnesses accept the continuation; the mirror follows it.
        size = net.submit(3)[-1]["inclusion_proof"]["tree_size"]
        wait_for("quorum after the restart", lambda: net.quorum_at(net.seq, size))
        assert net.mirror is not None
        mirror = net.mirror
        wait_for("the mirror", lambda: net.size(mirror) == size)
        for n in net.nodes:
            assert net.get(n, "/healthz").status_code == 200


def _has_equivocation(net: Net, node: NodeProcess) -> bool:
    vk = parse_vkey(net.log_vkey)
    for item in net.evidence(node):
        ev = evidence_from_json(item)
        if ev.kind == "equivocation":
            verify_evidence(ev, vk)  # anyone can check it with the log key alone
            return True
    return False


def test_forked_sequencer_is_refused_and_evidence_reaches_every_node(tmp_path: Path) -> None:
    with network(tmp_path) as net:
        size = net.submit(5)[-1]["inclusion_proof"]["tree_size"]
        names = [w["name"] for w in net.get(net.seq, "/v1/witnesses").json()["witnesses"]]
        for name in names:
            wait_for(f"{name} to cosign", lambda n=name: net.cosigned_by(n) == size)  # type: ignore[misc]
        # Test-only fork: the real log key signs a second checkpoint of the same size.
        fork = sign_checkpoint(
            Checkpoint(ORIGIN, size, os.urandom(32)), load_log_key(tmp_path / "seq")
        )
        for w in net.witnesses:
            r = net.http.post(
                w.url + "/witness/add-checkpoint", content=format_add_checkpoint(size, [], fork)
            )
            # 409: roots differ at the cosigned size; 403: it already learnt the evidence
            # from a peer and no longer trusts the log key.
            assert r.status_code in (409, 403), r.text
            assert not r.headers["content-type"].startswith(SIZE_MEDIA_TYPE)
        # Gossip spreads it: evidence on every node, and every /healthz reports it.
        for n in net.nodes:
            wait_for(f"evidence on the {n.role}", lambda n=n: _has_equivocation(net, n))  # type: ignore[misc]
            health = net.get(n, "/healthz")
            assert health.status_code == 503
            assert any("equivocation" in r for r in health.json()["reasons"])
        # The sequencer holds the evidence too, so it takes no more statements.
        r = net.http.post(net.seq.url + "/v1/statements", json=enrol_env("after-fork"))
        assert r.status_code == 503, r.text
        # A witness never cosigns past evidence, even the log's own checkpoint.
        cur = net.get(net.seq, f"/v1/checkpoints/{size}").content
        for w in net.witnesses:
            r = net.http.post(
                w.url + "/witness/add-checkpoint", content=format_add_checkpoint(size, [], cur)
            )
            assert r.status_code == 403, r.text


def test_record_edited_in_the_database_is_detected_by_every_node(tmp_path: Path) -> None:
    with network(tmp_path) as net:
        size = net.submit(6)[-1]["inclusion_proof"]["tree_size"]
        assert net.mirror is not None
        mirror = net.mirror
        wait_for("the mirror", lambda: net.size(mirror) == size)
        wait_for("quorum", lambda: net.quorum_at(net.seq, size))
        # Someone with access to the sequencer's database drops the guards and edits a
        # record in place (the node keeps running).
        db = sqlite3.connect(tmp_path / "seq" / "ledger.sqlite", timeout=30)
        try:
            db.execute("DROP TRIGGER log_entries_no_update")
            (data,) = db.execute("SELECT data FROM log_entries WHERE idx = 3").fetchone()
            edited = bytes(data).replace(CHAIR.key_id.encode(), key("mallory").key_id.encode())
            assert edited != bytes(data)
            db.execute("UPDATE log_entries SET data = ? WHERE idx = 3", (edited,))
            db.commit()
        finally:
            db.close()
        for n in net.nodes:
            wait_for(
                f"the {n.role} to notice",
                lambda n=n: net.get(n, "/healthz").status_code == 503,  # type: ignore[misc]
            )
            reasons = " ".join(net.get(n, "/healthz").json()["reasons"])
            assert "record 3" in reasons


def test_witness_refuses_a_record_that_breaks_a_rule(tmp_path: Path) -> None:
    with network(tmp_path) as net:
        size = net.submit(2)[-1]["inclusion_proof"]["tree_size"]
        wait_for("quorum", lambda: net.quorum_at(net.seq, size))
        # The mirror verifies a whole catch-up at once: let it hold the valid records first.
        assert net.mirror is not None
        mirror = net.mirror
        wait_for("the mirror to follow", lambda: net.size(mirror) == size)
        net.seq.stop()
        # Test-only path: a corrupt sequencer appends a record the rules forbid.
        bad = append_bad_record(tmp_path / "seq", ORIGIN)
        net.seq.restart()
        vk = parse_vkey(net.log_vkey)
        for w in net.witnesses:

            def refused(w: NodeProcess = w) -> bool:
                for item in net.evidence(w):
                    ev = evidence_from_json(item)
                    if ev.kind == "invalid-record" and ev.index == bad:
                        verify_evidence(ev, vk)
                        return True
                return False

            wait_for("the witness to refuse", refused)
            assert net.get(w, "/healthz").status_code == 503
            assert net.size(w) == size  # it stored nothing past the bad record
        assert not net.quorum_at(net.seq, bad + 1)
        statuses = net.get(net.seq, "/v1/witnesses").json()["witnesses"]
        assert all((s["cosigned_size"] or 0) < bad + 1 for s in statuses)
        assert net.mirror is not None
        assert net.size(net.mirror) == size
