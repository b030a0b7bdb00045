"""What one audit step hands back besides its value: findings, silent nodes, timings.

Every step of :func:`audits.audit.run_audit` returns a frozen result with a :class:`Found`;
the orchestrator is the only one that gathers them into the report. Inside a step, a
:class:`Collector` keeps that step's findings in the order found; it lives for one call.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from audits.findings import Finding, finding
from audits.report import PhaseStat
from ledger.errors import CivicError

__all__ = ["Collector", "Found"]


@dataclass(frozen=True)
class Found:
    """The findings of one step, the nodes that stopped answering during it (each reported
    once, as ``node.unreachable``), and how long its phases took."""

    findings: tuple[Finding, ...] = ()
    down: frozenset[str] = frozenset()
    phases: tuple[PhaseStat, ...] = ()


class Collector:
    """The findings of one step call. ``down`` is who was already silent before the step:
    a node is reported unreachable once per audit."""

    def __init__(self, down: frozenset[str] = frozenset()) -> None:
        self._known = set(down)
        self._new: set[str] = set()
        self._findings: list[Finding] = []
        self._phases: list[PhaseStat] = []

    def add(self, f: Finding) -> None:
        self._findings.append(f)

    def extend(self, found: Iterable[Finding]) -> None:
        self._findings.extend(found)

    def unreachable(self, name: str, exc: CivicError) -> None:
        if name in self._known:
            return
        self._known.add(name)
        self._new.add(name)
        self.add(finding("node.unreachable", exc.message, node=name))

    def is_down(self, name: str) -> bool:
        return name in self._known

    def phase(self, name: str, items: int, unit: str, seconds: float) -> None:
        self._phases.append(PhaseStat(name, items, unit, seconds))

    def count(self) -> int:
        """How many findings so far (to tell whether a check added any)."""
        return len(self._findings)

    def found(self) -> Found:
        return Found(tuple(self._findings), frozenset(self._new), tuple(self._phases))
