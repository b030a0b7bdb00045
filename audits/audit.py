"""``civic audit``: verify a community's whole log from any nodes, trusting none of them.

:func:`run_audit` runs the audit's steps in order, each a function of its own module
that takes a small frozen context and returns findings (:class:`audits.found.Found`) and
the value the next step needs:

1. fetch the checkpoint of every node (and those carried by a bundle)
   (:mod:`audits.checkpoints`); establish the trust root (the pinned log key, the pinned
   genesis hash, the state file, or — reported as a warning — record 0 of the first node)
   (:mod:`audits.trust`); verify every checkpoint's log signature; two signed checkpoints
   of one size with different roots are a fork (:mod:`audits.checkpoints`); check the
   evidence the nodes hold (:mod:`audits.witnesses`);
2. download every entry bundle and hash tile of the largest checkpoint, from whichever node
   answers (resumable, in parallel) (:mod:`audits.pipeline`);
3. in a process pool, recompute every leaf hash and verify every record's format and
   signatures; sequentially, check the ``prev`` chain and replay every record through the
   rule handlers (:mod:`audits.pipeline`); then recompute the tree, compare its root with
   the checkpoint and every served hash tile with the tree (:mod:`audits.tree`), every
   other checkpoint with the tree at its size, and verify witness cosignatures against
   the policy in force at each checkpoint (:mod:`audits.witnesses`);
4. compare every view each node publishes with the same view computed from the replay
   (:mod:`audits.views_compare`);
5. with a state file, start from the remembered checkpoint (after an RFC 9162 consistency
   proof) and remember the new one (:mod:`audits.remembered`).

Everything found becomes a :class:`~audits.findings.Finding` in the returned
:class:`~audits.report.AuditReport`; only a usage error raises (InputError).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from audits import _pool
from audits.bundle import BundleFetcher, write_bundle
from audits.checkpoints import (
    CheckpointContext,
    FetchContext,
    NodeCheckpoint,
    Seen,
    data_sources,
    fetch_checkpoints,
    verify_checkpoints,
)
from audits.fetch import Fetcher, HttpFetcher
from audits.findings import Finding, Severity, finding
from audits.found import Found
from audits.freshness import DEFAULT_MAX_LAG, FreshnessContext, check_freshness
from audits.keys import compare_history, follow_log_keys
from audits.pipeline import (
    DownloadContext,
    PipelineContext,
    download,
    open_store,
    pipeline_refs,
    run_pipeline,
)
from audits.progress import NullProgress, Progress
from audits.remembered import RememberContext, RememberedContext, check_remembered, remember
from audits.report import AuditReport, NodeStatus, PhaseStat
from audits.state_file import AuditState, load_state_file
from audits.tree import TreeContext, check_tree
from audits.trust import TrustContext, establish_trust_root
from audits.verify import fresh_state, tile_refs
from audits.views import invariant_findings
from audits.views_compare import ViewsContext, compare_views
from audits.witnesses import (
    ConsistencyContext,
    EvidenceContext,
    WitnessContext,
    check_consistency,
    check_witnesses,
    node_evidence,
)
from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint
from ledger.c2sp.note import NoteVerifier, parse_vkey
from ledger.errors import CivicError, InputError, NetworkError, VerificationError
from ledger.log_keys import KeyHistory
from ledger.records import format_time
from ledger.state import State
from ledger.tiles import decode_bundle
from ledger.witness_policy import genesis_policy, quorum_statement

__all__ = ["AuditOptions", "BundleMade", "NullProgress", "Progress", "make_bundle", "run_audit"]

_PHASES = ["checkpoints", "download", "verify", "replay", "tree", "views"]


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
    # Records a node may be behind the newest witnessed checkpoint seen (--max-lag).
    max_lag: int = DEFAULT_MAX_LAG


class _Outcome:
    """What one run has gathered: the report, a row per node, who stopped answering.

    Only the orchestrator holds it; a step sees the part it needs, copied into its
    context, and hands back a :class:`Found` that is merged here.
    """

    def __init__(self, fetchers: Sequence[Fetcher]) -> None:
        self.report = AuditReport()
        self.findings: list[Finding] = []
        self.warnings: list[Finding] = []
        self.status: dict[str, NodeStatus] = {}
        for f in fetchers:
            self.status[f.name] = NodeStatus(f.name)
        self._down: set[str] = set()

    def take(self, found: Found) -> None:
        for f in found.findings:
            (self.warnings if f.severity == Severity.WARNING else self.findings).append(f)
        for name in sorted(found.down):
            self._down.add(name)
            self.status.setdefault(name, NodeStatus(name)).reachable = False
        self.report.phases.extend(found.phases)

    def down(self) -> frozenset[str]:
        return frozenset(self._down)

    def mark(self, marks: Sequence[NodeCheckpoint]) -> None:
        for m in marks:
            st = self.status.get(m.name)
            if st is None:
                continue
            st.checkpoint = m.checkpoint
            if m.size is not None:
                st.size, st.root = m.size, m.root

    def forked(self) -> frozenset[str]:
        return frozenset(n for n, st in self.status.items() if st.checkpoint == "fork")

    def phase(self, name: str, items: int, unit: str, seconds: float) -> None:
        self.report.phases.append(PhaseStat(name, items, unit, seconds))


@dataclass(frozen=True)
class _Checked:
    """Step 1's outcome when it found a checkpoint to audit."""

    seen: tuple[Seen, ...]
    target: Seen
    cp: Checkpoint
    verifier: NoteVerifier
    # The log's keys after any log.rotate (audits/keys.py); the genesis key alone if none.
    keys: KeyHistory


@dataclass(frozen=True)
class _Audited:
    """What steps 2-5 established (``complete``: the whole log matched its checkpoint)."""

    complete: bool
    nodes: Mapping[merkle.NodeId, bytes]
    state: State
    history: tuple[tuple[int, dict[str, Any]], ...]


def _checkpoints(
    opts: AuditOptions,
    fetchers: tuple[Fetcher, ...],
    progress: Progress,
    old: AuditState | None,
    out: _Outcome,
) -> _Checked | None:
    """Step 1: the checkpoints, the trust root, the checkpoint to audit (None: stop)."""
    fetched = fetch_checkpoints(FetchContext(fetchers, progress))
    out.take(fetched.found)
    notes = tuple(s.note for s in fetched.seen)
    trust = establish_trust_root(
        TrustContext(fetchers, out.down(), notes, opts.vkey, opts.genesis, old)
    )
    out.take(trust.found)
    r = out.report
    r.pinned_by, r.genesis_hash = trust.pinned_by, trust.genesis_hash
    if trust.verifier is not None:
        r.log_vkey = trust.verifier.vkey()
    if not trust.ok or trust.verifier is None:
        return None
    followed = follow_log_keys(fetchers, out.down(), trust.verifier, trust.genesis_hash)
    out.take(followed.found)
    checked = verify_checkpoints(CheckpointContext(fetched.seen, followed.history))
    out.take(checked.found)
    out.mark(checked.marks)
    t = checked.target
    if t is None or t.cp is None:
        return None
    r.origin = t.cp.origin
    r.checkpoint_size, r.checkpoint_root = t.cp.size, t.cp.root_hash.hex()
    r.checkpoint_note = t.note.decode("utf-8", "replace")
    return _Checked(checked.seen, t, t.cp, trust.verifier, followed.history)


def _witnesses(
    out: _Outcome,
    c: _Checked,
    history: tuple[tuple[int, dict[str, Any]], ...],
    old: AuditState | None = None,
    max_lag: int = DEFAULT_MAX_LAG,
) -> None:
    out.take(check_witnesses(WitnessContext(c.seen, history, c.keys, out.forked())))
    # How far the witnessed part reaches; who serves less than was witnessed.
    reach = check_freshness(
        FreshnessContext(c.seen, c.cp, history, c.keys, out.forked(), out.down(), old, max_lag)
    )
    out.take(reach.found)
    out.report.witnessed_size, out.report.witnessed_by = reach.trusted_size, reach.by


def _stale_only(out: _Outcome, c: _Checked, old: AuditState, max_lag: int) -> None:
    """Every node is behind the remembered checkpoint: say who, and by how much."""
    history = tuple(old.witness_history)
    reach = check_freshness(
        FreshnessContext(c.seen, c.cp, history, c.keys, out.forked(), out.down(), old, max_lag)
    )
    out.take(Found(tuple(f for f in reach.found.findings if f.code.startswith("node."))))


def _views(out: _Outcome, c: _Checked, state: State, progress: Progress) -> None:
    compared = compare_views(ViewsContext(state, c.cp, c.seen, progress, out.down()))
    out.take(compared.found)
    for name, views in compared.views.items():
        out.status[name].views = views


def _audit_log(
    opts: AuditOptions,
    c: _Checked,
    old: AuditState | None,
    progress: Progress,
    stack: ExitStack,
    out: _Outcome,
) -> _Audited | None:
    """Steps 2-5 on the checkpoint to audit."""
    cp = c.cp
    sources = tuple(data_sources(c.seen, cp, out.down()))
    start = 0
    state = fresh_state()
    history: tuple[tuple[int, dict[str, Any]], ...] = ()
    frontier: tuple[bytes, ...] = ()
    if old is not None:
        rem = check_remembered(RememberedContext(old, c.target, sources, out.down()))
        out.take(rem.found)
        if not rem.ok:
            return None
        start, frontier = old.size, tuple(old.frontier)
        state, history = old.state, tuple(old.witness_history)
        if cp.size <= old.size:
            out.report.verified_from = out.report.verified_to = old.size
            if cp.size < old.size:
                _stale_only(out, c, old, opts.max_lag)
                return None
            nodes = dict(zip(merkle.root_ranges(old.size), old.frontier, strict=True))
            _witnesses(out, c, history, old, opts.max_lag)
            _views(out, c, state, progress)
            return _Audited(True, nodes, state, history)
        msg = (
            f"records 0 to {start - 1} were verified by the audit of {old.audited_at}; "
            f"this run verified records {start} to {cp.size - 1}"
        )
        out.take(Found((finding("audit.incremental", msg),)))
    refs = tuple(pipeline_refs(cp.size, start))
    workers = _pool.default_workers(cp.size - start) if opts.workers is None else opts.workers
    pool = None
    if workers:
        # Started now, so the workers start while the downloads run.
        pool = stack.enter_context(_pool.make_pool(workers))
        pool.submit(int)
    store = open_store(opts.cache, c.verifier.vkey())
    sizes = frozenset(s.cp.size for s in c.seen if s.cp is not None)
    done = run_pipeline(
        PipelineContext(store, sources, refs, cp.size, start, frontier, sizes, state, history,
                        pool, workers, opts.parallel, progress, out.down())
    )  # fmt: skip
    out.take(done.found)
    out.report.verified_from, out.report.verified_to = start, start + done.verified
    if done.stopped:
        out.take(done.download)
        return _Audited(False, done.nodes, done.state, done.history)
    t0 = time.perf_counter()
    genesis_doc = done.state.peek("community", "genesis")
    tree = check_tree(
        TreeContext(store, refs, cp.size, cp.root_hash, start, frontier, done.nodes, done.leaves,
                    done.tile_mismatch, out.report.genesis_hash, c.verifier.vkey(), genesis_doc)
    )  # fmt: skip
    out.take(tree.found)
    out.report.genesis_hash = tree.genesis_hash
    if tree.complete:
        now = tuple(data_sources(c.seen, cp, out.down()))
        consistent = check_consistency(
            ConsistencyContext(c.seen, cp.size, cp.root_hash, done.nodes, now)
        )
        out.take(consistent.found)
        out.mark([NodeCheckpoint(name, "fork") for name in sorted(consistent.forked)])
        _witnesses(out, c, done.history, old, opts.max_lag)
        out.take(Found(tuple(invariant_findings(done.state))))
        out.take(compare_history(c.keys, done.state))
    out.phase("tree", len(refs), "objects", time.perf_counter() - t0)
    out.take(done.download)
    if tree.complete:
        _views(out, c, done.state, progress)
    return _Audited(tree.complete, done.nodes, done.state, done.history)


def _audit(
    opts: AuditOptions, fetchers: tuple[Fetcher, ...], progress: Progress, stack: ExitStack
) -> AuditReport:
    """The orchestrator: every step in order, their findings gathered into the report."""
    out = _Outcome(fetchers)
    r = out.report
    r.started = _now()
    old = load_state_file(opts.state_file) if opts.state_file is not None else None
    c = _checkpoints(opts, fetchers, progress, old, out)
    audited = None
    if c is not None:
        out.take(node_evidence(EvidenceContext(fetchers, out.down(), c.keys)))
        audited = _audit_log(opts, c, old, progress, stack, out)
    r.phases.sort(key=lambda p: _PHASES.index(p.name) if p.name in _PHASES else len(_PHASES))
    r.nodes = list(out.status.values())
    r.findings = out.findings
    r.warnings = out.warnings
    r.finished = _now()
    if (
        opts.state_file is not None
        and c is not None
        and audited is not None
        and audited.complete
        and r.verdict != "evidence"
    ):
        remember(
            RememberContext(
                path=opts.state_file,
                checkpoint=c.cp,
                note=c.target.note,
                log_vkey=c.verifier.vkey(),
                genesis_hash=r.genesis_hash or "",
                nodes=audited.nodes,
                state=audited.state,
                history=audited.history,
                audited_at=r.finished,
            )
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
    # whether the bundle's checkpoint carries genesis's witness quorum (quorum_statement)
    witness_quorum: Mapping[str, Any] | None = None


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
        shown = progress or NullProgress()
        run = _Outcome(fetchers)
        c = _checkpoints(opts, tuple(fetchers), shown, None, run)
        if c is None:
            raise NetworkError(
                _first_problem(run.findings, "no verifiable checkpoint could be obtained")
            )
        cp = c.cp
        store = open_store(opts.cache, c.verifier.vkey())
        refs = tuple(tile_refs(cp.size))
        sources = tuple(data_sources(c.seen, cp, run.down()))
        run.take(download(DownloadContext(store, refs, sources, opts.parallel, shown, run.down())))
        missing = [f for f in run.findings if f.code == "node.incomplete"]
        if missing:
            raise NetworkError(f"the log could not be downloaded whole: {missing[0].message}")
        frontier = merkle.CompactRange()
        genesis = None
        record0: bytes | None = None
        for ref in refs:
            if not ref.is_entries:
                continue
            data = store.read("log/" + ref.path())
            assert data is not None
            for e in decode_bundle(data):
                leaf = merkle.leaf_hash(e)
                genesis = genesis or leaf.hex()
                record0 = e if record0 is None else record0
                frontier.append(leaf)
        if frontier.size != cp.size or frontier.root() != cp.root_hash:
            raise VerificationError(
                f"the entries served do not hash to the signed checkpoint of {cp.size} "
                "records: run `civic audit` on these nodes to find out which is wrong"
            )
        pinned = run.report.genesis_hash
        if pinned is not None and genesis != pinned:
            raise VerificationError(f"record 0 of this log is not the genesis {pinned}")
        t = c.target
        extras = [(s.name, s.note) for s in c.seen if s is not t and s.fetcher is not None]
        # C2SP tlog-policy: say plainly whether the bundle's checkpoint has the quorum.
        quorum = _bundle_quorum(t.note, record0, c.verifier)
        manifest = {
            "log_vkey": run.report.log_vkey,
            "genesis_hash": genesis,
            "created": _now(),
            "witness_quorum": quorum,
        }
        size = write_bundle(
            out,
            t.note,
            lambda path: store.read("log/" + path),
            manifest,
            extras,
        )
        return BundleMade(
            out, cp.size, cp.root_hash.hex(), size, genesis, tuple(run.findings), quorum
        )


def _bundle_quorum(note: bytes, record0: bytes | None, log_key: NoteVerifier) -> dict[str, Any]:
    """:func:`~ledger.witness_policy.quorum_statement` under the policy genesis states."""
    try:
        policy = None if record0 is None else genesis_policy(record0, log_key)
    except CivicError as exc:
        return {"met": False, "detail": f"genesis states no usable witness policy: {exc.message}"}
    return quorum_statement(note, policy)


def _first_problem(findings: Sequence[Finding], default: str) -> str:
    worst = sorted(findings, key=Finding.sort_key)
    return worst[0].message if worst else default


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
        return _audit(opts, tuple(fetchers), progress or NullProgress(), stack)


class _closing:
    """Close a fetcher on exit (contextlib.closing, typed for Fetcher)."""

    def __init__(self, f: Fetcher) -> None:
        self.f = f

    def __enter__(self) -> Fetcher:
        return self.f

    def __exit__(self, *exc: object) -> None:
        self.f.close()
