"""``civic node start --log-format json``: one JSON line per request, no personal data."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from node.bootstrap import init_community
from node.launcher import NodeProcess, start_node
from tests.test_district import CHAIR, ELM, OAK, enrol, make_district, submit

ORIGIN = "civic.example/log-garden"


@pytest.fixture
def procs() -> Iterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    yield started
    for p in started:
        p.kill()


def lines(log: Path) -> list[dict[str, Any]]:
    """Every line the node wrote, each parsed as JSON (a line that is not JSON fails)."""
    text = log.read_text("utf-8") if log.exists() else ""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def line_of(log: Path, rid: str) -> dict[str, Any]:
    """The one request line with ``rid``, once the node has written it."""
    for _ in range(300):
        found = [x for x in lines(log) if x.get("request_id") == rid]
        if found:
            assert len(found) == 1, found
            return found[0]
        time.sleep(0.05)
    raise AssertionError(f"no log line for request {rid}")


def test_one_json_line_per_request_without_the_body(
    tmp_path: Path, procs: list[NodeProcess]
) -> None:
    data = tmp_path / "node"
    init_community(data, ORIGIN, [CHAIR])
    log = tmp_path / "node.log"
    node = start_node(data, extra_args=["--log-format", "json"], log_file=log)
    procs.append(node)
    env = enrol(ORIGIN, "log-7")
    member = env["statement"]["body"]["key"]
    secret = env["statement"]["body"]["unit_commitment"]
    r = httpx.post(node.url + "/v1/statements", json=env, headers={"X-Request-ID": "abc-123"})
    assert r.status_code == 201 and r.headers["x-request-id"] == "abc-123"
    line = line_of(log, "abc-123")
    assert line["event"] == "request" and line["level"] == "info"
    assert line["method"] == "POST" and line["route"] == "/v1/statements"
    assert line["status"] == 201 and line["origin"] == ORIGIN
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    # A path that names a resident is logged by its template only.
    got = httpx.get(f"{node.url}/v1/members/{member}")
    assert got.status_code == 200
    member_line = line_of(log, got.headers["x-request-id"])
    assert member_line["route"] == "/v1/members/{key_id}"
    # A made-up request id (too long, odd characters) is replaced, not logged.
    odd = httpx.get(node.url + "/v1/checkpoints/1", headers={"X-Request-ID": "<x>" * 40})
    assert odd.headers["x-request-id"] != "<x>" * 40
    assert line_of(log, odd.headers["x-request-id"])["status"] == odd.status_code
    missing = httpx.get(node.url + "/no/such/" + member)
    assert line_of(log, missing.headers["x-request-id"]) == {
        **line_of(log, missing.headers["x-request-id"]),
        "route": None,
        "status": 404,
    }
    text = log.read_text("utf-8")
    for personal in (member, secret, env["signatures"][0]["sig"], "127.0.0.1", "<x>"):
        assert personal not in text, f"{personal!r} was logged"
    assert all(isinstance(x, dict) for x in lines(log))  # nothing but JSON lines


def test_district_lines_name_the_community(tmp_path: Path, procs: list[NodeProcess]) -> None:
    data = make_district(tmp_path, None, [ELM, OAK])
    log = tmp_path / "district.log"
    node = start_node(data, extra_args=["--log-format", "json"], log_file=log)
    procs.append(node)
    r = submit(node.url, OAK, enrol(OAK, "oak-0"))
    assert r.status_code == 201
    line = line_of(log, r.headers["x-request-id"])
    assert line["origin"] == OAK and line["route"] == "/c/{origin}/v1/statements"
    root = httpx.get(node.url + "/c/")
    assert line_of(log, root.headers["x-request-id"])["route"] == "/c/"
    assert line_of(log, root.headers["x-request-id"])["origin"] is None
