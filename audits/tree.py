"""Step 3 of the audit, after the replay: recompute the tree from the entries and compare
it with what was signed and served.

The root of the recomputed tree must be the audited checkpoint's (RFC 9162 §2.1.1); when it
is not, the hash tiles are authenticated top-down against the signed root to tell which
objects are wrong. When it is, every served hash tile must match the tree (C2SP
tlog-tiles), record 0 must be the pinned genesis, and the genesis must name the log key
that signs the checkpoints. With a remembered audit, the records it verified must still
hash to its frontier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audits.fetch import LocalStore
from audits.findings import finding
from audits.found import Collector, Found
from audits.verify import authenticate_tiles, tile_refs
from ledger import merkle
from ledger.errors import InputError
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef, tile_path, tile_width

__all__ = ["Tree", "TreeContext", "check_tree", "tile_refs_width"]

_HASH = merkle.HASH_SIZE


def tile_refs_width(size: int, level: int | None, index: int) -> int:
    """The width of tile ``index`` of ``level`` in a tree of ``size``."""
    return tile_width(level, index, size)


@dataclass(frozen=True)
class TreeContext:
    """The audited checkpoint's tree and what the pipeline computed of it."""

    store: LocalStore
    refs: tuple[TileRef, ...]
    size: int
    root: bytes
    start: int
    # the remembered audit's frontier at ``start`` (empty without one)
    frontier: tuple[bytes, ...]
    nodes: Mapping[merkle.NodeId, bytes]
    leaves: Mapping[int, bytes]
    tile_mismatch: Mapping[int, tuple[int, ...]]
    genesis_hash: str | None
    log_vkey: str
    # the replayed community genesis document (``community/genesis``), if any
    genesis_doc: Mapping[str, Any] | None


@dataclass(frozen=True)
class Tree:
    """``complete``: the entries hash to the signed root (the whole log is verified).
    ``genesis_hash``: record 0's leaf hash once read, else the one pinned."""

    complete: bool
    genesis_hash: str | None
    found: Found


def check_tree(ctx: TreeContext) -> Tree:
    """Step 3: the root, the tiles, the genesis."""
    col = Collector()
    size, root, start = ctx.size, ctx.root, ctx.start
    try:
        computed = merkle.hash_of_range(0, size, ctx.nodes)
    except InputError:
        computed = b""
    if start:
        for nid, h in zip(merkle.root_ranges(start), ctx.frontier, strict=True):
            if ctx.nodes.get(nid) != h:
                msg = f"the records before {start} served now differ from those verified before"
                col.add(finding("checkpoint.rollback", msg))
                break
    if computed != root:
        _localise(ctx, col)
        return Tree(False, ctx.genesis_hash, col.found())
    # Tiles against the verified tree.
    store = ctx.store
    for bundle, positions in sorted(ctx.tile_mismatch.items()):
        tsrc = store.source("log/" + tile_path(0, bundle, tile_refs_width(size, 0, bundle)))
        _tile_finding(col, tsrc, 0, bundle, positions)
    for ref in ctx.refs:
        if ref.level is None or ref.level == 0:
            continue
        path = "log/" + ref.path()
        data = store.read(path)
        if data is None:
            continue
        if len(data) != _HASH * ref.width:
            msg = f"{store.source(path)}: {ref.path()} is {len(data)} bytes"
            col.add(finding("tile.malformed", msg, node=store.source(path)))
            continue
        lvl = TILE_HEIGHT * ref.level
        bad = tuple(
            j
            for j in range(ref.width)
            if (want := ctx.nodes.get((lvl, ref.index * TILE_WIDTH + j))) is not None
            and data[j * _HASH : (j + 1) * _HASH] != want
        )
        if bad:
            _tile_finding(col, store.source(path), ref.level, ref.index, bad)
    # Genesis is what was pinned.
    genesis_hash = ctx.genesis_hash
    leaf0 = ctx.leaves.get(0)
    if leaf0 is not None and start == 0:
        g = leaf0[:_HASH].hex()
        if genesis_hash is not None and g != genesis_hash:
            col.add(
                finding(
                    "trust.genesis_mismatch",
                    f"the audited log's record 0 has leaf hash {g}, not {genesis_hash}",
                    index=0,
                )
            )
        genesis_hash = g
    gdoc = ctx.genesis_doc
    if gdoc is not None and gdoc.get("log_vkey") != ctx.log_vkey:
        col.add(
            finding(
                "trust.vkey_mismatch",
                f"genesis names log key "
                f"{gdoc.get('log_vkey')}, but the checkpoints are signed by "
                f"{ctx.log_vkey}",
                index=0,
            )
        )
    return Tree(True, genesis_hash, col.found())


def _span(positions: Sequence[int]) -> str:
    if not positions:
        return "all entries"
    if len(positions) <= 4:
        return ", ".join(map(str, positions))
    return f"{positions[0]} to {positions[-1]} ({len(positions)} in all)"


def _tile_finding(
    col: Collector, node: str, level: int, index: int, positions: Sequence[int]
) -> None:
    where = tile_path(level, index)
    if level == 0:
        msg = (
            f"{node} serves level-0 tile {where} with wrong leaf hashes for record(s) "
            f"{_span(positions)}"
        )
        col.add(
            finding(
                "tile.mismatch",
                msg,
                index=positions[0],
                node=node,
                tile=where,
                positions=list(positions)[:32],
            )
        )
    else:
        msg = f"{node} serves hash tile {where} with wrong hashes at {_span(positions)}"
        col.add(
            finding("tile.mismatch", msg, node=node, tile=where, positions=list(positions)[:32])
        )


def _localise(ctx: TreeContext, col: Collector) -> None:
    """The entries do not hash to the root: find which objects are wrong, if the tiles can
    be authenticated top-down against the root."""
    store, size, root = ctx.store, ctx.size, ctx.root

    def get_tile(level: int, index: int) -> bytes | None:
        return store.read("log/" + tile_path(level, index, tile_refs_width(size, level, index)))

    auth = authenticate_tiles(size, root, get_tile)
    before = col.count()
    if auth is not None:
        good, bad = auth
        for lvl, idx in sorted(bad):
            path = "log/" + tile_path(lvl, idx, tile_refs_width(size, lvl, idx))
            _tile_finding(col, store.source(path), lvl, idx, [])
        for bundle, positions in sorted(ctx.tile_mismatch.items()):
            if (0, bundle) not in good:
                continue
            src = store.source(
                "log/" + tile_path(None, bundle, tile_refs_width(size, None, bundle))
            )
            for pos in positions[:16]:
                col.add(
                    finding(
                        "entries.mismatch",
                        f"{src}: record {pos} is not the record "
                        "the signed checkpoint commits to (its leaf hash differs "
                        "from the authenticated tile)",
                        index=pos,
                        node=src,
                    )
                )
            if len(positions) > 16:
                col.add(
                    finding(
                        "entries.mismatch",
                        f"{src}: {len(positions) - 16} more "
                        f"records of entry bundle {bundle} differ",
                        node=src,
                        index=positions[16],
                    )
                )
    if col.count() == before:
        srcs = sorted({store.source("log/" + r.path()) for r in tile_refs(size)} - {""})
        col.add(
            finding(
                "checkpoint.root",
                f"the entries and tiles served by "
                f"{', '.join(srcs)} do not hash to the root of the checkpoint "
                f"signed by the log key ({size} records)",
                node=", ".join(srcs),
            )
        )
