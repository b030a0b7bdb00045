"""``make bench-all``: every bench/bench_*.py at its ``--quick`` size, one table, one file.

Each benchmark runs as its own subprocess (``--quick --json TMP``) with a timeout, one after
the other (they would only steal each other's cores otherwise). A benchmark that fails,
times out or writes no figures is recorded as failed with the tail of its output, and the
run goes on. The figures are merged into bench/results.json with the machine they were
measured on, and printed as one table: figure, value, peer, ratio.

    .venv/bin/python bench/run_all.py [--out bench/results.json] [--timeout 150] [--only audit]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import row

# Ten benchmarks share the 10 minutes of make bench-all.
DEFAULT_TIMEOUT = 150.0
_WIDTHS = (66, 20, 46, 8)


def benches(only: list[str] | None = None) -> list[Path]:
    """The benchmark scripts, by name (``bench_NAME.py``), optionally only those named."""
    found = sorted((ROOT / "bench").glob("bench_*.py"))
    if only:
        found = [p for p in found if p.stem.removeprefix("bench_") in only]
    return found


def run_one(script: Path, timeout: float) -> dict[str, Any]:
    """Run one benchmark; its figures, or why there are none."""
    name = script.stem.removeprefix("bench_")
    with tempfile.TemporaryDirectory(prefix=f"civic-bench-{name}-") as tmp:
        out = Path(tmp) / "figures.json"
        cmd = [sys.executable, str(script), "--quick", "--json", str(out)]
        t = time.perf_counter()
        # Its own process group, so a timeout also ends the nodes the benchmark started.
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            text, _ = proc.communicate(timeout=timeout)
            status = "ok" if proc.returncode == 0 else f"exit {proc.returncode}"
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            text, _ = proc.communicate()
            status = f"timeout after {timeout:.0f}s"
        seconds = time.perf_counter() - t
        figures: list[dict[str, Any]] = []
        if out.exists():
            try:
                figures = json.loads(out.read_text())
            except ValueError as exc:
                status = f"unreadable figures: {exc}"
        if status == "ok" and not figures:
            status = "no figures written"
    tail = "\n".join((text or "").strip().splitlines()[-15:])
    return {
        "bench": name,
        "status": status,
        "seconds": round(seconds, 1),
        "figures": figures,
        "output_tail": "" if status == "ok" else tail,
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and abs(v) < 100:
        return f"{v:,.3g}"
    if isinstance(v, int | float):
        return f"{v:,.0f}"
    return str(v)


def table(runs: list[dict[str, Any]]) -> str:
    """The one table make bench-all prints."""
    lines = [row("figure", "value", "peer or bound", "ratio", widths=_WIDTHS)]
    for r in runs:
        if r["status"] != "ok":
            lines.append(row(f"{r['bench']}: FAILED ({r['status']})", "", "", "", widths=_WIDTHS))
        for f in r["figures"]:
            peer = f.get("peer")
            peer_s = f"{peer} {_fmt(f.get('peer_value'))}" if peer else "-"
            value = f"{_fmt(f.get('value'))} {f.get('unit', '')}"
            label = f"{f.get('bench', r['bench'])}: {f.get('figure')}"
            lines.append(row(label[:65], value, peer_s[:45], _fmt(f.get("ratio")), widths=_WIDTHS))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per bench")
    ap.add_argument("--only", nargs="*", help="bench names (bench_NAME.py) to run")
    args = ap.parse_args()
    runs = []
    started = time.perf_counter()
    for script in benches(args.only):
        print(f"running {script.name} --quick ...", file=sys.stderr, flush=True)
        r = run_one(script, args.timeout)
        print(f"  {r['status']} in {r['seconds']:.0f}s", file=sys.stderr, flush=True)
        runs.append(r)
    m = machine()
    result: dict[str, Any] = {
        "machine": m,
        "seconds": round(time.perf_counter() - started, 1),
        "failed": [r["bench"] for r in runs if r["status"] != "ok"],
        "runs": runs,
        "figures": [f for r in runs for f in r["figures"]],
    }
    tmp = args.out.with_name(args.out.name + ".part")
    tmp.write_text(json.dumps(result, indent=2) + "\n")
    os.replace(tmp, args.out)
    print(f"{m['cores']} cores, Python {m['python']}, {m['date']}; {result['seconds']:.0f}s")
    print(table(runs))
    for r in runs:
        if r["output_tail"]:
            print(f"\n--- {r['bench']} ({r['status']}), last lines:\n{r['output_tail']}")
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
