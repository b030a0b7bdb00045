"""The sequencer: orders statements, checks each against the state, appends valid ones.

Submissions from all request threads meet in one queue; a single writer thread takes
everything waiting (group commit), applies each statement to the state in order, and
appends the accepted ones as one batch whose transaction also updates the state views
and the private store. A caller is answered only after that commit, with the new
checkpoint and an inclusion proof: an acknowledged statement survives ``kill -9``.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger import merkle
from ledger.canonical import canonical_json
from ledger.errors import CivicError, IntegrityError, StorageError
from ledger.log import Log
from ledger.records import build_record, format_time, parse_record, parse_time
from ledger.ruleset import RuleSet
from ledger.state import Context, State, apply_envelope, replay
from ledger.statements import Envelope
from ledger.storage import LogStorage, Opening, StateChange
from ledger.tiles import MAX_ENTRY_SIZE
from node.ingest import Checked, acquire_shared, check_item, release_shared
from node.private import PrivateStore

__all__ = ["Accepted", "Sequencer", "Submission", "record_bytes"]

log = logging.getLogger("civic.sequencer")
MAX_BATCH = 1000


@dataclass
class Submission:
    """One statement on its way in: the parsed envelope (or why it could not be parsed)."""

    envelope: Envelope | None
    error: CivicError | None = None
    private: dict[str, Any] | None = None
    future: Future[Accepted] = field(default_factory=Future)


@dataclass(frozen=True)
class Accepted:
    """Where an accepted statement landed."""

    index: int
    leaf_hash: str
    size: int
    checkpoint: bytes
    inclusion_proof: tuple[bytes, ...] = ()


def record_bytes(index: int, prev: str, when: str, env: Envelope) -> bytes:
    """``build_record(index, prev, when, env.to_json())``, from the envelope's JCS bytes.

    JCS of the record object is its sorted members, envelope, index, prev, time, each in
    JCS: with the envelope's bytes known (node/ingest.py computed them in a worker) the
    writer only joins bytes. tests/test_ingest.py checks it against build_record."""
    if not env.jcs:
        return build_record(index, prev, when, env.to_json())
    data = b'{"envelope":%b,"index":%d,"prev":%b,"time":%b}' % (
        env.jcs,
        index,
        canonical_json(prev),
        canonical_json(when),
    )
    if len(data) > MAX_ENTRY_SIZE:
        return build_record(index, prev, when, env.to_json())  # raises its TooLargeError
    return data


class Sequencer:
    """Validates and appends statements for one community log."""

    def __init__(
        self,
        log_: Log,
        store: LogStorage,
        private: PrivateStore,
        rules: RuleSet,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_batch: Callable[[Accepted], None] | None = None,
    ) -> None:
        self.log = log_
        self.store = store
        self.private = private
        self.rules = rules
        self.clock = clock
        self.on_batch = on_batch
        # node/metrics.py CommunityMetrics, set by the node: batch sizes, commit latency.
        self.metrics: Any = None
        # Parses and verifies request bodies in worker processes (node/ingest.py), one
        # pool per process however many communities it serves.
        self.front = acquire_shared()
        # What only this node can refuse (e.g. a log.rotate to a key it does not hold;
        # node/log_keys.py); raises a CivicError for the submitter.
        self.admit: Callable[[State, Envelope], None] | None = None
        self.state = self._load_state()
        self._queue: queue.Queue[Submission | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="sequencer", daemon=True)
        self._thread.start()

    def _load_state(self) -> State:
        """The views, then any records they lack (only after a crash between versions)."""
        state = self.store.read_state(self.rules)
        if state.size > self.log.size:
            raise IntegrityError(
                f"state views are at record {state.size} but the log has {self.log.size}"
            )
        if state.size < self.log.size:
            log.info("replaying records %d..%d into the views", state.size, self.log.size)
            lo = state.size
            while lo < self.log.size:
                hi = min(self.log.size, lo + 4096)
                replay([parse_record(e) for e in self.log.entries(lo, hi)], state)
                lo = hi
            self.store.write_state(StateChange(state.take_dirty(), state.size, state.head))
        else:
            state.take_dirty()
        if state.size and state.head != self.log.head:
            raise IntegrityError("state views do not end at the log's newest record")
        return state

    # --- submitting -------------------------------------------------------------------

    def prepare(self, raw: Any) -> Submission:
        """Parse and verify one submitted envelope (runs in the caller's thread)."""
        c = check_item(raw)
        return Submission(c.envelope, c.error, c.private)

    def enqueue(self, raws: Sequence[Any]) -> list[Submission]:
        """Parse and verify ``raws``, and queue the well-formed ones for the writer."""
        subs = [self.prepare(r) for r in raws]
        for s in subs:
            if s.error is None:
                self._queue.put(s)
        return subs

    async def submit_async(
        self, raws: Sequence[Any], timeout: float = 60.0
    ) -> list[Accepted | CivicError]:
        """:meth:`submit` for the event loop: verification runs in a worker thread, and the
        wait for the commit holds no thread (so in-flight submissions are not capped by
        the thread pool and all join the next group commit)."""
        import anyio

        subs = await anyio.to_thread.run_sync(self.enqueue, raws)
        return await self._answers(subs, timeout)

    async def submit_checked_async(
        self, items: Sequence[Checked], timeout: float = 60.0
    ) -> list[Accepted | CivicError]:
        """Queue envelopes the front end (node/ingest.py) already verified; wait as
        :meth:`submit_async` does. The writer still applies every rule to each."""
        subs = [Submission(c.envelope, c.error, c.private) for c in items]
        for s in subs:
            if s.error is None:
                self._queue.put(s)
        return await self._answers(subs, timeout)

    async def _answers(self, subs: list[Submission], timeout: float) -> list[Accepted | CivicError]:
        out: list[Accepted | CivicError] = []
        for s in subs:
            if s.error is not None:
                out.append(s.error)
                continue
            try:
                accepted: Accepted = await asyncio.wait_for(asyncio.wrap_future(s.future), timeout)
                out.append(accepted)
            except CivicError as exc:
                out.append(exc)
            except TimeoutError:
                out.append(StorageError("the append did not commit in time; retry later"))
        return out

    def submit(self, raws: Sequence[Any], timeout: float = 60.0) -> list[Accepted | CivicError]:
        """Submit envelopes; wait until each is durable in a checkpoint or rejected."""
        subs = self.enqueue(raws)
        out: list[Accepted | CivicError] = []
        for s in subs:
            if s.error is not None:
                out.append(s.error)
                continue
            try:
                out.append(s.future.result(timeout=timeout))
            except CivicError as exc:
                out.append(exc)
        return out

    def close(self) -> None:
        release_shared(self.front)
        self._queue.put(None)
        self._thread.join(timeout=30)

    # --- the writer -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)
                    break
                batch.append(nxt)
            try:
                self._process(batch)
            except Exception as exc:  # keep serving; fail this batch's callers
                log.exception("batch failed")
                err = (
                    exc if isinstance(exc, CivicError) else IntegrityError(f"append failed: {exc}")
                )
                for s in batch:
                    if not s.future.done():
                        s.future.set_exception(err)

    def _process(self, batch: list[Submission]) -> None:
        now = self.clock()
        when = format_time(now)
        # Handlers see the time exactly as the record states it (what a replay will see).
        when_dt = parse_time(when)
        state = self.state
        index, prev = self.log.size, self.log.head
        records: list[bytes] = []
        leaves: list[bytes] = []
        accepted: list[tuple[Submission, int, str]] = []
        openings: list[Opening] = []
        with self.log.lock:
            for s in batch:
                env = s.envelope
                assert env is not None
                try:
                    data = record_bytes(index, prev, when, env)
                    leaf_bytes = merkle.leaf_hash(data)
                    leaf = leaf_bytes.hex()
                    ctx = Context(index, when_dt, when, leaf)
                    if s.private is not None:
                        self.private.check(state, env, s.private)
                    if self.admit is not None:
                        self.admit(state, env)
                    apply_envelope(state, env, ctx)
                except CivicError as exc:
                    s.future.set_exception(exc)
                    continue
                records.append(data)
                leaves.append(leaf_bytes)
                accepted.append((s, index, leaf))
                if s.private is not None:
                    openings.append(self.private.opening(env, s.private))
                index, prev = index + 1, leaf
            if not records:
                return
            change = StateChange(state.take_dirty(), state.size, state.head)
            try:
                t0 = time.perf_counter()
                # The leaf hashes computed for the rules' context are the tree's too.
                res = self.log.append(records, change, openings, leaf_hashes=leaves)
            except Exception:
                # The in-memory state ran ahead of a batch that did not commit: reload it.
                self.state = self._load_state()
                raise
        if self.metrics is not None:
            self.metrics.observe_batch(len(records), time.perf_counter() - t0, res.size)
        for s, idx, leaf in accepted:
            proof = tuple(res.inclusion_proof(idx))
            s.future.set_result(Accepted(idx, leaf, res.size, res.checkpoint, proof))
        if self.on_batch is not None:
            self.on_batch(Accepted(res.first, "", res.size, res.checkpoint))
