"""Network benchmark: witnesses and a mirror, as real processes on 127.0.0.1.

Two figures, medians over several runs:

* **latency** from a statement's acknowledgement (its 201) to the first checkpoint that
  covers it and carries the genesis quorum of witness cosignatures (2 of 3), measured
  idle (one probe at a time) and under the sustained load below;
* **sustained statements/s** (single submissions from concurrent clients) with 3
  witnesses and 1 mirror running, against the same load on a sequencer alone (no
  witnesses in genesis, no mirror) in the same run: the ratio is the cost of being
  witnessed and mirrored on this machine (every process shares its cores).

    .venv/bin/python bench/bench_network.py [--statements 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench.bench_statements import CHAIR, ORIGIN, envelopes, post_all
from bench.common import Figure, add_contract_args, percentile, ratio_of, write_results
from ledger.c2sp.checkpoint import read_checkpoint
from node.bootstrap import init_community
from node.launcher import NodeProcess, free_port, start_node, wait_healthy
from node.mirror import init_mirror
from node.witness import init_witness


def start_network(root: Path, witnesses: bool) -> list[NodeProcess]:
    """A sequencer, plus (``witnesses``) 3 witnesses with quorum 2 and a mirror."""
    n = 5 if witnesses else 1
    ports = [free_port() for _ in range(n)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    ws = []
    if witnesses:
        for i in range(3):
            s = init_witness(root / f"w{i}", f"w{i}.bench.example", follow=urls[0])
            ws.append({"name": s.name, "vkey": s.verifier().vkey(), "url": urls[1 + i]})
    info = init_community(root / "seq", ORIGIN, [CHAIR], ws, 2 if ws else 0)
    dirs = [root / "seq"]
    if witnesses:
        dirs += [root / f"w{i}" for i in range(3)]
        init_mirror(root / "mirror", urls[0], info["log_vkey"])
        dirs.append(root / "mirror")
    procs: list[NodeProcess] = []
    try:
        for i, d in enumerate(dirs):
            args = [a for u in urls if u != urls[i] for a in ("--peer", u)]
            args += ["--gossip-interval", "5", "--witness-retry", "1"]
            if i:
                args += ["--log-vkey", info["log_vkey"], "--follow-interval", "0.2"]
            procs.append(start_node(d, ports[i], args, log_file=root / f"{d.name}.log", wait=False))
        for p in procs:
            wait_healthy(p.url, proc=p.proc)
    except BaseException:
        for p in procs:
            p.stop()
        raise
    return procs


class QuorumWatcher(threading.Thread):
    """Polls the newest quorum checkpoint; records when each size was first seen."""

    def __init__(self, url: str, every: float = 0.005) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.every = every
        self.seen: list[tuple[float, int]] = []  # (time, witnessed size), increasing
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as c:
            while not self.stop.is_set():
                r = c.get(self.url + "/v1/checkpoints/witnessed")
                if r.status_code == 200:
                    size = read_checkpoint(r.content).size
                    if not self.seen or size > self.seen[-1][1]:
                        self.seen.append((time.perf_counter(), size))
                time.sleep(self.every)

    def when_covered(self, index: int, timeout: float = 60.0) -> float:
        """The time a quorum checkpoint first covered record ``index``."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for t, size in list(self.seen):
                if size > index:
                    return t
            time.sleep(0.002)
        raise RuntimeError(f"record {index} never reached a quorum checkpoint")


def probe(url: str, env: dict[str, Any], watcher: QuorumWatcher) -> float:
    """Submit one statement; seconds from its acknowledgement to a quorum checkpoint."""
    with httpx.Client(timeout=60) as c:
        r = c.post(url + "/v1/statements", json=env)
        acked = time.perf_counter()
    r.raise_for_status()
    return watcher.when_covered(r.json()["index"]) - acked


def _latencies(name: str, xs: list[float]) -> dict[str, float]:
    nan = float("nan")
    return {
        f"{name}_latency": statistics.median(xs) if xs else nan,
        f"{name}_p90": percentile(xs, 90) if xs else nan,
        f"{name}_p99": percentile(xs, 99) if xs else nan,
        f"{name}_n": float(len(xs)),
    }


def run_once(
    statements: int, concurrency: int, probes: int, keep: Path | None = None
) -> dict[str, float]:
    load = envelopes(statements)
    extra = envelopes(10 * probes + 2 * statements)
    out: dict[str, float] = {}
    folder: AbstractContextManager[str] = (
        tempfile.TemporaryDirectory(prefix="civic-bench-net-")
        if keep is None
        else nullcontext(tempfile.mkdtemp(prefix="civic-bench-net-", dir=keep))
    )
    with folder as d:
        # The baseline: the sequencer alone.
        procs = start_network(Path(d) / "alone", witnesses=False)
        try:
            t, n = post_all(procs[0].url, load, concurrency)
            out["alone"] = n / t
        finally:
            for p in procs:
                p.stop()
        procs = start_network(Path(d) / "net", witnesses=True)
        watcher = QuorumWatcher(procs[0].url)
        watcher.start()
        try:
            # Idle latency: one probe at a time.
            idle = [probe(procs[0].url, extra[i], watcher) for i in range(probes)]
            out["idle_latency"] = statistics.median(idle)
            # Sustained throughput with witnesses and mirror; probes run beside the load.
            n_probe = iter(range(probes, 10 * probes))

            def loaded(payloads: list[Any], clients: int) -> tuple[float, int, list[float]]:
                got: list[float] = []
                stop = threading.Event()

                def prober() -> None:
                    while not stop.is_set():
                        i = next(n_probe, None)
                        if i is None:
                            return
                        got.append(probe(procs[0].url, extra[i], watcher))
                        time.sleep(0.05)

                th = threading.Thread(target=prober)
                th.start()
                try:
                    t, n = post_all(procs[0].url, payloads, clients)
                finally:
                    stop.set()
                    th.join()
                return t, n, got

            t, n, lat = loaded(extra[10 * probes : 10 * probes + statements], concurrency)
            out["witnessed"] = n / t
            for k, v in _latencies("loaded", lat).items():
                out[k] = v
            # bench_statements' array load: arrays of 100 from 4 clients.
            rest = extra[10 * probes + statements :]
            t, n, lat = loaded([rest[i : i + 100] for i in range(0, len(rest), 100)], 4)
            out["arrays_rate"] = n / t
            for k, v in _latencies("arrays", lat).items():
                out[k] = v
            # The mirror converges after the load.
            size = httpx.get(procs[0].url + "/healthz", timeout=60).json()["size"]
            t0 = time.perf_counter()
            while httpx.get(procs[-1].url + "/healthz", timeout=60).json()["size"] < size:
                time.sleep(0.01)
            out["mirror_catchup"] = time.perf_counter() - t0
        finally:
            watcher.stop.set()
            watcher.join(timeout=5)
            for p in procs:
                p.stop()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--statements", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--probes", type=int, default=20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", type=Path, help="Make the nodes' folders (and logs) here.")
    add_contract_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.statements, args.runs, args.probes = 2000, 1, 10
    runs = [
        run_once(args.statements, args.concurrency, args.probes, args.keep)
        for _ in range(args.runs)
    ]

    def med(k: str) -> float:
        return statistics.median(r[k] for r in runs)

    print(f"{args.runs} runs of {args.statements} single submissions, {args.concurrency} clients")
    print(f"sequencer alone:                   {med('alone'):8,.0f} statements/s")
    print(f"with 3 witnesses + 1 mirror:       {med('witnessed'):8,.0f} statements/s")
    ratio = statistics.median(r["witnessed"] / r["alone"] for r in runs)
    print(f"ratio witnessed / alone:           {ratio:8.2f}")
    print(f"ack -> quorum checkpoint, idle:    {med('idle_latency') * 1000:8.1f} ms (median)")
    print(f"ack -> quorum checkpoint, loaded:  {med('loaded_latency') * 1000:8.1f} ms (median), "
          f"p90 {med('loaded_p90') * 1000:.1f}, p99 {med('loaded_p99') * 1000:.1f}")  # fmt: skip
    print(f"arrays of 100 from 4 clients:      {med('arrays_rate'):8,.0f} statements/s")
    print(f"ack -> quorum checkpoint, arrays:  {med('arrays_latency') * 1000:8.1f} ms (median), "
          f"p90 {med('arrays_p90') * 1000:.1f}, p99 {med('arrays_p99') * 1000:.1f}, "
          f"{med('arrays_n'):.0f} probes")  # fmt: skip
    print(f"mirror caught up after the load:   {med('mirror_catchup') * 1000:8.1f} ms (median)")
    alone = med("alone")
    write_results(args.json, [
        Figure("network", f"single submissions with 3 witnesses + mirror, {args.concurrency} "
               "clients", round(med("witnessed")), "statements/s", "sequencer alone",
               round(alone), ratio_of(med("witnessed"), alone)),
        Figure("network", "ack -> quorum checkpoint, idle", round(med("idle_latency") * 1000, 1),
               "ms", higher_is_better=False),
        Figure("network", "ack -> quorum checkpoint, under load",
               round(med("loaded_latency") * 1000, 1), "ms", "target", 100.0,
               ratio_of(med("loaded_latency") * 1000, 100.0), higher_is_better=False,
               notes=f"median of the probes (p90 {med('loaded_p90') * 1000:.0f} ms, "
               f"p99 {med('loaded_p99') * 1000:.0f} ms); ratio < 1 meets the target"),
        Figure("network", "ack -> quorum checkpoint, under arrays of 100 (4 clients)",
               round(med("arrays_latency") * 1000, 1), "ms", "target", 100.0,
               ratio_of(med("arrays_latency") * 1000, 100.0), higher_is_better=False,
               notes=f"median of {med('arrays_n'):.0f} probes (p90 "
               f"{med('arrays_p90') * 1000:.0f} ms, p99 {med('arrays_p99') * 1000:.0f} ms) "
               f"beside {med('arrays_rate'):,.0f} statements/s"),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
