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
