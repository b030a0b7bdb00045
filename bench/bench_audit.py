"""Audit benchmark: ``civic audit`` of a log of N signed records from a node on
127.0.0.1, in records/s per phase, against the machine's Ed25519-verify bound measured in
the same run (PyNaCl verifications/s on every core with a process pool; bench/ed25519_bound).

The log is built through the node's own sequencer, in-process, in batches of 1000 enrolments
(each signed by the chair), then a real node process serves it and the audit runs in this
process with its default pool (every core). Target: the whole audit at ≥ 50% of the bound.

    .venv/bin/python bench/bench_audit.py [--records 100000] [--data DIR] [--workers N]
                                          [--quick] [--json PATH]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audits.audit import AuditOptions, run_audit
from bench.common import Figure, add_contract_args, ratio_of, row, write_results
from bench.ed25519_bound import _verify_many, ed25519_bound
from ledger.community import commitment
from ledger.errors import CivicError
from ledger.keys import key_id, keypair_from_seed
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.config import load_config, save_config
from node.context import open_context
from node.launcher import start_node

ORIGIN = "bench.example/audit"
CHAIR = keypair_from_seed(hashlib.sha256(b"bench-audit-chair").digest())
BATCH = 1000
QUICK_RECORDS = 30_000


def build(data: Path, records: int) -> str:
    """A community of ``records`` records (genesis and enrolments); returns the genesis hash."""
    info = init_community(data, ORIGIN, [CHAIR])
    ctx = open_context(data, serve=True)
    try:
        seq = ctx.services["sequencer"]
        done = 1
        t = time.perf_counter()
        while done < records:
            n = min(BATCH, records - done)
            envs = []
            for i in range(done, done + n):
                resident = key_id(hashlib.sha256(f"resident-{i}".encode()).digest())
                body = {"key": resident, "unit_commitment": commitment(f"unit {i}", b"s" * 16)}
                st = make_statement(ORIGIN, "member.enrol", body, CHAIR.key_id)
                envs.append(sign_envelope(st, [CHAIR]))
            for r in seq.submit(envs):
                if isinstance(r, CivicError):
                    raise SystemExit(f"rejected while building: {r}")
            done += n
            print(f"\rbuilt {done:,} records ({done / (time.perf_counter() - t):,.0f}/s)",
                  end="", file=sys.stderr)  # fmt: skip
        print(file=sys.stderr)
    finally:
        ctx.close()
    (data / "bench-genesis").write_text(str(info["genesis_hash"]))
    return str(info["genesis_hash"])


class CpuMeter(threading.Thread):
    """CPU seconds used by this process's descendants (the audit's pool, the node) while it
    runs, sampled from /proc: a figure that other users of a shared machine do not skew the
    way they skew wall time."""

    def __init__(self, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.last: dict[int, float] = {}
        self.stop = threading.Event()

    @staticmethod
    def _stat(pid: str) -> tuple[int, float] | None:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS

    def sample(self, rescan: bool = True) -> None:
        """Read the CPU of every descendant (``rescan``: look for new ones first)."""
        if rescan or not self.last:
            stats = {int(p): s for p in os.listdir("/proc") if p.isdigit() and (s := self._stat(p))}
            mine, grew = {os.getpid()}, True
            while grew:
                kids = {p for p, (ppid, _) in stats.items() if ppid in mine} - mine
                grew = bool(kids)
                mine |= kids
            for p in mine - {os.getpid()}:
                self.last[p] = stats[p][1]
            return
        for p in list(self.last):
            got = self._stat(str(p))
            if got is not None:
                self.last[p] = got[1]

    def run(self) -> None:
        # Known processes often (a worker's last figure is read at most ``every`` before it
        # exits), the whole of /proc only every 10th time (it costs the audit's process).
        n = 0
        while not self.stop.wait(self.every):
            self.sample(rescan=n % 10 == 0)
            n += 1

    def seconds(self) -> float:
        return sum(self.last.values())


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=100_000)
    ap.add_argument("--data", type=Path, default=None, help="reuse (or keep) the log here")
    ap.add_argument("--workers", type=int, default=None, help="audit pool size (default: cores)")
    ap.add_argument("--node-integrity", action="store_true",
                    help="leave the node's background integrity pass at its default")  # fmt: skip
    add_contract_args(ap)
    args = ap.parse_args()
    if args.quick and args.records == ap.get_default("records"):
        args.records = QUICK_RECORDS

    with tempfile.TemporaryDirectory(prefix="civic-bench-audit-") as tmp:
        data = args.data or Path(tmp) / "node"
        if (data / "bench-genesis").exists():
            genesis = (data / "bench-genesis").read_text()
        else:
            genesis = build(data, args.records)
        # The audited node shares this machine's cores only because this is a benchmark: in
        # use it runs elsewhere. Its background integrity pass (a re-verification of its own
        # log, about a fifth of a core while it cycles) is slowed down unless asked for, so
        # the figure is the audit's and the serving's, not that pass's.
        cfg = load_config(data)
        interval = 1.0 if args.node_integrity else 3600.0
        if cfg.integrity_interval != interval:
            save_config(data, replace(cfg, integrity_interval=interval))
        node = start_node(data)
        try:
            one, bound = ed25519_bound()
            # The CPU cost of one verification on one core, by the same measure as the audit's.
            c = time.process_time()
            n_one = 5000
            _verify_many(n_one)
            verify_cpu = (time.process_time() - c) / n_one
            meter = CpuMeter()
            meter.sample()
            before = meter.seconds()
            meter.last.clear()
            meter.start()
            c, t = time.process_time(), time.perf_counter()
            report = run_audit(
                AuditOptions(nodes=[node.url], genesis=genesis, workers=args.workers)
            )
            total = time.perf_counter() - t
            main_cpu = time.process_time() - c
            meter.stop.set()
            meter.join()
            # The node's CPU before the audit began is not the audit's.
            others = meter.seconds() - before
        finally:
            node.stop()
    records = report.verified_to - report.verified_from
    whole = records / total
    print(f"machine: {os.cpu_count()} cores; Ed25519 verify {one:,.0f}/s on one core, "
          f"{bound:,.0f}/s on all (the bound)")  # fmt: skip
    print(f"audit of {records:,} records from {node.url}: verdict {report.verdict}")
    for f in report.findings:
        print(f"  finding {f.code}: {f.message}")
    print(row("phase", "items", "seconds", "records/s", widths=(14, 20, 10, 12)))
    for p in report.phases:
        per_record = records / p.seconds if p.seconds > 0 else 0.0
        print(row(p.name, f"{p.items:,} {p.unit}", f"{p.seconds:.2f}", f"{per_record:,.0f}",
                  widths=(14, 20, 10, 12)))  # fmt: skip
    print(row("whole audit", f"{records:,} records", f"{total:.2f}", f"{whole:,.0f}",
              widths=(14, 20, 10, 12)))  # fmt: skip
    print(f"whole audit at {100 * whole / bound:.0f}% of the Ed25519 bound (target: 50%)")
    cpu = main_cpu + others
    cpu_ratio = verify_cpu * records / cpu
    print(f"CPU: audit process {main_cpu:.2f}s + its pool and the node {others:.2f}s = "
          f"{1e6 * cpu / records:.0f} us per record; one Ed25519 verify {1e6 * verify_cpu:.0f} "
          f"us: the audit at {100 * cpu_ratio:.0f}% of the bound on an unshared machine")  # fmt: skip
    out: dict[str, Any] = {
        "records": records,
        "cores": os.cpu_count(),
        "ed25519_one_core_per_s": round(one),
        "ed25519_bound_per_s": round(bound),
        "audit_seconds": round(total, 3),
        "audit_records_per_s": round(whole),
        "fraction_of_bound": round(whole / bound, 3),
        "phases": {
            p.name: {
                "seconds": round(p.seconds, 3),
                "records_per_s": round(records / p.seconds) if p.seconds else None,
            }
            for p in report.phases
        },
        "verdict": report.verdict,
    }
    print(json.dumps(out))
    bound_name = f"Ed25519 verify bound ({os.cpu_count()} cores)"
    figures = [
        Figure("audit", f"civic audit of {records:,} records", round(whole), "records/s",
               bound_name, round(bound), ratio_of(whole, bound),
               notes=f"target >= 0.5 of the bound; verdict {report.verdict}; the node on the "
               f"same cores, its integrity pass {'on' if args.node_integrity else 'slowed'}"),
    ]  # fmt: skip
    for p in report.phases:
        if p.seconds > 0 and p.name in ("verify", "replay"):
            rate = records / p.seconds
            figures.append(Figure("audit", f"audit phase {p.name}", round(rate), "records/s",
                                  bound_name, round(bound), ratio_of(rate, bound)))  # fmt: skip
    figures.append(Figure("audit", "civic audit, CPU per record vs one Ed25519 verify",
                          round(1e6 * cpu / records, 1), "us/record", "Ed25519 verify (CPU)",
                          round(1e6 * verify_cpu, 1), round(cpu_ratio, 4),
                          higher_is_better=False,
                          notes="ratio = verify CPU / audit CPU (audit, pool and node): the "
                          "fraction of the bound on an unshared machine"))  # fmt: skip
    write_results(args.json, figures)


if __name__ == "__main__":
    main()
