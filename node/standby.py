"""A standby sequencer: two sequencer processes on one PostgreSQL, and exactly one writes.

Both data folders hold the same ``log.key`` and the same database URL, and say
``"standby": {"name": ..., "url": ...}`` in node.json's ``extra``. Who writes is decided
by PostgreSQL, not by a protocol of our own:

- **The advisory lock** (session level, key derived from the origin) is held on a
  dedicated connection for the writer's life. When the writer dies its session ends,
  PostgreSQL releases the lock, and the standby's next poll takes it.
- **The fencing token.** Whoever takes the lock bumps ``civic_writer.token`` (and records
  its name, URL and since when) in one statement. Every batch transaction first runs
  ``UPDATE civic_writer ... WHERE token = <mine>``: the row lock orders each batch against
  the take-over. A batch that updated the row first commits before the take-over can
  read the log; a batch that comes after finds another token and rolls back. So a writer
  that was only paused (its session lost, the lock taken over) cannot commit again — it
  is *fenced*, answers writes with 503 naming the new writer, and needs a restart to
  become a standby.

While it waits, the standby serves reads from the committed database (the log's frontier
and the state views, re-read when the log grows) and answers writes with 503 naming the
writer. SQLite has neither advisory locks nor a second process: refused.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from fastapi.responses import JSONResponse

from ledger.errors import InputError, StorageError
from ledger.sql import SqlStore
from ledger.sql_writer import (
    BatchConnection,
    Election,
    LockSessionError,
    WriterInfo,
    fence_batch,
    lock_key,
)
from ledger.state import State
from node.config import NodeConfig

if TYPE_CHECKING:
    from node.context import NodeContext

__all__ = [
    "Election",
    "NotWriterError",
    "Standby",
    "WriterInfo",
    "lock_key",
    "standby_settings",
]

log = logging.getLogger("civic.standby")
POLL_INTERVAL = 0.25
# Re-read the state views at most this often while standing by (they are the whole state).
STATE_REFRESH = 1.0


class NotWriterError(StorageError):
    """This sequencer does not hold its community's write lock: another process writes."""

    status = 503
    title = "Not the writer"


def standby_settings(cfg: NodeConfig) -> dict[str, Any] | None:
    """The ``standby`` block of node.json's ``extra`` (name, url), or None when absent.

    InputError when it is malformed, or the database is SQLite (no advisory locks, and a
    SQLite file is one machine's anyway).
    """
    raw = cfg.extra.get("standby")
    if raw is None or raw is False:
        return None
    if raw is True:
        raw = {}
    if not isinstance(raw, dict) or not all(
        isinstance(raw.get(k), (str, type(None))) for k in ("name", "url")
    ):
        raise InputError('node.json: "standby" must be an object {"name": ..., "url": ...}')
    if cfg.role != "sequencer":
        raise InputError(f"node.json: only a sequencer can stand by, not a {cfg.role}")
    if not (cfg.database or "").startswith("postgresql"):
        raise InputError(
            "a standby sequencer needs PostgreSQL (advisory locks, one database for both "
            'processes): set "database" in node.json to a postgresql+psycopg:// URL'
        )
    return dict(raw)


class Standby:
    """One community's writer election: ``role`` is writer, standby or fenced."""

    def __init__(self, ctx: NodeContext, settings: dict[str, Any]) -> None:
        self.ctx = ctx
        self.name = str(settings.get("name") or ctx.data_dir.resolve().name)
        self.url: str | None = settings.get("url")
        self.interval = float(settings.get("poll_interval", POLL_INTERVAL))
        self.election = Election(ctx.cfg.database_url(ctx.data_dir), ctx.cfg.origin)
        self.role = "standby"
        self.token: int | None = None
        self.writer: WriterInfo | None = None
        self.took_over_at: float | None = None
        self.state: State | None = None
        self._state_size = -1
        self._state_read = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._turn = threading.Lock()

    # --- becoming the writer ------------------------------------------------------------

    def open(self) -> None:
        """Take the lock now if it is free (then write at once), else stand by."""
        if self.election.try_lock():
            self._become_writer()
            return
        self.writer = self.election.writer()
        self._refresh_reads(force=True)
        log.info("standing by for %s: the writer is %s", self.ctx.cfg.origin, self._writer_text())

    def _become_writer(self) -> None:
        from node.sequencer import Sequencer

        store = self.ctx.store
        info = self.election.claim(self.name, self.url)
        self.token, self.writer = info.token, info
        if not isinstance(store, SqlStore):
            raise InputError("a standby sequencer needs the SQL store (ledger.sql.SqlStore)")
        store.fence = self._fence
        # The token bump ordered every earlier writer's batch before this read (see above).
        self.ctx.log.refresh()
        private = self.ctx.services["private"]
        seq = Sequencer(self.ctx.log, store, private, self.ctx.rules)
        seq.metrics = self.ctx.services.get("metrics")
        self.ctx.services["sequencer"] = seq
        from node.log_keys import install_sequencer_keys

        # The key the committed records name (a rotation may have happened meanwhile).
        install_sequencer_keys(self.ctx)
        self.state = None
        self.role = "writer"
        log.warning(
            "writer for %s (token %d) at size %d",
            self.ctx.cfg.origin,
            info.token,
            self.ctx.log.size,
        )

    def _fence(self, conn: BatchConnection) -> None:
        """Inside each batch transaction: go on only while the token is still ours."""
        ours, taker = fence_batch(conn, self.ctx.cfg.origin, self.token)
        if ours:
            return
        self.role = "fenced"
        if taker is not None:
            self.writer = taker
        log.error("FENCED: another process took the write lock for %s", self.ctx.cfg.origin)
        # The sequencer reloads its state after a failed batch: let it find the log where
        # the new writer has it, so the callers learn why (not a views/log mismatch).
        with contextlib.suppress(Exception):
            self.ctx.log.refresh()
        raise NotWriterError(
            "this sequencer lost its write lock to another process and wrote nothing; "
            "send statements to the current writer"
        )

    # --- standing by --------------------------------------------------------------------

    def start(self) -> None:
        """Poll for the lock in a thread (a writer needs none: its session holds the lock)."""
        if self.role != "standby" or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="standby", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                with self._turn:
                    if self._stop.is_set():
                        return
                    if self.election.try_lock():
                        started = time.monotonic()
                        self._become_writer()
                        self.ctx.start_collector()
                        self.took_over_at = time.monotonic() - started
                        return
                    self.writer = self.election.writer()
                    self._refresh_reads()
            except LockSessionError as exc:  # the lock session broke: open another one
                log.warning("standby poll failed (%s); reconnecting", exc)
                with contextlib.suppress(LockSessionError):
                    self.election.reconnect()
            except Exception:  # keep standing by; the next poll tries again
                log.exception("standby poll failed")

    def _refresh_reads(self, force: bool = False) -> None:
        self.ctx.log.refresh()
        size = self.ctx.log.size
        now = time.monotonic()
        if force or (size != self._state_size and now - self._state_read >= STATE_REFRESH):
            self.state = self.ctx.store.read_state(self.ctx.rules)
            self._state_size, self._state_read = size, now

    # --- what the routes ask ------------------------------------------------------------

    def _writer_text(self) -> str:
        return "not recorded yet" if self.writer is None else self.writer.describe()

    def refusal(self) -> JSONResponse | None:
        """The 503 a write gets from a standby (or a fenced writer), naming the writer."""
        if self.role == "writer":
            return None
        from node.problems import problem

        what = "the standby" if self.role == "standby" else "a fenced former writer"
        resp = problem(
            503,
            "Not the writer",
            f"this sequencer is {what} for {self.ctx.cfg.origin}; the writer is "
            f"{self._writer_text()}: send statements there",
            writer=None if self.writer is None else self.writer.to_json(),
        )
        resp.headers["Retry-After"] = "1"
        return resp

    def health(self) -> dict[str, Any]:
        """What /healthz says: this process's role and the writer it knows."""
        out: dict[str, Any] = {"role": self.role, "name": self.name}
        if self.writer is not None:
            out["writer"] = self.writer.to_json()
        if self.took_over_at is not None:
            out["took_over_in"] = round(self.took_over_at, 3)
        return out

    def stop(self) -> None:
        """Stop polling (a take-over in progress finishes first)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._thread = None

    def close(self) -> None:
        """Stop polling and end the lock session (a writer's lock goes with it): called
        after the sequencer drained, so no batch of this process is still in flight."""
        self.stop()
        with self._turn:
            self.election.close()


def open_standby(ctx: NodeContext, settings: dict[str, Any]) -> Standby:
    """Join the community's writer election; write now if no one else does."""
    sb = Standby(ctx, settings)
    try:
        sb.open()
    except Exception:
        sb.election.close()
        raise
    return sb
