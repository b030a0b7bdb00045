"""The front end of POST /v1/statements (node/ingest.py): worker processes verify, the
single writer commits; a worker's death fails its requests and acknowledges nothing."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import canonical_json
from ledger.errors import InputError, SignatureError, TooLargeError
from ledger.keys import key_id
from ledger.records import build_record, parse_record
from ledger.statements import make_statement, parse_envelope, sign_envelope
from node.bootstrap import init_community
from node.context import open_context
from node.ingest import (
    INLINE_BODY,
    WORKERS_ENV,
    Checked,
    FrontEnd,
    FrontEndUnavailable,
    check_body,
    workers_from_env,
)
from node.launcher import start_node
from node.sequencer import record_bytes
from tests.factory import key

ORIGIN = "civic.example/ingest"
CHAIR = key("ingest-chair")


def enrol(n: int) -> list[dict[str, Any]]:
    out = []
    for _ in range(n):
        body = {"key": key_id(os.urandom(32)), "unit_commitment": os.urandom(32).hex()}
        out.append(
            sign_envelope(make_statement(ORIGIN, "member.enrol", body, CHAIR.key_id), [CHAIR])
        )
    return out


def mixed() -> list[dict[str, Any]]:
    """Good envelopes and each kind of fault the front end must name."""
    good, forged, short, priv = enrol(4)
    sig = base64.b64decode(forged["signatures"][0]["sig"])
    forged["signatures"][0]["sig"] = base64.b64encode(bytes([sig[0] ^ 1]) + sig[1:]).decode()
    del short["statement"]["nonce"]
    priv["private"] = "not an object"
    with_private = dict(enrol(1)[0], private={"value": "Flat 9", "salt": "c2FsdA=="})
    return [good, forged, short, priv, with_private]


def same(a: Checked, b: Checked) -> bool:
    if a.error is not None or b.error is not None:
        return type(a.error) is type(b.error) and getattr(a.error, "message", None) == getattr(
            b.error, "message", None
        )
    return a.envelope == b.envelope and a.private == b.private


def test_check_body_names_each_items_fault() -> None:
    items = mixed()
    body = check_body(json.dumps(items).encode(), 1000)
    assert not body.single and body.count == len(items)
    good, forged, short, priv, with_private = body.items
    assert good.error is None and good.envelope == parse_envelope(items[0])
    assert isinstance(forged.error, SignatureError)
    assert isinstance(short.error, InputError) and "nonce" in short.error.message
    assert isinstance(priv.error, InputError) and "private" in priv.error.message
    assert with_private.error is None and with_private.private == {
        "value": "Flat 9",
        "salt": "c2FsdA==",
    }
    assert with_private.envelope is not None and "private" not in with_private.envelope.to_json()


def test_check_body_refuses_malformed_json_and_leaves_big_arrays_unverified() -> None:
    with pytest.raises(InputError):
        check_body(b'{"statement": 1, "statement": 2}', 1000)
    with pytest.raises(InputError):
        check_body(b"[" * 100 + b"]" * 100, 1000)
    body = check_body(json.dumps(enrol(3)).encode(), 2)
    assert body.count == 3 and body.items == ()
    assert check_body(b"[]", 2).items == ()
    one = check_body(json.dumps(enrol(1)[0]).encode(), 2)
    assert one.single and one.count == 1 and one.items[0].error is None


def test_worker_processes_answer_what_the_node_process_would() -> None:
    data = json.dumps(mixed() + enrol(40)).encode()
    assert len(data) >= INLINE_BODY  # else it is checked in this process, by design
    front = FrontEnd(2)
    try:
        pooled = asyncio.run(front.check(data, 1000))
        assert len(front.pids()) >= 1  # it really ran in other processes
        with pytest.raises(InputError):
            asyncio.run(front.check(b"{nope", 1000))
    finally:
        front.close()
    inline = check_body(data, 1000)
    assert pooled.count == inline.count
    assert all(same(a, b) for a, b in zip(pooled.items, inline.items, strict=True))


def test_a_single_envelope_is_checked_in_the_node_process() -> None:
    # Pickling one envelope to a worker and back costs more than checking it.
    front = FrontEnd(1)
    try:
        one = asyncio.run(front.check(json.dumps(enrol(1)[0]).encode(), 1000))
        assert one.single and one.items[0].error is None
        assert front.pids() == []  # no worker was started for it
    finally:
        front.close()


def test_a_killed_worker_fails_its_request_and_the_next_one_gets_a_new_pool() -> None:
    front = FrontEnd(1)
    # About a second of verification for one worker even on a quiet machine, so the kill
    # lands while it runs (a larger batch than the route allows, for that reason only).
    big = json.dumps(enrol(15000)).encode()

    async def scenario() -> None:
        task = asyncio.ensure_future(front.check(big, 15000))
        while not front.pids():
            await asyncio.sleep(0.01)
        (pid,) = front.pids()
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(FrontEndUnavailable):
            await task
        again = await front.check(json.dumps(enrol(40)).encode(), 1000)
        assert [c.error for c in again.items] == [None] * 40
        assert front.pids() and pid not in front.pids()

    try:
        asyncio.run(scenario())
    finally:
        front.close()
    with pytest.raises(FrontEndUnavailable):
        asyncio.run(front.check(b"[]", 1000))  # closed: refuses, starts no new workers


def test_worker_count_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WORKERS_ENV, "3")
    assert workers_from_env() == 3
    monkeypatch.setenv(WORKERS_ENV, "0")
    assert FrontEnd().workers == 0
    monkeypatch.delenv(WORKERS_ENV)
    assert workers_from_env() == max(1, (os.cpu_count() or 1) - 1)
    for bad in ("many", "-1"):
        monkeypatch.setenv(WORKERS_ENV, bad)
        with pytest.raises(InputError, match=WORKERS_ENV):
            workers_from_env()


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def worker_pids(node_pid: int) -> list[int]:
    """The node's front-end workers (not multiprocessing's resource tracker)."""
    pids = []
    for c in children(node_pid):
        try:
            if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes():
                pids.append(c)
        except OSError:
            continue
    return pids


def alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_killing_a_worker_of_a_real_node_acknowledges_nothing_lost(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "node"
    init_community(data, ORIGIN, [CHAIR])
    monkeypatch.setenv(WORKERS_ENV, "1")
    node = start_node(data)
    acked: set[str] = set()
    failed: set[str] = set()
    statuses: list[int] = []
    first = threading.Event()
    try:
        # Enough work queued behind the one worker that the kill, right after the first
        # acknowledgement, lands while requests are in flight, even on a quiet machine.
        batches = [enrol(1000) for _ in range(8)]

        def post(mine: list[list[dict[str, Any]]]) -> None:
            with httpx.Client(timeout=120) as c:
                for b in mine:
                    r = c.post(node.url + "/v1/statements", json=b)
                    statuses.append(r.status_code)
                    nonces = [e["statement"]["nonce"] for e in b]
                    if r.status_code == 200:
                        assert all(x["status"] == 201 for x in r.json()["results"])
                        acked.update(nonces)
                        first.set()
                    else:
                        assert r.status_code == 503, r.text
                        assert r.headers["content-type"] == "application/problem+json"
                        assert "send it again" in r.json()["detail"]
                        failed.update(nonces)

        threads = [threading.Thread(target=post, args=(batches[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        assert first.wait(120)
        (pid,) = worker_pids(node.proc.pid)
        os.kill(pid, signal.SIGKILL)
        for t in threads:
            t.join(180)
        assert not any(t.is_alive() for t in threads)
        assert 503 in statuses, statuses  # requests queued behind the one worker failed
        # The node goes on: the next request gets a new worker and is accepted.
        r = httpx.post(node.url + "/v1/statements", json=enrol(40), timeout=120)
        assert r.status_code == 200, r.text
        assert all("index" in x for x in r.json()["results"]), r.text
        new = worker_pids(node.proc.pid)
        assert new and pid not in new
        # kill -9 of the node takes its workers with it.
        node.kill()
        deadline = time.monotonic() + 60
        while any(alive(p) for p in new) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(p) for p in new), "front-end workers outlived their node"
    finally:
        node.kill()
    ctx = open_context(data)
    try:
        logged = {
            parse_record(e).envelope["statement"]["nonce"] for e in ctx.log.entries(0, ctx.log.size)
        }
    finally:
        ctx.store.close()
    assert acked <= logged, "an acknowledged statement is missing"
    assert not failed & logged, "a statement answered 503 was appended"


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    body=st.dictionaries(st.text(), json_values, max_size=5),
    index=st.integers(0, 2**48),  # a log never nears the I-JSON limit, 2**53
    prev=st.binary(min_size=32, max_size=32),
    signers=st.integers(1, 3),
)
def test_writer_record_bytes_equal_build_record(
    body: dict[str, Any], index: int, prev: bytes, signers: int
) -> None:
    keys = [CHAIR, key("ingest-second"), key("ingest-third")][:signers]
    try:
        env = sign_envelope(make_statement(ORIGIN, "t.any", body, CHAIR.key_id), keys)
        parsed = parse_envelope(env)
    except InputError:
        return  # not canonicalisable (rfc8785 refuses it): nothing reaches the writer
    assert parsed.jcs == canonical_json(parsed.to_json())
    when = "2026-12-02T06:00:00Z"
    assert record_bytes(index, prev.hex(), when, parsed) == build_record(
        index, prev.hex(), when, parsed.to_json()
    )


def test_writer_record_bytes_keep_the_size_limit_and_work_without_jcs() -> None:
    big = sign_envelope(
        make_statement(ORIGIN, "t.any", {"text": "x" * 70_000}, CHAIR.key_id), [CHAIR]
    )
    parsed = parse_envelope(big)
    with pytest.raises(TooLargeError):
        record_bytes(0, "00" * 32, "2026-12-02T06:00:00Z", parsed)
    small = parse_envelope(enrol(1)[0])
    bare = dataclasses.replace(small, jcs=b"")
    assert record_bytes(3, "11" * 32, "2026-12-02T06:00:00Z", bare) == record_bytes(
        3, "11" * 32, "2026-12-02T06:00:00Z", small
    )


@pytest.mark.parametrize("number", [2.0**53, 1e20])
def test_a_statement_whose_record_would_not_read_back_is_refused(number: float) -> None:
    env = sign_envelope(make_statement(ORIGIN, "t.any", {"n": number}, CHAIR.key_id), [CHAIR])
    (checked,) = check_body(json.dumps([env]).encode(), 10).items
    assert isinstance(checked.error, InputError) and "as a string" in checked.error.message
    fine = sign_envelope(make_statement(ORIGIN, "t.any", {"n": 1e21}, CHAIR.key_id), [CHAIR])
    assert check_body(json.dumps(fine).encode(), 10).items[0].error is None
