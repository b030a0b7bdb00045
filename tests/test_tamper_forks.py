"""Tampering with freshness and forks, replayed on real node processes.

Three scenarios of the issue's list, each on its own network of real processes on
127.0.0.1 — a sequencer, three witnesses (quorum 2) and a mirror, gossiping every 0.3 s:

- **a fork between two sequencers**: a copy of the sequencer's data folder runs as a
  second sequencer with the same log key, and both accept different statements;
- **a forked copy alone**: such a copy, audited on its own, after the real log moved on;
- **a stale mirror**: a mirror that stopped following while still gossiping.

Each test asserts who detects the scenario — which node's ``/healthz`` and
``/v1/evidence``, which audit finding code and exit code — and measures how long each
detector took after the tampering. The latencies are printed (``pytest -s``) and attached
to the test report (``record_property``); no timing threshold is asserted beyond the
bounded waits.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ledger.c2sp.note import parse_vkey
from ledger.evidence import evidence_from_json, verify_evidence
from node.bootstrap import init_community
from node.launcher import NodeProcess, free_port, start_node, wait_healthy
from node.mirror import init_mirror
from node.witness import init_witness
from tests.test_audit_network import civic
from tests.test_network import CHAIR, ORIGIN, enrol_env, wait_for

GOSSIP = "0.3"
DETECT_WITHIN = 90.0  # seconds: a generous bound on every wait, not a timing assertion


@dataclass
class Net:
    tmp: Path
    seq: NodeProcess
    witnesses: list[NodeProcess]
    mirror: NodeProcess
    log_vkey: str
    urls: list[str]
    spare: int  # a free port named as a peer of everyone, for a second sequencer
    extra: list[NodeProcess] = field(default_factory=list)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    counter: int = 0

    def submit(self, node: NodeProcess, n: int) -> int:
        """``n`` enrolments at ``node``; the tree size after the last."""
        size = 0
        for _ in range(n):
            self.counter += 1
            env = enrol_env(f"{self.tmp.name}-{self.counter}")
            r = self.http.post(node.url + "/v1/statements", json=env)
            assert r.status_code == 201, r.text
            size = r.json()["inclusion_proof"]["tree_size"]
        return size

    def health(self, node: NodeProcess) -> httpx.Response:
        return self.http.get(node.url + "/healthz")

    def evidence(self, node: NodeProcess) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self.http.get(node.url + "/v1/evidence").json()["evidence"]
        return items

    def witnessed(self, node: NodeProcess) -> int:
        r = self.http.get(node.url + "/v1/checkpoints/witnessed")
        return int(r.text.split("\n")[1]) if r.status_code == 200 else -1

    def node_args(self, exclude: str, follow: bool) -> list[str]:
        peers = [*self.urls, f"http://127.0.0.1:{self.spare}"]
        args = [a for u in peers if u != exclude for a in ("--peer", u)]
        args += ["--gossip-interval", GOSSIP, "--witness-retry", GOSSIP]
        if follow:
            args += ["--log-vkey", self.log_vkey, "--follow-interval", "0.2"]
        return args


def _set_config(data_dir: Path, **values: object) -> None:
    path = data_dir / "node.json"
    cfg = json.loads(path.read_text())
    cfg.update(values)
    path.write_text(json.dumps(cfg))


@contextmanager
def network(tmp: Path) -> Iterator[Net]:
    """1 sequencer + 3 witnesses (quorum 2) + 1 mirror; every process killed at the end."""
    ports = [free_port() for _ in range(6)]
    urls = [f"http://127.0.0.1:{p}" for p in ports[:5]]
    witnesses = []
    for i in range(3):
        signer = init_witness(tmp / f"w{i}", f"w{i}.{tmp.name[:20]}.test", follow=urls[0])
        witnesses.append({"name": signer.name, "vkey": signer.verifier().vkey(), "url": urls[1 + i]})  # fmt: skip
    info = init_community(tmp / "seq", ORIGIN, [CHAIR], witnesses, 2)
    init_mirror(tmp / "mirror", urls[0], info["log_vkey"])
    dirs = [tmp / "seq", *(tmp / f"w{i}" for i in range(3)), tmp / "mirror"]
    procs: list[NodeProcess] = []
    net: Net | None = None
    try:
        probe = Net(tmp, None, [], None, info["log_vkey"], urls, ports[5])  # type: ignore[arg-type]
        for i, d in enumerate(dirs):
            _set_config(d, stale_after=1.0)
            args = probe.node_args(urls[i], follow=d.name != "seq")
            procs.append(start_node(d, ports[i], args, log_file=tmp / f"{d.name}.log", wait=False))
        for p in procs:
            wait_healthy(p.url, timeout=120, proc=p.proc)
        net = Net(tmp, procs[0], procs[1:4], procs[4], info["log_vkey"], urls, ports[5])
        yield net
    finally:
        for p in [*procs, *(net.extra if net else [])]:
            p.kill()
        if net is not None:
            net.http.close()


def up(node: NodeProcess) -> NodeProcess:
    """Wait for a node started with ``wait=False`` (generously: the machine is shared)."""
    wait_healthy(node.url, timeout=120, proc=node.proc)
    return node


def detect(
    detectors: dict[str, Callable[[], bool]], since: float, timeout: float = DETECT_WITHIN
) -> dict[str, float]:
    """Poll every detector until each has fired; seconds from ``since`` to each first fire."""
    got: dict[str, float] = {}
    deadline = time.monotonic() + timeout
    while len(got) < len(detectors) and time.monotonic() < deadline:
        for name, fired in detectors.items():
            if name in got:
                continue
            try:
                ok = fired()
            except (httpx.HTTPError, ValueError, KeyError):
                ok = False
            if ok:
                got[name] = round(time.monotonic() - since, 3)
        time.sleep(0.05)
    missing = sorted(set(detectors) - set(got))
    assert not missing, f"not detected within {timeout:.0f}s by: {missing} (detected: {got})"
    return got


def report_latency(record: Callable[[str, object], None], scenario: str, got: dict[str, float]) -> None:  # fmt: skip
    print(f"\n[tamper] {scenario}: detection latency (s) {json.dumps(got, sort_keys=True)}")
    record(f"latency {scenario}", json.dumps(got, sort_keys=True))


def audit(tmp: Path, *args: str) -> tuple[int, dict[str, Any]]:
    out = tmp / f"audit-{time.monotonic_ns()}.json"
    code, text = civic("audit", *args, "--json", str(out), "--quiet")
    assert out.exists(), text
    doc: dict[str, Any] = json.loads(out.read_text())
    return code, doc


def codes(report: dict[str, Any]) -> set[str]:
    return {f["code"] for f in report["findings"]}


def fork_copy(net: Net, name: str) -> Path:
    """A copy of the sequencer's data folder, taken while it is stopped (then restarted)."""
    net.seq.kill()
    dst = net.tmp / name
    shutil.copytree(net.seq.data_dir, dst)
    net.seq.restart(wait=False, log_file=net.tmp / "seq.log")
    up(net.seq)
    return dst


def test_a_fork_between_two_sequencers(tmp_path: Path, record_property: Any) -> None:
    with network(tmp_path) as net:
        size = net.submit(net.seq, 4)
        wait_for("quorum", lambda: net.witnessed(net.seq) >= size)
        copy = fork_copy(net, "seq-b")
        b = up(start_node(
            copy, net.spare, net.node_args(f"http://127.0.0.1:{net.spare}", follow=False),
            log_file=tmp_path / "seq-b.log", wait=False,
        ))  # fmt: skip
        net.extra.append(b)
        # Both sequencers sign a tree of the same size with different records.
        top = net.submit(net.seq, 3)
        wait_for("the witnesses to cosign a", lambda: net.witnessed(net.seq) >= top)
        # One array, one batch, one checkpoint: b's first signed tree past the copy is
        # already of size ``top`` (statement by statement, b's size-6 checkpoint could be
        # caught as a fork, and b halted, before it got there).
        envs = []
        for _ in range(3):
            net.counter += 1
            envs.append(enrol_env(f"{net.tmp.name}-{net.counter}"))
        r = net.http.post(b.url + "/v1/statements", json=envs)
        assert r.status_code == 200, r.text
        assert [x["status"] for x in r.json()["results"]] == [201] * 3, r.text
        assert r.json()["results"][-1]["inclusion_proof"]["tree_size"] == top
        t0 = time.monotonic()
        vk = parse_vkey(net.log_vkey)

        def holds_equivocation(node: NodeProcess) -> Callable[[], bool]:
            def fired() -> bool:
                for item in net.evidence(node):
                    ev = evidence_from_json(item)
                    if ev.kind == "equivocation":
                        verify_evidence(ev, vk)  # anyone can check it with the log key
                        return True
                return False

            return fired

        detectors = {f"witness w{i} /v1/evidence": holds_equivocation(w) for i, w in enumerate(net.witnesses)}  # fmt: skip
        detectors |= {
            "sequencer a /healthz 503": lambda: net.health(net.seq).status_code == 503,
            "sequencer b /healthz 503": lambda: net.health(b).status_code == 503,
            "mirror /healthz 503": lambda: net.health(net.mirror).status_code == 503,
            "mirror /v1/evidence": holds_equivocation(net.mirror),
        }
        got = detect(detectors, t0)
        report_latency(record_property, "fork between two sequencers", got)
        for node in (net.seq, b, net.mirror, *net.witnesses):
            h = net.health(node).json()
            assert h["ok"] is False and h["evidence"] == "/v1/evidence"
            assert any(r.startswith("equivocation: ") for r in h["reasons"])
        # The sequencer holding that evidence takes no more statements, and nothing new
        # gets witnessed.
        before = net.witnessed(net.seq)
        env = enrol_env(f"{net.tmp.name}-after-fork")
        r = net.http.post(net.seq.url + "/v1/statements", json=env)
        assert r.status_code == 503 and "evidence" in r.json()["detail"], r.text
        time.sleep(1.0)
        assert net.witnessed(net.seq) == before
        # The audit of both: the fork is evidence (exit 3), named with both nodes.
        t1 = time.monotonic()
        code, report = audit(tmp_path, "--node", net.seq.url, "--node", b.url, "--vkey", net.log_vkey)  # fmt: skip
        record_property("audit seconds fork", round(time.monotonic() - t1, 3))
        assert code == 3 and report["verdict"] == "evidence", report["findings"]
        assert {"checkpoint.fork", "node.evidence"} <= codes(report)
        fork = next(f for f in report["findings"] if f["code"] == "checkpoint.fork")
        assert net.seq.url in fork["node"] and b.url in fork["node"]


def test_a_forked_copy_alone(tmp_path: Path, record_property: Any) -> None:
    with network(tmp_path) as net:
        base = net.submit(net.seq, 4)
        wait_for("quorum", lambda: net.witnessed(net.seq) >= base)
        state = tmp_path / "auditor-state.json"
        copy = fork_copy(net, "seq-copy")
        # The real log moves on and is witnessed; an auditor remembers that.
        real = net.submit(net.seq, 3)
        wait_for("quorum", lambda: net.witnessed(net.seq) >= real)
        code, report = audit(tmp_path, "--node", net.seq.url, "--vkey", net.log_vkey, "--state", str(state))  # fmt: skip
        assert code == 0, report["findings"]
        assert report["witnessed"]["size"] == real
        # The copy, alone on its own port, takes 5 other records after the witnessed base.
        # Nobody names it as a peer; it knows only the witnesses its genesis names.
        _set_config(copy, peers=[])
        c = up(start_node(copy, free_port(), ["--gossip-interval", GOSSIP, "--witness-retry", GOSSIP],
                          log_file=tmp_path / "seq-copy.log", wait=False))  # fmt: skip
        net.extra.append(c)
        # One batch, so that no checkpoint of the copy has the size the witnesses cosigned.
        envs = [enrol_env(f"copy-{i}") for i in range(5)]
        r = net.http.post(c.url + "/v1/statements", json=envs)
        assert r.status_code == 200 and {x["status"] for x in r.json()["results"]} == {201}
        forked = net.health(c).json()["size"]
        assert forked == base + 5 > real
        t0 = time.monotonic()
        # 1. Audited alone, without memory: the witnessed part stops at the base. Before
        #    issue 10 this exited 0 with a "pending" note.
        code, report = audit(tmp_path, "--node", c.url, "--vkey", net.log_vkey)
        t_alone = round(time.monotonic() - t0, 3)
        # (The copy's own gossip with the witnesses may already have found the fork: then
        # its evidence makes the audit's verdict "evidence" too.)
        found_itself = "node.evidence" in codes(report)
        assert code == (3 if found_itself else 4), report["findings"]
        assert "checkpoint.pending" not in codes(report)
        (short,) = [f for f in report["findings"] if f["code"] == "checkpoint.unwitnessed"]
        assert short["detail"]["trusted_size"] == base
        assert f"reaches {base} records" in short["message"]
        assert f"records {base} to {forked - 1}" in short["message"]
        assert report["witnessed"]["size"] == base
        # 2. Audited alone with the auditor's memory of the real log: a rollback (exit 3).
        code, report = audit(tmp_path, "--node", c.url, "--state", str(state))
        assert code == 3 and "checkpoint.rollback" in codes(report), report["findings"]

        # 3. The nodes: the witnesses refuse to cosign the copy (its checkpoints do not
        #    extend what they cosigned), and the copy's own gossip with them finds the fork.
        def copy_refused() -> bool:
            ws = net.http.get(c.url + "/v1/witnesses").json()["witnesses"]
            return all(w["error"] and (w["cosigned_size"] or 0) <= base for w in ws)

        got = detect(
            {
                "copy's witness workers refused": copy_refused,
                "copy /healthz 503": lambda: net.health(c).status_code == 503,
                "copy /v1/evidence": lambda: any(
                    e["kind"] == "equivocation" for e in net.evidence(c)
                ),
            },
            t0,
        )
        got["audit alone (finds the unwitnessed tail)"] = t_alone
        report_latency(record_property, "forked copy alone", got)
        assert net.witnessed(c) == base
        # The real network saw nothing: nobody gossips with the copy.
        for node in (net.seq, *net.witnesses, net.mirror):
            assert net.evidence(node) == []


def test_a_stale_mirror(tmp_path: Path, record_property: Any) -> None:
    with network(tmp_path) as net:
        size = net.submit(net.seq, 3)
        wait_for("the mirror", lambda: net.health(net.mirror).json()["size"] == size)
        wait_for("quorum", lambda: net.witnessed(net.seq) >= size)
        # Freeze the mirror: it follows a dead port now, and still gossips with everyone.
        m = net.mirror
        m.kill()
        _set_config(m.data_dir, follow=f"http://127.0.0.1:{free_port()}")
        m.args = [a for a in m.args if a != "--follow"]
        m.restart(wait=False, log_file=tmp_path / "mirror.log")
        up(m)
        ahead = net.submit(net.seq, 20)
        t0 = time.monotonic()
        wait_for("quorum", lambda: net.witnessed(net.seq) >= ahead)
        t_witnessed = round(time.monotonic() - t0, 3)

        def degraded() -> bool:
            r = net.health(m)
            return r.status_code == 503 and r.json()["freshness"]["lag"] == 20

        got = detect(
            {
                "mirror /healthz 503 degraded": degraded,
                "mirror X-Civic-Lag": lambda: (
                    net.http.get(m.url + "/log/checkpoint").headers.get("x-civic-lag") == "20"
                ),
            },
            t0,
        )
        body = net.health(m).json()
        assert body["size"] == size and body["freshness"]["status"] == "degraded"
        assert body["freshness"]["newest_seen"] == ahead
        assert net.evidence(m) == []  # behind is not evidence
        # The others are current.
        for node in (net.seq, *net.witnesses):
            assert net.health(node).status_code == 200
        # The audit with the sequencer: a finding (exit 4), not a note.
        t1 = time.monotonic()
        code, report = audit(tmp_path, "--node", net.seq.url, "--node", m.url, "--vkey", net.log_vkey)  # fmt: skip
        got["audit with the sequencer (node.stale), duration"] = round(time.monotonic() - t1, 3)
        got["witness quorum on the new records"] = t_witnessed
        assert code == 4 and report["verdict"] == "incomplete", report["findings"]
        (stale,) = [f for f in report["findings"] if f["code"] == "node.stale"]
        assert stale["node"] == m.url and stale["detail"]["lag"] == 20
        # Within a stated tolerance it is only a note again.
        code, report = audit(tmp_path, "--node", net.seq.url, "--node", m.url, "--vkey", net.log_vkey, "--max-lag", "20")  # fmt: skip
        assert code == 0 and "node.stale" not in codes(report), report["findings"]
        # Alone, with an auditor's memory of the sequencer: stale too.
        state = tmp_path / "state.json"
        code, _ = audit(tmp_path, "--node", net.seq.url, "--vkey", net.log_vkey, "--state", str(state))  # fmt: skip
        assert code == 0
        code, report = audit(tmp_path, "--node", m.url, "--state", str(state))
        assert code == 4 and "node.stale" in codes(report), report["findings"]
        report_latency(record_property, "stale mirror", got)
