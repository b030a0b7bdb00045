"""RFC 9457 problem+json: one place that maps errors to HTTP responses."""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect

from ledger.errors import CivicError

__all__ = ["PROBLEM", "PROBLEM_TYPES", "install_problem_handlers", "problem", "problem_type"]

log = logging.getLogger("civic.node")
PROBLEM = "application/problem+json"

# RFC 9457 §3.1.1: ``type`` is a URI reference that identifies the problem type. Ours are
# relative (``/problems/<name>``): every node serves these pages itself (GET
# /problems/<name>), so a type resolves against the node that answered and is always
# documented by it, with no domain outside the community to depend on. One type per
# status: the title and detail say which case of it was met.
PROBLEM_TYPES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "The request is malformed: a parameter, header or body field."),
    401: ("invalid-signature", "A signature (of a statement or a request) does not verify."),
    403: ("forbidden", "The signer may not do this: the role, or a signed request, is missing."),
    404: ("not-found", "The thing asked for is not held by this node (or not yet)."),
    405: ("method-not-allowed", "The method, or this node's role, does not serve this path."),
    409: ("conflict", "A rule of the log is broken: replay, stale statement or conflict."),
    413: ("too-large", "The body, an array or a document is over the node's limits."),
    422: (
        "unprocessable",
        "The request is well-formed but cannot be interpreted: a query or path parameter "
        "out of its schema, JSON over the depth or number limits, an unknown statement type, "
        "or a consistency proof or record a witness refuses.",
    ),
    431: ("header-too-large", "The request line and headers are over the node's limit."),
    500: ("internal-error", "The node hit an unexpected error; its operator has the log."),
    502: ("upstream-unreachable", "A node this node depends on could not be reached."),
    503: ("unavailable", "The node cannot answer this now: evidence held, or too busy."),
}


def problem_type(status: int) -> str:
    """The ``type`` URI reference of a problem with ``status`` (``about:blank`` if none)."""
    known = PROBLEM_TYPES.get(status)
    return "about:blank" if known is None else f"/problems/{known[0]}"


def problem(status: int, title: str, detail: str, **extra: Any) -> JSONResponse:
    """An RFC 9457 problem response."""
    body = {
        "type": problem_type(status),
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM)


def _allowed(req: Request, named: str) -> str:
    """Every method the OpenAPI documents for the request's path, and Starlette's own."""
    methods = {m.strip() for m in named.split(",") if m.strip()}
    for template, item in req.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\{[^}]+\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, req.url.path):
            methods.update(m.upper() for m in item)
    return ", ".join(sorted(methods))


def install_problem_handlers(app: FastAPI) -> None:
    """Map CivicError, validation errors and HTTP errors to problem+json."""

    @app.exception_handler(CivicError)
    async def _civic(_req: Request, exc: CivicError) -> JSONResponse:
        if exc.status >= 500:
            log.error("%s: %s", type(exc).__name__, exc.message)
        return problem(exc.status, exc.title, exc.message)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"{where}: {err.get('msg', 'invalid')}")
        return problem(422, "Unprocessable request", "; ".join(parts) or "invalid request")

    @app.exception_handler(StarletteHTTPException)
    async def _http(req: Request, exc: StarletteHTTPException) -> JSONResponse:
        answer = problem(exc.status_code, str(exc.detail), str(exc.detail))
        answer.headers.update(exc.headers or {})
        if exc.status_code == 405:
            # RFC 9110 §15.5.6: Allow lists every method of the resource. Starlette names
            # only the first route of the path; one path may have several routes.
            answer.headers["Allow"] = _allowed(req, answer.headers.get("Allow", ""))
        return answer

    @app.exception_handler(OverflowError)
    async def _overflow(_req: Request, exc: OverflowError) -> JSONResponse:
        # A number too large for the database's 64-bit integers can only come from input.
        return problem(400, "Bad input", "a number in the request is out of range")

    @app.exception_handler(ClientDisconnect)
    async def _gone(_req: Request, _exc: ClientDisconnect) -> JSONResponse:
        # The client left, or was closed at its body deadline (node.limits), before its
        # body ended: not an error of the node, and no one will read this answer.
        return problem(400, "Client disconnected", "the connection closed before the body ended")

    @app.exception_handler(Exception)
    async def _unexpected(_req: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return problem(500, "Internal error", "the node hit an unexpected error; see its log")
