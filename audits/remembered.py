"""Step 5 of the audit: start from what an earlier audit verified (``--state FILE``, the
format is in :mod:`audits.state_file`) and remember what this one verified.

The remembered checkpoint must be extended by the audited one: an RFC 9162 §2.1.4
consistency proof when a source offers one (and, in any case, the tree step checks that the
remembered frontier still hashes the records before it). The new state is written only
after an audit that verified the whole log and found no evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from audits.checkpoints import Seen, consistency_proof
from audits.download import Source
from audits.findings import finding
from audits.found import Collector, Found
from audits.state_file import AuditState, save_state_file
from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint
from ledger.errors import InputError, NetworkError, NotFoundError, ProofError
from ledger.state import State

__all__ = ["RememberContext", "Remembered", "RememberedContext", "check_remembered", "remember"]


@dataclass(frozen=True)
class RememberedContext:
    """The remembered audit, the audited checkpoint and the sources of its tree."""

    old: AuditState
    target: Seen
    sources: tuple[Source, ...]
    down: frozenset[str]


@dataclass(frozen=True)
class Remembered:
    """``ok``: the audited checkpoint extends the remembered one (or is behind it); when
    not, the audit goes no further."""

    ok: bool
    found: Found


def check_remembered(ctx: RememberedContext) -> Remembered:
    """An RFC 9162 consistency proof from the remembered checkpoint to the target."""
    col = Collector(ctx.down)
    old, t = ctx.old, ctx.target
    assert t.cp is not None
    if t.cp.size < old.size:
        col.add(
            finding(
                "node.behind",
                f"every node is behind the remembered checkpoint "
                f"({old.size} records); nothing new to verify",
            )
        )
        return Remembered(True, col.found())
    if t.cp.size == old.size:
        if t.cp.root_hash != old.root:
            col.add(
                finding(
                    "checkpoint.rollback",
                    f"{t.name}: a checkpoint of "
                    f"{old.size} records with another root than the one verified "
                    "before",
                    node=t.name,
                )
            )
            return Remembered(False, col.found())
        return Remembered(True, col.found())
    for src in ctx.sources:
        if src.size != t.cp.size:
            continue
        try:
            proof = consistency_proof(src.fetcher, old.size, t.cp.size)
        except NetworkError as exc:
            col.unreachable(src.fetcher.name, exc)
            continue
        except (NotFoundError, InputError):
            continue
        try:
            merkle.verify_consistency(old.size, t.cp.size, proof, old.root, t.cp.root_hash)
        except (ProofError, InputError) as exc:
            col.add(
                finding(
                    "checkpoint.rollback",
                    f"{src.fetcher.name}: the checkpoint of "
                    f"{t.cp.size} records does not extend the one verified before "
                    f"({old.size} records): {exc.message}",
                    node=src.fetcher.name,
                )
            )
            return Remembered(False, col.found())
        return Remembered(True, col.found())
    # No proof on offer: extending the remembered frontier to the new root proves it too.
    return Remembered(True, col.found())


@dataclass(frozen=True)
class RememberContext:
    """What this audit verified, to be written to ``path``."""

    path: Path
    checkpoint: Checkpoint
    note: bytes
    log_vkey: str
    genesis_hash: str
    nodes: Mapping[merkle.NodeId, bytes]
    state: State
    history: tuple[tuple[int, dict[str, Any]], ...]
    audited_at: str


def remember(ctx: RememberContext) -> None:
    """Write the state file of a whole, evidence-free audit (atomically)."""
    cp = ctx.checkpoint
    save_state_file(
        ctx.path,
        AuditState(
            origin=cp.origin,
            log_vkey=ctx.log_vkey,
            genesis_hash=ctx.genesis_hash,
            checkpoint=ctx.note,
            size=cp.size,
            root=cp.root_hash,
            frontier=[ctx.nodes[i] for i in merkle.root_ranges(cp.size)],
            state=ctx.state,
            witness_history=list(ctx.history),
            audited_at=ctx.audited_at,
        ),
    )
