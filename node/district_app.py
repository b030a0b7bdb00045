"""The app of a district node: every community's API under ``/c/{origin}/``.

Each community is an ordinary community app (node/app.py) whose ``state.ctx`` is its own
:class:`~node.context.NodeContext`: own database, log, key, writer thread and background
services. Nothing is shared between them but the process and its event loop, so a
community whose database is slow, locked or broken delays only its own requests: its
writer is its own thread, a waiting submission holds no thread (``submit_async``), and a
community that fails to open at start-up is reported (``/healthz``, ``GET /c/``) and
answered with 503 while the others serve.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

import ledger
from ledger.errors import CivicError
from node.context import NodeContext, open_context
from node.district import community_dir, load_district
from node.metrics import NodeCollector
from node.problems import PROBLEM, install_problem_handlers, problem_type

__all__ = ["COMMUNITY_PREFIX", "District", "create_district_app"]

log = logging.getLogger("civic.district")

COMMUNITY_PREFIX = "/c/"
# Requests one community may have in flight at once (beyond its submissions, whose wait
# for the commit holds no thread): a community whose database hangs then ties up at most
# this many threads of the pool the sync routes run in, and the others keep answering.
PER_COMMUNITY_INFLIGHT = 8
# The pool grows with the district so that every community can use its share and the
# district's own routes still have threads: idle threads are not created.
SHARED_THREADS = 32
MAX_THREADS = 2048


@dataclass
class District:
    """The communities of a running district node: the open ones and the failed ones."""

    data_dir: Path
    role: str
    origins: list[str]
    apps: dict[str, FastAPI]
    failed: dict[str, str] = field(default_factory=dict)

    def contexts(self) -> dict[str, NodeContext]:
        """The open communities' contexts, by origin."""
        out: dict[str, NodeContext] = {}
        for origin in self.origins:
            ctx = getattr(self.apps[origin].state, "ctx", None)
            if ctx is not None:
                out[origin] = ctx
        return out

    def community_health(self, origin: str) -> dict[str, Any]:
        """One community's line in ``/healthz`` and ``GET /c/``."""
        row: dict[str, Any] = {"origin": origin, "url": f"{COMMUNITY_PREFIX}{origin}/"}
        if origin in self.failed:
            return {**row, "ok": False, "status": "failed", "error": self.failed[origin]}
        ctx = self.contexts().get(origin)
        if ctx is None:
            return {**row, "ok": False, "status": "starting"}
        reasons: list[str] = []
        try:
            ev = ctx.evidence()
            reasons += [] if ev is None else ev.reasons()
            fresh = ctx.services.get("freshness")
            if fresh is not None:
                reasons += fresh.report().problems
        except CivicError as exc:  # its database went away: say so, answer for the others
            reasons.append(exc.message)
        row.update(ok=not reasons, status="ok" if not reasons else "degraded", size=ctx.log.size)
        if reasons:
            row["reasons"] = reasons
        return row


class Watcher(threading.Thread):
    """Opens the communities ``civic node add-community`` adds while the node runs, and
    retries the ones that failed to open (a database that comes back)."""

    def __init__(self, district: District, interval: float, retry: float) -> None:
        super().__init__(name="district-watcher", daemon=True)
        self.district = district
        self.interval = interval
        self.retry = retry
        self.stopping = threading.Event()
        self._next_retry = time.monotonic() + retry

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.tick()
            except Exception:  # a half-edited district.json: try again next round
                log.exception("district watcher")

    def tick(self) -> None:
        """One round: open what was added; every ``retry`` seconds, retry the failed."""
        district = self.district
        for origin in load_district(district.data_dir).communities:
            if origin in district.origins:
                continue
            district.apps[origin] = _app_for(origin)
            open_community(district, origin)
            # A new list, swapped in whole: the event loop reads it without a lock.
            district.origins = [*district.origins, origin]
            log.warning("community %s added", origin)
        if district.failed and time.monotonic() >= self._next_retry:
            self._next_retry = time.monotonic() + self.retry
            for origin in list(district.failed):
                district.failed.pop(origin, None)
                open_community(district, origin)

    def close(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


class CommunityMount:
    """Routes ``/c/{origin}/rest`` to the community's app as ``/rest``.

    Origins contain slashes, so the longest served origin that prefixes the path wins.
    ``raw_path`` stays as sent: a signed request (node/auth.py) is checked against the
    path the client signed, which names the community.
    """

    def __init__(self, app: ASGIApp, district: District) -> None:
        self.app = app
        self.district = district
        self._origins: list[str] | None = None
        self._by_length: list[str] = []
        self.inflight: dict[str, asyncio.Semaphore] = {}

    @property
    def by_length(self) -> list[str]:
        """The served origins, longest first (re-sorted when the watcher adds one)."""
        if self._origins is not self.district.origins:
            self._origins = self.district.origins
            self._by_length = sorted(self._origins, key=len, reverse=True)
        return self._by_length

    def match(self, path: str) -> tuple[str, str] | None:
        """(origin, the path inside the community) of a request path, or None."""
        if not path.startswith(COMMUNITY_PREFIX):
            return None
        rest = path[len(COMMUNITY_PREFIX) :]
        for origin in self.by_length:
            if rest == origin or rest.startswith(origin + "/"):
                return origin, rest[len(origin) :] or "/"
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.match(scope["path"]) if scope["type"] in ("http", "websocket") else None
        if found is None:
            await self.app(scope, receive, send)
            return
        origin, inner = found
        scope["civic.origin"] = origin
        sub = self.district.apps[origin]
        if origin in self.district.failed or getattr(sub.state, "ctx", None) is None:
            why = self.district.failed.get(origin, "the community is still starting")
            body = {
                "type": problem_type(503),
                "title": "Community unavailable",
                "status": 503,
                "detail": f"{origin}: {why}; see GET /healthz",
            }
            answer = JSONResponse(body, status_code=503, media_type=PROBLEM)
            await answer(scope, receive, send)
            return
        if inner == "/" and not scope["path"].endswith("/") and scope["type"] == "http":
            # The community's page loads its files relative to its folder: /c/{origin}/.
            query = scope.get("query_string", b"").decode("latin-1")
            target = scope["path"] + "/" + (f"?{query}" if query else "")
            await RedirectResponse(target, status_code=308)(scope, receive, send)
            return
        child = dict(scope)
        child["path"] = inner
        # The community app sees the request as a single-community node would (path from
        # its root, the root_path unchanged), so its routes, static files and middleware
        # (which match on scope["path"]) work unchanged.
        child["civic.origin"] = origin
        try:
            if (scope.get("method"), inner) == ("POST", "/v1/statements"):
                # Waits for the writer without a thread: never held back behind reads.
                await sub(child, receive, send)
            else:
                gate = self.inflight.setdefault(origin, asyncio.Semaphore(PER_COMMUNITY_INFLIGHT))
                async with gate:
                    await sub(child, receive, send)
        finally:
            # The matched route, for the access log outside (node/access_log.py).
            if "route" in child:
                scope["route"] = child["route"]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, CivicError):
        return exc.message
    return f"{type(exc).__name__}: {exc}"


def _app_for(origin: str) -> FastAPI:
    from node.app import community_app

    # Its OpenAPI names the prefix as its server, so generated clients reach it.
    return community_app(servers=[{"url": f"{COMMUNITY_PREFIX}{origin}"}])


def open_community(district: District, origin: str) -> None:
    """Open one community and start its threads; a failure is recorded, not raised."""
    folder = community_dir(district.data_dir, origin)
    try:
        ctx = open_context(folder, serve=True)
    except Exception as exc:
        district.failed[origin] = _reason(exc)
        log.error("community %s did not open: %s", origin, district.failed[origin])
        return
    try:
        if ctx.cfg.origin != origin:
            raise ValueError(f"{folder} holds the log of {ctx.cfg.origin!r}, not {origin!r}")
        if ctx.role != district.role:
            raise ValueError(f"{folder} holds a {ctx.role}, not a {district.role}")
        ctx.start_background()
    except Exception as exc:
        ctx.close()
        district.failed[origin] = _reason(exc)
        log.error("community %s did not start: %s", origin, district.failed[origin])
        return
    app = district.apps.get(origin) or _app_for(origin)
    app.state.ctx = ctx
    district.apps[origin] = app


def create_district_app(data_dir: Path, json_logs: bool = False) -> FastAPI:
    """A district node over the district folder ``data_dir``; communities open in the
    lifespan, one by one, each failure recorded instead of stopping the node."""
    from node.app import install_problem_page, metrics_response

    cfg = load_district(data_dir)
    district = District(
        data_dir,
        cfg.role,
        list(cfg.communities),
        {origin: _app_for(origin) for origin in cfg.communities},
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        import anyio.to_thread

        limiter = anyio.to_thread.current_default_thread_limiter()
        # Headroom for communities added while the node runs.
        wanted = SHARED_THREADS + PER_COMMUNITY_INFLIGHT * (len(district.origins) + 16)
        limiter.total_tokens = max(limiter.total_tokens, min(MAX_THREADS, wanted))
        for origin in district.origins:
            open_community(district, origin)
        watcher = Watcher(district, cfg.watch_interval, cfg.retry_interval)
        watcher.start()
        try:
            yield
        finally:
            watcher.close()
            for ctx in district.contexts().values():
                try:
                    ctx.close()
                except Exception:  # close the others all the same
                    log.exception("closing a community failed")

    app = FastAPI(
        title="civic-ledger district node",
        version=ledger.__version__,
        description="Many communities' ledgers; each community's API is under /c/{origin}/.",
        lifespan=lifespan,
    )
    app.state.district = district
    install_problem_handlers(app)

    @app.get("/healthz", tags=["operations"])
    def healthz() -> JSONResponse:
        """The district's communities and their health; 503 only when none serves.

        One failed community must not take the whole district out of a load balancer's
        rotation: ``ok`` is false and ``failed`` names it, but the status stays 200 while
        any community serves (each has its own ``/c/{origin}/healthz``).
        """
        rows = [district.community_health(o) for o in district.origins]
        serving = [r for r in rows if r["status"] in ("ok", "degraded")]
        body: dict[str, Any] = {
            "ok": all(r["ok"] for r in rows),
            "role": district.role,
            "district": True,
            "communities": len(rows),
            "serving": len(serving),
            "failed": [r["origin"] for r in rows if r["status"] == "failed"],
            "degraded": [r["origin"] for r in rows if r["status"] == "degraded"],
        }
        status = 503 if rows and not serving else 200
        return JSONResponse(body, status_code=status)

    @app.get("/c/", tags=["operations"])
    def list_communities() -> JSONResponse:
        """Every community this node serves, with its URL prefix and health."""
        return JSONResponse(
            {
                "role": district.role,
                "communities": [district.community_health(o) for o in district.origins],
            }
        )

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus text format: every community's series, labelled ``origin``."""
        return metrics_response(NodeCollector(district.contexts, lambda: list(district.failed)))

    install_problem_page(app)
    app.add_middleware(CommunityMount, district=district)
    if json_logs:
        from node.access_log import AccessLog

        app.add_middleware(AccessLog)
    return app
