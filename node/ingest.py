"""The parallel front end of ``POST /v1/statements``: parse, check and verify off the writer.

Issue 13's design, "parallel front end, single writer": a request body is parsed, its
envelopes shape-checked, canonicalised and their Ed25519 signatures verified in worker
processes (all cores; the GIL would serialise threads), and only the verified envelopes
come back to the node process, where the one writer thread (node/sequencer.py) applies
the rules and commits. Nothing is acknowledged here: a worker only answers "this is a
well-formed, correctly signed envelope" (or why not), so the death of a worker loses
nothing acknowledged. Its in-flight requests fail with :class:`FrontEndUnavailable` (the
route answers 503) and the next request gets a fresh pool.

``CIVIC_INGEST_WORKERS`` sets the number of worker processes (default: one per core but
the one the node process needs for HTTP and the writer, at least 1); 0 checks in a
thread of the node process, as before issue 13.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from ledger.canonical import parse_json
from ledger.errors import CivicError, InputError, StorageError
from ledger.statements import Envelope, parse_envelope

__all__ = [
    "INLINE_BODY",
    "WORKERS_ENV",
    "Body",
    "Checked",
    "FrontEnd",
    "FrontEndUnavailable",
    "acquire_shared",
    "check_body",
    "check_item",
    "default_workers",
    "release_shared",
    "workers_from_env",
]

WORKERS_ENV = "CIVIC_INGEST_WORKERS"
# Bodies smaller than this (one envelope is ~1 KB; an array of 100 is ~70 KB) are checked
# in the node process: the hand-over to a worker would cost more than the check.
INLINE_BODY = 16 * 1024
# Seconds between a waiting request's checks that its pool's workers are alive.
WATCH_INTERVAL = 0.25


class FrontEndUnavailable(StorageError):
    """A verification worker died with this request in flight; nothing of it was accepted."""

    status = 503
    title = "Verification unavailable"


@dataclass(frozen=True)
class Checked:
    """One submitted item after the front end: a verified envelope, or why it is refused."""

    envelope: Envelope | None
    error: CivicError | None = None
    private: dict[str, Any] | None = None


@dataclass(frozen=True)
class Body:
    """A checked request body: one envelope (``single``) or an array of ``count`` items.

    ``items`` is empty when ``count`` is outside 1..max_batch: the route refuses the
    array as a whole and nothing in it was verified."""

    single: bool
    count: int
    items: tuple[Checked, ...]


def check_item(raw: Any) -> Checked:
    """Split off the private part and verify one submitted envelope (no I/O, no state)."""
    try:
        private = None
        if isinstance(raw, dict) and "private" in raw:
            raw = dict(raw)
            private = raw.pop("private")
            if not isinstance(private, dict):
                raise InputError("'private' must be a JSON object")
        return Checked(parse_envelope(raw), private=private)
    except CivicError as exc:
        return Checked(None, exc)


def check_body(data: bytes, max_batch: int) -> Body:
    """Parse a request body strictly and check every envelope in it.

    Raises InputError when the body is not JSON within the limits; an item's own faults
    are in its :class:`Checked`. Runs in a worker process: arguments and result pickle.
    """
    value = parse_json(data)
    if not isinstance(value, list):
        return Body(True, 1, (check_item(value),))
    if not 1 <= len(value) <= max_batch:
        return Body(False, len(value), ())
    return Body(False, len(value), tuple(check_item(v) for v in value))


def default_workers() -> int:
    """One worker per core but one: the node process (HTTP and the writer) keeps a core."""
    return max(1, (os.cpu_count() or 1) - 1)


def workers_from_env() -> int:
    """The worker count ``CIVIC_INGEST_WORKERS`` asks for; :func:`default_workers` if unset."""
    text = os.environ.get(WORKERS_ENV, "").strip()
    if not text:
        return default_workers()
    try:
        n = int(text)
    except ValueError:
        raise InputError(
            f"{WORKERS_ENV} must be a whole number of processes, got {text!r}"
        ) from None
    if not 0 <= n <= 256:
        raise InputError(f"{WORKERS_ENV} must be between 0 and 256, got {n}")
    return n


def _orphaned(parent: int) -> None:
    # A worker must not outlive its node (kill -9 gives the node no chance to stop it).
    # It could acknowledge nothing, but it would hold a core and memory for nobody.
    while os.getppid() == parent:
        time.sleep(0.2)
    os._exit(0)


def _start_worker(parent: int) -> None:
    threading.Thread(target=_orphaned, args=(parent,), name="orphan-watch", daemon=True).start()
    # Import the verification path once per worker, not on its first request.
    import ledger.statements  # noqa: F401


def _workers_alive(pool: ProcessPoolExecutor) -> bool:
    procs = getattr(pool, "_processes", None) or {}
    return all(p.is_alive() for p in procs.values())


class FrontEnd:
    """Runs :func:`check_body` in a pool of worker processes (or a thread when 0)."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers_from_env() if workers is None else workers
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def _get_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._closed:
                raise FrontEndUnavailable("the node is shutting down; send the request again")
            if self._pool is None:
                # spawn: the node process runs threads (writer, collectors), which fork
                # would copy mid-operation; workers start when the first request comes.
                self._pool = ProcessPoolExecutor(
                    self.workers,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                    initargs=(os.getpid(),),
                )
            return self._pool

    def _drop(self, pool: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is pool:
                self._pool = None
        pool.shutdown(wait=False, cancel_futures=True)

    async def check(self, data: bytes, max_batch: int) -> Body:
        """:func:`check_body` off the event loop; FrontEndUnavailable if a worker died."""
        if self._closed:
            raise FrontEndUnavailable("the node is shutting down; send the request again")
        if self.workers == 0 or len(data) < INLINE_BODY:
            # A single envelope is cheaper to check here than to pickle to a worker and
            # back (measured: 636 singles/s inline against 481 through one worker).
            import anyio

            return await anyio.to_thread.run_sync(check_body, data, max_batch)
        pool = self._get_pool()
        lost = FrontEndUnavailable(
            "a verification worker stopped while checking this request; nothing of it "
            "was accepted; send it again"
        )
        try:
            waiting = asyncio.wrap_future(pool.submit(check_body, data, max_batch))
            while True:
                done, _ = await asyncio.wait({waiting}, timeout=WATCH_INTERVAL)
                if done:
                    return waiting.result()
                # CPython 3.11's pool can hang instead of breaking when a worker dies while
                # a large body is being fed to it (seen: requests waiting out their
                # clients' 120 s). So a waiting request watches the workers itself.
                if not _workers_alive(pool):
                    waiting.cancel()
                    self._drop(pool)
                    raise lost
        except (BrokenProcessPool, RuntimeError):
            # RuntimeError: another request found the pool broken and shut it down first.
            self._drop(pool)
            raise lost from None

    def pids(self) -> list[int]:
        """Process ids of the running workers (for tests and diagnostics)."""
        pool = self._pool
        procs = getattr(pool, "_processes", None) or {}
        return sorted(procs)

    def close(self) -> None:
        """Stop the workers; requests still in flight fail with FrontEndUnavailable."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_shared: FrontEnd | None = None
_shared_users = 0
_shared_lock = threading.Lock()


def acquire_shared() -> FrontEnd:
    """The process's one front end, shared by every community a node serves.

    A district node has one writer per community but verification is stateless, so one
    pool of ``CIVIC_INGEST_WORKERS`` processes serves them all (200 communities must not
    mean 200 pools). Pair every call with :func:`release_shared`.
    """
    global _shared, _shared_users
    with _shared_lock:
        if _shared is None or _shared._closed:
            _shared = FrontEnd()
        _shared_users += 1
        return _shared


def release_shared(front: FrontEnd) -> None:
    """Give back :func:`acquire_shared`'s front end; the last user stops its workers."""
    global _shared, _shared_users
    with _shared_lock:
        if front is not _shared:
            front.close()
            return
        _shared_users -= 1
        if _shared_users > 0:
            return
        _shared = None
    front.close()
