"""Statements benchmark: signed statements/s accepted end to end over HTTP.

A real node process on 127.0.0.1 (SQLite, durable commits); the load comes from this
process with pre-signed enrolment envelopes: single submissions from concurrent
clients, then arrays of 100. Compared in the same run with the machine's bound, Ed25519
verifications/s on all cores (PyNaCl).

    .venv/bin/python bench/bench_statements.py [--singles 3000] [--arrays 20000]
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

from bench.ed25519_bound import ed25519_bound
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--singles", type=int, default=3000)
    ap.add_argument("--arrays", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=32)
    args = ap.parse_args()
    one, bound = ed25519_bound()
    print(
        f"Ed25519 verify bound: {one:,.0f}/s on one core, {bound:,.0f}/s on {os.cpu_count()} cores"
    )
    singles, arrays = envelopes(args.singles), envelopes(args.arrays)
    batches = [arrays[i : i + 100] for i in range(0, len(arrays), 100)]
    with tempfile.TemporaryDirectory(prefix="civic-bench-") as d:
        data = Path(d) / "node"
        init_community(data, ORIGIN, [CHAIR])
        node = start_node(data)
        try:
            t1, n1 = post_all(node.url, singles, args.concurrency)
            t2, n2 = post_all(node.url, batches, 4)
        finally:
            node.stop()
    assert n1 == len(singles) and n2 == len(arrays), (n1, n2)
    r1, r2 = n1 / t1, n2 / t2
    print(
        f"single submissions ({args.concurrency} concurrent): {r1:,.0f} statements/s "
        f"({r1 / bound:.1%} of the bound)"
    )
    print(
        f"arrays of 100 (4 concurrent):          {r2:,.0f} statements/s ({r2 / bound:.1%} of the bound)"
    )


if __name__ == "__main__":
    main()
