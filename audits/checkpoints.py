"""Step 1 of the audit: the checkpoints every source serves, their log signatures, forks,
and the checkpoint to audit (the newest signed one).

A source is a node (``GET /log/checkpoint``, and ``GET /v1/checkpoints/witnessed`` for the
newest one that already has the witness quorum) or a bundle (which carries the checkpoints
it was made with). Also here: which sources can serve the audited tree's objects, and an
RFC 9162 consistency proof from one of them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from audits.bundle import BundleFetcher
from audits.download import Source
from audits.fetch import Fetcher
from audits.findings import Finding, finding
from audits.found import Collector, Found
from audits.progress import Progress
from audits.verify import check_log_signature
from ledger.c2sp.checkpoint import Checkpoint
from ledger.c2sp.note import NoteVerifier
from ledger.canonical import parse_json
from ledger.errors import NetworkError, NotFoundError
from ledger.log_keys import KeyHistory

__all__ = [
    "CheckpointContext",
    "Checkpoints",
    "FetchContext",
    "Fetched",
    "NodeCheckpoint",
    "Seen",
    "consistency_proof",
    "data_sources",
    "fetch_checkpoints",
    "verify_checkpoints",
]


@dataclass(frozen=True)
class Seen:
    """One checkpoint as observed at one source (``cp`` once its log signature verified)."""

    name: str
    note: bytes
    fetcher: Fetcher | None
    # "latest" (GET /log/checkpoint), "witnessed" (the newest with the witness quorum,
    # GET /v1/checkpoints/witnessed) or "carried" (inside a bundle)
    kind: str = "latest"
    cp: Checkpoint | None = None


@dataclass(frozen=True)
class FetchContext:
    """The sources to ask, in order."""

    fetchers: tuple[Fetcher, ...]
    progress: Progress


@dataclass(frozen=True)
class Fetched:
    """Every checkpoint obtained, unverified."""

    seen: tuple[Seen, ...]
    found: Found


def fetch_checkpoints(ctx: FetchContext) -> Fetched:
    """Step 1: the checkpoint of every source (and those carried by a bundle)."""
    col = Collector()
    seen: list[Seen] = []
    t0 = time.perf_counter()
    ctx.progress.start("checkpoints", len(ctx.fetchers), "nodes")
    for f in ctx.fetchers:
        try:
            note = f.fetch("log/checkpoint")
        except NetworkError as exc:
            col.unreachable(f.name, exc)
        except NotFoundError as exc:
            col.add(
                finding("node.incomplete", f"{f.name} serves no checkpoint: {exc}", node=f.name)
            )
        else:
            seen.append(Seen(f.name, note, f))
            for where, extra in f.extra_checkpoints():
                seen.append(Seen(where, extra, None, kind="carried"))
            if not f.offline:
                seen += _witnessed(f, col)
        ctx.progress.advance("checkpoints")
    ctx.progress.finish("checkpoints")
    col.phase("checkpoints", len(ctx.fetchers), "nodes", time.perf_counter() - t0)
    return Fetched(tuple(seen), col.found())


def _witnessed(f: Fetcher, col: Collector) -> list[Seen]:
    # The newest checkpoint already cosigned by the witness quorum, when the node keeps
    # one: the latest is often still waiting for its cosignatures.
    try:
        note = f.fetch("v1/checkpoints/witnessed")
    except NotFoundError:
        return []
    except NetworkError as exc:
        col.unreachable(f.name, exc)
        return []
    return [Seen(f"{f.name} (witnessed)", note, f, kind="witnessed")]


@dataclass(frozen=True)
class NodeCheckpoint:
    """What step 1 says of a source's checkpoint: ok, bad, fork or behind (and, when ok,
    its size and root)."""

    name: str
    checkpoint: str
    size: int | None = None
    root: str | None = None


@dataclass(frozen=True)
class CheckpointContext:
    """The checkpoints obtained and the trusted log key."""

    seen: tuple[Seen, ...]
    verifier: NoteVerifier | KeyHistory


@dataclass(frozen=True)
class Checkpoints:
    """The verified checkpoints (``cp`` set) and the one to audit; ``target`` is None when
    no checkpoint verifies (the audit stops). ``marks`` apply in order."""

    seen: tuple[Seen, ...]
    target: Seen | None
    marks: tuple[NodeCheckpoint, ...]
    found: Found


def verify_checkpoints(ctx: CheckpointContext) -> Checkpoints:
    """Step 1: log signatures, forks, the checkpoint to audit."""
    col = Collector()
    marks: list[NodeCheckpoint] = []
    seen: list[Seen] = []
    for s in ctx.seen:
        got = check_log_signature(s.note, ctx.verifier, s.name)
        if isinstance(got, Finding):
            col.add(got)
            marks.append(NodeCheckpoint(s.name, "bad"))
            seen.append(s)
            continue
        seen.append(replace(s, cp=got))
        marks.append(NodeCheckpoint(s.name, "ok", got.size, got.root_hash.hex()))
    valid = [(s, s.cp) for s in seen if s.cp is not None]
    if not valid:
        col.add(finding("audit.stopped", "no source serves a checkpoint signed by the log key"))
        return Checkpoints(tuple(seen), None, tuple(marks), col.found())
    by_size: dict[int, dict[bytes, list[str]]] = {}
    for s, cp in valid:
        by_size.setdefault(cp.size, {}).setdefault(cp.root_hash, []).append(s.name)
    for size, roots in sorted(by_size.items()):
        if len(roots) > 1:
            names = [n for group in roots.values() for n in group]
            detail = {r.hex(): group for r, group in roots.items()}
            msg = f"the log key signed {len(roots)} different trees of size {size}: " + "; ".join(
                f"{', '.join(g)} say root {r.hex()[:16]}…" for r, g in roots.items()
            )
            col.add(finding("checkpoint.fork", msg, node=", ".join(names), roots=detail))
    top = max(cp.size for _, cp in valid)
    live = [s for s, cp in valid if cp.size == top]
    target = next((s for s in live if s.fetcher is not None), live[0])
    for s in live:
        if s.cp != target.cp:
            marks.append(NodeCheckpoint(s.name, "fork"))
    for s, cp in valid:
        if cp.size < top and s.kind == "latest":
            marks.append(NodeCheckpoint(s.name, "behind"))
            col.add(
                finding(
                    "node.behind",
                    f"{s.name} is at {cp.size} records, the newest checkpoint has {top}",
                    node=s.name,
                )
            )
    return Checkpoints(tuple(seen), target, tuple(marks), col.found())


def data_sources(seen: Sequence[Seen], target: Checkpoint, down: frozenset[str]) -> list[Source]:
    """The sources that can serve the objects of ``target``'s tree, largest first, local
    ones (a bundle costs no network) before the others."""
    out: list[Source] = []
    for s in sorted(seen, key=lambda s: -(s.cp.size if s.cp else -1)):
        if s.fetcher is None or s.cp is None or s.name in down:
            continue
        if s.cp.size > target.size or (
            s.cp.size == target.size and s.cp.root_hash != target.root_hash
        ):
            continue
        if any(x.fetcher is s.fetcher for x in out):
            continue
        out.append(Source(s.fetcher, s.cp.size))
    return sorted(out, key=lambda src: not src.fetcher.offline)


def consistency_proof(f: Fetcher, first: int, second: int) -> list[bytes]:
    """An RFC 9162 §2.1.4 consistency proof between two tree sizes, from ``f``."""
    if isinstance(f, BundleFetcher):
        return f.bundle.consistency_proof(first, second)
    doc = parse_json(f.fetch(f"v1/proofs/consistency?first={first}&second={second}"))
    try:
        return [bytes.fromhex(h) for h in doc["hashes"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise NetworkError(f"{f.name}: malformed consistency proof") from exc
