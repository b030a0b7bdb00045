"""Step 3 of the audit, across sources: what the other checkpoints, the witnesses and the
nodes' own evidence say about the audited tree.

- every other signed checkpoint must be the audited tree at its size (recomputed, or an
  RFC 9162 §2.1.4 consistency proof for sizes before this run's start);
- witness cosignatures are checked against the witness policy in force at each
  checkpoint's size (C2SP tlog-cosignature, the community's ``witnesses.set``);
- evidence a node serves (``GET /v1/evidence``) is verified with the log key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from audits.checkpoints import Seen, consistency_proof
from audits.download import Source
from audits.fetch import Fetcher
from audits.findings import Finding, finding
from audits.found import Collector, Found
from audits.verify import check_cosignatures, witness_policy
from ledger import merkle
from ledger.c2sp.note import NoteVerifier
from ledger.errors import CivicError, InputError, NetworkError, NotFoundError, ProofError
from ledger.evidence import SHAREABLE_KINDS, evidence_from_json, verify_evidence
from ledger.log_keys import KeyHistory

__all__ = [
    "Consistency",
    "ConsistencyContext",
    "EvidenceContext",
    "WitnessContext",
    "check_consistency",
    "check_witnesses",
    "node_evidence",
]


@dataclass(frozen=True)
class ConsistencyContext:
    """The verified checkpoints and the audited tree (``nodes``: every hash computed)."""

    seen: tuple[Seen, ...]
    size: int
    root: bytes
    nodes: Mapping[merkle.NodeId, bytes]
    # the sources of the audited tree, for proofs of sizes the run did not recompute
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Consistency:
    """``forked``: the sources whose checkpoint is not the audited tree."""

    forked: frozenset[str]
    found: Found


def check_consistency(ctx: ConsistencyContext) -> Consistency:
    """Every other signed checkpoint must be the same tree at its size."""
    col = Collector()
    forked: set[str] = set()
    for s in ctx.seen:
        if s.cp is None or s.cp.size == ctx.size:
            continue
        if not _consistent(ctx, s):
            msg = (
                f"{s.name}: its signed checkpoint of {s.cp.size} records has root "
                f"{s.cp.root_hash.hex()[:16]}…, which is not the audited tree at that size"
            )
            col.add(finding("checkpoint.inconsistent", msg, node=s.name))
            forked.add(s.name)
    return Consistency(frozenset(forked), col.found())


def _consistent(ctx: ConsistencyContext, s: Seen) -> bool:
    assert s.cp is not None
    try:
        at = merkle.hash_of_range(0, s.cp.size, ctx.nodes)
    except InputError:
        at = None
    if at is not None:
        return at == s.cp.root_hash
    # Older than this run's start: ask for a consistency proof instead. A source that
    # cannot give one leaves the question open; only a proof that fails is evidence.
    for src in ctx.sources:
        if src.size != ctx.size:
            continue
        try:
            proof = consistency_proof(src.fetcher, s.cp.size, ctx.size)
            merkle.verify_consistency(s.cp.size, ctx.size, proof, s.cp.root_hash, ctx.root)
        except ProofError:
            return False
        except CivicError:
            continue
        return True
    return True


@dataclass(frozen=True)
class WitnessContext:
    """The verified checkpoints, the witness sets in force since each record index, and
    the sources already known to be forked (their cosignatures are not counted)."""

    seen: tuple[Seen, ...]
    history: tuple[tuple[int, dict[str, Any]], ...]
    verifier: NoteVerifier | KeyHistory
    forked: frozenset[str]


def check_witnesses(ctx: WitnessContext) -> Found:
    """Cosignatures against the witness policy in force at each checkpoint's size.

    A bad cosignature is evidence. A checkpoint short of the quorum is only a note when a
    witnessed checkpoint of the same tree at least as large covers its records; one
    beyond every witnessed checkpoint is left to :mod:`audits.freshness`, which says how
    far the trusted part of the log reaches (issue 10: "pending" must be true).
    """
    col = Collector()
    history = sorted(ctx.history, key=lambda h: h[0])
    short: list[tuple[int, Finding]] = []
    trusted: list[int] = []
    for s in ctx.seen:
        if s.cp is None or not history or s.name in ctx.forked:
            continue
        doc = None
        for since, d in history:
            if since < s.cp.size:
                doc = d
        if doc is None:
            continue
        try:
            policy = witness_policy(doc, ctx.verifier, s.cp.size)
        except CivicError:
            continue
        found = check_cosignatures(s.note, policy, s.name)
        for f in found:
            if f.code == "checkpoint.unwitnessed":
                short.append((s.cp.size, f))
            else:
                col.add(f)
        if not found and policy.quorum != "none":
            trusted.append(s.cp.size)
    top = max(trusted, default=None)
    for size, f in short:
        if top is not None and size <= top:
            msg = f"{f.message}; the witnessed checkpoint of {top} records covers its records"
            col.add(finding("checkpoint.pending", msg, node=f.node))
    return col.found()


@dataclass(frozen=True)
class EvidenceContext:
    """The sources to ask and the log key to verify their evidence with."""

    fetchers: tuple[Fetcher, ...]
    down: frozenset[str]
    verifier: NoteVerifier | KeyHistory


def node_evidence(ctx: EvidenceContext) -> Found:
    """Evidence the nodes hold (``GET /v1/evidence``), checked with the log key."""
    col = Collector(ctx.down)
    for f in ctx.fetchers:
        if f.offline or col.is_down(f.name):
            continue
        try:
            doc = f.fetch_json("v1/evidence")
            items = list(doc.get("evidence", []))
        except NotFoundError:
            continue  # a node without an evidence store
        except NetworkError as exc:
            col.unreachable(f.name, exc)
            continue
        except (AttributeError, TypeError):
            continue
        for item in items:
            _one_evidence(col, ctx.verifier, f.name, item)
    return col.found()


def _one_evidence(
    col: Collector, verifier: NoteVerifier | KeyHistory, node: str, item: Any
) -> None:
    try:
        ev = evidence_from_json(item)
    except CivicError as exc:
        col.add(finding("node.reports", f"{node} serves malformed evidence: {exc.message}",
                        node=node))  # fmt: skip
        return
    if ev.kind == "integrity":
        # A node's own finding that its stored log no longer matches what the log signed
        # not checkable here, but whatever that node serves is not to be relied
        # on, so the audit is not clean while it holds one.
        msg = f"{node} reports its own stored log damaged: {ev.reason or ev.kind}"
        col.add(finding("node.integrity", msg, index=ev.index, node=node, kind=ev.kind))
        return
    if ev.kind not in SHAREABLE_KINDS:
        msg = f"{node} reports: {ev.reason or ev.kind}"
        col.add(finding("node.reports", msg, index=ev.index, node=node, kind=ev.kind))
        return
    try:
        what = _verify_evidence(ev, verifier)
    except CivicError as exc:
        msg = f"{node} serves {ev.kind} evidence that does not verify: {exc.message}"
        col.add(finding("node.reports", msg, node=node, kind=ev.kind))
        return
    msg = f"{node} holds verified {ev.kind} evidence against the log: {what}"
    if ev.reason:
        msg += f" ({ev.reason})"
    col.add(finding("node.evidence", msg, index=ev.index, node=node, kind=ev.kind, id=ev.id))


def _verify_evidence(ev: Any, verifier: NoteVerifier | KeyHistory) -> str:
    """:func:`verify_evidence` with the log's key; a rotated log's evidence may be signed
    by any of its keys (the newest first)."""
    if not isinstance(verifier, KeyHistory):
        return str(verify_evidence(ev, verifier))
    last: CivicError | None = None
    for key in reversed(verifier.verifiers()):
        try:
            return str(verify_evidence(ev, key))
        except CivicError as exc:
            last = exc
    assert last is not None
    raise last
