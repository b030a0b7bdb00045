"""Log benchmark: appends and proofs on SQLite, against pymerkle's SqliteTree.

Both run in this process on the same machine, on the same entries, each with a durable
SQLite commit per batch. Prints entries/s for batches of 1, 100 and 1000, and median and
p99 inclusion and consistency proof times at SIZE records, with the ratios.

    .venv/bin/python bench/bench_log.py [--size 1000000] [--samples 300]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pymerkle import SqliteTree

from bench.common import median, percentile, row
from ledger import merkle
from ledger.c2sp.note import generate_signer
from ledger.log import Log
from ledger.sql import SqlStore, sqlite_url

ORIGIN = "bench.example/log"


def entries(n: int, start: int = 0) -> list[bytes]:
    return [
        f"entry {i:09d} ".encode() + os.urandom(48).hex().encode() for i in range(start, start + n)
    ]


def ours(path: Path) -> Log:
    return Log(SqlStore(sqlite_url(path)), ORIGIN, generate_signer(ORIGIN))


def theirs(path: Path) -> SqliteTree:
    return SqliteTree(str(path))


def append_rate(tmp: Path, batch: int, total: int) -> tuple[float, float]:
    data = entries(total)
    log = ours(tmp / f"ours-{batch}.sqlite")
    t = time.perf_counter()
    for lo in range(0, total, batch):
        log.append(data[lo : lo + batch])
    a = total / (time.perf_counter() - t)
    log.store.close()
    tree = theirs(tmp / f"theirs-{batch}.sqlite")
    t = time.perf_counter()
    for lo in range(0, total, batch):
        if batch == 1:
            tree.append_entry(data[lo])
        else:
            tree.append_entries(data[lo : lo + batch])
    b = total / (time.perf_counter() - t)
    tree.con.close()
    return a, b


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--their-samples", type=int, default=30)
    args = ap.parse_args()
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="civic-bench-") as d:
        tmp = Path(d)
        print(f"# append rate (entries/s, durable commit per batch), {os.cpu_count()} cores")
        print(row("batch", "civic-ledger", "pymerkle", "ratio"))
        for batch, total in ((1, 1000), (100, 20_000), (1000, 100_000)):
            a, b = append_rate(tmp, batch, total)
            print(row(batch, f"{a:,.0f}", f"{b:,.0f}", f"{a / b:.2f}x"))

        n = args.size
        print(f"\n# building {n:,} records in both (batches of 10,000)")
        log = ours(tmp / "big-ours.sqlite")
        tree = theirs(tmp / "big-theirs.sqlite")
        t = time.perf_counter()
        for lo in range(0, n, 10_000):
            chunk = entries(min(10_000, n - lo), lo)
            log.append(chunk)
            tree.append_entries(chunk)
        print(f"built in {time.perf_counter() - t:.1f}s")
        root = log.root()
        assert root == tree.get_root(), "the two implementations disagree on the root"

        def measure(fn, k: int) -> list[float]:  # type: ignore[no-untyped-def]
            out = []
            for _ in range(k):
                t = time.perf_counter()
                fn()
                out.append(time.perf_counter() - t)
            return out

        idx = [rng.randrange(n) for _ in range(max(args.samples, args.their_samples))]
        olds = [rng.randrange(1, n) for _ in range(max(args.samples, args.their_samples))]
        it_o, it_t = iter(idx), iter(idx)
        inc_o = measure(lambda: log.inclusion_proof(next(it_o), n), args.samples)
        inc_t = measure(lambda: tree.prove_inclusion(next(it_t) + 1, n), args.their_samples)
        co_o, co_t = iter(olds), iter(olds)
        con_o = measure(lambda: log.consistency_proof(next(co_o), n), args.samples)
        con_t = measure(lambda: tree.prove_consistency(next(co_t), n), args.their_samples)
        # The proofs are the same hashes: check one of each against the reference verifier.
        p = log.inclusion_proof(idx[0], n)
        merkle.verify_inclusion(log.leaf_hashes(idx[0], idx[0] + 1)[0], idx[0], n, p, root)
        print(
            f"\n# proofs at {n:,} records (ms; ours {args.samples} samples, pymerkle {args.their_samples})"
        )
        print(row("proof", "civic median/p99", "pymerkle med/p99", "speedup"))
        for name, a, b in (("inclusion", inc_o, inc_t), ("consistency", con_o, con_t)):
            print(
                row(
                    name,
                    f"{median(a) * 1e3:.3f}/{percentile(a, 99) * 1e3:.3f}",
                    f"{median(b) * 1e3:.1f}/{percentile(b, 99) * 1e3:.1f}",
                    f"{median(b) / median(a):,.0f}x",
                )
            )
        log.store.close()
        tree.con.close()


if __name__ == "__main__":
    main()
