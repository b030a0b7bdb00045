"""Structured JSON logs: one line per request, and every other log record as JSON too.

``civic node start --log-format json`` installs :class:`AccessLog` around the node's app
and :func:`json_log_config` as the logging setup (uvicorn's own access log stays off).

What a line holds, and what it leaves out on purpose (no personal data):

- ``method``, ``route`` (the path *template*, e.g. ``/v1/members/{key_id}``, never the
  raw path: it may carry a resident's key id or a ballot id), ``status``,
  ``duration_ms``, ``origin`` (the community), ``request_id``;
- no client IP address (personal data under the GDPR; abuse is bounded by the
  connection limits, not by logs), no query string, no headers, no user agent, no body,
  no key, no member name. A request that matched no route logs ``route: null``.

The request id is the caller's ``X-Request-ID`` when it is a short token, else a new
random one; it is echoed in the answer's ``X-Request-ID`` so a user can quote it.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ACCESS_LOGGER", "AccessLog", "JsonFormatter", "json_log_config", "route_template"]

ACCESS_LOGGER = "civic.access"
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
access = logging.getLogger(ACCESS_LOGGER)


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (with the district prefix), or None."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not isinstance(template, str):
        return None
    if "civic.origin" in scope:
        return "/c/{origin}" + template
    return template


def _origin(scope: Scope) -> str | None:
    origin = scope.get("civic.origin")
    if isinstance(origin, str):
        return origin
    ctx = getattr(getattr(scope.get("app"), "state", None), "ctx", None)
    cfg = getattr(ctx, "cfg", None)
    found = getattr(cfg, "origin", None)
    return found if isinstance(found, str) else None


class AccessLog:
    """ASGI middleware: one ``civic.access`` JSON line per HTTP request, once answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = ""
        for k, v in scope.get("headers", ()):
            if k == b"x-request-id":
                given = v.decode("latin-1")
                break
        rid = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        status = 500  # what the server answers if the app dies before it starts an answer
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = [*message.get("headers", ()), (b"x-request-id", rid.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            line = {
                "event": "request",
                "method": scope.get("method"),
                "route": route_template(scope),
                "status": status,
                "duration_ms": round((time.perf_counter() - start) * 1000, 3),
                "origin": _origin(scope),
                "request_id": rid,
            }
            access.info("request", extra={"civic": line})


class JsonFormatter(logging.Formatter):
    """A log record as one JSON object: time, level, logger, message (and its fields)."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        fields = getattr(record, "civic", None)
        if isinstance(fields, dict):
            out.update(fields)
        else:
            out["message"] = record.getMessage()
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"), default=str)


def json_log_config(level: str = "warning") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for uvicorn: JSON on stderr, uvicorn's access log
    off (AccessLog replaces it), request lines at INFO whatever ``level`` the rest has."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level.upper(), "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            ACCESS_LOGGER: {"handlers": ["json"], "level": "INFO", "propagate": False},
        },
    }
