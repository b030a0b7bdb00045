"""Hostile input and hostile clients against a real node process on 127.0.0.1.

Deep JSON, huge integers and absurd tile paths get a precise 4xx, never a 500, and the
keep-alive connection stays usable; an oversized body gets its 413 even from a client that
sends everything before reading; clients that trickle their request are closed at the
configured deadlines, and one address cannot hold more than its share of connections.
"""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from ledger.canonical import MAX_JSON_DEPTH, MAX_NUMBER_DIGITS
from node.app import MAX_BODY
from node.bootstrap import init_community
from node.config import load_config, save_config
from node.launcher import NodeProcess, start_node
from node.limits import ConnectionLimits
from tests.factory import key

ORIGIN = "civic.example/hostile-garden"
CAP = 40  # connections per client address, configured below


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NodeProcess]:
    data = tmp_path_factory.mktemp("hostile") / "seq"
    init_community(data, ORIGIN, [key("hostile-chair")])
    cfg = load_config(data)
    cfg.header_timeout, cfg.body_timeout, cfg.max_connections_per_client = 3.0, 3.0, CAP
    save_config(data, cfg)
    proc = start_node(data, log_file=data.parent / "node.log")
    try:
        yield proc
    finally:
        proc.kill()
    assert b"Traceback" not in (data.parent / "node.log").read_bytes()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def problem(self) -> dict[str, object]:
        assert self.headers["content-type"] == "application/problem+json"
        got: dict[str, object] = json.loads(self.body)
        assert got["status"] == self.status
        return got


def connect(node: NodeProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", node.port), timeout=30)


def read_answer(sock: socket.socket) -> Answer:
    """One HTTP/1.1 response with a Content-Length body, read off ``sock``."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response (got {buf!r})"
        buf += chunk
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    length = int(headers["content-length"])
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a response body"
        body += chunk
    return Answer(int(lines[0].split()[1]), headers, body)


def request(
    sock: socket.socket,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> Answer:
    """Send a whole request (body included) before reading, as most clients do."""
    hdrs = {"Host": "127.0.0.1", "Content-Type": "application/json", **(headers or {})}
    if body or method == "POST":
        hdrs.setdefault("Content-Length", str(len(body)))
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    sock.sendall(head.encode() + b"\r\n" + body)
    return read_answer(sock)


def still_usable(sock: socket.socket) -> None:
    """The same connection answers the next request: nothing was torn down."""
    a = request(sock, "GET", "/healthz")
    assert a.status == 200 and json.loads(a.body)["origin"] == ORIGIN


JSON_ROUTES = ["/v1/statements", "/v1/funds/payees/resolve"]
DEEP = 100_000


@pytest.mark.parametrize("route", JSON_ROUTES)
@pytest.mark.parametrize(
    "body",
    [b"[" * DEEP + b"]" * DEEP, b'{"a":' * DEEP + b"1" + b"}" * DEEP],
    ids=["array", "object"],
)
def test_deep_json_is_422_naming_the_limit(node: NodeProcess, route: str, body: bytes) -> None:
    with connect(node) as sock:
        a = request(sock, "POST", route, body)
        assert a.status == 422
        assert f"nested more than {MAX_JSON_DEPTH} levels" in str(a.problem()["detail"])
        still_usable(sock)


def test_json_at_the_depth_limit_reaches_the_route(node: NodeProcess) -> None:
    # 64 levels in all, the envelope included: the statement route judges it (not the guard).
    nested: object = 1
    for _ in range(MAX_JSON_DEPTH - 2):
        nested = {"a": nested}
    body = json.dumps({"statement": {"body": nested}, "signatures": []}).encode()
    with connect(node) as sock:
        a = request(sock, "POST", "/v1/statements", body)
        assert a.status == 422
        assert "levels" not in str(a.problem()["detail"])
        # Brackets inside strings are not nesting.
        a = request(sock, "POST", "/v1/statements", json.dumps({"v": "[" * DEEP}).encode())
        assert a.status == 422 and "levels" not in str(a.problem()["detail"])
        still_usable(sock)


@pytest.mark.parametrize("route", JSON_ROUTES)
@pytest.mark.parametrize("field", ["v", "name"])
def test_huge_integer_in_a_body_is_422(node: NodeProcess, route: str, field: str) -> None:
    body = b'{"' + field.encode() + b'":' + b"7" * 5000 + b"}"
    with connect(node) as sock:
        a = request(sock, "POST", route, body)
        assert a.status == 422
        assert f"more than {MAX_NUMBER_DIGITS} digits" in str(a.problem()["detail"])
        still_usable(sock)


@pytest.mark.parametrize(
    "path",
    ["/log/tile/0/" + "x123/" * 2000 + "000", "/log/tile/" + "9" * 5000 + "/000"],
    ids=["segments", "level"],
)
def test_absurd_tile_path_is_400_like_other_bad_tile_paths(node: NodeProcess, path: str) -> None:
    with connect(node) as sock:
        a = request(sock, "GET", path)
        assert a.status == 400
        assert "not a tile path" in str(a.problem()["detail"])
        # The same status and wording as an ordinary bad tile path.
        b = request(sock, "GET", "/log/tile/0/x12/000")
        assert b.status == 400 and b.problem()["title"] == a.problem()["title"]
        still_usable(sock)


@pytest.mark.parametrize("where", ["url", "header"])
def test_oversized_request_head_is_431(node: NodeProcess, where: str) -> None:
    filler = "a" * (ConnectionLimits().max_head_bytes + 1)
    path, extra = ("/healthz?" + filler, {}) if where == "url" else ("/healthz", {"X-Big": filler})
    with connect(node) as sock:
        a = request(sock, "GET", path, headers=extra)
        assert a.status == 431 and "exceed 65536 bytes" in str(a.problem()["detail"])


def test_oversized_body_gets_its_413(node: NodeProcess) -> None:
    big = b"[" + b" " * MAX_BODY + b"]"
    # A client that sends everything, then reads, and asked for the connection to close:
    # it must read the 413, not a reset.
    with connect(node) as sock:
        a = request(sock, "POST", "/v1/statements", big, {"Connection": "close"})
        assert a.status == 413 and str(MAX_BODY) in str(a.problem()["detail"])
    # Chunked, with no length announced: refused once over, the rest read and dropped,
    # and the connection is kept.
    with connect(node) as sock:
        head = (
            "POST /v1/statements HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        piece = b" " * 65536
        chunks = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(140))
        sock.sendall(head.encode() + chunks + b"0\r\n\r\n")
        a = read_answer(sock)
        assert a.status == 413 and a.problem()["title"] == "Too large"
        still_usable(sock)
    # httpx, the client the CLI uses: over the byte limit, and 1,001 envelopes (~600 kB,
    # under it) over the array limit; both answers arrive and the connection is kept.
    batch = json.dumps([{"statement": {"pad": "x" * 560}, "signatures": []}] * 1001)
    with httpx.Client(timeout=60) as http:
        r = http.post(node.url + "/v1/statements", content=big)
        assert r.status_code == 413
        assert r.headers["content-type"] == "application/problem+json"
        r = http.post(node.url + "/v1/statements", content=batch)
        assert r.status_code == 413 and "got 1001" in r.json()["detail"]
        assert http.get(node.url + "/healthz").status_code == 200


def _closed(sock: socket.socket) -> bool:
    """True once the node has closed ``sock`` (EOF or reset)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(65536) == b""
    except OSError:
        return True


def test_slow_clients_are_closed_and_one_address_is_capped(node: NodeProcess) -> None:
    trickling: list[socket.socket] = []
    try:
        # Half trickle their headers, half announce a body and trickle it.
        for i in range(CAP):
            s = connect(node)
            if i % 2:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            else:
                # JSON bodies are read by the JSON guard, others by the route itself.
                media = b"application/json" if i % 4 else b"text/plain"
                s.sendall(
                    b"POST /v1/statements HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: "
                    + media
                    + b"\r\nContent-Length: 100000\r\n\r\n["
                )
            trickling.append(s)
        time.sleep(0.3)  # let the node accept all of them before counting
        # Over the cap: a 503 problem and the connection closed at once.
        with connect(node) as extra:
            a = read_answer(extra)
            assert a.status == 503
            assert f"{CAP} open connections" in str(a.problem()["detail"])
        # Keep trickling a byte every 0.2 s until the node has closed them all.
        deadline = time.monotonic() + 20
        open_ = list(trickling)
        while open_ and time.monotonic() < deadline:
            for s in list(open_):
                if _closed(s):
                    open_.remove(s)
                    continue
                try:
                    s.sendall(b"a")
                except OSError:
                    open_.remove(s)
            time.sleep(0.2)
        assert not open_, f"{len(open_)} of {CAP} trickling connections are still open"
    finally:
        for s in trickling:
            s.close()
    # The node still serves a normal client.
    r = httpx.get(node.url + "/healthz", timeout=30)
    assert r.status_code == 200 and r.json()["origin"] == ORIGIN


def test_connection_limits_must_be_positive(tmp_path: Path) -> None:
    from ledger.errors import InputError

    data = tmp_path / "seq"
    init_community(data, ORIGIN, [key("hostile-chair")])
    cfg = load_config(data)
    assert cfg.connection_limits().max_per_client == 256
    cfg.header_timeout = 0
    with pytest.raises(InputError, match="header_timeout must be a positive"):
        cfg.connection_limits()
