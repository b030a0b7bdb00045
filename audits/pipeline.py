"""Steps 2 and 3 of the audit: download every entry bundle and hash tile, verify every
record on all cores, replay the log through the rule handlers.

The pipeline overlaps the three: the download runs in a thread pool (from whichever source
answers, resumable through the local store), each entry bundle goes to the process pool as
soon as it and its level-0 tile are stored (:func:`audits.verify.verify_bundle_data`:
leaf hashes, record format, signatures), and the results come back in log order to be
replayed sequentially (:func:`audits.verify.replay_checked`: the ``prev`` chain and every
rule). What comes out is what the tree step needs: the leaf hashes, the tree nodes
computed, the level-0 tiles that differ, and the replayed state.
"""

from __future__ import annotations

import gc
import hashlib
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from audits.download import Downloader, Source, object_path
from audits.fetch import DirStore, LocalStore, MemoryStore
from audits.findings import finding
from audits.found import Collector, Found
from audits.progress import Progress
from audits.verify import (
    BundleResult,
    expand_records,
    replay_checked,
    tile_refs,
    verify_bundle_compact,
    verify_bundle_data,
)
from audits.warnings import WarningCollector
from ledger import merkle
from ledger.errors import NetworkError
from ledger.state import State
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef, tile_path

__all__ = [
    "DownloadContext",
    "PipelineContext",
    "Replayed",
    "download",
    "open_store",
    "pipeline_refs",
    "run_pipeline",
]

_HASH = merkle.HASH_SIZE
_WITNESS_TYPES = frozenset({"community.genesis", "witnesses.set"})

WitnessHistory = tuple[tuple[int, dict[str, Any]], ...]


def open_store(cache: Path | None, log_vkey: str) -> LocalStore:
    """Where downloaded objects go: memory, or ``cache`` (one folder per log key), which
    makes an interrupted download resumable."""
    if cache is None:
        return MemoryStore()
    key = hashlib.sha256(log_vkey.encode()).hexdigest()[:16]
    return DirStore(cache / key)


def pipeline_refs(size: int, start: int) -> list[TileRef]:
    """The objects of a tree of ``size`` from leaf ``start`` on, in the order verification
    needs them: each entry bundle next to its level-0 tile, then the upper tiles."""
    refs = tile_refs(size, start)
    tiles0 = {r.index: r for r in refs if r.level == 0}
    out: list[TileRef] = []
    for r in refs:
        if r.is_entries:
            out.append(r)
            if r.index in tiles0:
                out.append(tiles0.pop(r.index))
    out += [r for r in refs if not r.is_entries and (r.level != 0 or r.index in tiles0)]
    return out


@dataclass(frozen=True)
class DownloadContext:
    """What to download, from where, into where."""

    store: LocalStore
    refs: tuple[TileRef, ...]
    sources: tuple[Source, ...]
    parallel: int
    progress: Progress
    down: frozenset[str]


def download(ctx: DownloadContext) -> Found:
    """Step 2 on its own (for bundles): every object of ``refs`` into ``store``; what could
    not be obtained is ``node.incomplete``."""
    col = Collector(ctx.down)
    dl, elapsed = _downloader(ctx.store, ctx.sources, len(ctx.refs), ctx.parallel,
                              ctx.progress, col)  # fmt: skip
    dl.download(ctx.refs)
    _download_done(dl, len(ctx.refs), elapsed(), ctx.progress, col)
    return col.found()


def _downloader(
    store: LocalStore,
    sources: Sequence[Source],
    total: int,
    parallel: int,
    progress: Progress,
    col: Collector,
) -> tuple[Downloader, Callable[[], float]]:
    """A downloader that reports progress and unreachable nodes, and the time from its
    start to its last object."""
    progress.start("download", total, "objects")
    started = time.perf_counter()
    last = [started]

    def on_down(src: Source, exc: NetworkError) -> None:
        col.unreachable(src.fetcher.name, exc)

    def on_done(n: int) -> None:
        last[0] = time.perf_counter()
        progress.advance("download", n)

    dl = Downloader(sources, store, parallel=max(1, parallel), on_down=on_down, on_done=on_done)
    return dl, lambda: last[0] - started


def _download_done(
    dl: Downloader, count: int, seconds: float, progress: Progress, col: Collector
) -> None:
    for path, why in sorted(dl.missing.items()):
        col.add(finding("node.incomplete", f"{path} could not be obtained: {why}", path=path))
    progress.finish("download")
    col.phase("download", count, "objects", seconds)


@dataclass(frozen=True)
class PipelineContext:
    """The tree to download and verify from leaf ``start`` on. ``state`` and
    ``history`` are where the replay starts (empty, or the remembered audit's): the state is
    replayed in place and handed back in :class:`Replayed`. ``frontier`` holds the
    remembered hashes of RFC 9162 ``root_ranges(start)``."""

    store: LocalStore
    sources: tuple[Source, ...]
    refs: tuple[TileRef, ...]
    size: int
    start: int
    frontier: tuple[bytes, ...]
    # the sizes of every verified checkpoint: the bundles where they end keep their nodes
    checkpoint_sizes: frozenset[int]
    state: State
    history: WitnessHistory
    pool: Executor | None
    workers: int
    parallel: int
    progress: Progress
    down: frozenset[str]


@dataclass(frozen=True)
class Replayed:
    """What the pipeline established. ``stopped``: a bundle could not be read, so the
    records after it were not checked (and the tree cannot be). ``found`` holds the
    verification and replay findings (and the data-quality warnings once the replay is
    whole), ``download`` what could not be obtained."""

    state: State
    history: WitnessHistory
    nodes: Mapping[merkle.NodeId, bytes]
    leaves: Mapping[int, bytes]
    tile_mismatch: Mapping[int, tuple[int, ...]]
    verified: int
    stopped: bool
    found: Found
    download: Found


def run_pipeline(ctx: PipelineContext) -> Replayed:
    """Steps 2 and 3: download, verify (in the pool) and replay, bundle by bundle; the pool
    works while the network does."""
    col = Collector(ctx.down)
    dl_col = Collector(ctx.down)
    dl, elapsed = _downloader(ctx.store, ctx.sources, len(ctx.refs), ctx.parallel,
                              ctx.progress, col)  # fmt: skip
    with ThreadPoolExecutor(max(1, ctx.parallel), thread_name_prefix="civic-fetch") as tp:
        ready = dl.start(ctx.refs, tp)
        try:
            out = _verify(ctx, ready, col)
        finally:
            for fut in ready.values():
                fut.cancel()
    _download_done(dl, len(ctx.refs), elapsed(), ctx.progress, dl_col)
    # Only now: a download thread may still have found a node down while the pool drained.
    return Replayed(*out, found=col.found(), download=dl_col.found())


def _seed_tree(ctx: PipelineContext, nodes: dict[merkle.NodeId, bytes]) -> merkle.CompactRange:
    """The tree of level-8 nodes (one per full entry bundle) before ``start``."""
    if ctx.start == 0:
        return merkle.CompactRange()
    big = []
    for nid, h in zip(merkle.root_ranges(ctx.start), ctx.frontier, strict=True):
        if nid[0] >= TILE_HEIGHT:
            nodes[nid] = h
            big.append(h)
    return merkle.CompactRange(ctx.start >> TILE_HEIGHT, big)


class _Verified(NamedTuple):
    state: State
    history: WitnessHistory
    nodes: dict[merkle.NodeId, bytes]
    leaves: dict[int, bytes]
    tile_mismatch: dict[int, tuple[int, ...]]
    verified: int
    stopped: bool


def _verify(ctx: PipelineContext, ready: dict[str, Future[None]], col: Collector) -> _Verified:
    store, start, state = ctx.store, ctx.start, ctx.state
    bundles = [r for r in ctx.refs if r.is_entries]
    keep = {size // TILE_WIDTH for size in ctx.checkpoint_sizes}
    keep.add(start // TILE_WIDTH)
    total = ctx.size - start
    pool, workers = ctx.pool, ctx.workers
    nodes: dict[merkle.NodeId, bytes] = {}
    history = list(ctx.history)
    level8 = _seed_tree(ctx, nodes)
    leaves: dict[int, bytes] = {}
    tile_mismatch: dict[int, tuple[int, ...]] = {}
    collector = WarningCollector()
    stopped = False
    replay_seconds = 0.0
    verified = 0
    t0 = time.perf_counter()
    ctx.progress.start("verify", total, "records")
    # Each bundle's bytes stay here until its answer is back (expand_records needs them).
    window: deque[tuple[Future[BundleResult] | BundleResult, bytes]] = deque()
    todo = iter(bundles)

    def submit() -> None:
        ref = next(todo, None)
        if ref is None:
            return
        bpath, tpath = object_path(ref), "log/" + tile_path(0, ref.index, ref.width)
        for p in (bpath, tpath):
            if p in ready:
                ready[p].result()
        data = store.read(bpath)
        if data is None:
            msg = f"entry bundle {ref.index} could not be obtained"
            window.append((BundleResult(ref.index, ref.width, b"", None, None, [], msg), b""))
            return
        args = (data, ref.index, ref.width, store.read(tpath), start, ref.index in keep)
        store.forget(bpath)
        window.append(
            (pool.submit(verify_bundle_compact, *args) if pool else verify_bundle_data(*args), data)
        )

    # The replayed state grows to every document of the community and holds no cycles;
    # left on, the cyclic collector rescans it again and again as records arrive.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for _ in range(max(2, 4 * workers)):
            submit()
        while window:
            item, data = window.popleft()
            res = item.result() if isinstance(item, Future) else item
            submit()
            bpath = "log/" + tile_path(None, res.bundle, res.width)
            src = store.source(bpath)
            first = res.bundle * TILE_WIDTH
            if res.error is not None:
                code = (
                    "node.incomplete"
                    if "could not be obtained" in res.error
                    else "entries.malformed"
                )
                col.add(finding(code, f"{src}: {res.error}", index=first, node=src))
                col.add(
                    finding(
                        "audit.stopped",
                        f"verification stopped at record {first}: "
                        "the records after it cannot be checked",
                    )
                )
                stopped = True
                break
            if res.tile_error is not None:
                tsrc = store.source("log/" + tile_path(0, res.bundle, res.width))
                col.add(finding("tile.malformed", f"{tsrc}: {res.tile_error}", node=tsrc))
            if res.tile_mismatch:
                tile_mismatch[res.bundle] = res.tile_mismatch
            leaves[res.bundle] = res.leaves
            if res.nodes:
                nodes.update(res.nodes)
            if res.top is not None:
                for (lvl, idx), h in level8.append(res.top):
                    nodes[(lvl + TILE_HEIGHT, idx)] = h
            r0 = time.perf_counter()
            records = expand_records(res, data)
            for rec in records:
                off = (rec.position - first) * _HASH
                found = replay_checked(state, rec, res.leaves[off : off + _HASH].hex(), src)
                if found:
                    col.extend(found)
                elif rec.type in _WITNESS_TYPES:
                    history.append((rec.position, state.peek("witnesses", "current")))
                collector.observe(rec, state)
            replay_seconds += time.perf_counter() - r0
            verified += len(records)
            ctx.progress.advance("verify", len(records))
    finally:
        if collecting:
            gc.enable()
    ctx.progress.finish("verify")
    col.phase("verify", verified, "records", time.perf_counter() - t0)
    col.phase("replay", verified, "records", replay_seconds)
    if not stopped:
        col.extend(collector.finish(state))
    return _Verified(state, tuple(history), nodes, leaves, tile_mismatch, verified, stopped)
