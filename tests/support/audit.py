"""Helpers for the audit tests: real communities in data folders, and their log objects.

(No tests here; shared by tests/test_audit_*.py.)
"""

from __future__ import annotations

import base64
import shutil
import sqlite3
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from audits.verify import tile_refs
from ledger.c2sp.note import NoteSigner
from ledger.community import commitment
from ledger.errors import CivicError
from ledger.keys import KeyPair
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.context import open_context
from tests.factory import key

ORIGIN = "civic.example/audit-garden"
CHAIR = key("audit-chair")
COMMITTEE = [CHAIR, key("audit-committee-1")]


def enrol_env(
    resident: KeyPair, signer: KeyPair = CHAIR, unit: str | None = None
) -> dict[str, Any]:
    """An enrolment envelope with its private opening, fresh nonce, created now."""
    unit = unit or f"unit of {resident.key_id}"
    salt = b"salt-salt-salt-1"
    body = {"key": resident.key_id, "unit_commitment": commitment(unit, salt)}
    env = sign_envelope(make_statement(ORIGIN, "member.enrol", body, signer.key_id), [signer])
    env["private"] = {"value": unit, "salt": base64.b64encode(salt).decode()}
    return env


def submit(data_dir: Path, envelopes: Sequence[dict[str, Any]], batch: int = 500) -> None:
    """Submit through the node's own sequencer (node stopped); raise the first rejection."""
    ctx = open_context(data_dir, serve=True)
    try:
        for lo in range(0, len(envelopes), batch):
            for r in ctx.services["sequencer"].submit(list(envelopes[lo : lo + batch])):
                if isinstance(r, CivicError):
                    raise r
    finally:
        ctx.close()


def make_community(
    data_dir: Path, residents: int, label: str = "r", log_signer: NoteSigner | None = None
) -> dict[str, Any]:
    """A community of ``residents`` enrolments after genesis; returns the notice board."""
    info = init_community(data_dir, ORIGIN, COMMITTEE, log_signer=log_signer)
    envs = [enrol_env(key(f"{label}{i}"), unit=f"Flat {i}") for i in range(residents)]
    submit(data_dir, envs)
    return info


def log_objects(data_dir: Path) -> dict[str, bytes]:
    """Every object a node at ``data_dir`` serves under /log (checkpoint, tiles, bundles)."""
    ctx = open_context(data_dir)
    try:
        log = ctx.log
        out = {"log/checkpoint": log.checkpoint()}
        for r in tile_refs(log.size):
            data = (
                log.entry_bundle(r.index, r.width)
                if r.is_entries
                else log.tile(r.level or 0, r.index, r.width)
            )
            out["log/" + r.path()] = data
        return out
    finally:
        ctx.close()


def copy_node(src: Path, dst: Path) -> Path:
    """A copy of a stopped node's data folder."""
    shutil.copytree(src, dst)
    return dst


def sql(data_dir: Path, *statements: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run SQL on a stopped node's SQLite file with the append-only triggers dropped."""
    con = sqlite3.connect(data_dir / "ledger.sqlite")
    try:
        for t in ("log_entries", "log_nodes", "log_checkpoints"):
            for op in ("update", "delete"):
                con.execute(f"DROP TRIGGER IF EXISTS {t}_no_{op}")
        rows: list[Any] = []
        for s in statements:
            rows = con.execute(s, params).fetchall() if params else con.execute(s).fetchall()
        con.commit()
        return rows
    finally:
        con.close()


class TamperingProxy:
    """A test-only HTTP proxy in front of a real node that flips one byte of one path.

    GET only; everything else about the answer is passed through.
    """

    def __init__(self, upstream: str, path: str, offset: int = 40) -> None:
        self.upstream = upstream.rstrip("/")
        self.path = path
        self.offset = offset
        self.hits = 0
        self._client = httpx.Client(timeout=30.0)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                r = proxy._client.get(proxy.upstream + self.path)
                body = r.content
                if self.path == proxy.path and r.status_code == 200:
                    proxy.hits += 1
                    b = bytearray(body)
                    b[proxy.offset % len(b)] ^= 0x01
                    body = bytes(b)
                self.send_response(r.status_code)
                self.send_header("Content-Type", r.headers.get("content-type", "text/plain"))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        self._client.close()
