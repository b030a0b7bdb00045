"""``civic audit``: verify a community's whole log from any nodes, trusting none of them.

:func:`run_audit` runs the steps of issue 7, numbered as in the code below:

1. fetch the checkpoint of every node (and those carried by a bundle); establish the trust
   root (the pinned log key, the pinned genesis hash, the state file, or — reported as a
   warning — record 0 of the first node); verify every checkpoint's log signature; two
   signed checkpoints of one size with different roots are a fork;
2. download every entry bundle and hash tile of the largest checkpoint, from whichever node
   answers (resumable, in parallel);
3. in a process pool, recompute every leaf hash and verify every record's format and
   signatures; sequentially, check the ``prev`` chain and replay every record through the
   rule handlers; then recompute the tree, compare its root with the checkpoint, every
   served hash tile with the tree, and every other checkpoint with the tree at its size;
   verify witness cosignatures against the policy in force at each checkpoint;
4. compare every view each node publishes with the same view computed from the replay;
5. with a state file, start from the remembered checkpoint (after an RFC 9162 consistency
   proof) and remember the new one.

Everything found becomes a :class:`~audits.findings.Finding` in the returned
:class:`~audits.report.AuditReport`; only a usage error raises (InputError).
"""

from __future__ import annotations

import gc
import hashlib
import json
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from audits import _pool
from audits.bundle import BundleFetcher, write_bundle
from audits.download import Downloader, Source, object_path
from audits.fetch import DirStore, Fetcher, HttpFetcher, LocalStore, MemoryStore
from audits.findings import Finding, Severity, finding
from audits.report import AuditReport, NodeStatus, PhaseStat
from audits.state_file import AuditState, load_state_file, save_state_file
from audits.verify import (
    BundleResult,
    authenticate_tiles,
    check_cosignatures,
    check_log_signature,
    replay_checked,
    tile_refs,
    verify_bundle_data,
    witness_policy,
)
from audits.views import ViewCheck, invariant_findings, json_diff, view_checks
from audits.warnings import WarningCollector
from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, parse_checkpoint
from ledger.c2sp.note import NoteVerifier, parse_note, parse_vkey
from ledger.canonical import parse_json
from ledger.errors import (
    CivicError,
    InputError,
    NetworkError,
    NotFoundError,
    ProofError,
    VerificationError,
)
from ledger.evidence import SHAREABLE_KINDS, evidence_from_json, verify_evidence
from ledger.records import format_time, parse_record
from ledger.state import State
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef, decode_bundle, tile_path, tile_width

__all__ = ["AuditOptions", "BundleMade", "NullProgress", "Progress", "make_bundle", "run_audit"]

_HASH = merkle.HASH_SIZE
_WITNESS_TYPES = frozenset({"community.genesis", "witnesses.set"})


class Progress(Protocol):
    """Where the audit reports progress (a terminal bar, or nothing)."""

    def start(self, phase: str, total: int | None, unit: str) -> None: ...

    def advance(self, phase: str, n: int = 1) -> None: ...

    def finish(self, phase: str) -> None: ...


class NullProgress:
    """Progress that shows nothing."""

    def start(self, phase: str, total: int | None, unit: str) -> None:
        return None

    def advance(self, phase: str, n: int = 1) -> None:
        return None

    def finish(self, phase: str) -> None:
        return None


@dataclass
class AuditOptions:
    """What to audit and how (the options of ``civic audit``)."""

    nodes: Sequence[str] = ()
    vkey: str | None = None
    genesis: str | None = None
    bundle: Path | None = None
    state_file: Path | None = None
    cache: Path | None = None
    workers: int | None = None
    parallel: int = 4
    timeout: float = 30.0
    fetchers: Sequence[Fetcher] = ()


@dataclass
class _Seen:
    """One checkpoint as observed at one source."""

    name: str
    note: bytes
    fetcher: Fetcher | None
    cp: Checkpoint | None = None
    # "latest" (GET /log/checkpoint), "witnessed" (the newest with the witness quorum,
    # GET /v1/checkpoints/witnessed) or "carried" (inside a bundle)
    kind: str = "latest"


@dataclass
class _Run:
    opts: AuditOptions
    fetchers: list[Fetcher]
    progress: Progress
    stack: ExitStack
    report: AuditReport = field(default_factory=AuditReport)
    findings: list[Finding] = field(default_factory=list)
    warnings: list[Finding] = field(default_factory=list)
    status: dict[str, NodeStatus] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    seen: list[_Seen] = field(default_factory=list)
    verifier: NoteVerifier | None = None
    genesis_hash: str | None = None
    old: AuditState | None = None
    target: _Seen | None = None
    nodes: dict[merkle.NodeId, bytes] = field(default_factory=dict)
    state: State = field(default_factory=State)
    history: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    complete: bool = False
    _executor: Executor | None = None
    _dl_started: float = 0.0
    _dl_last: float = 0.0

    # --- helpers -------------------------------------------------------------------------

    def add(self, f: Finding) -> None:
        if f.severity == Severity.WARNING:
            self.warnings.append(f)
        else:
            self.findings.append(f)

    def unreachable(self, name: str, exc: CivicError) -> None:
        if name in self.down:
            return
        self.down.add(name)
        st = self.status.setdefault(name, NodeStatus(name))
        st.reachable = False
        self.add(finding("node.unreachable", exc.message, node=name))

    def phase(self, name: str, items: int, unit: str, seconds: float) -> None:
        self.report.phases.append(PhaseStat(name, items, unit, seconds))

    # --- 1. checkpoints and the trust root ------------------------------------------------

    def fetch_checkpoints(self) -> None:
        t0 = time.perf_counter()
        self.progress.start("checkpoints", len(self.fetchers), "nodes")
        for f in self.fetchers:
            self.status[f.name] = NodeStatus(f.name)
            try:
                note = f.fetch("log/checkpoint")
            except NetworkError as exc:
                self.unreachable(f.name, exc)
            except NotFoundError as exc:
                self.add(
                    finding("node.incomplete", f"{f.name} serves no checkpoint: {exc}", node=f.name)
                )
            else:
                self.seen.append(_Seen(f.name, note, f))
                for where, extra in f.extra_checkpoints():
                    self.seen.append(_Seen(where, extra, None, kind="carried"))
                if not f.offline:
                    self._witnessed(f)
            self.progress.advance("checkpoints")
        self.progress.finish("checkpoints")
        self.phase("checkpoints", len(self.fetchers), "nodes", time.perf_counter() - t0)

    def _witnessed(self, f: Fetcher) -> None:
        # The newest checkpoint already cosigned by the witness quorum, when the node keeps
        # one: the latest is often still waiting for its cosignatures.
        try:
            note = f.fetch("v1/checkpoints/witnessed")
        except NotFoundError:
            return
        except NetworkError as exc:
            self.unreachable(f.name, exc)
            return
        self.seen.append(_Seen(f"{f.name} (witnessed)", note, f, kind="witnessed"))

    def _record_zero(self, f: Fetcher) -> bytes | None:
        # A node serves entry bundle 0 at any width up to its size; a bundle or a static
        # log only at the width of its checkpoint (read here unverified, just for the path).
        widths = [1]
        for s in self.seen:
            try:
                widths.append(min(TILE_WIDTH, parse_checkpoint(parse_note(s.note).text).size))
            except InputError:
                continue
        for width in dict.fromkeys(w for w in widths if w > 0):
            try:
                entries = decode_bundle(f.fetch("log/" + tile_path(None, 0, width)))
            except NetworkError as exc:
                self.unreachable(f.name, exc)
                return None
            except (NotFoundError, InputError):
                continue
            if entries:
                return entries[0]
        return None

    def trust_root(self) -> bool:
        """Step 1: the log key to verify checkpoints with, from the pins or record 0."""
        o = self.opts
        if self.old is not None:
            if o.vkey and o.vkey != self.old.log_vkey:
                raise InputError("--vkey differs from the log key remembered in the state file")
            if o.genesis and o.genesis != self.old.genesis_hash:
                raise InputError("--genesis differs from the genesis remembered in the state file")
            self.verifier = parse_vkey(self.old.log_vkey)
            self.genesis_hash = self.old.genesis_hash
            self.report.pinned_by = "state"
            return True
        if o.vkey:
            self.verifier = parse_vkey(o.vkey)
            self.report.pinned_by = "vkey"
        pinned = o.genesis.lower() if o.genesis else None
        if self.verifier is not None and pinned is None:
            return True
        for f in self.fetchers:
            if f.name in self.down:
                continue
            data = self._record_zero(f)
            if data is None:
                continue
            leaf = merkle.leaf_hash(data).hex()
            if pinned is not None and leaf != pinned:
                self.add(
                    finding(
                        "trust.genesis_mismatch",
                        f"{f.name}: record 0 has leaf hash {leaf}, not the pinned genesis {pinned}",
                        index=0,
                        node=f.name,
                    )
                )
                continue
            try:
                env = parse_record(data).envelope
                vkey = env["statement"]["body"]["log_vkey"]
                found = parse_vkey(vkey)
            except (CivicError, KeyError, TypeError) as exc:
                msg = f"{f.name}: record 0 is not a genesis naming a log key ({exc})"
                self.add(finding("trust.genesis_mismatch", msg, index=0, node=f.name))
                continue
            if self.verifier is not None and found != self.verifier:
                self.add(
                    finding(
                        "trust.vkey_mismatch",
                        f"{f.name}: genesis names log key "
                        f"{vkey}, not the pinned {self.verifier.vkey()}",
                        index=0,
                        node=f.name,
                    )
                )
                continue
            self.genesis_hash = leaf
            if self.verifier is None:
                self.verifier = found
                if pinned is None:
                    self.add(
                        finding(
                            "warn.trust_unpinned",
                            f"nothing pinned the trust root: "
                            f"record 0 of {f.name} was taken as genesis {leaf}, log "
                            f"key {vkey}; compare both with the notice board, or pass "
                            "--genesis or --vkey",
                        )
                    )
                else:
                    self.report.pinned_by = "genesis"
            return True
        self.add(
            finding(
                "audit.stopped",
                "no node serves a genesis record matching the trust "
                "root, so no checkpoint can be verified",
            )
        )
        return False

    def verify_checkpoints(self) -> bool:
        """Step 1: log signatures, forks, the checkpoint to audit."""
        assert self.verifier is not None
        for s in self.seen:
            got = check_log_signature(s.note, self.verifier, s.name)
            st = self.status.get(s.name)
            if isinstance(got, Finding):
                self.add(got)
                if st is not None:
                    st.checkpoint = "bad"
                continue
            s.cp = got
            if st is not None:
                st.size, st.root, st.checkpoint = got.size, got.root_hash.hex(), "ok"
        valid = [s for s in self.seen if s.cp is not None]
        if not valid:
            self.add(
                finding("audit.stopped", "no source serves a checkpoint signed by the log key")
            )
            return False
        by_size: dict[int, dict[bytes, list[str]]] = {}
        for s in valid:
            assert s.cp is not None
            by_size.setdefault(s.cp.size, {}).setdefault(s.cp.root_hash, []).append(s.name)
        for size, roots in sorted(by_size.items()):
            if len(roots) > 1:
                names = [n for group in roots.values() for n in group]
                detail = {r.hex(): group for r, group in roots.items()}
                msg = (
                    f"the log key signed {len(roots)} different trees of size {size}: "
                    + "; ".join(
                        f"{', '.join(g)} say root {r.hex()[:16]}…" for r, g in roots.items()
                    )
                )
                self.add(finding("checkpoint.fork", msg, node=", ".join(names), roots=detail))
        top = max(s.cp.size for s in valid if s.cp is not None)
        live = [s for s in valid if s.cp is not None and s.cp.size == top]
        self.target = next((s for s in live if s.fetcher is not None), live[0])
        for s in live:
            if s.cp != self.target.cp and s.name in self.status:
                self.status[s.name].checkpoint = "fork"
        for s in valid:
            assert s.cp is not None
            if s.cp.size < top and s.kind == "latest" and s.name in self.status:
                self.status[s.name].checkpoint = "behind"
                self.add(
                    finding(
                        "node.behind",
                        f"{s.name} is at {s.cp.size} records, the newest checkpoint has {top}",
                        node=s.name,
                    )
                )
        cp = self.target.cp
        assert cp is not None
        r = self.report
        r.origin, r.log_vkey = cp.origin, self.verifier.vkey()
        r.checkpoint_size, r.checkpoint_root = cp.size, cp.root_hash.hex()
        r.checkpoint_note = self.target.note.decode("utf-8", "replace")
        return True

    def _data_sources(self) -> list[Source]:
        assert self.target is not None and self.target.cp is not None
        t = self.target.cp
        out: list[Source] = []
        for s in sorted(self.seen, key=lambda s: -(s.cp.size if s.cp else -1)):
            if s.fetcher is None or s.cp is None or s.name in self.down:
                continue
            if s.cp.size > t.size or (s.cp.size == t.size and s.cp.root_hash != t.root_hash):
                continue
            if any(x.fetcher is s.fetcher for x in out):
                continue
            out.append(Source(s.fetcher, s.cp.size))
        # Local sources first: a bundle costs no network.
        return sorted(out, key=lambda src: not src.fetcher.offline)

    # --- 5. the remembered audit ------------------------------------------------------------

    def check_remembered(self, sources: list[Source]) -> bool:
        """An RFC 9162 consistency proof from the remembered checkpoint to the target."""
        old, t = self.old, self.target
        assert old is not None and t is not None and t.cp is not None
        if t.cp.size < old.size:
            self.add(
                finding(
                    "node.behind",
                    f"every node is behind the remembered checkpoint "
                    f"({old.size} records); nothing new to verify",
                )
            )
            return True
        if t.cp.size == old.size:
            if t.cp.root_hash != old.root:
                self.add(
                    finding(
                        "checkpoint.rollback",
                        f"{t.name}: a checkpoint of "
                        f"{old.size} records with another root than the one verified "
                        "before",
                        node=t.name,
                    )
                )
                return False
            return True
        for src in sources:
            if src.size != t.cp.size:
                continue
            try:
                proof = _consistency_proof(src.fetcher, old.size, t.cp.size)
            except NetworkError as exc:
                self.unreachable(src.fetcher.name, exc)
                continue
            except (NotFoundError, InputError):
                continue
            try:
                merkle.verify_consistency(old.size, t.cp.size, proof, old.root, t.cp.root_hash)
            except (ProofError, InputError) as exc:
                self.add(
                    finding(
                        "checkpoint.rollback",
                        f"{src.fetcher.name}: the checkpoint of "
                        f"{t.cp.size} records does not extend the one verified before "
                        f"({old.size} records): {exc.message}",
                        node=src.fetcher.name,
                    )
                )
                return False
            return True
        # No proof on offer: extending the remembered frontier to the new root proves it too.
        return True

    # --- 2. download ------------------------------------------------------------------------

    def downloader(self, store: LocalStore, sources: list[Source], total: int) -> Downloader:
        """Step 2: a downloader that reports progress and unreachable nodes."""
        self.progress.start("download", total, "objects")
        self._dl_started = time.perf_counter()
        self._dl_last = self._dl_started

        def on_down(src: Source, exc: NetworkError) -> None:
            self.unreachable(src.fetcher.name, exc)

        def on_done(n: int) -> None:
            self._dl_last = time.perf_counter()
            self.progress.advance("download", n)

        return Downloader(
            sources, store, parallel=max(1, self.opts.parallel), on_down=on_down, on_done=on_done
        )

    def download_done(self, dl: Downloader, count: int) -> None:
        for path, why in sorted(dl.missing.items()):
            msg = f"{path} could not be obtained: {why}"
            self.add(finding("node.incomplete", msg, path=path))
        self.progress.finish("download")
        self.phase("download", count, "objects", self._dl_last - self._dl_started)

    def download(self, store: LocalStore, refs: list[TileRef], sources: list[Source]) -> None:
        """Step 2, on its own (for bundles)."""
        dl = self.downloader(store, sources, len(refs))
        dl.download(refs)
        self.download_done(dl, len(refs))

    # --- 3. verify, replay, tree --------------------------------------------------------------

    def verify(
        self,
        store: LocalStore,
        refs: list[TileRef],
        start: int,
        ready: dict[str, Future[None]],
    ) -> None:
        t = self.target
        assert t is not None and t.cp is not None
        size = t.cp.size
        bundles = [r for r in refs if r.is_entries]
        keep = {s.cp.size // TILE_WIDTH for s in self.seen if s.cp is not None}
        keep.add(start // TILE_WIDTH)
        total = size - start
        workers = self.opts.workers
        if workers is None:
            workers = _pool.default_workers(total)
        pool = self._pool(workers)
        level8 = self._seed_tree(start)
        leaves: dict[int, bytes] = {}
        tile_mismatch: dict[int, tuple[int, ...]] = {}
        collector = WarningCollector()
        stopped = False
        replay_seconds = 0.0
        verified = 0
        t0 = time.perf_counter()
        self.progress.start("verify", total, "records")
        window: deque[Future[BundleResult] | BundleResult] = deque()
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
                window.append(BundleResult(ref.index, ref.width, b"", None, None, [], msg))
                return
            args = (data, ref.index, ref.width, store.read(tpath), start, ref.index in keep)
            store.forget(bpath)
            window.append(
                pool.submit(verify_bundle_data, *args) if pool else verify_bundle_data(*args)
            )

        # The replayed state grows to every document of the community and holds no cycles;
        # left on, the cyclic collector rescans it again and again as records arrive.
        collecting = gc.isenabled()
        gc.disable()
        try:
            for _ in range(max(2, 4 * workers)):
                submit()
            while window:
                item = window.popleft()
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
                    self.add(finding(code, f"{src}: {res.error}", index=first, node=src))
                    self.add(
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
                    self.add(finding("tile.malformed", f"{tsrc}: {res.tile_error}", node=tsrc))
                if res.tile_mismatch:
                    tile_mismatch[res.bundle] = res.tile_mismatch
                leaves[res.bundle] = res.leaves
                if res.nodes:
                    self.nodes.update(res.nodes)
                if res.top is not None:
                    for (lvl, idx), h in level8.append(res.top):
                        self.nodes[(lvl + TILE_HEIGHT, idx)] = h
                r0 = time.perf_counter()
                state = self.state
                for rec in res.records:
                    off = (rec.position - first) * _HASH
                    found = replay_checked(state, rec, res.leaves[off : off + _HASH].hex(), src)
                    if found:
                        for f in found:
                            self.add(f)
                    elif rec.type in _WITNESS_TYPES:
                        self.history.append((rec.position, state.peek("witnesses", "current")))
                    collector.observe(rec, state)
                replay_seconds += time.perf_counter() - r0
                verified += len(res.records)
                self.progress.advance("verify", len(res.records))
        finally:
            if collecting:
                gc.enable()
        self.progress.finish("verify")
        elapsed = time.perf_counter() - t0
        self.phase("verify", verified, "records", elapsed)
        self.phase("replay", verified, "records", replay_seconds)
        self.report.verified_from = start
        self.report.verified_to = start + verified
        if stopped:
            return
        t1 = time.perf_counter()
        self.check_tree(store, refs, start, leaves, tile_mismatch)
        self.phase("tree", len(refs), "objects", time.perf_counter() - t1)
        for f in collector.finish(self.state):
            self.add(f)

    def _pool(self, workers: int) -> Executor | None:
        """The verification pool, started once (early, so it starts while downloads run)."""
        if not workers:
            return None
        if self._executor is None:
            self._executor = self.stack.enter_context(_pool.make_pool(workers))
            self._executor.submit(int)  # start the workers now
        return self._executor

    def _seed_tree(self, start: int) -> merkle.CompactRange:
        """The tree of level-8 nodes (one per full entry bundle) before ``start``."""
        if self.old is None or start == 0:
            return merkle.CompactRange()
        ids = merkle.root_ranges(self.old.size)
        big = []
        for nid, h in zip(ids, self.old.frontier, strict=True):
            if nid[0] >= TILE_HEIGHT:
                self.nodes[nid] = h
                big.append(h)
        return merkle.CompactRange(self.old.size >> TILE_HEIGHT, big)

    def check_tree(
        self,
        store: LocalStore,
        refs: list[TileRef],
        start: int,
        leaves: dict[int, bytes],
        tile_mismatch: dict[int, tuple[int, ...]],
    ) -> None:
        """Step 3: the root, the tiles, the other checkpoints, the genesis, the witnesses."""
        t = self.target
        assert t is not None and t.cp is not None and self.verifier is not None
        size, root = t.cp.size, t.cp.root_hash
        try:
            computed = merkle.hash_of_range(0, size, self.nodes)
        except InputError:
            computed = b""
        if self.old is not None and start:
            for nid, h in zip(merkle.root_ranges(self.old.size), self.old.frontier, strict=True):
                if self.nodes.get(nid) != h:
                    msg = (
                        f"the records before {self.old.size} served now differ from those "
                        "verified before"
                    )
                    self.add(finding("checkpoint.rollback", msg))
                    break
        if computed != root:
            self._localise(store, size, root, leaves, tile_mismatch)
            return
        self.complete = True
        # Tiles against the verified tree.
        for bundle, positions in sorted(tile_mismatch.items()):
            tsrc = store.source("log/" + tile_path(0, bundle, tile_refs_width(size, 0, bundle)))
            self._tile_finding(tsrc, 0, bundle, positions)
        for ref in refs:
            if ref.level is None or ref.level == 0:
                continue
            path = "log/" + ref.path()
            data = store.read(path)
            if data is None:
                continue
            if len(data) != _HASH * ref.width:
                msg = f"{store.source(path)}: {ref.path()} is {len(data)} bytes"
                self.add(finding("tile.malformed", msg, node=store.source(path)))
                continue
            lvl = TILE_HEIGHT * ref.level
            bad = tuple(
                j
                for j in range(ref.width)
                if (want := self.nodes.get((lvl, ref.index * TILE_WIDTH + j))) is not None
                and data[j * _HASH : (j + 1) * _HASH] != want
            )
            if bad:
                self._tile_finding(store.source(path), ref.level, ref.index, bad)
        # Every other signed checkpoint must be the same tree at its size.
        for s in self.seen:
            if s.cp is None or s.cp.size == size:
                continue
            self._check_consistent(s, size, root)
        # Genesis is what was pinned.
        leaf0 = leaves.get(0)
        if leaf0 is not None and start == 0:
            g = leaf0[:_HASH].hex()
            if self.genesis_hash is not None and g != self.genesis_hash:
                self.add(
                    finding(
                        "trust.genesis_mismatch",
                        f"the audited log's record 0 has leaf hash {g}, not {self.genesis_hash}",
                        index=0,
                    )
                )
            self.genesis_hash = g
        gdoc = self.state.peek("community", "genesis")
        if gdoc is not None and gdoc.get("log_vkey") != self.verifier.vkey():
            self.add(
                finding(
                    "trust.vkey_mismatch",
                    f"genesis names log key "
                    f"{gdoc.get('log_vkey')}, but the checkpoints are signed by "
                    f"{self.verifier.vkey()}",
                    index=0,
                )
            )
        self.check_witnesses()
        for f in invariant_findings(self.state):
            self.add(f)

    def _tile_finding(self, node: str, level: int, index: int, positions: Sequence[int]) -> None:
        where = tile_path(level, index)
        if level == 0:
            msg = (
                f"{node} serves level-0 tile {where} with wrong leaf hashes for record(s) "
                f"{_span(positions)}"
            )
            self.add(
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
            self.add(
                finding("tile.mismatch", msg, node=node, tile=where, positions=list(positions)[:32])
            )

    def _localise(
        self,
        store: LocalStore,
        size: int,
        root: bytes,
        leaves: dict[int, bytes],
        tile_mismatch: dict[int, tuple[int, ...]],
    ) -> None:
        """The entries do not hash to the root: find which objects are wrong, if the tiles can
        be authenticated top-down against the root."""

        def get_tile(level: int, index: int) -> bytes | None:
            return store.read("log/" + tile_path(level, index, tile_refs_width(size, level, index)))

        auth = authenticate_tiles(size, root, get_tile)
        before = len(self.findings)
        if auth is not None:
            good, bad = auth
            for lvl, idx in sorted(bad):
                path = "log/" + tile_path(lvl, idx, tile_refs_width(size, lvl, idx))
                self._tile_finding(store.source(path), lvl, idx, [])
            for bundle, positions in sorted(tile_mismatch.items()):
                if (0, bundle) not in good:
                    continue
                src = store.source(
                    "log/" + tile_path(None, bundle, tile_refs_width(size, None, bundle))
                )
                for pos in positions[:16]:
                    self.add(
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
                    self.add(
                        finding(
                            "entries.mismatch",
                            f"{src}: {len(positions) - 16} more "
                            f"records of entry bundle {bundle} differ",
                            node=src,
                            index=positions[16],
                        )
                    )
        if len(self.findings) == before:
            srcs = sorted({store.source("log/" + r.path()) for r in tile_refs(size)} - {""})
            self.add(
                finding(
                    "checkpoint.root",
                    f"the entries and tiles served by "
                    f"{', '.join(srcs)} do not hash to the root of the checkpoint "
                    f"signed by the log key ({size} records)",
                    node=", ".join(srcs),
                )
            )

    def _check_consistent(self, s: _Seen, size: int, root: bytes) -> None:
        assert s.cp is not None
        try:
            at = merkle.hash_of_range(0, s.cp.size, self.nodes)
        except InputError:
            at = None
        if at is None:
            # Older than this run's start: ask for a consistency proof instead.
            for src in self._data_sources():
                if src.size != size:
                    continue
                try:
                    proof = _consistency_proof(src.fetcher, s.cp.size, size)
                    merkle.verify_consistency(s.cp.size, size, proof, s.cp.root_hash, root)
                except ProofError:
                    break
                except CivicError:
                    continue
                return
            else:
                return
        elif at == s.cp.root_hash:
            return
        msg = (
            f"{s.name}: its signed checkpoint of {s.cp.size} records has root "
            f"{s.cp.root_hash.hex()[:16]}…, which is not the audited tree at that size"
        )
        self.add(finding("checkpoint.inconsistent", msg, node=s.name))
        if s.name in self.status:
            self.status[s.name].checkpoint = "fork"

    def check_witnesses(self) -> None:
        """Cosignatures against the witness policy in force at each checkpoint's size.

        A bad cosignature is evidence. A checkpoint short of the quorum is only a note when
        another checkpoint of the same tree has it (cosigning lags behind the log);
        when none has, the log is not trusted by its own policy: incomplete.
        """
        assert self.verifier is not None
        history = sorted(self.history, key=lambda h: h[0])
        short: list[Finding] = []
        trusted = False
        for s in self.seen:
            if (
                s.cp is None
                or not history
                or self.status.get(s.name, NodeStatus("")).checkpoint == "fork"
            ):
                continue
            doc = None
            for since, d in history:
                if since < s.cp.size:
                    doc = d
            if doc is None:
                continue
            try:
                policy = witness_policy(doc, self.verifier)
            except CivicError:
                continue
            found = check_cosignatures(s.note, policy, s.name)
            for f in found:
                if f.code == "checkpoint.unwitnessed":
                    short.append(f)
                else:
                    self.add(f)
            if not found and policy.quorum != "none":
                trusted = True
        for f in short:
            if trusted:
                msg = f"{f.message}; a checkpoint of the same tree has it, so it is pending"
                self.add(finding("checkpoint.pending", msg, node=f.node))
            else:
                self.add(f)

    # --- 4. views -----------------------------------------------------------------------------

    def compare_views(self) -> None:
        t = self.target
        assert t is not None and t.cp is not None
        t0 = time.perf_counter()
        checks: list[tuple[ViewCheck, str, Any]] = []
        for c in view_checks():
            try:
                checks += [(c, p, e) for p, e in c.expected(self.state)]
            except Exception as exc:  # a view function failing on this state: say so
                msg = f"the {c.name} view could not be computed from the replay: {exc!r}"
                self.add(finding("view.skipped", msg))
        nodes = [
            s
            for s in self.seen
            if s.fetcher is not None
            and s.kind == "latest"
            and not s.fetcher.offline
            and s.cp is not None
            and s.cp.size == t.cp.size
            and s.cp.root_hash == t.cp.root_hash
            and s.name not in self.down
        ]
        self.progress.start("views", len(checks) * len(nodes), "views")
        compared = 0
        for s in nodes:
            f = s.fetcher
            assert f is not None
            st = self.status[s.name]
            found: list[Finding] = []
            try:
                moved = f.fetch("log/checkpoint") != s.note
                if not moved:
                    for check, path, expected in checks:
                        try:
                            actual = f.fetch_json(path)
                        except NotFoundError:
                            found.append(
                                finding(
                                    "view.skipped", f"{s.name} does not publish {path}", node=s.name
                                )
                            )
                            continue
                        want, got = check.project(expected), check.project(actual)
                        # Equal as Python values is the common case and costs one C-level
                        # comparison; otherwise compare through JSON (tuples become lists).
                        diff = [] if want == got else json_diff(_as_json(want), got)
                        if diff:
                            msg = f"{s.name} publishes {path} unlike the log: {diff[0]}"
                            found.append(
                                finding(
                                    "view.mismatch",
                                    msg,
                                    node=s.name,
                                    path=path,
                                    view=check.name,
                                    differences=diff,
                                )
                            )
                        compared += 1
                        self.progress.advance("views")
                    moved = f.fetch("log/checkpoint") != s.note
            except NetworkError as exc:
                self.unreachable(s.name, exc)
                st.views = "unreachable"
                continue
            if moved:
                st.views = "skipped (node moved on)"
                self.add(
                    finding(
                        "view.skipped",
                        f"{s.name} appended records while the audit "
                        "ran; its views were not compared",
                        node=s.name,
                    )
                )
                continue
            bad = sum(1 for x in found if x.code == "view.mismatch")
            st.views = f"{bad} differ" if bad else "match"
            for x in found:
                self.add(x)
        self.progress.finish("views")
        self.phase("views", compared, "views", time.perf_counter() - t0)

    # --- the whole run -----------------------------------------------------------------------

    def run(self) -> AuditReport:
        o = self.opts
        self.report.started = _now()
        if o.state_file is not None:
            self.old = load_state_file(o.state_file)
        self.fetch_checkpoints()
        if self.trust_root() and self.verify_checkpoints():
            self.nodes_evidence()
            self.audit_log()
        return self.finish()

    def nodes_evidence(self) -> None:
        """Evidence the nodes hold (``GET /v1/evidence``), checked with the log key."""
        assert self.verifier is not None
        for f in self.fetchers:
            if f.offline or f.name in self.down:
                continue
            try:
                doc = f.fetch_json("v1/evidence")
                items = list(doc.get("evidence", []))
            except NotFoundError:
                continue  # a node without an evidence store
            except NetworkError as exc:
                self.unreachable(f.name, exc)
                continue
            except (AttributeError, TypeError):
                continue
            for item in items:
                self._one_evidence(f.name, item)

    def _one_evidence(self, node: str, item: Any) -> None:
        assert self.verifier is not None
        try:
            ev = evidence_from_json(item)
        except CivicError as exc:
            self.add(finding("node.reports", f"{node} serves malformed evidence: {exc.message}",
                             node=node))  # fmt: skip
            return
        if ev.kind not in SHAREABLE_KINDS:
            # A node's own finding about its storage: worth reading, not checkable here.
            msg = f"{node} reports: {ev.reason or ev.kind}"
            self.add(finding("node.reports", msg, index=ev.index, node=node, kind=ev.kind))
            return
        try:
            what = verify_evidence(ev, self.verifier)
        except CivicError as exc:
            msg = f"{node} serves {ev.kind} evidence that does not verify: {exc.message}"
            self.add(finding("node.reports", msg, node=node, kind=ev.kind))
            return
        msg = f"{node} holds verified {ev.kind} evidence against the log: {what}"
        if ev.reason:
            msg += f" ({ev.reason})"
        self.add(finding("node.evidence", msg, index=ev.index, node=node, kind=ev.kind, id=ev.id))

    def audit_log(self) -> None:
        t = self.target
        assert t is not None and t.cp is not None and self.verifier is not None
        sources = self._data_sources()
        start = 0
        if self.old is not None:
            if not self.check_remembered(sources):
                return
            start = self.old.size
            if t.cp.size <= self.old.size:
                self.state, self.history = self.old.state, list(self.old.witness_history)
                self.report.verified_from = self.report.verified_to = self.old.size
                if t.cp.size == self.old.size:
                    self.complete = True
                    self.nodes.update(
                        zip(merkle.root_ranges(self.old.size), self.old.frontier, strict=True)
                    )
                    self.check_witnesses()
                    self.compare_views()
                return
            self.state, self.history = self.old.state, list(self.old.witness_history)
            self.add(
                finding(
                    "audit.incremental",
                    f"records 0 to {start - 1} were verified by "
                    f"the audit of {self.old.audited_at}; this run verified records "
                    f"{start} to {t.cp.size - 1}",
                )
            )
        refs = _interleave(tile_refs(t.cp.size, start))
        workers = self.opts.workers
        self._pool(_pool.default_workers(t.cp.size - start) if workers is None else workers)
        store = self._store(t.cp)
        dl = self.downloader(store, sources, len(refs))
        # Verification follows the download bundle by bundle (the pool works while the
        # network does).
        with ThreadPoolExecutor(max(1, self.opts.parallel), thread_name_prefix="civic-fetch") as tp:
            ready = dl.start(refs, tp)
            try:
                self.verify(store, refs, start, ready)
            finally:
                for fut in ready.values():
                    fut.cancel()
        self.download_done(dl, len(refs))
        if self.complete:
            self.compare_views()

    def _store(self, cp: Checkpoint) -> LocalStore:
        assert self.verifier is not None
        if self.opts.cache is None:
            return MemoryStore()
        key = hashlib.sha256(self.verifier.vkey().encode()).hexdigest()[:16]
        return DirStore(self.opts.cache / key)

    def finish(self) -> AuditReport:
        r = self.report
        order = ["checkpoints", "download", "verify", "replay", "tree", "views"]
        r.phases.sort(key=lambda p: order.index(p.name) if p.name in order else len(order))
        r.genesis_hash = self.genesis_hash
        if r.log_vkey is None and self.verifier is not None:
            r.log_vkey = self.verifier.vkey()
        r.nodes = list(self.status.values())
        r.findings = self.findings
        r.warnings = self.warnings
        r.finished = _now()
        if (
            self.opts.state_file is not None
            and self.complete
            and r.verdict != "evidence"
            and self.target is not None
            and self.target.cp is not None
            and self.verifier is not None
        ):
            cp = self.target.cp
            save_state_file(
                self.opts.state_file,
                AuditState(
                    origin=cp.origin,
                    log_vkey=self.verifier.vkey(),
                    genesis_hash=self.genesis_hash or "",
                    checkpoint=self.target.note,
                    size=cp.size,
                    root=cp.root_hash,
                    frontier=[self.nodes[i] for i in merkle.root_ranges(cp.size)],
                    state=self.state,
                    witness_history=self.history,
                    audited_at=r.finished,
                ),
            )
        return r


@dataclass(frozen=True)
class BundleMade:
    """What :func:`make_bundle` wrote."""

    path: Path
    size: int
    root: str
    bytes: int
    genesis_hash: str | None
    findings: tuple[Finding, ...]


def make_bundle(opts: AuditOptions, out: Path, progress: Progress | None = None) -> BundleMade:
    """Write an offline bundle (:mod:`audits.bundle`) of the newest signed checkpoint.

    The checkpoints are verified with the trust root (pinned, or record 0 of the first
    node), every object is downloaded, and the entries must hash to the checkpoint's root
    before the file is written; the full audit is left to ``civic audit --from-bundle``.
    Raises NetworkError when the log cannot be obtained whole, VerificationError when it
    does not match its signed checkpoint.
    """
    _check_options(opts)
    with ExitStack() as stack:
        fetchers: list[Fetcher] = list(opts.fetchers)
        for url in dict.fromkeys(opts.nodes):
            fetchers.append(stack.enter_context(_closing(HttpFetcher(url, opts.timeout))))
        run = _Run(opts, fetchers, progress or NullProgress(), stack)
        run.fetch_checkpoints()
        if not (run.trust_root() and run.verify_checkpoints()):
            raise NetworkError(_first_problem(run, "no verifiable checkpoint could be obtained"))
        t = run.target
        assert t is not None and t.cp is not None
        store = run._store(t.cp)
        refs = tile_refs(t.cp.size)
        run.download(store, refs, run._data_sources())
        missing = [f for f in run.findings if f.code == "node.incomplete"]
        if missing:
            raise NetworkError(f"the log could not be downloaded whole: {missing[0].message}")
        frontier = merkle.CompactRange()
        genesis = None
        for ref in refs:
            if not ref.is_entries:
                continue
            data = store.read("log/" + ref.path())
            assert data is not None
            for e in decode_bundle(data):
                leaf = merkle.leaf_hash(e)
                genesis = genesis or leaf.hex()
                frontier.append(leaf)
        if frontier.size != t.cp.size or frontier.root() != t.cp.root_hash:
            raise VerificationError(
                f"the entries served do not hash to the signed checkpoint of {t.cp.size} "
                "records: run `civic audit` on these nodes to find out which is wrong"
            )
        if run.genesis_hash is not None and genesis != run.genesis_hash:
            raise VerificationError(f"record 0 of this log is not the genesis {run.genesis_hash}")
        extras = [(s.name, s.note) for s in run.seen if s is not t and s.fetcher is not None]
        manifest = {"log_vkey": run.report.log_vkey, "genesis_hash": genesis, "created": _now()}
        size = write_bundle(
            out,
            t.note,
            lambda path: store.read("log/" + path),
            manifest,
            extras,
        )
        return BundleMade(out, t.cp.size, t.cp.root_hash.hex(), size, genesis, tuple(run.findings))


def _first_problem(run: _Run, default: str) -> str:
    worst = sorted(run.findings, key=Finding.sort_key)
    return worst[0].message if worst else default


def tile_refs_width(size: int, level: int | None, index: int) -> int:
    """The width of tile ``index`` of ``level`` in a tree of ``size``."""
    return tile_width(level, index, size)


def _consistency_proof(f: Fetcher, first: int, second: int) -> list[bytes]:
    if isinstance(f, BundleFetcher):
        return f.bundle.consistency_proof(first, second)
    doc = parse_json(f.fetch(f"v1/proofs/consistency?first={first}&second={second}"))
    try:
        return [bytes.fromhex(h) for h in doc["hashes"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise NetworkError(f"{f.name}: malformed consistency proof") from exc


def _as_json(value: Any) -> Any:
    return json.loads(json.dumps(value))


def _interleave(refs: list[TileRef]) -> list[TileRef]:
    """Each entry bundle next to its level-0 tile, then the upper tiles: the order in which
    verification needs them."""
    tiles0 = {r.index: r for r in refs if r.level == 0}
    out: list[TileRef] = []
    for r in refs:
        if r.is_entries:
            out.append(r)
            if r.index in tiles0:
                out.append(tiles0.pop(r.index))
    out += [r for r in refs if not r.is_entries and (r.level != 0 or r.index in tiles0)]
    return out


def _span(positions: Sequence[int]) -> str:
    if not positions:
        return "all entries"
    if len(positions) <= 4:
        return ", ".join(map(str, positions))
    return f"{positions[0]} to {positions[-1]} ({len(positions)} in all)"


def _now() -> str:
    return format_time(datetime.now(UTC).replace(microsecond=0))


def _check_options(o: AuditOptions) -> None:
    if not o.nodes and o.bundle is None and not o.fetchers:
        raise InputError("nothing to audit: give --node URL (repeatable) or --from-bundle FILE")
    if o.vkey is not None:
        parse_vkey(o.vkey)
    if o.genesis is not None:
        g = o.genesis.lower()
        if len(g) != 64 or any(c not in "0123456789abcdef" for c in g):
            raise InputError("--genesis must be the 64 hex digits of record 0's leaf hash")
    if o.workers is not None and o.workers < 0:
        raise InputError("--workers must be 0 (no pool) or more")


def run_audit(opts: AuditOptions, progress: Progress | None = None) -> AuditReport:
    """Audit the log served by ``opts``' sources; see the module docstring for the steps.

    InputError for usage errors (nothing to audit, malformed pins, a state file that does
    not match the pins); everything else ends up in the report.
    """
    _check_options(opts)
    with ExitStack() as stack:
        fetchers: list[Fetcher] = []
        if opts.bundle is not None:
            fetchers.append(stack.enter_context(_closing(BundleFetcher(opts.bundle))))
        fetchers.extend(opts.fetchers)
        for url in dict.fromkeys(opts.nodes):
            fetchers.append(stack.enter_context(_closing(HttpFetcher(url, opts.timeout))))
        run = _Run(opts, fetchers, progress or NullProgress(), stack)
        return run.run()


class _closing:
    """Close a fetcher on exit (contextlib.closing, typed for Fetcher)."""

    def __init__(self, f: Fetcher) -> None:
        self.f = f

    def __enter__(self) -> Fetcher:
        return self.f

    def __exit__(self, *exc: object) -> None:
        self.f.close()
