"""What an audit finds: evidence, incompleteness, warnings and notes, each with a stable code.

A :class:`Finding` is a value: a ``code`` from :data:`CODES` (stable across releases: reports,
scripts and committees refer to them), the ``severity`` that code carries, a sentence a person
can act on, and where it applies — the record ``index``, the ``rule`` that was broken, the
``node`` whose data or claim it is about.

Severities, from worst to mildest:

``evidence``    someone misbehaved: a bad signature, a record that breaks a rule, a tile or a
                view that does not match the log, two checkpoints that cannot both be true.
                Exit code 3 (:data:`cli.output.EXIT_EVIDENCE`).
``incomplete``  the audit could not check everything: a node did not answer, an object was
                missing, a checkpoint lacks its witness quorum. Exit code 4.
``warning``     data quality that is not a rule violation but deserves a look. Exit code 0.
``note``        context for the reader (e.g. a node moved on while the audit ran). Exit code 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

__all__ = [
    "CODES",
    "Finding",
    "Severity",
    "finding",
    "verdict",
]


class Severity(StrEnum):
    """How bad a finding is (see the module docstring)."""

    EVIDENCE = "evidence"
    INCOMPLETE = "incomplete"
    WARNING = "warning"
    NOTE = "note"


_RANK = {Severity.EVIDENCE: 0, Severity.INCOMPLETE: 1, Severity.WARNING: 2, Severity.NOTE: 3}

_E, _I, _W, _N = Severity.EVIDENCE, Severity.INCOMPLETE, Severity.WARNING, Severity.NOTE

# code -> (severity, short title). Codes are part of the report's stable schema: add new
# ones freely, never rename or reuse one.
CODES: dict[str, tuple[Severity, str]] = {
    # trust root and checkpoints
    "trust.genesis_mismatch": (_E, "record 0 is not the pinned genesis"),
    "trust.vkey_mismatch": (_E, "genesis names another log key than the pinned one"),
    "checkpoint.malformed": (_E, "a node serves a malformed checkpoint"),
    "checkpoint.signature": (_E, "a checkpoint's log signature does not verify"),
    "checkpoint.cosignature": (_E, "a witness cosignature on a checkpoint does not verify"),
    "checkpoint.fork": (_E, "two signed checkpoints of the same size have different roots"),
    "checkpoint.inconsistent": (_E, "a signed checkpoint is not consistent with the audited tree"),
    "checkpoint.root": (_E, "the entries do not hash to the checkpoint's root"),
    "checkpoint.rollback": (_E, "a node's checkpoint is not consistent with the remembered one"),
    "checkpoint.unwitnessed": (_I, "a checkpoint lacks the witness quorum of the policy"),
    # tiles and entries
    "tile.mismatch": (_E, "a hash tile does not match the tree recomputed from the entries"),
    "tile.malformed": (_E, "a hash tile has the wrong length"),
    "entries.malformed": (_E, "an entry bundle cannot be decoded or has the wrong count"),
    "entries.mismatch": (_E, "an entry does not match the leaf hash the checkpoint commits to"),
    # records and statements
    "record.malformed": (_E, "a record is not a well-formed canonical record"),
    "record.index": (_E, "a record's index is not its position in the log"),
    "record.chain": (_E, "a record's prev does not link to the record before it"),
    "statement.malformed": (_E, "a statement envelope is malformed"),
    "statement.signature": (_E, "a statement signature does not verify"),
    "rule.violation": (_E, "a record breaks a rule of the community"),
    "record.revoked_key": (_E, "a statement is signed with a key after an incident revoked it"),
    "keys.history": (_E, "a node serves a log key history that does not verify"),
    "keys.mismatch": (
        _E,
        "the served log key history differs from the replayed log.rotate records",
    ),
    "funds.invariant": (_E, "the replayed accounts, budget lines or expenses do not add up"),
    "secret.verify": (_E, "a secret ballot's Belenios public data does not verify"),
    # views and nodes
    "view.mismatch": (_E, "a node publishes a view that differs from the replayed state"),
    "node.evidence": (_E, "a node holds verified evidence of misbehaviour"),
    "node.rollback": (_E, "a node serves less than a witnessed checkpoint it serves itself"),
    "node.stale": (_I, "a node is behind the newest witnessed checkpoint beyond the tolerance"),
    "node.unreachable": (_I, "a node did not answer"),
    "node.integrity": (_I, "a node reports that its own stored log fails its integrity check"),
    "node.incomplete": (_I, "an object or view could not be obtained from any node"),
    "audit.stopped": (_I, "the audit could not verify the whole log"),
    # notes
    "view.skipped": (_N, "a node's views were not compared"),
    "node.behind": (_N, "a node serves an older checkpoint"),
    "checkpoint.pending": (_N, "a checkpoint lacked cosignatures its records have since had"),
    "node.reports": (_N, "a node reports a problem the audit cannot check itself"),
    "audit.incremental": (_N, "only the part after the remembered checkpoint was verified"),
    # data-quality warnings (audits/warnings.py)
    "warn.trust_unpinned": (_W, "the trust root was not pinned"),
    "warn.unwitnessed_policy": (_W, "the community's checkpoints need no witness cosignature"),
    "warn.time_backwards": (_W, "a record's time is earlier than the record before it"),
    "warn.payment_without_document": (_W, "a payment has no public document"),
    "warn.approver_payee_concentration": (_W, "one member approved many expenses of one payee"),
    "warn.spending_spike": (_W, "spending on a budget line jumped against its history"),
    "warn.turnout_below_quorum": (_W, "a ballot closed with turnout under its quorum"),
}


@dataclass(frozen=True)
class Finding:
    """One thing the audit found. ``detail`` holds extra JSON values (e.g. a view diff)."""

    code: str
    message: str
    index: int | None = None
    rule: str | None = None
    node: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown finding code {self.code!r}; add it to audits.findings.CODES")

    @property
    def severity(self) -> Severity:
        return CODES[self.code][0]

    @property
    def title(self) -> str:
        return CODES[self.code][1]

    def to_json(self) -> dict[str, Any]:
        """The finding as it appears in the JSON report (stable keys, nulls kept)."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "title": self.title,
            "message": self.message,
            "index": self.index,
            "rule": self.rule,
            "node": self.node,
            "detail": dict(self.detail),
        }

    def sort_key(self) -> tuple[int, int, str]:
        return (_RANK[self.severity], -1 if self.index is None else self.index, self.code)


def finding(
    code: str,
    message: str,
    *,
    index: int | None = None,
    rule: str | None = None,
    node: str | None = None,
    **detail: Any,
) -> Finding:
    """Build a :class:`Finding`; keyword extras go to ``detail``."""
    return Finding(code, message, index, rule, node, detail)


def verdict(findings: Iterable[Finding]) -> Severity | None:
    """The worst severity among evidence and incompleteness, or None when the audit is clean.

    Warnings and notes never make an audit unclean.
    """
    worst: Severity | None = None
    for f in findings:
        if f.severity in (Severity.EVIDENCE, Severity.INCOMPLETE) and (
            worst is None or _RANK[f.severity] < _RANK[worst]
        ):
            worst = f.severity
    return worst
