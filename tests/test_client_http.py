"""The node client: problem responses become the CivicError of their status; short connects."""

from __future__ import annotations

import httpx
import pytest

from client.http import NodeClient, error_for_status
from ledger.errors import ConflictError, NetworkError, NotFoundError, SignatureError
from node.launcher import free_port


def _client(status: int, body: bytes, ctype: str = "application/problem+json") -> NodeClient:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=body, headers={"Content-Type": ctype})

    return NodeClient(
        "http://node.test/", client=httpx.Client(transport=httpx.MockTransport(handler))
    )


def test_problem_detail_becomes_the_error_of_its_status() -> None:
    c = _client(404, b'{"title": "Not Found", "detail": "there is no ballot 7"}')
    with c, pytest.raises(NotFoundError, match="there is no ballot 7") as info:
        c.get_json("/v1/ballots/7")
    assert info.value.status == 404
    assert isinstance(error_for_status(409, "x"), ConflictError)
    assert isinstance(error_for_status(401, "x"), SignatureError)
    assert type(error_for_status(502, "x")) is NetworkError


def test_unreachable_node_is_a_network_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with (
        NodeClient(url, connect_timeout=0.5) as c,
        pytest.raises(NetworkError, match="cannot reach"),
    ):
        c.checkpoint()


def test_connect_timeout_is_its_own_parameter() -> None:
    with NodeClient("http://127.0.0.1:1", timeout=30.0, connect_timeout=2.0) as c:
        timeout = c._http.timeout
    assert (timeout.connect, timeout.read) == (2.0, 30.0)


def test_a_node_url_without_scheme_is_http() -> None:
    # Issue 10, item 19: `--node 127.0.0.1:8000` counted as unreachable.
    from client.http import node_url
    from ledger.errors import InputError

    assert node_url("127.0.0.1:8000") == "http://127.0.0.1:8000"
    assert node_url(" https://n.example/ ") == "https://n.example"
    assert NodeClient("127.0.0.1:8000/").url == "http://127.0.0.1:8000"
    with pytest.raises(InputError, match="http:// or https://"):
        node_url("ftp://n.example")


def test_probe_names_down_and_hung_nodes_and_returns(tmp_path: object) -> None:
    # Issue 10, item 17: a hung node (a socket that accepts and never answers) and a node
    # that is down are named; the one that answers is used. The probe is bounded: it runs
    # in a thread that must be done well before the join's bound.
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from client.reach import Reach, probe_nodes

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = b"example.test/log\n1\nAAAA\n\n- x y\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    hung = socket.socket()
    hung.bind(("127.0.0.1", 0))
    hung.listen(8)  # the kernel completes handshakes; nobody ever reads or answers
    server = ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    good = f"http://127.0.0.1:{server.server_address[1]}"
    hung_url = f"http://127.0.0.1:{hung.getsockname()[1]}"
    dead = f"http://127.0.0.1:{free_port()}"
    got: list[Reach] = []
    t = threading.Thread(target=lambda: got.append(probe_nodes([hung_url, dead, good], 2.0)))
    try:
        t.start()
        t.join(60)
        assert not t.is_alive(), "the probe waited on the hung node"
    finally:
        server.shutdown()
        server.server_close()
        hung.close()
    (reach,) = got
    assert reach.up == (good,)
    assert set(reach.down) == {hung_url, dead}
    assert "cannot reach" in reach.down[dead] and "cannot reach" in reach.down[hung_url]
