"""Small helpers shared by the benchmarks: timing, percentiles, printing."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
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
