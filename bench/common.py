"""Small helpers shared by the benchmarks: timing, percentiles, printing."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def percentile(xs: list[float], p: float) -> float:
    """The p-th percentile (nearest rank) of ``xs``."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, round(p / 100 * len(s) + 0.5) - 1))
    return s[k]


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def row(*cols: object, widths: tuple[int, ...] = (34, 16, 16, 10)) -> str:
    """A fixed-width table row."""
    return "".join(str(c).ljust(w) for c, w in zip(cols, widths, strict=False))


@dataclass(frozen=True)
class Figure:
    """One figure of a benchmark, as bench/results.json holds it (bench/bench_contract)."""

    bench: str
    figure: str
    value: float
    unit: str
    peer: str | None = None
    peer_value: float | None = None
    ratio: float | None = None
    higher_is_better: bool = True
    notes: str = ""


def ratio_of(value: float, peer_value: float | None) -> float | None:
    """``value / peer_value`` rounded for the table, or None without a peer."""
    if not peer_value:
        return None
    return round(value / peer_value, 4)


def write_results(path: Path | str | None, figures: list[Figure]) -> None:
    """Write ``figures`` to ``path`` as a JSON list of objects (nothing if ``path`` is None).

    Written to a temporary name and renamed, so a killed benchmark leaves no half file."""
    if path is None:
        return
    target = Path(path)
    tmp = target.with_name(target.name + ".part")
    tmp.write_text(json.dumps([asdict(f) for f in figures], indent=2) + "\n")
    os.replace(tmp, target)


def add_contract_args(ap: argparse.ArgumentParser) -> None:
    """``--quick`` (a size that finishes well under 2 minutes on 2 cores) and ``--json``."""
    ap.add_argument("--quick", action="store_true", help="small sizes for make bench-all")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH",
                    help="write the figures to PATH (bench/results.json's format)")  # fmt: skip
