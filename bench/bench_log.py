"""Log benchmark: appends and proofs on SQLite, against pymerkle's SqliteTree.

Both run in this process on the same machine, on the same entries, each with a durable
SQLite commit per batch. Prints entries/s for batches of 1, 100 and 1000, and median and
p99 inclusion and consistency proof times at SIZE records, with the ratios.

The append rates alternate civic-ledger and pymerkle over --reps rounds (fresh databases
each round, the order swapped every round) and report medians, so that the load of a
shared machine falls on both alike. civic-ledger's time includes waiting for its
leaf-hash integrator to catch up at the end. pymerkle runs with SQLite's defaults
(rollback journal, synchronous=FULL: durable, like ours); it is also measured in WAL mode
with synchronous=FULL, our settings, for a ratio at equal settings. CPU time (this
process, all threads) is printed beside the wall-clock rates.

    .venv/bin/python bench/bench_log.py [--size 1000000] [--samples 300] [--reps 5]
                                        [--quick] [--json PATH]
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

from dataclasses import dataclass
from typing import Any

from pymerkle import SqliteTree

from bench.common import Figure, median, percentile, row, write_results
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


def theirs(path: Path, wal: bool = False) -> SqliteTree:
    tree = SqliteTree(str(path))
    if wal:
        tree.con.execute("PRAGMA journal_mode=WAL")
        tree.con.execute("PRAGMA synchronous=FULL")
    return tree


@dataclass
class Rate:
    """Entries/s (wall clock) and CPU seconds per entry of one run."""

    rate: float
    cpu: float


def run_ours(path: Path, data: list[bytes], batch: int) -> Rate:
    log = ours(path)
    t, c = time.perf_counter(), time.process_time()
    for lo in range(0, len(data), batch):
        log.append(data[lo : lo + batch])
    getattr(log, "wait_for_index", lambda: None)()  # absent before the integrator
    out = Rate(len(data) / (time.perf_counter() - t), (time.process_time() - c) / len(data))
    log.store.close()
    return out


def run_theirs(path: Path, data: list[bytes], batch: int, wal: bool) -> Rate:
    tree = theirs(path, wal)
    t, c = time.perf_counter(), time.process_time()
    for lo in range(0, len(data), batch):
        if batch == 1:
            tree.append_entry(data[lo])
        else:
            tree.append_entries(data[lo : lo + batch])
    out = Rate(len(data) / (time.perf_counter() - t), (time.process_time() - c) / len(data))
    tree.con.close()
    return out


def append_rate(tmp: Path, batch: int, total: int, reps: int) -> dict[str, list[Rate]]:
    """Each contender ``reps`` times on fresh databases, interleaved."""
    data = entries(total)
    runs: dict[str, list[Rate]] = {"ours": [], "pymerkle": [], "pymerkle-wal": []}
    for r in range(reps):
        order = ["ours", "pymerkle", "pymerkle-wal"]
        if r % 2:
            order.reverse()
        for who in order:
            path = tmp / f"{who}-{batch}-{r}.sqlite"
            if who == "ours":
                runs[who].append(run_ours(path, data, batch))
            else:
                runs[who].append(run_theirs(path, data, batch, wal=who == "pymerkle-wal"))
            for f in tmp.glob(f"{who}-{batch}-{r}.sqlite*"):
                f.unlink()
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size", type=int, default=None, help="records for the proofs (10^6)")
    ap.add_argument("--samples", type=int, default=300)
    ap.add_argument("--their-samples", type=int, default=30)
    ap.add_argument("--reps", type=int, default=None, help="rounds per append rate (5)")
    ap.add_argument("--quick", action="store_true", help="small sizes for make bench-all")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="write figures")
    args = ap.parse_args()
    quick = args.quick
    n = args.size or (200_000 if quick else 1_000_000)
    reps = args.reps or (3 if quick else 5)
    sizes = ((1, 300), (100, 10_000), (1000, 50_000)) if quick else (
        (1, 1000), (100, 20_000), (1000, 100_000))  # fmt: skip
    figures: list[Any] = []
    rng = random.Random(1)
    with tempfile.TemporaryDirectory(prefix="civic-bench-") as d:
        tmp = Path(d)
        print(
            f"# append rate (entries/s, durable commit per batch, median of {reps} interleaved"
            f" rounds), {os.cpu_count()} cores"
        )
        print(row("batch", "civic-ledger", "pymerkle", "ratio", "pymerkle WAL", "ratio",
                  "CPU us/entry civic/pymerkle", widths=(8, 14, 12, 8, 14, 8, 30)))  # fmt: skip
        for batch, total in sizes:
            runs = append_rate(tmp, batch, total, reps)
            a = median([x.rate for x in runs["ours"]])
            b = median([x.rate for x in runs["pymerkle"]])
            w = median([x.rate for x in runs["pymerkle-wal"]])
            ca = median([x.cpu for x in runs["ours"]]) * 1e6
            cb = median([x.cpu for x in runs["pymerkle"]]) * 1e6
            # The median of the per-round ratios: each round's pair ran under one load.
            per = median(
                [o.rate / t.rate for o, t in zip(runs["ours"], runs["pymerkle"], strict=True)]
            )
            per_w = median(
                [o.rate / t.rate for o, t in zip(runs["ours"], runs["pymerkle-wal"], strict=True)]
            )
            print(row(batch, f"{a:,.0f}", f"{b:,.0f}", f"{per:.2f}x", f"{w:,.0f}", f"{per_w:.2f}x",
                      f"{ca:.1f} / {cb:.1f}", widths=(8, 14, 12, 8, 14, 8, 30)))  # fmt: skip
            what = f"append, batches of {batch}"
            note = (f"{total:,} entries, median of {reps} interleaved rounds; ratio is the median "
                    f"per-round ratio; CPU us/entry {ca:.1f} vs {cb:.1f}")  # fmt: skip
            figures.append(Figure("log", what, round(a, 1), "entries/s", "pymerkle SqliteTree",
                                  round(b, 1), round(per, 4), True, note))  # fmt: skip
            figures.append(Figure("log", what + " (pymerkle in WAL, synchronous=FULL)", round(a, 1),
                                  "entries/s", "pymerkle SqliteTree, WAL", round(w, 1),
                                  round(per_w, 4), True, note))  # fmt: skip

        print(f"\n# building {n:,} records in both (batches of 10,000)")
        log = ours(tmp / "big-ours.sqlite")
        tree = theirs(tmp / "big-theirs.sqlite")
        t = time.perf_counter()
        for lo in range(0, n, 10_000):
            chunk = entries(min(10_000, n - lo), lo)
            log.append(chunk)
            tree.append_entries(chunk)
        getattr(log, "wait_for_index", lambda: None)()
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
        # Lookups by leaf hash: the integrator's index, and the tail it has not reached.
        leaves = [log.leaf_hashes(i, i + 1)[0] for i in idx[: args.samples]]
        it_l = iter(leaves)
        look = measure(lambda: log.index_of_leaf(next(it_l)), len(leaves))
        # The proofs are the same hashes: check one of each against the reference verifier.
        p = log.inclusion_proof(idx[0], n)
        merkle.verify_inclusion(log.leaf_hashes(idx[0], idx[0] + 1)[0], idx[0], n, p, root)
        assert log.index_of_leaf(leaves[0]) == idx[0]
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
            figures.append(Figure("log", f"{name} proof at {n:,}", round(median(a) * 1e3, 4), "ms",
                                  "pymerkle SqliteTree", round(median(b) * 1e3, 3),
                                  round(median(a) / median(b), 6), False,
                                  f"median; speedup {median(b) / median(a):,.0f}x; "
                                  f"p99 {percentile(a, 99) * 1e3:.3f} ms"))  # fmt: skip
        print(
            row(
                "lookup by leaf hash",
                f"{median(look) * 1e3:.3f}/{percentile(look, 99) * 1e3:.3f}",
                "-",
                "-",
            )
        )
        figures.append(Figure("log", f"lookup by leaf hash at {n:,}", round(median(look) * 1e3, 4),
                              "ms", None, None, None, False, "median; pymerkle has no such lookup"))  # fmt: skip
        log.store.close()
        tree.con.close()
    write_results(args.json, figures)


if __name__ == "__main__":
    main()
