"""Freshness: a node that knows it is behind says so, and a node that went back refuses.

Two questions, asked by every role (issue 10, items 1 and 3):

**Behind?** Gossip fetches every peer's ``/log/checkpoint`` and verifies the log's
signature on it, so each size it reports is a size the log key really signed. When a
peer's signed size stays above this node's own size for longer than ``stale_after``
seconds (``node.json``, default 10), the node is *degraded*: ``/healthz`` answers 503
with ``freshness.status = "degraded"`` and the lag in records, and every answer carries
``X-Civic-Lag`` (records behind) and ``X-Civic-Newest-Seen`` (the largest signed size
seen) so a client reading any size from it knows that size is old.

**Rolled back?** The newest checkpoint this node has signed (sequencer) or verified
(witness, mirror) is kept OUTSIDE the database, in ``DIR/newest-checkpoint`` (the note
verbatim, written with :func:`ledger.files.write_atomic`: fsynced, all or nothing), and
advanced as the log grows. At start-up the database's tree must reach that size with
that root. If it does not — entries deleted, the database restored from an old backup,
another tree put in its place — the node says why in its log and ``/healthz``, and:

- a sequencer refuses to sequence (``POST /v1/statements`` answers 503) until an operator
  acts (README, "When a node says it is behind");
- a witness refuses to cosign (``add-checkpoint`` answers 503) until an operator acts;
- a mirror refuses to serve its checkpoint as current (``/log/checkpoint`` 503) until
  following the log has brought it back to the same tree at that size or beyond.

The file is advanced at most every :data:`_TICK` seconds after a commit, so a
crash can leave it slightly behind the database (never ahead): the check then passes
and the file catches up. It protects against the database going back, not against an
attacker who also deletes the file; gossip with the witnesses covers that case.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.c2sp.checkpoint import Checkpoint
from ledger.errors import CivicError, NotFoundError, StorageError
from ledger.files import write_atomic
from node.problems import problem_type

if TYPE_CHECKING:
    from node.context import NodeContext

__all__ = [
    "WATERMARK_FILE",
    "BehindError",
    "Freshness",
    "FreshnessMiddleware",
    "FreshnessReport",
]

log = logging.getLogger("civic.freshness")

WATERMARK_FILE = "newest-checkpoint"
# Seconds between looks at the log's size and the peers' views.
_TICK = 0.2
# Signed sizes seen ahead of us that are remembered (with when they were first seen).
_AHEAD_KEPT = 256


class BehindError(StorageError):
    """The node's database is behind (or beside) a checkpoint it signed or verified."""

    status = 503
    title = "Node behind its own newest checkpoint"


@dataclass(frozen=True)
class FreshnessReport:
    """What ``/healthz`` says about freshness (and why the node refuses, if it does)."""

    status: str  # "current", "catching-up", "degraded" or "rolled-back"
    size: int
    newest_seen: int
    lag: int
    behind_for: float | None
    watermark: int | None
    refusal: str | None

    @property
    def problems(self) -> list[str]:
        """One line per reason to answer ``/healthz`` with 503."""
        out: list[str] = []
        if self.refusal is not None:
            out.append(f"rollback: {self.refusal}")
        if self.status == "degraded":
            out.append(
                f"stale: {self.lag} record(s) behind the newest signed checkpoint seen "
                f"(size {self.newest_seen}) for {self.behind_for or 0.0:.1f}s"
            )
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "size": self.size,
            "newest_seen": self.newest_seen,
            "lag": self.lag,
            "behind_for": None if self.behind_for is None else round(self.behind_for, 3),
            "watermark": self.watermark,
            "refusal": self.refusal,
        }


class Freshness(threading.Thread):
    """Keeps the watermark file and tells how far behind the node is."""

    def __init__(self, ctx: NodeContext, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name="freshness", daemon=True)
        self.ctx = ctx
        self.path = ctx.data_dir / WATERMARK_FILE
        self.clock = clock
        self.stale_after = float(ctx.cfg.stale_after)
        self._lock = threading.Lock()
        self._ahead: dict[int, float] = {}
        self.stopping = threading.Event()
        self.watermark: Checkpoint | None = None
        self.refusal: str | None = None
        self._check_at_start()

    # --- the watermark --------------------------------------------------------------

    def _read(self) -> Checkpoint | None:
        try:
            note = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise BehindError(f"cannot read {self.path}: {exc.strerror}") from exc
        try:
            cp, _ = self.ctx.log.open_own(note)
        except CivicError as exc:
            raise BehindError(
                f"{self.path} does not hold a checkpoint signed by the log key: {exc.message}"
            ) from exc
        return cp

    def _check_at_start(self) -> None:
        """Compare the database with the newest checkpoint this node signed or verified."""
        try:
            self.watermark = self._read()
        except BehindError as exc:
            self._refuse(exc.message)
            return
        problem = self._compare()
        if problem is not None:
            self._refuse(problem)

    def _compare(self) -> str | None:
        wm = self.watermark
        if wm is None:
            return None
        lg = self.ctx.log
        size = lg.size
        if size < wm.size:
            return (
                f"the database holds {size} records, but this node {self._verb()} a "
                f"checkpoint of {wm.size} records (kept in {self.path.name}): records "
                f"{size}..{wm.size - 1} are gone from the database"
            )
        if wm.size and lg.root_at(wm.size) != wm.root_hash:
            return (
                f"the database's tree of {wm.size} records is not the one this node "
                f"{self._verb()} (kept in {self.path.name}): the database was replaced"
            )
        return None

    def _verb(self) -> str:
        return "signed" if self.ctx.role == "sequencer" else "verified"

    def _refuse(self, reason: str) -> None:
        self.refusal = reason
        what = {
            "sequencer": "refusing to sequence",
            "witness": "refusing to cosign",
        }.get(self.ctx.role, "refusing to serve its checkpoint as current")
        log.error("ROLLBACK: %s; %s until an operator acts (README)", reason, what)

    def _advance(self) -> None:
        lg = self.ctx.log
        if self.refusal is not None:
            # A mirror heals by following: once its tree reaches the watermark again.
            if self.ctx.role != "mirror" or self.watermark is None:
                return
            if lg.size < self.watermark.size or self._compare() is not None:
                return
            log.warning("caught up with %s again: serving as current", self.path.name)
            self.refusal = None
        size = lg.size
        if size == 0 or (self.watermark is not None and size <= self.watermark.size):
            return
        try:
            note = lg.signed_checkpoint()
            cp, _ = lg.open_own(note)
        except (NotFoundError, CivicError):
            return
        write_atomic(self.path, note)
        self.watermark = cp

    # --- behind the peers -----------------------------------------------------------

    def _observe(self) -> None:
        gossip = self.ctx.services.get("gossip")
        own = self.ctx.log.size
        now = self.clock()
        with self._lock:
            if gossip is not None:
                for view in list(gossip.views.values()):
                    s = view.size
                    if s is not None and s > own and s not in self._ahead:
                        self._ahead[s] = now
            for s in [s for s in self._ahead if s <= own]:
                del self._ahead[s]
            while len(self._ahead) > _AHEAD_KEPT:
                del self._ahead[max(self._ahead)]

    def report(self) -> FreshnessReport:
        """The node's freshness now."""
        self._observe()
        own = self.ctx.log.size
        with self._lock:
            newest = max(self._ahead, default=own)
            first = min(self._ahead.values(), default=None)
        behind_for = None if first is None else self.clock() - first
        if self.refusal is not None:
            status = "rolled-back"
        elif behind_for is None:
            status = "current"
        elif behind_for >= self.stale_after:
            status = "degraded"
        else:
            status = "catching-up"
        wm = None if self.watermark is None else self.watermark.size
        return FreshnessReport(
            status, own, max(newest, own), max(0, newest - own), behind_for, wm, self.refusal
        )

    # --- the thread -----------------------------------------------------------------

    def run(self) -> None:
        while not self.stopping.wait(_TICK):
            try:
                self._advance()
                self._observe()
            except Exception:  # a bad tick must not end the thread
                log.exception("freshness tick failed")

    def close(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=5)
        try:
            self._advance()
        except Exception:
            log.exception("cannot advance the watermark at shutdown")


# --- the HTTP edge ------------------------------------------------------------------------

# What each role refuses while rolled back (method, path).
_REFUSED = {
    "sequencer": {("POST", "/v1/statements")},
    "witness": {("POST", "/witness/add-checkpoint")},
    "mirror": {("GET", "/log/checkpoint"), ("GET", "/v1/checkpoints/witnessed")},
}


class FreshnessMiddleware:
    """Adds ``X-Civic-Lag``/``X-Civic-Newest-Seen`` to every answer of a node that is
    behind, and answers 503 (problem+json) where a rolled-back node must refuse.

    Plain ASGI (no per-request task), so the append path pays one dictionary lookup."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._fresh: Freshness | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = getattr(scope["app"].state, "ctx", None) if "app" in scope else None
        fresh: Freshness | None = None if ctx is None else ctx.services.get("freshness")
        if ctx is None or fresh is None:
            await self.app(scope, receive, send)
            return
        if fresh.refusal is not None and (scope["method"], scope["path"]) in _REFUSED.get(
            ctx.role, set()
        ):
            err = BehindError(fresh.refusal)
            body = {
                "type": problem_type(503),
                "title": err.title,
                "status": err.status,
                "detail": f"{err.message}; see GET /healthz",
            }
            answer = JSONResponse(body, status_code=503, media_type="application/problem+json")
            await answer(scope, receive, send)
            return
        rep = fresh.report()
        extra: list[tuple[bytes, bytes]] = []
        if rep.status == "degraded" or (rep.refusal is not None and rep.lag):
            extra = [
                (b"x-civic-lag", str(rep.lag).encode()),
                (b"x-civic-newest-seen", str(rep.newest_seen).encode()),
            ]

        async def send_with(message: Message) -> None:
            if extra and message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with)
