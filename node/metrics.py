"""``GET /metrics``: per-community figures in the Prometheus text format.

Counters and histograms (statements accepted and rejected, batch sizes, commit latency)
are kept per community in a :class:`CommunityMetrics` the write path feeds; gauges (tree
size, cosignature lag, evidence, replica lag) are read from each community's
:class:`~node.context.NodeContext` at scrape time by a custom collector, so a district of
hundreds of communities keeps no per-community objects in a global registry and a
community that closes simply stops being reported. Every series carries the label
``origin``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ledger.errors import CivicError

if TYPE_CHECKING:
    from node.context import NodeContext

__all__ = [
    "BATCH_BUCKETS",
    "COMMIT_BUCKETS",
    "CONTENT_TYPE_LATEST",
    "CommunityMetrics",
    "NodeCollector",
    "observe_answers",
    "render",
]

log = logging.getLogger("civic.metrics")

BATCH_BUCKETS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0)
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Histogram:
    """Cumulative buckets and a sum, as Prometheus histograms are exposed."""

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        for i, b in enumerate(self.bounds):
            if value <= b:
                self.counts[i] += 1
                break
        else:
            self.counts[-1] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        running = 0
        for b, c in zip((*(repr(x) for x in self.bounds), "+Inf"), self.counts, strict=True):
            running += c
            out.append((b, float(running)))
        return out


class CommunityMetrics:
    """What one community's write path counts; thread-safe (writer and request threads)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self.clock = clock
        self.accepted = 0
        self.rejected: dict[str, int] = {}
        self.batch = _Histogram(BATCH_BUCKETS)
        self.commit = _Histogram(COMMIT_BUCKETS)
        # (tree size after a commit, when): the cosignature lag in seconds is the age of
        # the oldest commit the witnesses have not yet cosigned.
        self._commits: deque[tuple[int, float]] = deque(maxlen=4096)

    def observe_batch(self, statements: int, seconds: float, size: int) -> None:
        """One group commit of ``statements`` that took ``seconds`` and left ``size``."""
        with self._lock:
            self.batch.observe(float(statements))
            self.commit.observe(seconds)
            self._commits.append((size, self.clock()))

    def observe_answer(self, status: int, problem_type: str | None) -> None:
        """One statement's verdict as POST /v1/statements answered it."""
        with self._lock:
            if status == 201:
                self.accepted += 1
                return
            reason = (problem_type or "about:blank").rsplit("/", 1)[-1]
            self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def unwitnessed_seconds(self, witnessed: int) -> float:
        """Seconds since the oldest commit beyond the quorum-cosigned size ``witnessed``."""
        with self._lock:
            while self._commits and self._commits[0][0] <= witnessed:
                self._commits.popleft()
            if not self._commits:
                return 0.0
            return max(0.0, self.clock() - self._commits[0][1])

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the counters and histograms."""
        with self._lock:
            return {
                "accepted": self.accepted,
                "rejected": dict(self.rejected),
                "batch": (self.batch.buckets(), self.batch.total),
                "commit": (self.commit.buckets(), self.commit.total),
            }


def observe_answers(ctx: NodeContext, answers: Iterable[Mapping[str, Any]]) -> None:
    """Count the per-statement answers of one POST /v1/statements (the route's hook)."""
    m: CommunityMetrics | None = ctx.services.get("metrics")
    if m is None:
        return
    for a in answers:
        m.observe_answer(int(a.get("status", 201)), a.get("type"))


class NodeCollector(Collector):
    """Reads every open community at scrape time; ``contexts()`` gives them by origin,
    ``failed()`` the origins that did not open (reported as ``civic_community_up 0``)."""

    def __init__(
        self,
        contexts: Callable[[], Mapping[str, NodeContext]],
        failed: Callable[[], Iterable[str]] = tuple,
    ) -> None:
        self.contexts = contexts
        self.failed = failed

    def collect(self) -> Iterator[Metric]:
        L = ["origin"]
        up = GaugeMetricFamily(
            "civic_community_up", "1 if the community is open and serving", labels=L
        )
        accepted = CounterMetricFamily(
            "civic_statements_accepted", "Statements accepted (appended)", labels=L
        )
        rejected = CounterMetricFamily(
            "civic_statements_rejected",
            "Statements rejected, by problem type",
            labels=["origin", "reason"],
        )
        batch = HistogramMetricFamily(
            "civic_batch_size", "Statements appended per group commit", labels=L
        )
        commit = HistogramMetricFamily(
            "civic_commit_seconds", "Seconds one group commit took to be durable", labels=L
        )
        size = GaugeMetricFamily("civic_tree_size", "Records in the log (tree size)", labels=L)
        lag = GaugeMetricFamily(
            "civic_cosignature_lag_entries",
            "Tree size minus the newest quorum-cosigned checkpoint's size",
            labels=L,
        )
        lag_s = GaugeMetricFamily(
            "civic_cosignature_lag_seconds",
            "Age of the oldest commit the witness quorum has not cosigned (sequencer)",
            labels=L,
        )
        evidence = GaugeMetricFamily(
            "civic_evidence", "Evidence records held against the log", labels=L
        )
        replica = GaugeMetricFamily(
            "civic_replica_lag_entries",
            "Witness/mirror: newest size seen at the source minus the replica's size",
            labels=L,
        )
        for origin in self.failed():
            up.add_metric([origin], 0.0)
        for origin, ctx in self.contexts().items():
            up.add_metric([origin], 1.0)
            tree = ctx.log.size
            size.add_metric([origin], float(tree))
            m: CommunityMetrics | None = ctx.services.get("metrics")
            if m is not None:
                snap = m.snapshot()
                accepted.add_metric([origin], float(snap["accepted"]))
                for reason, n in sorted(snap["rejected"].items()):
                    rejected.add_metric([origin, reason], float(n))
                batch.add_metric([origin], snap["batch"][0], snap["batch"][1])
                commit.add_metric([origin], snap["commit"][0], snap["commit"][1])
            book = ctx.services.get("book")
            policy = ctx.policy()
            if book is not None and policy is not None and policy.witnesses:
                witnessed = book.witnessed_size() or 0
                lag.add_metric([origin], float(max(0, tree - witnessed)))
                if m is not None and ctx.role == "sequencer":
                    lag_s.add_metric([origin], m.unwitnessed_seconds(witnessed))
            ev = ctx.evidence()
            if ev is not None:
                try:
                    evidence.add_metric([origin], float(ev.count()))
                except CivicError as exc:  # its database is down: leave the gauge out
                    log.warning("metrics: %s evidence: %s", origin, exc.message)
            fresh = ctx.services.get("freshness")
            if fresh is not None and ctx.role != "sequencer":
                replica.add_metric([origin], float(max(0, fresh.report().lag)))
        yield from (up, accepted, rejected, batch, commit, size, lag, lag_s, evidence, replica)


def render(collector: NodeCollector) -> bytes:
    """The Prometheus text exposition of ``collector``'s communities."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
