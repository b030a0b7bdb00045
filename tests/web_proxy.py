"""A small tampering proxy in front of a real node, for the browser tests.

It forwards every request to the node and, depending on ``mode``, alters what a dishonest
node could serve: a forged record, a checkpoint with a wrong root, an old checkpoint (a
rollback), or a checkpoint stripped of cosignatures below the quorum.
"""

from __future__ import annotations

import base64
import http.server
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ledger import merkle
from ledger.canonical import canonical_json


class TamperProxy:
    """Forward to ``upstream``; ``mode`` (None for honest) picks the tampering."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.mode: str | None = None
        self.forge_index: int | None = None
        self.old_checkpoint: bytes | None = None
        self.url = ""

    def alter(self, path: str, body: bytes) -> bytes:
        if self.mode == "forged-record" and path == f"/v1/records/{self.forge_index}":
            doc = json.loads(body)
            rec = doc["record"]
            # A dishonest node changes the amount and serves hashes that match its forgery.
            rec["envelope"]["statement"]["body"]["amount"] += 100_000
            raw = canonical_json(rec)
            doc["entry"] = base64.b64encode(raw).decode()
            doc["leaf_hash"] = merkle.leaf_hash(raw).hex()
            return json.dumps(doc).encode()
        if path == "/log/checkpoint":
            text = body.decode()
            if self.mode == "wrong-root":
                lines = text.split("\n")
                lines[2] = base64.b64encode(merkle.leaf_hash(b"another tree")).decode()
                return "\n".join(lines).encode()
            if self.mode == "rollback" and self.old_checkpoint is not None:
                return self.old_checkpoint
            if self.mode == "short-quorum":
                head, sigs = text.split("\n\n", 1)
                lines = sigs.splitlines()
                # the log's own signature and a single witness cosignature (quorum is 2)
                kept = [lines[0], next(x for x in lines[1:] if "witness" in x)]
                return (head + "\n\n" + "\n".join(kept) + "\n").encode()
        return body


@contextmanager
def tamper_proxy(upstream: str) -> Iterator[TamperProxy]:
    proxy = TamperProxy(upstream)
    client = httpx.Client(base_url=upstream, timeout=30)

    class Handler(http.server.BaseHTTPRequestHandler):
        def _forward(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            data = self.rfile.read(length) if length else None
            headers = {
                k: v
                for k, v in self.headers.items()
                if k.lower() in ("content-type", "accept", "authorization")
            }
            r = client.request(method, self.path, content=data, headers=headers)
            body = proxy.alter(self.path.split("?")[0], r.content) if method == "GET" else r.content
            self.send_response(r.status_code)
            for k, v in r.headers.items():
                if k.lower() in ("content-type", "cache-control"):
                    self.send_header(k, v)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            self._forward("GET")

        def do_POST(self) -> None:
            self._forward("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    proxy.url = f"http://127.0.0.1:{srv.server_address[1]}"
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield proxy
    finally:
        srv.shutdown()
        srv.server_close()
        client.close()
