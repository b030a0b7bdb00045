"""The FastAPI application of a civic-ledger node."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

import ledger
from ledger.errors import NotFoundError
from node import (
    routes_community,
    routes_funds,
    routes_keys,
    routes_peers,
    routes_proofs,
    routes_statements,
    routes_tiles,
    routes_voting,
    routes_witness,
)
from node import schemas as S
from node.context import open_context
from node.freshness import FreshnessMiddleware
from node.limits import BodyLimit, JsonLimits
from node.metrics import CONTENT_TYPE_LATEST, NodeCollector, render
from node.problems import install_problem_handlers

__all__ = [
    "MAX_BODY",
    "WEB_DIR",
    "community_app",
    "create_app",
    "install_problem_page",
    "metrics_response",
]

MAX_BODY = 8 * 1024 * 1024
# The community's web page (static files shipped in the package, no build step).
WEB_DIR = Path(__file__).parent / "web"


def create_app(data_dir: Path, json_logs: bool = False) -> FastAPI:
    """A node app over the data folder ``data_dir``; resources open in the lifespan.

    A district folder (node/district.py) gets the district app: every community under
    ``/c/{origin}/``; a single community's folder keeps the routes at the root. With
    ``json_logs``, every request is logged as one JSON line (node/access_log.py).
    """
    from node.district import is_district

    if is_district(data_dir):
        from node.district_app import create_district_app

        return create_district_app(data_dir, json_logs)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = open_context(data_dir, serve=True)
        app.state.ctx = ctx
        try:
            # Role-dependent threads: cosignature collection (sequencer), following the
            # log (mirror), gossip and self-checks (every role).
            ctx.start_background()
            yield
        finally:
            ctx.close()

    app = community_app(lifespan)
    if json_logs:
        from node.access_log import AccessLog

        app.add_middleware(AccessLog)
    return app


def community_app(lifespan: Any = None, servers: list[dict[str, str]] | None = None) -> FastAPI:
    """One community's API; its ``state.ctx`` (a NodeContext) is set by whoever opens it:
    the lifespan of a single-community node, or the district app for each community."""
    app = FastAPI(
        title="civic-ledger node",
        version=ledger.__version__,
        description="A community's tamper-evident ledger: C2SP tiles, RFC 9162 proofs.",
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    app.include_router(routes_tiles.router)
    app.include_router(routes_proofs.router)
    app.include_router(routes_statements.router)
    app.include_router(routes_community.router)
    app.include_router(routes_keys.router)
    app.include_router(routes_voting.router)
    app.include_router(routes_funds.router)
    app.include_router(routes_witness.router)
    app.include_router(routes_peers.router)

    @app.get(
        "/healthz",
        tags=["operations"],
        response_model=S.Health,
        responses={
            503: {
                "description": "evidence is held, or the node is behind: see reasons",
                "model": S.Health,
            }
        },
    )
    def healthz() -> JSONResponse:
        """Liveness, the current tree size and freshness; 503 with the reasons while
        evidence is held or the node is behind (stale, or rolled back)."""
        ctx = app.state.ctx
        ev = ctx.evidence()
        held: list[str] = [] if ev is None else ev.reasons()
        reasons = list(held)
        body: dict[str, Any] = {
            "ok": not reasons,
            "origin": ctx.cfg.origin,
            "role": ctx.cfg.role,
            "size": ctx.log.size,
        }
        check = ctx.services.get("integrity")
        if check is not None:
            body["integrity"] = check.status().to_json()
        if reasons:
            body["evidence"] = "/v1/evidence"
        fresh = ctx.services.get("freshness")
        rolled_back = False
        if fresh is not None:
            # Behind its peers, or behind its own newest checkpoint (node/freshness.py).
            report = fresh.report()
            body["freshness"] = report.to_json()
            rolled_back = report.refusal is not None
            reasons += report.problems
            body["ok"] = not reasons
        if ctx.role == "sequencer":
            # The same two refusals POST /v1/statements makes: evidence against its own log
            # (node/integrity.py), or a database behind its newest checkpoint (rollback).
            body["accepting_statements"] = not held and not rolled_back
            standby = ctx.services.get("standby")
            if standby is not None:  # node/standby.py: writer, standby or fenced
                body["standby"] = standby.health()
                body["accepting_statements"] &= standby.role == "writer"
        if reasons:
            body["reasons"] = reasons
        return JSONResponse(body, status_code=503 if reasons else 200)

    install_problem_page(app)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        """Prometheus text format: this community's counters and gauges (node/metrics.py)."""
        ctx = app.state.ctx
        return metrics_response(NodeCollector(lambda: {ctx.cfg.origin: ctx}))

    S.install_openapi(app)
    if servers:
        plain = app.openapi

        def with_servers() -> dict[str, Any]:
            spec = plain()
            spec["servers"] = servers
            return spec

        app.openapi = with_servers  # type: ignore[method-assign]

    # Outermost last: the body's size is bounded before its JSON is scanned.
    # POST /v1/documents stores its body as given, whatever its media type.
    app.add_middleware(FreshnessMiddleware)
    app.add_middleware(JsonLimits, raw_paths=("/v1/documents",))

    # The page at "/" and its files under "/web/": no API route is shadowed, and an unknown
    # API path still gets the API's problem+json 404.
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/web", StaticFiles(directory=WEB_DIR), name="web")

    app.add_middleware(BodyLimit, max_bytes=MAX_BODY)
    return app


def install_problem_page(app: FastAPI) -> None:
    """``GET /problems/{name}``: the page of each problem type the node answers with."""

    @app.get(
        "/problems/{name}",
        tags=["operations"],
        response_class=Response,
        responses={
            200: S.text_response("what the problem type means"),
            **S.problems(404, _404="no such problem type"),
        },
    )
    def problem_type_page(name: str) -> Response:
        """The page of an RFC 9457 problem type: every ``type`` the node answers with."""
        page = S.problem_page(name)
        if page is None:
            raise NotFoundError(f"there is no problem type {name!r}")
        return Response(page, media_type=S.NOTE)


def metrics_response(collector: NodeCollector) -> Response:
    """A scrape of ``collector`` as an HTTP answer."""
    return Response(render(collector), media_type=CONTENT_TYPE_LATEST)
