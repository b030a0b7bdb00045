"""Statements benchmark: signed statements/s accepted end to end over HTTP.

A real node process on 127.0.0.1 (SQLite, durable commits); the load comes from this
process with pre-signed enrolment envelopes: single submissions from concurrent
clients, then arrays of 100. Compared in the same run with the machine's bound, Ed25519
verifications/s on all cores (PyNaCl).

    .venv/bin/python bench/bench_statements.py [--singles 3000] [--arrays 20000]
        [--ingest-workers 0,2] [--quick] [--json PATH]

``--ingest-workers`` runs the node once per count given (node/ingest.py's worker
processes; 0 verifies in the node process as before issue 13), so the front end's
effect is a ratio measured in the same run. Besides the wall-clock rates it reports the
CPU seconds the node (with its workers) and this load generator spent per statement,
figures less disturbed by other work on a shared machine.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import Figure, write_results
from bench.ed25519_bound import ed25519_bound, verify_cpu_seconds
from ledger.keys import key_id
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.launcher import start_node
from tests.factory import key

ORIGIN = "bench.example/statements"
CHAIR = key("bench-chair")


def envelopes(n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        body = {"key": key_id(os.urandom(32)), "unit_commitment": os.urandom(32).hex()}
        out.append(
            sign_envelope(make_statement(ORIGIN, "member.enrol", body, CHAIR.key_id), [CHAIR])
        )
    return out


def post_all(url: str, payloads: list[Any], concurrency: int) -> tuple[float, int]:
    """POST every payload from ``concurrency`` threads; (seconds, accepted statements)."""
    clients = [httpx.Client(timeout=120) for _ in range(concurrency)]

    def post(i: int) -> int:
        r = clients[i % concurrency].post(url + "/v1/statements", json=payloads[i])
        if r.status_code == 201:
            return 1
        if r.status_code == 200:
            return sum(1 for x in r.json()["results"] if x["status"] == 201)
        raise RuntimeError(r.text)

    t = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as ex:
        accepted = sum(ex.map(post, range(len(payloads))))
    elapsed = time.perf_counter() - t
    for c in clients:
        c.close()
    return elapsed, accepted


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and its live children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            for task in Path(f"/proc/{p}/task").iterdir():
                todo.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, IndexError, ValueError):
            continue  # the process ended meanwhile
    return total


def run_node(
    workers: int | None, singles: list[Any], batches: list[Any], concurrency: int
) -> dict[str, float]:
    """One node with ``workers`` front-end processes (None: its default): rates and CPU."""
    if workers is not None:
        os.environ["CIVIC_INGEST_WORKERS"] = str(workers)
    else:
        os.environ.pop("CIVIC_INGEST_WORKERS", None)
    n_arrays = sum(len(b) for b in batches)
    with tempfile.TemporaryDirectory(prefix="civic-bench-") as d:
        data = Path(d) / "node"
        init_community(data, ORIGIN, [CHAIR])
        node = start_node(data)
        try:
            post_all(node.url, singles[:32], concurrency)  # start the workers, warm the paths
            c0, l0 = cpu_seconds(node.proc.pid), time.process_time()
            t1, n1 = post_all(node.url, singles[32:], concurrency)
            c1, l1 = cpu_seconds(node.proc.pid), time.process_time()
            t2, n2 = post_all(node.url, batches, 4)
            c2, l2 = cpu_seconds(node.proc.pid), time.process_time()
        finally:
            node.stop()
    assert n1 == len(singles) - 32 and n2 == n_arrays, (n1, n2)
    return {
        "singles": n1 / t1,
        "arrays": n2 / t2,
        "singles_node_cpu_us": (c1 - c0) / n1 * 1e6,
        "arrays_node_cpu_us": (c2 - c1) / n2 * 1e6,
        "singles_client_cpu_us": (l1 - l0) / n1 * 1e6,
        "arrays_client_cpu_us": (l2 - l1) / n2 * 1e6,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--singles", type=int, default=3000)
    ap.add_argument("--arrays", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument(
        "--ingest-workers",
        default="",
        help="comma-separated front-end worker counts to compare (default: the node's own)",
    )
    ap.add_argument("--quick", action="store_true", help="small sizes for make bench-all")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="write figures")
    args = ap.parse_args()
    if args.quick:
        args.singles, args.arrays = min(args.singles, 1500), min(args.arrays, 6000)
    counts: list[int | None] = (
        [int(x) for x in args.ingest_workers.split(",")] if args.ingest_workers else [None]
    )
    one, bound = ed25519_bound()
    v = verify_cpu_seconds() * 1e6
    cores = os.cpu_count() or 1
    print(f"Ed25519 verify bound: {one:,.0f}/s on one core, {bound:,.0f}/s on {cores} cores")
    print(
        f"one verification: {v:.1f} us of CPU; 50 % of the bound leaves "
        f"{2 * v:.0f} us of CPU per statement for everything on the {cores} cores "
        "(this load generator included)"
    )
    singles, arrays = envelopes(args.singles + 32), envelopes(args.arrays)
    batches = [arrays[i : i + 100] for i in range(0, len(arrays), 100)]
    peer = f"Ed25519 verify bound ({cores} cores, PyNaCl)"
    figures = [
        Figure("statements", "Ed25519 verify bound", bound, "verifications/s"),
        Figure("statements", "one Ed25519 verify", v, "us of CPU", higher_is_better=False),
    ]
    for w in counts:
        r = run_node(w, singles, batches, args.concurrency)
        r1, r2 = r["singles"], r["arrays"]
        label = "node default" if w is None else f"{w}"
        print(f"-- front-end workers: {label}")
        print(
            f"single submissions ({args.concurrency} concurrent): {r1:,.0f} statements/s "
            f"({r1 / bound:.1%} of the bound)"
        )
        print(
            f"arrays of 100 (4 concurrent):          {r2:,.0f} statements/s "
            f"({r2 / bound:.1%} of the bound)"
        )
        print(
            f"CPU per statement, node+workers / load generator: singles "
            f"{r['singles_node_cpu_us']:,.0f} / {r['singles_client_cpu_us']:,.0f} us, arrays "
            f"{r['arrays_node_cpu_us']:,.0f} / {r['arrays_client_cpu_us']:,.0f} us "
            f"(one verify: {v:.0f} us of CPU)"
        )
        suffix = "" if w is None else f" ({w} front-end workers)"
        notes = "same run as the bound; wall clock on a shared machine"
        figures += [
            Figure("statements", f"signed statements over HTTP, arrays of 100{suffix}", r2,
                   "statements/s", peer, bound, round(r2 / bound, 4), True, notes),
            Figure("statements", f"single submissions, {args.concurrency} clients{suffix}", r1,
                   "statements/s", peer, bound, round(r1 / bound, 4), True, notes),
            Figure("statements", f"node CPU per statement, arrays of 100{suffix}",
                   r["arrays_node_cpu_us"], "us", "one Ed25519 verify (CPU)", v,
                   round(r["arrays_node_cpu_us"] / v, 2), False,
                   "node process and its front-end workers; ratio in verifications"),
            Figure("statements", f"node CPU per statement, single submissions{suffix}",
                   r["singles_node_cpu_us"], "us", "one Ed25519 verify (CPU)", v,
                   round(r["singles_node_cpu_us"] / v, 2), False,
                   "node process and its front-end workers; ratio in verifications"),
        ]  # fmt: skip
    write_results(args.json, figures)


if __name__ == "__main__":
    main()
