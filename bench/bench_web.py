"""What the page's verification costs: the budget page of a community with 10^5
transactions in headless Chromium, with verification on and off, in one run.

Builds the demo community, appends income transactions until the log holds ``--transactions``
of them, starts the five nodes, waits for the witnesses' cosignatures, then loads
``#/budget`` (verified) and ``#/budget?verify=off`` alternately in fresh browser contexts
and prints the median times, the ratio, and the bytes and requests each fetched.

    .venv/bin/python bench/bench_web.py --transactions 100000
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.common import Figure, add_contract_args, write_results
from demo import DEMO_PASSPHRASE, build_demo
from demo.community import submit_all
from ledger.keys import load_key_file
from ledger.statements import make_statement, sign_envelope
from node.context import open_context
from tests.support.web import browser, start_nodes
from tests.test_demo import _free_block


def grow(data: Path, transactions: int) -> int:
    """Append incomes to the demo's first account until there are ``transactions`` in all."""
    ctx = open_context(data / "sequencer", serve=True)
    try:
        alice = load_key_file(data / "keys" / "alice.key", DEMO_PASSPHRASE)
        origin = ctx.cfg.origin
        tx_doc = next(
            iter(
                ctx.log.entry(i)
                for i in range(ctx.log.size)
                if b'"funds.income"' in ctx.log.entry(i)
            )
        )
        body0 = json.loads(tx_doc)["envelope"]["statement"]["body"]
        have = sum(
            1
            for i in range(ctx.log.size)
            if b'"funds.income"' in ctx.log.entry(i) or b'"funds.expense.pay"' in ctx.log.entry(i)
        )
        need = max(0, transactions - have)
        t0 = time.perf_counter()
        for lo in range(0, need, 5000):
            envs = []
            for i in range(lo, min(need, lo + 5000)):
                body = {**body0, "amount": 100 + i % 900, "description": f"bench income {i}"}
                envs.append(
                    sign_envelope(
                        make_statement(origin, "funds.income", body, alice.key_id), [alice]
                    )
                )
            submit_all(ctx, envs, batch=1000)
        print(
            f"appended {need} incomes in {time.perf_counter() - t0:.1f} s; log size {ctx.log.size}"
        )
        return int(ctx.log.size)
    finally:
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--transactions", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=3)
    add_contract_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.transactions, args.rounds = min(args.transactions, 2000), 1
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "demo"
        port = _free_block()
        info = build_demo(data, records=100, port=port)
        size = grow(data, args.transactions)
        nodes = start_nodes(data, port)
        try:
            seq = nodes[0].url
            deadline = time.monotonic() + 1800
            while time.monotonic() < deadline:
                note = httpx.get(seq + "/log/checkpoint").text
                if note.split("\n")[1] == str(size) and note.count("— witness") >= 2:
                    break
                time.sleep(1)
            else:
                raise SystemExit("the witnesses never cosigned the grown log")
            c = httpx.get(seq + "/v1/community").json()
            frag = f"vkey={c['log_vkey']}&genesis={c['genesis_hash']}"
            results: dict[str, list[tuple[float, int, int, str]]] = {"on": [], "off": []}
            with browser() as b:
                for _ in range(args.rounds):
                    for mode in ("on", "off"):
                        ctx = b.new_context()
                        page = ctx.new_page()
                        # Remember the trust root first, so both modes load the same page.
                        page.goto(f"{seq}/#/community?{frag}")
                        page.wait_for_function(
                            "document.body.dataset.verification !== 'pending'", timeout=600_000
                        )
                        route = "budget" if mode == "on" else "budget?verify=off"
                        page.goto("about:blank")
                        t0 = time.perf_counter()
                        page.goto(f"{seq}/#/{route}")
                        page.wait_for_function(
                            "document.body.dataset.verification !== 'pending'",
                            timeout=600_000,
                            polling=50,
                        )
                        took = time.perf_counter() - t0
                        stats = page.evaluate(
                            "[window.civicStats.bytes, window.civicStats.requests, document.body.dataset.verification]"
                        )
                        results[mode].append((took, stats[0], stats[1], stats[2]))
                        ctx.close()
            on, off = results["on"], results["off"]
            t_on = statistics.median(r[0] for r in on)
            t_off = statistics.median(r[0] for r in off)
            print(
                f"community: {size} records, {args.transactions} transactions (incomes and payments), {len(info['funds'].get('expenses', {}))} expenses"
            )
            print(
                f"budget page verified:   median {t_on * 1000:.0f} ms, {on[0][1]:,} bytes in {on[0][2]} API requests (verdict {on[0][3]})"
            )
            print(
                f"budget page unverified: median {t_off * 1000:.0f} ms, {off[0][1]:,} bytes in {off[0][2]} API requests (verdict {off[0][3]})"
            )
            print(
                f"ratio verified/unverified: time {t_on / t_off:.2f}x, bytes {on[0][1] / off[0][1]:.2f}x"
            )
            write_results(args.json, [
                Figure("web", f"budget page verified, {args.transactions} transactions",
                       round(t_on * 1000), "ms", "same page unverified", round(t_off * 1000),
                       round(t_on / t_off, 3), higher_is_better=False,
                       notes=f"headless Chromium, median of {args.rounds} rounds"),
            ])  # fmt: skip
        finally:
            for n in reversed(nodes):
                n.stop()


if __name__ == "__main__":
    main()
