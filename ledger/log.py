"""The append-only log: batched appends, roots, proofs, tiles and signed checkpoints.

The log stores opaque entry bytes (C2SP tlog-tiles entries); JSON records are one use
of it (:meth:`Log.append_records`). One transaction per batch holds the entries, the
completed tree nodes and the new signed checkpoint, so after a crash at any point the
log reopens at the last committed batch with its tree and checkpoint in agreement.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import repeat
from typing import Any

from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, parse_checkpoint, sign_checkpoint
from ledger.c2sp.note import Note, NoteSigner, NoteVerifier, sign_note, verify_note
from ledger.errors import CivicError, InputError, IntegrityError, NotFoundError
from ledger.records import GENESIS_PREV, build_record, format_time, parse_record
from ledger.storage import Batch, LogStorage, Opening, StateChange
from ledger.tiles import MAX_ENTRY_SIZE, TILE_HEIGHT, TILE_WIDTH, encode_bundle, tile_width

__all__ = ["AppendResult", "Log"]

NODE_CACHE_MAX = 1 << 17
_logger = logging.getLogger(__name__)
# How far the leaf-hash index may fall behind the log before an append starts the
# integrator, which brings it up to date in its own thread and transactions. Indexing
# thousands at once touches each index page about once, where indexing every batch as it
# commits rewrote most of them per batch; in a thread it runs on another core while the
# writer goes on (the database driver releases the GIL).
INDEX_LAG = 4096
# If the integrator falls this many times INDEX_LAG behind anyway, the append itself
# catches up: the bound on the entries a lookup by leaf hash scans (SqlStore.index_of_leaf).
INDEX_LAG_FACTOR = 4


@dataclass(frozen=True)
class AppendResult:
    """Where a batch landed: indexes [first, size) and the checkpoint that commits them."""

    first: int
    size: int
    leaf_hashes: tuple[bytes, ...]
    checkpoint: bytes
    # The old frontier and every node the batch completed: enough to prove each new
    # entry in this checkpoint without reading the database.
    nodes: Mapping[tuple[int, int], bytes] = field(default_factory=dict, repr=False)

    def inclusion_proof(self, index: int) -> list[bytes]:
        """RFC 9162 inclusion proof of new entry ``index`` in this batch's checkpoint."""
        if not self.first <= index < self.size:
            raise InputError(f"index {index} is not in the batch [{self.first}, {self.size})")
        ranges = merkle.inclusion_proof_ranges(index, self.size)
        return [merkle.hash_of_range(lo, hi, self.nodes) for lo, hi in ranges]


class Log:
    """A tamper-evident log over a :class:`~ledger.storage.LogStorage`, signing checkpoints
    with ``signer``.

    One process writes a log; appends are serialised by an in-process lock, reads may
    run concurrently from other threads.
    """

    def __init__(
        self,
        store: LogStorage,
        origin: str,
        signer: NoteSigner,
        index_lag: int = INDEX_LAG,
        background_index: bool = True,
        verifiers: Sequence[NoteVerifier] = (),
    ) -> None:
        if signer.name != origin:
            raise InputError(f"log key name {signer.name!r} must equal the origin {origin!r}")
        self.store = store
        self.origin = origin
        self.signer = signer
        self.verifier = signer.verifier()
        # A rotated log (docs/adr/0012): its stored checkpoints may carry any of its keys,
        # and which keys sign a new checkpoint follows the state (signers_for(first, size)).
        self.verifiers: list[NoteVerifier] = [self.verifier, *verifiers]
        self.signers_for: Callable[[int, int], Sequence[NoteSigner]] | None = None
        self.lock = threading.RLock()
        # Held around each write transaction, the append's and the integrator's: SQLite
        # has one writer at a time, and a thread waiting on this lock wakes the moment it
        # is free, where one waiting on SQLite's busy handler sleeps in steps of up to
        # 100 ms. The integrator still overlaps the append's hashing and signing.
        self._write_lock = threading.Lock()
        self._node_cache: dict[tuple[int, int], bytes] = {}
        self._index_lag = index_lag
        self._background_index = background_index
        self._integrator: threading.Thread | None = None
        self._open()

    def _open(self) -> None:
        """Load the frontier and check it against the newest checkpoint (O(log n) reads)."""
        # While this object is the log's one writer, nothing appends between these reads.
        size = self.store.size()
        ids = merkle.root_ranges(size)
        found = self.store.read_nodes(ids)
        latest = self.store.latest_checkpoint()
        last = self.store.read_node_range(0, size - 1, size) if size else []
        missing = [i for i in ids if i not in found]
        if missing:
            raise IntegrityError(f"log of size {size} is missing tree nodes {missing[:3]}")
        self._frontier = merkle.CompactRange(size, [found[i] for i in ids])
        self._last_leaf = last[0] if last else None
        self._indexed = self.store.indexed_size()
        if latest is None:
            if size:
                raise IntegrityError(f"log has {size} entries but no checkpoint")
            return
        _, note = latest
        cp, _ = self.open_own(note)
        if cp.origin != self.origin or cp.size != size or cp.root_hash != self._frontier.root():
            raise IntegrityError(
                f"newest checkpoint (size {cp.size}) does not match the stored tree "
                f"(size {size}): the database was altered outside the log"
            )
        # A crash (or an older version's database) may have left the index far behind.
        self._after_append(size)

    def refresh(self) -> None:
        """Move to the newest committed checkpoint: for a reader beside another process's
        writer (node/standby.py). The checkpoint is read first and the tree at its size
        after, so a batch committed in between cannot make the two disagree."""
        latest = self.store.latest_checkpoint()
        if latest is None:
            return
        cp, _ = self.open_own(latest[1])
        size = cp.size
        if cp.origin != self.origin or size < self.size:
            raise IntegrityError(f"the newest stored checkpoint (size {size}) went backwards")
        ids = merkle.root_ranges(size)
        found = self.store.read_nodes(ids)
        last = self.store.read_node_range(0, size - 1, size) if size else []
        if any(i not in found for i in ids):
            raise IntegrityError(f"the stored tree of size {size} is missing nodes")
        frontier = merkle.CompactRange(size, [found[i] for i in ids])
        if frontier.root() != cp.root_hash:
            raise IntegrityError(f"the stored tree does not match its checkpoint of size {size}")
        with self.lock:
            self._frontier, self._last_leaf = frontier, (last[0] if last else None)

    def open_own(self, note: bytes) -> tuple[Checkpoint, Note]:
        """Like :func:`~ledger.c2sp.checkpoint.open_checkpoint` for this log's own stored
        checkpoints: signed by any of its keys (a rotated log's older checkpoints carry
        an older key; which key a size needs is the verifiers' check, docs/adr/0012)."""
        opened, _ = verify_note(note, self.verifiers)
        cp = parse_checkpoint(opened.text)
        if cp.origin != self.origin:
            raise IntegrityError(f"checkpoint origin {cp.origin!r} is not {self.origin!r}")
        return cp, opened

    # --- state -------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._frontier.size

    def root(self) -> bytes:
        """The root of the current tree."""
        return self._frontier.root()

    @property
    def last_leaf_hash(self) -> bytes | None:
        return self._last_leaf

    # --- appends -----------------------------------------------------------------------

    def append(
        self,
        new: Sequence[bytes],
        state: StateChange | None = None,
        openings: Sequence[Opening] = (),
        leaf_hashes: Sequence[bytes] | None = None,
    ) -> AppendResult:
        """Append entries as one batch: one transaction, one new signed checkpoint.

        ``state`` (the state views) and ``openings`` (the private store) commit in the
        same transaction. ``leaf_hashes``, if given, are the callers' own
        ``merkle.leaf_hash(entry)`` of each entry (the sequencer has them already); they
        are not recomputed, so a wrong one is stored as given and found by the integrity
        checks as a mismatch.
        """
        with self.lock:
            return self._append(new, state, openings, leaf_hashes)

    def append_records(
        self, envelopes: Sequence[dict[str, Any]], now: datetime | None = None
    ) -> AppendResult:
        """Append JSON records (docs/design.md) around ``envelopes``, chained by ``prev``."""
        with self.lock:
            when = format_time(now or datetime.now(UTC))
            prev = self.head
            out = []
            for i, env in enumerate(envelopes):
                data = build_record(self.size + i, prev, when, env)
                out.append(data)
                prev = merkle.leaf_hash(data).hex()
            return self._append(out)

    @property
    def head(self) -> str:
        """Hex leaf hash of the newest entry (the next record's ``prev``)."""
        return GENESIS_PREV if self._last_leaf is None else self._last_leaf.hex()

    def _append(
        self,
        new: Sequence[bytes],
        state: StateChange | None = None,
        openings: Sequence[Opening] = (),
        leaf_hashes: Sequence[bytes] | None = None,
    ) -> AppendResult:
        if not new:
            raise InputError("an append needs at least one entry")
        longest = max(map(len, new))
        if longest > MAX_ENTRY_SIZE:
            raise InputError(f"entry of {longest} bytes exceeds {MAX_ENTRY_SIZE} bytes")
        if leaf_hashes is None:
            leaves = merkle.leaf_hashes(new)
        elif len(leaf_hashes) != len(new):
            raise InputError(f"{len(leaf_hashes)} leaf hashes given for {len(new)} entries")
        else:
            leaves = list(leaf_hashes)
        old = self._frontier
        first = old.size
        frontier = merkle.CompactRange(first, old.hashes)
        # The whole batch is hashed level by level (CompactRange.extend): the append's
        # CPU cost is then mostly SHA-256 and the driver, not per-node Python.
        runs = frontier.extend(leaves)
        end = frontier.size
        rows_e = list(zip(range(first, end), new, leaves, strict=True))
        rows_n = [(lvl, lo + k, h) for lvl, lo, hashes in runs for k, h in enumerate(hashes)]
        cp = Checkpoint(self.origin, end, frontier.root())
        if self.signers_for is None:
            note = sign_checkpoint(cp, self.signer)
        else:
            # A rotated log: the keys the committed records name for these sizes.
            note = sign_note(cp.body(), list(self.signers_for(first, end)))
        with self._write_lock:
            self.store.append_batch(Batch(rows_e, rows_n, (end, note), state, openings))
        self._frontier = frontier
        self._last_leaf = leaves[-1]
        known = dict(zip(merkle.root_ranges(first), old.hashes, strict=True))
        known.update(zip(zip(repeat(0), range(first, end)), leaves, strict=False))
        for lvl, lo, hashes in runs:
            known.update(zip(zip(repeat(lvl), range(lo, lo + len(hashes))), hashes, strict=False))
        self._after_append(end)
        return AppendResult(first, end, tuple(leaves), note, known)

    def _after_append(self, size: int) -> None:
        lag = size - self._indexed
        if lag < self._index_lag:
            return
        if self._background_index and lag < INDEX_LAG_FACTOR * self._index_lag:
            if self._integrator is None or not self._integrator.is_alive():
                self._integrator = threading.Thread(
                    target=self._integrate, name="leaf-index", daemon=True
                )
                self._integrator.start()
            return
        self.index_leaves()

    def _integrate(self) -> None:
        # Round after round until it is less than index_lag behind the writer: appends
        # made while a round ran start no thread of their own.
        while self.size - self._indexed >= self._index_lag:
            upto = self.size
            try:
                with self._write_lock:
                    got = self.store.index_leaves(upto)
            except CivicError:
                # Nothing is lost: the next append starts the integrator again, and
                # lookups scan what it has not reached.
                _logger.warning("indexing leaf hashes below %d failed", upto, exc_info=True)
                return
            self._indexed = max(self._indexed, got)

    def index_leaves(self) -> int:
        """Bring the leaf-hash index up to the current size, in its own transactions; return
        how many entries it covers.

        Appends start this in a thread (the integrator) once the index is ``index_lag``
        behind; lookups by leaf hash are correct whether or not it has caught up.
        """
        with self.lock, self._write_lock:
            got = self.store.index_leaves(self.size)
            self._indexed = max(self._indexed, got)
            return got

    def wait_for_index(self) -> None:
        """Wait until a running integrator thread is done (tests and benchmarks)."""
        t = self._integrator
        if t is not None:
            t.join()

    # --- reads -------------------------------------------------------------------------

    def _check_size(self, size: int, what: str = "tree size") -> None:
        if size < 0 or size > self.size:
            raise InputError(f"{what} {size} is beyond the current tree size {self.size}")

    def _fetch(self, ids: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        return self.store.read_nodes(ids)

    def _fetch_cached(self, ids: set[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """Like :meth:`_fetch`, through a cache of the nodes above the bottom levels.

        Completed nodes never change, and every proof in a large tree shares its upper
        levels; only levels ≥ 4 (hashes of 16+ leaves) are kept, so the cache stays small
        (n/16 nodes at most). Integrity checks read the database directly.
        """
        cache = self._node_cache
        found: dict[tuple[int, int], bytes] = {}
        for i in ids:
            h = cache.get(i)  # get(), not `in` then []: another thread may clear the cache
            if h is not None:
                found[i] = h
        if len(found) < len(ids):
            fresh = self._fetch([i for i in ids if i not in found])
            found.update(fresh)
            if len(cache) > NODE_CACHE_MAX:
                cache.clear()
            cache.update((i, h) for i, h in fresh.items() if i[0] >= 4)
        return found

    def _entries_and_leaves(self, lo: int, hi: int) -> list[tuple[bytes, bytes]]:
        data = self.store.read_entries(lo, hi)
        leaves = self.store.read_node_range(0, lo, hi)
        if len(data) != len(leaves):
            raise IntegrityError(f"entries and leaf hashes between {lo} and {hi} disagree")
        return list(zip(data, leaves, strict=True))

    def _hash_ranges(self, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
        # Each range is decomposed once; its perfect nodes are read in one statement and
        # folded right to left (RFC 9162 §2.1.1) — the proof path's hot loop.
        pieces = {r: merkle.perfect_subtrees(*r) for r in ranges}
        ids = {nid for nodes in pieces.values() for nid in nodes}
        found = self._fetch_cached(ids)
        if len(found) != len(ids):
            raise IntegrityError("tree nodes needed for a proof are missing from storage")
        memo: dict[tuple[int, int], bytes] = {}
        for r, nodes in pieces.items():
            if not nodes:
                memo[r] = merkle.EMPTY_ROOT
                continue
            h = found[nodes[-1]]
            for nid in reversed(nodes[:-1]):
                h = merkle.node_hash(found[nid], h)
            memo[r] = h
        return [memo[r] for r in ranges]

    def tree_nodes(self, ids: Sequence[merkle.NodeId]) -> list[bytes]:
        """The hashes of the completed subtrees ``ids`` (level, index), in that order;
        IntegrityError if the store lacks one."""
        found = self._fetch(ids)
        if any(i not in found for i in ids):
            raise IntegrityError("the stored tree is missing nodes")
        return [found[i] for i in ids]

    def compact_range(self, size: int) -> merkle.CompactRange:
        """The compact range of the tree of the first ``size`` entries (its frontier: the
        perfect subtrees of RFC 9162 §2.1.1, left to right), from the stored nodes."""
        self._check_size(size)
        ids = merkle.root_ranges(size)
        found = self._fetch(ids)
        if any(i not in found for i in ids):
            raise IntegrityError(f"the stored tree of size {size} is missing nodes")
        return merkle.CompactRange(size, [found[i] for i in ids])

    def root_at(self, size: int) -> bytes:
        """The root of the tree of the first ``size`` entries."""
        self._check_size(size)
        if size == self.size:
            return self.root()
        return self._hash_ranges([(0, size)])[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 inclusion proof of entry ``index`` in the tree of ``size``."""
        self._check_size(size)
        if not 0 <= index < size:
            raise InputError(f"index {index} is not below tree size {size}")
        return self._hash_ranges(merkle.inclusion_proof_ranges(index, size))

    def inclusion_proofs(self, indexes: Sequence[int], size: int) -> list[list[bytes]]:
        """Inclusion proofs of several entries in one tree, with one round of reads."""
        self._check_size(size)
        per = []
        for index in indexes:
            if not 0 <= index < size:
                raise InputError(f"index {index} is not below tree size {size}")
            per.append(merkle.inclusion_proof_ranges(index, size))
        flat = self._hash_ranges([r for ranges in per for r in ranges])
        out, pos = [], 0
        for ranges in per:
            out.append(flat[pos : pos + len(ranges)])
            pos += len(ranges)
        return out

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 consistency proof from size ``first`` to ``second``."""
        self._check_size(second, "second size")
        if not 0 <= first <= second:
            raise InputError(f"first size {first} must be between 0 and second size {second}")
        return self._hash_ranges(merkle.consistency_proof_ranges(first, second))

    def entry(self, index: int) -> bytes:
        """The bytes of entry ``index``."""
        if not 0 <= index < self.size:
            raise NotFoundError(f"no entry {index}: the log has {self.size} entries")
        got = self.store.read_entries(index, index + 1)
        if not got:
            raise IntegrityError(f"entry {index} is missing from storage")
        return got[0]

    def entries(self, lo: int, hi: int) -> list[bytes]:
        """Entries [lo, hi), clipped to the current size."""
        hi = min(hi, self.size)
        if lo >= hi:
            return []
        return self.store.read_entries(lo, hi)

    def leaf_hashes(self, lo: int, hi: int) -> list[bytes]:
        """Leaf hashes of entries [lo, hi), clipped to the current size."""
        hi = min(hi, self.size)
        return self.store.read_node_range(0, lo, hi)

    def index_of_leaf(self, leaf_hash: bytes, size: int | None = None) -> int:
        """The index of the entry with ``leaf_hash`` below ``size``; NotFoundError if none."""
        size = self.size if size is None else size
        idx = self.store.index_of_leaf(leaf_hash)
        if idx is None or idx >= size:
            raise NotFoundError(f"no entry with leaf hash {leaf_hash.hex()} in tree size {size}")
        return idx

    def checkpoint(self) -> bytes:
        """The newest signed checkpoint note."""
        got = self.store.latest_checkpoint()
        if got is None:
            return sign_checkpoint(Checkpoint(self.origin, 0, merkle.EMPTY_ROOT), self.signer)
        return got[1]

    def checkpoint_at(self, size: int) -> bytes:
        """The signed checkpoint of exactly ``size``; NotFoundError if none was issued."""
        if not 0 <= size <= self.size:
            raise NotFoundError(f"no checkpoint at size {size}: the log has {self.size} entries")
        note = self.store.checkpoint_at(size)
        if note is None:
            raise NotFoundError(f"no checkpoint was issued at size {size}")
        return note

    def tile(self, level: int, index: int, width: int) -> bytes:
        """C2SP tlog-tiles hash tile: ``width`` hashes of tree level 8·``level``."""
        available = tile_width(level, index, self.size)
        if width > available:
            raise NotFoundError(
                f"tile {level}/{index} has only {available} hashes at size {self.size}"
            )
        lo = index * TILE_WIDTH
        hashes = self.store.read_node_range(level * TILE_HEIGHT, lo, lo + width)
        if len(hashes) != width:
            raise IntegrityError(f"tile {level}/{index} is incomplete in storage")
        return b"".join(hashes)

    def entry_bundle(self, index: int, width: int) -> bytes:
        """C2SP tlog-tiles entry bundle ``index`` with its first ``width`` entries."""
        available = tile_width(None, index, self.size)
        if width > available:
            raise NotFoundError(
                f"entry bundle {index} has only {available} entries at size {self.size}"
            )
        lo = index * TILE_WIDTH
        return encode_bundle(self.entries(lo, lo + width))

    # --- full verification ------------------------------------------------------------

    def verify_integrity(self, chained_records: bool = True, batch: int = 4096) -> int:
        """Recompute every leaf, node, root and (for JSON records) the ``prev`` chain.

        Returns the number of entries checked; raises IntegrityError at the first
        disagreement, naming the index. O(n) reads: an operator's or auditor's check.
        """
        size = self.size
        frontier = merkle.CompactRange()
        prev = GENESIS_PREV
        lo = 0
        while lo < size:
            hi = min(size, lo + batch)
            rows = self._entries_and_leaves(lo, hi)
            if len(rows) != hi - lo:
                raise IntegrityError(f"entries between {lo} and {hi} are missing")
            new_nodes: dict[tuple[int, int], bytes] = {}
            for off, (data, stored_leaf) in enumerate(rows):
                i = lo + off
                lh = merkle.leaf_hash(data)
                if lh != stored_leaf:
                    raise IntegrityError(f"entry {i}: stored leaf hash does not match its bytes")
                if chained_records:
                    rec = parse_record(data)
                    if rec.index != i or rec.prev != prev:
                        raise IntegrityError(f"record {i}: index or prev link is broken")
                    prev = lh.hex()
                new_nodes.update(dict(frontier.append(lh)))
            inner = [k for k in new_nodes if k[0] > 0]
            stored = self._fetch(inner)
            for k in inner:
                if stored.get(k) != new_nodes[k]:
                    raise IntegrityError(f"tree node {k} does not match the entries below it")
            lo = hi
        note = self.checkpoint()
        cp, _ = self.open_own(note)
        if cp.size != size or cp.root_hash != frontier.root():
            raise IntegrityError("the newest checkpoint does not match the recomputed tree")
        return size
