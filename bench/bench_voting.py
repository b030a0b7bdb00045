"""Voting benchmark: a ballot with N eligible residents, all voting over HTTP.

A real node process (``node.launcher.start_node``) on a community made with
``init_community``; N residents enrolled in arrays of 1000 per POST; one yes/no ballot;
every resident's vote POSTed in arrays (pre-signed, so the figure is what the node accepts);
then ``civic ballot tally`` run from a second process (``.venv/bin/civic``), in its default
mode (the ballot's records proven against the checkpoint) and with ``--full`` (the whole log
replayed through every rule). Prints votes/s accepted and the median tally seconds.

    .venv/bin/python bench/bench_voting.py [--residents 10000] [--batch 1000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, add_contract_args, median, row, write_results
from client.http import NodeClient
from ledger.keys import KeyPair, keypair_from_seed
from ledger.records import format_time
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.launcher import start_node

ORIGIN = "bench.example/voting"
# `civic` of this tree (python -m cli.main from ROOT), so a worktree runs its own code.
CIVIC = [sys.executable, "-m", "cli.main"]


def keys(n: int, label: str) -> list[KeyPair]:
    return [keypair_from_seed(f"{label}-{i}".encode().ljust(32, b".")[:32]) for i in range(n)]


def envelope(type_: str, body: dict[str, Any], kp: KeyPair) -> dict[str, Any]:
    return sign_envelope(make_statement(ORIGIN, type_, body, kp.key_id), [kp])


def post_all(c: NodeClient, envs: list[dict[str, Any]], batch: int) -> float:
    """POST in arrays of ``batch``; every item must be accepted. Returns seconds taken."""
    t = time.perf_counter()
    for lo in range(0, len(envs), batch):
        res = c.submit(envs[lo : lo + batch])
        bad = [r for r in res if r["status"] != 201]
        if bad:
            raise SystemExit(f"rejected: {bad[0]}")
    return time.perf_counter() - t


def tally(url: str, ballot: str, full: bool) -> tuple[float, dict[str, Any]]:
    args = [*CIVIC, "ballot", "tally", "--ballot", ballot, "--node", url, "--json"]
    t = time.perf_counter()
    out = subprocess.run(
        [*args, *(["--full"] if full else [])], capture_output=True, check=False, cwd=ROOT
    )
    dt = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"civic ballot tally failed: {out.stderr.decode()[-500:]}")
    return dt, json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--residents", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=1000, help="envelopes per POST (max 1000)")
    ap.add_argument("--runs", type=int, default=3, help="tally runs (median)")
    add_contract_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.residents, args.runs = min(args.residents, 2000), 1
    n = args.residents
    figures: list[Figure] = []
    chair = keys(1, "bench-chair")[0]
    people = keys(n, "bench-resident")
    with tempfile.TemporaryDirectory(prefix="civic-bench-voting-") as d:
        data = Path(d) / "node"
        init_community(data, ORIGIN, [chair])
        node = start_node(data, log_file=Path(d) / "node.log")
        try:
            with NodeClient(node.url, timeout=600) as c:
                print(
                    f"# voting benchmark: {n:,} residents, arrays of {args.batch}, {os.cpu_count()} cores"
                )
                enrol = [
                    envelope("member.enrol", {"key": p.key_id, "unit_commitment": "ab" * 32}, chair)
                    for p in people
                ]
                dt = post_all(c, enrol, min(args.batch, 1000))
                print(row("enrolments accepted", f"{n / dt:,.0f}/s", f"{dt:.1f}s"))
                figures.append(Figure("voting", f"enrolments over HTTP, arrays of {args.batch}",
                                      round(n / dt), "statements/s"))  # fmt: skip
                closes = format_time(datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1))
                body = {
                    "kind": "yes_no",
                    "title": {"en": "Benchmark question", "zh": "基准测试问题"},
                    "closes": closes,
                    "quorum": {"percent": 50},
                    "passing": "simple_majority",
                }
                t = time.perf_counter()
                ballot = str(c.submit(envelope("ballot.open", body, chair))["index"])
                print(row("ballot.open (electorate snapshot)", f"{time.perf_counter() - t:.2f}s"))
                t = time.perf_counter()
                choices = ("yes", "no", "abstain")
                votes = [
                    envelope("vote.cast", {"ballot": ballot, "choice": choices[i % 3]}, p)
                    for i, p in enumerate(people)
                ]
                print(row("signing the votes (client)", f"{time.perf_counter() - t:.1f}s"))
                dt = post_all(c, votes, args.batch)
                print(row("votes accepted over HTTP", f"{n / dt:,.0f}/s", f"{dt:.1f}s"))
                figures.append(Figure("voting", f"votes over HTTP, arrays of {args.batch}",
                                      round(n / dt), "statements/s"))  # fmt: skip
                size = c.get_json("/healthz")["size"]
            print(f"\n# civic ballot tally from a second process, log of {size:,} records")
            print(row("mode", "median s", "runs"))
            startup = []
            for _ in range(args.runs):
                t = time.perf_counter()
                subprocess.run([*CIVIC, "--version"], capture_output=True, check=True, cwd=ROOT)
                startup.append(time.perf_counter() - t)
            print(
                row(
                    "(civic --version: CLI startup)",
                    f"{median(startup):.2f}",
                    ", ".join(f"{x:.2f}" for x in startup),
                )
            )
            for full in (False, True):
                times = []
                for _ in range(args.runs):
                    dt, out = tally(node.url, ballot, full)
                    res = out["result"]
                    assert out["matches"] and res["turnout"] == n, out
                    times.append(dt)
                name = "--full (replay all)" if full else "default (ballot range)"
                print(row(name, f"{median(times):.2f}", ", ".join(f"{x:.2f}" for x in times)))
                figures.append(Figure("voting", f"civic ballot tally {name}, {size:,} records",
                                      round(median(times), 3), "s", higher_is_better=False,
                                      notes="includes CLI startup"))  # fmt: skip
        finally:
            node.stop()
    write_results(args.json, figures)


if __name__ == "__main__":
    main()
