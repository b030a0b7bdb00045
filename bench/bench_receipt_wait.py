"""What waiting for the witness quorum costs `civic vote cast`.

Against a real network on 127.0.0.1 (a sequencer, 3 witnesses with quorum 2, a mirror),
one resident casts votes one after another, as `civic vote cast` does in-process: submit
the vote (until its 201), read its record, then :func:`client.receipts.cast_receipt`,
which reads genesis's policy and asks for the proof against the newest witnessed
checkpoint until one covers the vote. Prints the median and p90 of the submit and of the
wait, in milliseconds, and how many receipts came out witnessed.

    .venv/bin/python bench/bench_receipt_wait.py [--casts 40] [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import base64
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_network import start_network
from bench.bench_statements import CHAIR, ORIGIN
from bench.common import Figure, add_contract_args, median, percentile, row, write_results
from client.http import NodeClient
from client.receipts import cast_receipt
from client.submit import submit_statement
from ledger.c2sp.note import parse_vkey
from ledger.keys import generate_keypair
from ledger.records import format_time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--casts", type=int, default=40)
    add_contract_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.casts = min(args.casts, 20)
    voter = generate_keypair()
    with tempfile.TemporaryDirectory() as tmp:
        procs = start_network(Path(tmp), witnesses=True)
        try:
            with NodeClient(procs[0].url) as c:
                body = {"key": voter.key_id, "unit_commitment": "cd" * 32}
                submit_statement(c, "member.enrol", body, CHAIR, origin=ORIGIN)
                closes = datetime.now(UTC) + timedelta(hours=1)
                ballot = {
                    "kind": "yes_no",
                    "title": {"en": "Benchmark?"},
                    "closes": format_time(closes.replace(microsecond=0)),
                    "quorum": {"votes": 1},
                    "passing": "simple_majority",
                }
                bid = str(submit_statement(c, "ballot.open", ballot, CHAIR, origin=ORIGIN)["index"])
                log_key = parse_vkey(c.community()["log_vkey"])
                submits, waits, witnessed = [], [], 0
                for i in range(args.casts):
                    t0 = time.perf_counter()
                    choice = "yes" if i % 2 else "no"
                    out = submit_statement(
                        c, "vote.cast", {"ballot": bid, "choice": choice}, voter, origin=ORIGIN
                    )
                    record = base64.b64decode(c.record(out["index"])["entry"])
                    t1 = time.perf_counter()
                    _, ok = cast_receipt(c, out, record, log_key)
                    t2 = time.perf_counter()
                    submits.append((t1 - t0) * 1000)
                    waits.append((t2 - t1) * 1000)
                    witnessed += ok
        finally:
            for p in procs:
                p.stop()
    print(row("vote cast, ms", "median", "p90", "n", widths=(34, 12, 12, 6)))
    for name, xs in (("submit + read record", submits), ("wait for the quorum", waits)):
        print(
            row(
                name,
                f"{median(xs):.1f}",
                f"{percentile(xs, 90):.1f}",
                len(xs),
                widths=(34, 12, 12, 6),
            )
        )
    print(f"witnessed receipts: {witnessed} of {args.casts}")
    write_results(args.json, [
        Figure("receipt_wait", "vote cast: submit + read record (median)",
               round(median(submits), 1), "ms", higher_is_better=False),
        Figure("receipt_wait", "vote cast: wait for the quorum (median)", round(median(waits), 1),
               "ms", "target", 100.0, round(median(waits) / 100.0, 3), higher_is_better=False,
               notes=f"p90 {percentile(waits, 90):.0f} ms, p99 {percentile(waits, 99):.0f} ms; "
               f"{witnessed} of {args.casts} witnessed; one resident at a time (light load)"),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
