"""District load test: many communities on one PostgreSQL, a writer killed mid-ballot.

Real processes on 127.0.0.1, every one a *district* node (node/district.py): two
sequencer districts over the same communities (same log keys, same database, a schema
per community) — the writer and the standby (node/standby.py) — three witness
districts (quorum 2) and a mirror district, all on one PostgreSQL from tests/pg.py
(witnesses and mirror keep their own SQLite files, as independent operators would).

A district-wide ballot: every resident of every community votes once, half in arrays
and half as single submissions, from concurrent clients that fail over between the two
sequencers (client/failover.py). The writer is ``kill -9``-ed when half the votes are
acknowledged; the standby takes over every community. Then, per community: every
acknowledged statement is in the log exactly once (lost must be 0), the final tree is
consistent with the checkpoint seen before the kill, the state views equal a replay,
and the mirror reaches the same tree. The same total load on ONE community (the same
processes, the same kill) gives the ratio.

The issue asks for 200 communities × 3,000 residents (600,000 votes); this 2-core machine
shared by eight engineers holds far less (a load average of 30-60 while this was written),
so the default is 8 × 150 (1,200 votes, factor 500 smaller) and ``--quick`` is 4 × 75
(factor 2,000); ``--communities 20 --residents 300`` (factor 100) runs on an idle machine.

    .venv/bin/python bench/bench_district.py [--communities 20] [--residents 300]
        [--array 25] [--clients 8] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx
import psycopg

from bench.common import Figure, percentile, row, write_results
from client.failover import Ack, FailoverSubmitter
from ledger import merkle
from ledger.c2sp.checkpoint import open_checkpoint
from ledger.c2sp.note import parse_vkey
from ledger.keys import KeyPair, keypair_from_seed
from ledger.records import format_time, parse_record, parse_time
from ledger.sql import SqlStore
from ledger.state import State, replay
from ledger.statements import make_statement, sign_envelope
from node.config import load_config, save_config
from node.district import add_community, community_dir, init_district, witness_vkey
from node.launcher import NodeProcess, free_port, start_node
from rules import community_rules
from tests.pg import PgServer, start_pg

CHAIR = keypair_from_seed(b"bench-district-chair".ljust(32, b"."))


def resident(c: int, i: int) -> KeyPair:
    return keypair_from_seed(f"bd-{c}-{i}".encode().ljust(32, b".")[:32])


def env(origin: str, type_: str, body: dict[str, Any], kp: KeyPair) -> dict[str, Any]:
    return sign_envelope(make_statement(origin, type_, body, kp.key_id), [kp])


@dataclass
class Network:
    writer: NodeProcess
    standby: NodeProcess
    replicas: list[NodeProcess]
    origins: list[str]
    urls: dict[str, str]  # database URL per origin
    vkeys: dict[str, str]

    def stop(self) -> None:
        for n in [self.writer, self.standby, *self.replicas]:
            n.kill()


def build(root: Path, pg: PgServer, communities: int, tag: str) -> Network:
    """Create and start the six district processes for ``communities`` communities."""
    db = pg.create_database(f"district_{tag}")
    ports = {k: free_port() for k in ("a", "b", "w0", "w1", "w2", "m")}
    url = {k: f"http://127.0.0.1:{p}" for k, p in ports.items()}
    origins = [f"bench.example/{tag}-{c}" for c in range(communities)]
    # Witnesses and the mirror follow the standby's read API: it serves the committed log
    # while it waits, and it is the writer after the take-over.
    wnames = []
    for i in range(3):
        init_district(root / f"w{i}", "witness", follow=url["b"], witness_name=f"w{i}.{tag}")
        wnames.append(witness_vkey(root / f"w{i}"))
    init_district(root / "a", "sequencer", database=db)
    init_district(root / "m", "mirror", follow=url["b"])
    vkeys: dict[str, str] = {}
    dbs: dict[str, str] = {}
    for o in origins:
        ws = [
            {"name": f"w{i}.{tag}", "vkey": wnames[i], "url": f"{url[f'w{i}']}/c/{o}"}
            for i in range(3)
        ]
        out = add_community(root / "a", o, [CHAIR], ws, 2)
        vkeys[o] = str(out["log_vkey"])
        dbs[o] = str(load_config(community_dir(root / "a", o)).database)
        for r in ("w0", "w1", "w2", "m"):
            add_community(root / r, log_vkey=vkeys[o])
    shutil.copytree(root / "a", root / "b")
    for side in ("a", "b"):
        for o in origins:
            d = community_dir(root / side, o)
            cfg = load_config(d)
            cfg.extra["standby"] = {"name": f"seq-{side}", "url": f"{url[side]}/c/{o}"}
            cfg.witness_retry = 1.0
            save_config(d, cfg)
    logs = root / "logs"
    logs.mkdir()
    a = start_node(root / "a", port=ports["a"], log_file=logs / "a.log", role="sequencer")
    b = start_node(root / "b", port=ports["b"], log_file=logs / "b.log", role="sequencer")
    reps = [
        start_node(root / k, port=ports[k], log_file=logs / f"{k}.log", role=role)
        for k, role in (("w0", "witness"), ("w1", "witness"), ("w2", "witness"), ("m", "mirror"))
    ]
    return Network(a, b, reps, origins, dbs, vkeys)


def roles(base: str, origins: list[str]) -> dict[str, str]:
    out = {}
    for o in origins:
        try:
            h = httpx.get(f"{base}/c/{o}/healthz", timeout=10).json()
            out[o] = h.get("standby", {}).get("role", "?")
        except (httpx.HTTPError, ValueError):
            out[o] = "down"
    return out


def wait_roles(net: Network) -> None:
    """Until every community is open: writer on A, standby on B."""
    deadline = time.monotonic() + 180
    while True:
        ra, rb = roles(net.writer.url, net.origins), roles(net.standby.url, net.origins)
        if all(v == "writer" for v in ra.values()) and all(v == "standby" for v in rb.values()):
            return
        if time.monotonic() > deadline:
            raise SystemExit(f"the district did not come up: writer {ra}, standby {rb}")
        time.sleep(0.5)


def run(net: Network, residents: int, array: int, clients: int) -> dict[str, Any]:
    """Enrol, open the ballot, vote with failover, kill the writer half-way; check."""
    a, b = net.writer.url, net.standby.url
    http = httpx.Client(timeout=120)
    ballots: dict[str, str] = {}
    votes: dict[str, list[dict[str, Any]]] = {}
    closes = format_time(datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2))
    for c, o in enumerate(net.origins):
        people = [resident(c, i) for i in range(residents)]
        enrol = [
            env(o, "member.enrol", {"key": p.key_id, "unit_commitment": "ab" * 32}, CHAIR)
            for p in people
        ]
        for lo in range(0, len(enrol), 1000):
            res = http.post(f"{a}/c/{o}/v1/statements", json=enrol[lo : lo + 1000]).json()
            assert all(x["status"] == 201 for x in res["results"]), res
        body = {
            "kind": "yes_no",
            "title": {"en": "District question"},
            "closes": closes,
            "quorum": {"percent": 50},
            "passing": "simple_majority",
        }
        r = http.post(f"{a}/c/{o}/v1/statements", json=env(o, "ballot.open", body, CHAIR))
        assert r.status_code == 201, r.text
        ballots[o] = str(r.json()["index"])
        votes[o] = [
            env(o, "vote.cast", {"ballot": ballots[o], "choice": ("yes", "no")[i % 2]}, p)
            for i, p in enumerate(people)
        ]
    # Work items: half of each community's votes in arrays, half one by one, interleaved
    # across communities so every writer is busy at once.
    tasks: queue.Queue[tuple[str, list[int]]] = queue.Queue()
    per: list[list[tuple[str, list[int]]]] = []
    for o in net.origins:
        half = residents // 2
        items = [(o, list(range(lo, min(half, lo + array)))) for lo in range(0, half, array)]
        items += [(o, [i]) for i in range(half, residents)]
        per.append(items)
    total_tasks = 0
    for k in range(max(len(p) for p in per)):
        for p in per:
            if k < len(p):
                tasks.put(p[k])
                total_tasks += 1
    total = residents * len(net.origins)
    acks: dict[tuple[str, int], Ack | dict[str, Any]] = {}
    lock = threading.Lock()
    failovers = [0]

    def client() -> None:
        subs = {o: FailoverSubmitter([f"{a}/c/{o}", f"{b}/c/{o}"], timeout=60) for o in net.origins}
        try:
            while True:
                try:
                    o, ids = tasks.get_nowait()
                except queue.Empty:
                    return
                res = subs[o].submit([votes[o][i] for i in ids])
                with lock:
                    acks.update(((o, i), x) for i, x in zip(ids, res, strict=True))
        finally:
            with lock:
                failovers[0] += sum(s.failovers for s in subs.values())
            for s in subs.values():
                s.close()

    pre: dict[str, bytes] = {}
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    while len(acks) < total // 2:
        time.sleep(0.01)
    for o in net.origins:
        pre[o] = http.get(f"{a}/c/{o}/log/checkpoint").content
    acked_before = len(acks)
    net.writer.kill()
    killed = time.perf_counter()
    killed_at = datetime.now(UTC)
    # When the standby took each community's lock: the time it recorded in civic_writer
    # (read straight from PostgreSQL, not through the busy HTTP front), plus the seconds
    # it then took to load the state and start writing (its /healthz took_over_in).
    locked: dict[str, float] = {}
    while len(locked) < len(net.origins):
        for o in net.origins:
            if o in locked:
                continue
            dsn = net.urls[o].replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(dsn, autocommit=True) as conn:
                claimed = conn.execute(
                    "SELECT name, since FROM civic_writer WHERE origin = %s", (o,)
                ).fetchone()
            if claimed is not None and claimed[0] == "seq-b":
                locked[o] = (parse_time(claimed[1]) - killed_at).total_seconds()
        if time.perf_counter() - killed > 120:
            raise SystemExit(
                f"the standby did not take over: {sorted(set(net.origins) - set(locked))}"
            )
        time.sleep(0.05)
    took: dict[str, float] = {}
    while len(took) < len(net.origins):
        for o in net.origins:
            if o not in took:
                h = httpx.get(f"{b}/c/{o}/healthz", timeout=30).json().get("standby", {})
                if h.get("role") == "writer" and "took_over_in" in h:
                    took[o] = locked[o] + float(h["took_over_in"])
        if time.perf_counter() - killed > 180:
            raise SystemExit("the standby's communities do not say they write")
        time.sleep(0.1)
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    client_cpu = time.process_time() - cpu0

    # --- checks --------------------------------------------------------------------
    refused = {k: v for k, v in acks.items() if not isinstance(v, Ack)}
    lost = 0
    dupes = 0
    replay_found = sum(1 for v in acks.values() if isinstance(v, Ack) and v.how != "201")
    consistent = states_equal = mirrored = 0
    rules = community_rules()
    for o in net.origins:
        vkey = parse_vkey(net.vkeys[o])
        cp_pre, _ = open_checkpoint(pre[o], vkey)
        cp_end, _ = open_checkpoint(http.get(f"{b}/c/{o}/log/checkpoint").content, vkey)
        proof = http.get(
            f"{b}/c/{o}/v1/proofs/consistency",
            params={"first": cp_pre.size, "second": cp_end.size},
        ).json()
        merkle.verify_consistency(
            cp_pre.size,
            cp_end.size,
            [bytes.fromhex(h) for h in proof["hashes"]],
            cp_pre.root_hash,
            cp_end.root_hash,
        )
        consistent += 1
        store = SqlStore(net.urls[o])
        try:
            entries = store.read_entries(0, cp_end.size)
            records = [parse_record(e) for e in entries]
            where: dict[str, list[int]] = {}
            for rec in records:
                where.setdefault(str(rec.envelope["signatures"]), []).append(rec.index)
            for i, v in enumerate(votes[o]):
                ack = acks.get((o, i))
                if not isinstance(ack, Ack):
                    continue
                found = where.get(str(v["signatures"]), [])
                if ack.index not in found:
                    lost += 1
                dupes += max(0, len(found) - 1)
            if store.read_state(rules).snapshot() == replay(records, State(rules)).snapshot():
                states_equal += 1
        finally:
            store.close()
        mirror = net.replicas[-1].url
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                got = http.get(f"{mirror}/c/{o}/log/checkpoint").content
                cp_m, _ = open_checkpoint(got, vkey)
                if cp_m.size == cp_end.size:
                    mirrored += int(cp_m.root_hash == cp_end.root_hash)
                    break
            except (httpx.HTTPError, ValueError, Exception):
                pass
            time.sleep(0.2)
    lat = sorted(v.latency for v in acks.values() if isinstance(v, Ack))
    http.close()
    return {
        "communities": len(net.origins),
        "residents": residents,
        "votes": total,
        "acknowledged": len(lat),
        "acknowledged_before_kill": acked_before,
        "refused": len(refused),
        "lost": lost,
        "duplicates": dupes,
        "replays_found": replay_found,
        "failovers": failovers[0],
        "wall_s": wall,
        "statements_per_s": len(lat) / wall,
        "p50_ms": 1000 * percentile(lat, 50),
        "p99_ms": 1000 * percentile(lat, 99),
        "takeover_max_s": max(took.values()),
        "takeover_median_s": sorted(took.values())[len(took) // 2],
        "consistent": consistent,
        "states_equal_replay": states_equal,
        "mirror_matches": mirrored,
        "client_cpu_s": client_cpu,
        "tasks": total_tasks,
    }


def one_network(
    pg: PgServer, communities: int, residents: int, array: int, clients: int, tag: str
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"civic-bench-district-{tag}-") as d:
        net = build(Path(d), pg, communities, tag)
        try:
            wait_roles(net)
            return run(net, residents, array, clients)
        except BaseException:
            for log in sorted((Path(d) / "logs").glob("*.log")):
                tail = log.read_text("utf-8", "replace").splitlines()[-15:]
                print(f"--- {log.name}\n" + "\n".join(tail), file=sys.stderr)
            raise
        finally:
            net.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--communities", type=int, default=8)
    ap.add_argument("--residents", type=int, default=150, help="per community")
    ap.add_argument("--array", type=int, default=25, help="votes per array submission")
    ap.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    ap.add_argument("--quick", action="store_true", help="4 communities × 75 residents")
    ap.add_argument("--json", type=Path, default=None, help="write the figures here")
    args = ap.parse_args()
    if args.quick:
        args.communities, args.residents = 4, 75
    n, r = args.communities, args.residents
    factor = (200 * 3000) / (n * r)
    print(
        f"# district load test: {n} communities × {r} residents ({n * r:,} votes; the issue's "
        f"200 × 3,000 scaled down {factor:,.0f}×), {os.cpu_count()} cores shared"
    )
    pg = start_pg()
    try:
        d = one_network(pg, n, r, args.array, args.clients, "d")
        s = one_network(pg, 1, n * r, args.array, args.clients, "s")
    finally:
        pg.stop()
    print(row("figure", f"{n} communities", "1 community", "ratio"))
    for key, unit in (
        ("statements_per_s", "/s"),
        ("p50_ms", " ms"),
        ("p99_ms", " ms"),
        ("takeover_max_s", " s"),
        ("takeover_median_s", " s"),
    ):
        ratio = d[key] / s[key] if s[key] else float("nan")
        print(row(key, f"{d[key]:,.2f}{unit}", f"{s[key]:,.2f}{unit}", f"{ratio:.2f}"))
    for key in (
        "votes",
        "acknowledged",
        "acknowledged_before_kill",
        "lost",
        "duplicates",
        "refused",
        "replays_found",
        "failovers",
        "consistent",
        "states_equal_replay",
        "mirror_matches",
        "wall_s",
        "client_cpu_s",
    ):
        print(row(key, f"{d[key]:,.2f}" if isinstance(d[key], float) else d[key], s[key]))
    ok = (
        d["lost"] == s["lost"] == 0
        and d["duplicates"] == s["duplicates"] == 0
        and d["consistent"] == d["states_equal_replay"] == n
        and s["consistent"] == s["states_equal_replay"] == 1
    )
    print(
        "# every acknowledged vote in the log exactly once, trees consistent, views = replay:", ok
    )
    if args.json:
        scale = (
            f"{n}×{r} (issue: 200×3,000; {factor:,.0f}× smaller); 1 community: {n * r} residents"
        )
        peer = "same load on 1 community"
        figs = [
            Figure("district", "votes acknowledged, writer killed mid-load", d["statements_per_s"],
                   "statements/s", peer, s["statements_per_s"],
                   d["statements_per_s"] / s["statements_per_s"], True, scale),
            Figure("district", "ack latency p50", d["p50_ms"], "ms", peer, s["p50_ms"],
                   d["p50_ms"] / s["p50_ms"], False, scale),
            Figure("district", "ack latency p99 (includes the take-over)", d["p99_ms"], "ms",
                   peer, s["p99_ms"], d["p99_ms"] / s["p99_ms"], False, scale),
            Figure("district", "take-over time (kill -9 to standby writing, slowest community)",
                   d["takeover_max_s"], "s", peer, s["takeover_max_s"],
                   d["takeover_max_s"] / s["takeover_max_s"], False, scale),
            Figure("district", "acknowledged statements lost", float(d["lost"]), "statements",
                   None, None, None, False, "must be 0"),
        ]  # fmt: skip
        write_results(args.json, figs)
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
