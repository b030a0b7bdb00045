"""The audit's result: a value with a stable JSON form and a Markdown form to print.

JSON report, format ``civic-ledger-audit-report/v1`` (keys are never renamed or removed
within v1; new keys may be added)::

    {"format": "civic-ledger-audit-report/v1",
     "verdict": "clean" | "evidence" | "incomplete",
     "started": "<RFC 3339 UTC>", "finished": "<RFC 3339 UTC>",
     "trust": {"origin", "log_vkey", "genesis_hash", "pinned_by": "vkey"|"genesis"|"state"|"unpinned"},
     "checkpoint": {"size", "root", "note"} | null,       the checkpoint audited
     "witnessed": {"size", "by"},                          how far the witnessed part reaches
     "verified": {"from", "to", "records"},                the records checked this run
     "nodes": [{"name", "reachable", "size", "root", "checkpoint", "views"}],
     "phases": [{"name", "items", "unit", "seconds", "per_second"}],
     "counts": {"evidence", "incomplete", "warning", "note"},
     "findings": [finding...],                             evidence, incomplete, notes
     "warnings": [finding...]}                             data-quality warnings

Each finding is ``{"code", "severity", "title", "message", "index", "rule", "node",
"detail"}`` (:meth:`audits.findings.Finding.to_json`); codes are listed in
:data:`audits.findings.CODES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from audits.findings import Finding, Severity, verdict

__all__ = ["REPORT_FORMAT", "AuditReport", "NodeStatus", "PhaseStat"]

REPORT_FORMAT = "civic-ledger-audit-report/v1"


@dataclass
class PhaseStat:
    """How long a phase took over how many items."""

    name: str
    items: int
    unit: str
    seconds: float

    @property
    def per_second(self) -> float:
        return self.items / self.seconds if self.seconds > 0 else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "items": self.items,
            "unit": self.unit,
            "seconds": round(self.seconds, 6),
            "per_second": round(self.per_second, 1),
        }


@dataclass
class NodeStatus:
    """What the audit saw of one source. ``checkpoint``: ok, bad, fork, behind, none."""

    name: str
    reachable: bool = True
    size: int | None = None
    root: str | None = None
    checkpoint: str = "none"
    views: str = "not compared"

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "reachable": self.reachable,
            "size": self.size,
            "root": self.root,
            "checkpoint": self.checkpoint,
            "views": self.views,
        }


@dataclass
class AuditReport:
    """Everything one audit established."""

    started: str = ""
    finished: str = ""
    origin: str | None = None
    log_vkey: str | None = None
    genesis_hash: str | None = None
    pinned_by: str = "unpinned"
    checkpoint_size: int | None = None
    checkpoint_root: str | None = None
    checkpoint_note: str | None = None
    witnessed_size: int | None = None
    witnessed_by: str | None = None
    verified_from: int = 0
    verified_to: int = 0
    nodes: list[NodeStatus] = field(default_factory=list)
    phases: list[PhaseStat] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        """``clean``, ``evidence`` or ``incomplete``."""
        v = verdict(self.findings)
        return "clean" if v is None else v.value

    def count(self, severity: Severity) -> int:
        return sum(1 for f in [*self.findings, *self.warnings] if f.severity == severity)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=Finding.sort_key)

    def to_json(self) -> dict[str, Any]:
        """The JSON report (schema in the module docstring)."""
        cp = None
        if self.checkpoint_size is not None:
            cp = {
                "size": self.checkpoint_size,
                "root": self.checkpoint_root,
                "note": self.checkpoint_note,
            }
        return {
            "format": REPORT_FORMAT,
            "verdict": self.verdict,
            "started": self.started,
            "finished": self.finished,
            "trust": {
                "origin": self.origin,
                "log_vkey": self.log_vkey,
                "genesis_hash": self.genesis_hash,
                "pinned_by": self.pinned_by,
            },
            "checkpoint": cp,
            "witnessed": {"size": self.witnessed_size, "by": self.witnessed_by},
            "verified": {
                "from": self.verified_from,
                "to": self.verified_to,
                "records": max(0, self.verified_to - self.verified_from),
            },
            "nodes": [n.to_json() for n in self.nodes],
            "phases": [p.to_json() for p in self.phases],
            "counts": {s.value: self.count(s) for s in Severity},
            "findings": [f.to_json() for f in self.sorted_findings()],
            "warnings": [f.to_json() for f in sorted(self.warnings, key=Finding.sort_key)],
        }

    def to_markdown(self) -> str:
        """A report a committee can print."""
        title = {
            "clean": "No problem found",
            "evidence": "EVIDENCE OF MISBEHAVIOUR",
            "incomplete": "Audit incomplete",
        }[self.verdict]
        lines = [
            f"# Audit of {self.origin or 'an unknown community'}",
            "",
            f"**Verdict: {title}** ({self.verdict})",
            "",
            f"- Audit ran from {self.started} to {self.finished}.",
        ]
        if self.checkpoint_size is not None:
            lines.append(
                f"- Checkpoint audited: {self.checkpoint_size} records, root "
                f"`{self.checkpoint_root}`."
            )
        lines.append(
            f"- Records verified in this run: {self.verified_from} to "
            f"{max(self.verified_from, self.verified_to - 1)} "
            f"({max(0, self.verified_to - self.verified_from)} records)."
        )
        pinned = {
            "vkey": "pinned by the log's verifier key given to the auditor",
            "genesis": "pinned by the genesis hash given to the auditor",
            "state": "pinned by the auditor's earlier audit (state file)",
            "unpinned": "NOT pinned: compare the genesis hash and log key below with the "
            "community's notice board",
        }[self.pinned_by]
        lines += [
            f"- Trust root {pinned}.",
            f"  - genesis hash: `{self.genesis_hash}`",
            f"  - log key: `{self.log_vkey}`",
            "",
            "## Summary",
            "",
            "| severity | count |",
            "| --- | ---: |",
        ]
        lines += [f"| {s.value} | {self.count(s)} |" for s in Severity]
        lines += ["", "## Nodes", "", "| node | reachable | size | checkpoint | views |"]
        lines.append("| --- | --- | ---: | --- | --- |")
        for n in self.nodes:
            size = "" if n.size is None else str(n.size)
            reach = "yes" if n.reachable else "**no**"
            lines.append(f"| {_md(n.name)} | {reach} | {size} | {n.checkpoint} | {n.views} |")
        lines += ["", "## Findings", ""]
        found = self.sorted_findings()
        if not found:
            lines.append("None.")
        else:
            lines.append(
                "The first finding in log order is usually the cause of the ones after it."
            )
            lines += ["", "| severity | code | record | node | what |"]
            lines.append("| --- | --- | ---: | --- | --- |")
            for f in found:
                idx = "" if f.index is None else str(f.index)
                lines.append(
                    f"| {f.severity.value} | `{f.code}` | {idx} | {_md(f.node or '')} | "
                    f"{_md(f.message)}{_rule(f)} |"
                )
        lines += ["", "## Warnings (data quality, not rule violations)", ""]
        if not self.warnings:
            lines.append("None.")
        else:
            for f in sorted(self.warnings, key=Finding.sort_key):
                at = "" if f.index is None else f" (record {f.index})"
                lines.append(f"- `{f.code}`{at}: {_md(f.message)}")
        lines += ["", "## Phases", "", "| phase | items | seconds | per second |"]
        lines.append("| --- | ---: | ---: | ---: |")
        for p in self.phases:
            lines.append(
                f"| {p.name} | {p.items} {p.unit} | {p.seconds:.2f} | {p.per_second:,.0f} |"
            )
        return "\n".join(lines) + "\n"


def _rule(f: Finding) -> str:
    return f" — rule: {_md(f.rule)}" if f.rule else ""


def _md(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
