"""Guards between the network and the routes: body size, JSON shape, slow or many connections.

Three layers, outermost first:

* :func:`guarded_http` — a uvicorn HTTP protocol (httptools) with a deadline for the
  request head, a deadline for the body, a bound on the head's size and a cap on the
  open connections of one client address. Uvicorn itself only times out idle
  keep-alive connections (``timeout_keep_alive``); a client trickling its headers or
  body would hold its connection forever.
* :class:`BodyLimit` — 413 to bodies over a size limit, after reading (and discarding)
  the rest of the body up to a bound, so that a client that sends its whole body before
  reading sees the answer rather than a reset connection.
* :class:`JsonLimits` — 422 to JSON bodies nested too deep or with too long a number,
  before any parser (ours or FastAPI's) recurses or calls ``int()`` on them.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from ledger.canonical import check_json_limits
from ledger.errors import InputError

__all__ = ["BodyLimit", "ConnectionLimits", "JsonLimits", "guarded_http"]

PROBLEM = b"application/problem+json"


def _problem(status: int, title: str, detail: str) -> bytes:
    return json.dumps(
        {"type": "about:blank", "title": title, "status": status, "detail": detail}
    ).encode()


async def _send_problem(
    send: Any, status: int, title: str, detail: str, close: bool = False
) -> None:
    body = _problem(status, title, detail)
    headers = [(b"content-type", PROBLEM), (b"content-length", str(len(body)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


class BodyLimit:
    """Refuse bodies over ``max_bytes`` before the route sees them (RFC 9457 body).

    The rest of a refused body is read and discarded, up to ``drain_bytes`` more, before
    the 413 is sent: most clients (httpx, curl) send the whole body before they read,
    and a server that closes a socket with unread data makes the kernel answer with a
    reset, which throws away the answer. Beyond the bound the 413 is sent with
    ``Connection: close``. The body deadline of :func:`guarded_http` bounds the time.
    """

    def __init__(self, app: Any, max_bytes: int, drain_bytes: int = 64 * 1024 * 1024) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.drain_bytes = drain_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > self.max_bytes:
                drained = int(value) <= self.max_bytes + self.drain_bytes and await self._drain(
                    receive
                )
                await self._reject(send, close=not drained)
                return
        seen = 0
        ended = False
        started = False

        async def counting_receive() -> Any:
            nonlocal seen, ended
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                ended = not msg.get("more_body", False)
                if seen > self.max_bytes:
                    raise _TooLarge
            return msg

        async def tracking_send(msg: Any) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send, close=not (ended or await self._drain(receive)))

    async def _drain(self, receive: Any) -> bool:
        """Read and drop the rest of a body; True once it ended within ``drain_bytes``."""
        dropped = 0
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                return False  # the client went away
            dropped += len(msg.get("body", b""))
            if not msg.get("more_body", False):
                return True
            if dropped > self.drain_bytes:
                return False

    async def _reject(self, send: Any, close: bool) -> None:
        detail = f"request body exceeds {self.max_bytes} bytes"
        await _send_problem(send, 413, "Too large", detail, close=close)


class JsonLimits:
    """Answer 422 to a JSON body over the nesting or number limits of ledger.canonical.

    Every route with a JSON body is covered, including those FastAPI parses for a
    pydantic model; ``raw_paths`` are routes that store the body as given whatever its
    media type (documents), which are left alone. Sits inside :class:`BodyLimit`, so
    the buffered body is bounded.
    """

    def __init__(self, app: Any, raw_paths: tuple[str, ...] = ()) -> None:
        self.app = app
        self.raw_paths = raw_paths

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path") in self.raw_paths or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        parts: list[bytes] = []
        while True:
            msg = await receive()
            if msg["type"] != "http.request":
                return  # the client went away before its body ended
            parts.append(msg.get("body", b""))
            if not msg.get("more_body", False):
                break
        body = b"".join(parts)
        try:
            check_json_limits(body)
        except InputError as exc:
            await _send_problem(send, 422, "JSON over the limits", exc.message)
            return
        replayed = False

        async def replay() -> Any:
            nonlocal replayed
            if replayed:
                return await receive()  # http.disconnect once the client goes
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


def _is_json(scope: Any) -> bool:
    if scope.get("method") in ("GET", "HEAD", "OPTIONS", "DELETE"):
        return False
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media = bytes(value).split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


@dataclass(frozen=True)
class ConnectionLimits:
    """Per-connection deadlines and the per-client cap (``node.json``, see README "Limits")."""

    header_timeout: float = 10.0  # seconds from a request's first byte to its last header
    body_timeout: float = 60.0  # seconds from the last header to the body's last byte
    max_head_bytes: int = 64 * 1024  # request line and headers together
    max_per_client: int = 256  # open connections from one IP address


def guarded_http(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """Uvicorn's httptools protocol with the deadlines and caps of ``limits``.

    Pass it as ``uvicorn.run(..., http=guarded_http(limits))``. A connection whose head
    or body misses its deadline is closed; one over the head size gets 431; a client
    address at its cap gets 503 on each new connection, which is closed at once.
    """
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    open_by_client: dict[str, int] = {}  # shared by the connections of one server
    busy = _raw_problem(
        503,
        "Service Unavailable",
        "Too many connections",
        f"this client address already has {limits.max_per_client} open connections",
    )
    too_big = _raw_problem(
        431,
        "Request Header Fields Too Large",
        "Request head too large",
        f"the request line and headers exceed {limits.max_head_bytes} bytes",
    )

    class GuardedHttpToolsProtocol(HttpToolsProtocol):
        _deadline: asyncio.TimerHandle | None = None
        _client_key: str | None = None
        _phase = "head"  # head, body, app (the route runs), idle (kept alive)
        _head_bytes = 0
        _head_too_big = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            key = self.client[0] if self.client else ""
            if open_by_client.get(key, 0) >= limits.max_per_client:
                transport.write(busy)
                transport.close()
                return
            open_by_client[key] = open_by_client.get(key, 0) + 1
            self._client_key = key
            self._arm(limits.header_timeout)

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            key, self._client_key = self._client_key, None
            if key is not None:
                left = open_by_client.pop(key, 1) - 1
                if left > 0:
                    open_by_client[key] = left
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            if self._phase == "idle":
                self._phase = "head"  # the first bytes of the next request
                self._arm(limits.header_timeout)
            super().data_received(data)

        def on_message_begin(self) -> None:
            self._head_bytes = 0
            super().on_message_begin()

        def on_url(self, url: bytes) -> None:
            self._count_head(len(url))
            super().on_url(url)

        def on_header(self, name: bytes, value: bytes) -> None:
            self._count_head(len(name) + len(value) + 4)
            super().on_header(name, value)

        def on_headers_complete(self) -> None:
            self._phase = "body"
            self._arm(limits.body_timeout)
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._phase = "app"
            self._disarm()
            super().on_message_complete()

        def on_response_complete(self) -> None:
            self._phase = "idle"  # uvicorn's keep-alive timeout applies until more bytes
            super().on_response_complete()

        def send_400_response(self, msg: str) -> None:
            if not self._head_too_big:
                super().send_400_response(msg)
                return
            self.transport.write(too_big)
            self.transport.close()

        def _count_head(self, n: int) -> None:
            self._head_bytes += n
            if self._head_bytes > limits.max_head_bytes:
                # httptools turns this into HttpParserError; uvicorn then calls
                # send_400_response, which answers 431 instead.
                self._head_too_big = True
                raise InputError("request head too large")

        def _arm(self, seconds: float) -> None:
            self._disarm()
            self._deadline = self.loop.call_later(seconds, self._expire)

        def _disarm(self) -> None:
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _expire(self) -> None:
            # A client too slow to finish its request: drop it. An app waiting for the
            # body sees http.disconnect; nothing half-written follows from that.
            self._deadline = None
            if not self.transport.is_closing():
                self.transport.close()

    return GuardedHttpToolsProtocol


def _raw_problem(status: int, reason: str, title: str, detail: str) -> bytes:
    """A whole HTTP/1.1 problem response, written by the protocol before any app runs."""
    body = _problem(status, title, detail)
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/problem+json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode()
    return head + body
