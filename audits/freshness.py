"""Step 3 of the audit, across time: how far the witnessed part of the log reaches, and
which nodes serve less than what was already witnessed (issue 10, items 1 and 2).

- **Reach.** The trusted part of the log is the largest checkpoint of the audited tree
  that meets the witness quorum of the policy in force at its size
  (:func:`ledger.c2sp.trust.check_trust`, C2SP tlog-policy). When the audited (newest)
  checkpoint is beyond it, the nodes are asked once more for their newest witnessed
  checkpoint: one of at least the audited size whose RFC 9162 §2.1.4 consistency proof
  from the audited tree verifies means the audited tree has been cosigned since (it was
  truly pending). Otherwise the audit says exactly how far the trusted part reaches
  (``checkpoint.unwitnessed``, incomplete): a checkpoint beyond the last cosigned size is
  never reported as if its tree were cosigned.
- **Staleness and rollback.** Every node's newest checkpoint is compared with the newest
  witnessed checkpoint seen from any node, and with the one remembered in ``--state``. A
  node more than ``max_lag`` records behind is ``node.stale`` (incomplete); a node whose
  newest checkpoint is smaller than a witnessed checkpoint it serves itself went back:
  ``node.rollback`` (evidence).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from audits.checkpoints import Seen, consistency_proof
from audits.findings import finding
from audits.found import Collector, Found
from audits.state_file import AuditState
from audits.verify import check_log_signature, witness_policy
from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint
from ledger.c2sp.note import NoteVerifier
from ledger.c2sp.policy import Policy
from ledger.c2sp.trust import check_trust
from ledger.errors import CivicError, NetworkError, NotFoundError
from ledger.log_keys import KeyHistory

__all__ = ["DEFAULT_MAX_LAG", "FreshnessContext", "Reach", "check_freshness"]

# Records a node may be behind the newest witnessed checkpoint before it is a finding.
DEFAULT_MAX_LAG = 0


@dataclass(frozen=True)
class FreshnessContext:
    """The verified checkpoints, the audited one, the witness sets by record index, what
    a state file remembers, the sources known to be forked, and the tolerance."""

    seen: tuple[Seen, ...]
    target: Checkpoint
    history: tuple[tuple[int, dict[str, Any]], ...]
    verifier: NoteVerifier | KeyHistory
    forked: frozenset[str]
    down: frozenset[str]
    remembered: AuditState | None = None
    max_lag: int = DEFAULT_MAX_LAG


@dataclass(frozen=True)
class Reach:
    """``trusted_size``: how many records the witnessed part of the log covers (None when
    no checkpoint of the audited tree is witnessed); ``by``: where that checkpoint was
    seen."""

    trusted_size: int | None
    by: str | None
    found: Found


def _policy_at(ctx: FreshnessContext, size: int) -> Policy | None:
    """The witness policy in force for a checkpoint of ``size`` (set by records < size)."""
    doc = None
    for since, d in sorted(ctx.history, key=lambda h: h[0]):
        if since < size:
            doc = d
    if doc is None:
        return None
    try:
        return witness_policy(doc, ctx.verifier, size)
    except CivicError:
        return None


def _trusted(ctx: FreshnessContext, note: bytes, size: int, cosigned: bool = False) -> bool:
    """Whether ``note`` meets the policy in force at ``size``; with ``cosigned``, only a
    policy that names a quorum of witnesses counts (with none, nothing is witnessed)."""
    policy = _policy_at(ctx, size)
    if policy is None or (cosigned and policy.quorum == "none"):
        return False
    try:
        return check_trust(note, policy).trusted
    except CivicError:
        return False


def check_freshness(ctx: FreshnessContext) -> Reach:
    """Reach, staleness and rollback (module docstring)."""
    col = Collector(ctx.down)
    # 1. Every witnessed checkpoint seen, of the audited tree (forked sources excluded).
    witnessed: list[tuple[int, str]] = []
    cosigned: list[tuple[int, str]] = []
    for s in ctx.seen:
        if s.cp is None or s.name in ctx.forked or s.cp.size > ctx.target.size:
            continue
        if s.cp.size == ctx.target.size and s.cp.root_hash != ctx.target.root_hash:
            continue
        if _trusted(ctx, s.note, s.cp.size):
            witnessed.append((s.cp.size, s.name))
            if _trusted(ctx, s.note, s.cp.size, cosigned=True):
                cosigned.append((s.cp.size, s.name))
    old = ctx.remembered
    if old is not None and old.size <= ctx.target.size and _trusted(ctx, old.checkpoint, old.size):
        witnessed.append((old.size, f"the state file ({old.audited_at})"))
    reach, by = max(witnessed, default=(None, None))
    # 2. The audited checkpoint beyond the reach: cosigned since, or say how far it is.
    if reach is None or reach < ctx.target.size:
        later = _cosigned_since(ctx, col)
        if later is not None:
            msg = (
                f"the audited checkpoint of {ctx.target.size} records lacked the witness "
                f"quorum when fetched; {later} now serves a witnessed checkpoint that "
                "extends it, so it was pending"
            )
            col.add(finding("checkpoint.pending", msg, node=later))
            reach, by = ctx.target.size, later
        else:
            col.add(_unwitnessed(ctx.target.size, reach, by))
    # 3. Every node against the newest witnessed checkpoint seen (and the state file's).
    _stale(ctx, col, cosigned)
    return Reach(reach, by, col.found())


def _unwitnessed(size: int, reach: int | None, by: str | None) -> Any:
    if reach is None:
        msg = (
            f"no checkpoint of the audited tree carries the witness quorum: none of its "
            f"{size} records is witnessed"
        )
    else:
        msg = (
            f"the trusted part of the log reaches {reach} records (the witnessed checkpoint "
            f"seen at {by}); records {reach} to {size - 1} of the audited checkpoint of "
            f"{size} records have no witness quorum"
        )
    return finding(
        "checkpoint.unwitnessed", msg, index=reach, trusted_size=reach, audited_size=size
    )


def _cosigned_since(ctx: FreshnessContext, col: Collector) -> str | None:
    """A node now serving a witnessed checkpoint that extends the audited one, if any."""
    t = ctx.target
    asked: set[int] = set()
    for s in ctx.seen:
        f = s.fetcher
        if f is None or f.offline or id(f) in asked or col.is_down(f.name):
            continue
        if s.name in ctx.forked:
            continue
        asked.add(id(f))
        try:
            note = f.fetch("v1/checkpoints/witnessed")
        except NetworkError as exc:
            col.unreachable(f.name, exc)
            continue
        except (NotFoundError, CivicError):
            continue
        cp = check_log_signature(note, ctx.verifier, f.name)
        if not isinstance(cp, Checkpoint) or cp.size < t.size:
            continue
        if not _trusted(ctx, note, cp.size):
            continue
        if cp.size == t.size:
            if cp.root_hash == t.root_hash:
                return f.name
            continue
        try:
            proof = consistency_proof(f, t.size, cp.size)
            merkle.verify_consistency(t.size, cp.size, proof, t.root_hash, cp.root_hash)
        except CivicError:
            continue
        return f.name
    return None


def _stale(ctx: FreshnessContext, col: Collector, witnessed: Sequence[tuple[int, str]]) -> None:
    refs = list(witnessed)
    old = ctx.remembered
    if old is not None:
        refs.append((old.size, f"the state file ({old.audited_at})"))
    # Witnessed checkpoints a node serves itself (GET /v1/checkpoints/witnessed), by node.
    own: dict[str, int] = {}
    for s in ctx.seen:
        if s.kind != "witnessed" or s.cp is None or s.fetcher is None:
            continue
        if _trusted(ctx, s.note, s.cp.size, cosigned=True):
            own[s.fetcher.name] = max(own.get(s.fetcher.name, 0), s.cp.size)
    if not refs and not own:
        return
    for s in ctx.seen:
        if s.kind != "latest" or s.cp is None or s.fetcher is None:
            continue
        size = s.cp.size
        mine = own.get(s.fetcher.name)
        if mine is not None and size < mine:
            msg = (
                f"{s.name} serves a newest checkpoint of {size} records, older than the "
                f"witnessed checkpoint of {mine} records it serves itself: its log went back"
            )
            col.add(finding("node.rollback", msg, node=s.name, size=size, witnessed=mine))
            continue
        if not refs:
            continue
        ref, where = max(refs)
        lag = ref - size
        if lag > ctx.max_lag:
            msg = (
                f"{s.name} serves a newest checkpoint of {size} records, {lag} behind the "
                f"newest witnessed checkpoint seen ({ref} records, at {where}); the "
                f"tolerance is {ctx.max_lag} (--max-lag)"
            )
            col.add(finding("node.stale", msg, node=s.name, size=size, lag=lag, reference=ref))
