"""A standby sequencer in one process: who writes, the fence, the refusal on SQLite."""

from __future__ import annotations

import shutil
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from ledger.errors import CivicError, InputError
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.config import load_config, save_config
from node.context import NodeContext, open_context
from node.standby import NotWriterError, lock_key
from tests.factory import key
from tests.pg import PgServer

ORIGIN = "civic.example/standby-garden"
CHAIR = key("standby-chair")


def enrol(label: str) -> dict[str, object]:
    st = make_statement(
        ORIGIN,
        "member.enrol",
        {"key": key(label).key_id, "unit_commitment": "cd" * 32},
        CHAIR.key_id,
    )
    return sign_envelope(st, [CHAIR])


def pair(pg: PgServer, tmp: Path) -> tuple[Path, Path]:
    """Two data folders for one community: same log key, same PostgreSQL database."""
    url = pg.create_database("sb_" + uuid.uuid4().hex[:12])
    a, b = tmp / "a", tmp / "b"
    init_community(a, ORIGIN, [CHAIR], database=url)
    b.mkdir()
    for f in ("node.json", "log.key"):
        shutil.copy2(a / f, b / f)
    for d, name in ((a, "seq-a"), (b, "seq-b")):
        cfg = load_config(d)
        cfg.extra["standby"] = {"name": name, "url": f"http://{name}.invalid", "poll_interval": 0.1}
        save_config(d, cfg)
    return a, b


def wait_for(pred: object, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def kill_lock_session(pg: PgServer, origin: str) -> None:
    """End the session holding the community's advisory lock, as PostgreSQL does when the
    writer's connection dies, while the writer process itself goes on (a paused writer)."""
    k = lock_key(origin)
    classid, objid = (k >> 32) & 0xFFFFFFFF, k & 0xFFFFFFFF
    with psycopg.connect(pg.admin_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
            "AND classid = %s AND objid = %s AND granted",
            (classid, objid),
        ).fetchall()
    assert rows == [(True,)], rows


def test_one_writer_standby_names_it_and_serves_reads(pg_server: PgServer, tmp_path: Path) -> None:
    a, b = pair(pg_server, tmp_path)
    ca = open_context(a, serve=True)
    cb: NodeContext | None = None
    try:
        assert ca.services["standby"].role == "writer"
        cb = open_context(b, serve=True)
        sb = cb.services["standby"]
        assert sb.role == "standby" and "sequencer" not in cb.services
        refusal = sb.refusal()
        assert refusal is not None and refusal.status_code == 503
        assert b"seq-a" in refusal.body and b"http://seq-a.invalid" in refusal.body
        results = ca.services["sequencer"].submit([enrol(f"r{i}") for i in range(5)])
        assert all(not isinstance(r, CivicError) for r in results)
        sb.start()
        # The standby's reads follow the writer's commits: the log's frontier and the state.
        wait_for(lambda: cb.log.size == 6 and cb.state().size == 6, "the standby to catch up")
        assert cb.log.root() == ca.log.root()
        assert cb.state().snapshot() == ca.state().snapshot()
        assert sb.role == "standby"
    finally:
        if cb is not None:
            cb.close()
        ca.close()


def test_standby_takes_over_when_the_writer_ends(pg_server: PgServer, tmp_path: Path) -> None:
    a, b = pair(pg_server, tmp_path)
    ca = open_context(a, serve=True)
    first = enrol("before")
    ca.services["sequencer"].submit([first])
    cb = open_context(b, serve=True)
    try:
        sb = cb.services["standby"]
        sb.start()
        before = ca.state().snapshot()
        ca.close()  # its session ends, and the lock with it
        wait_for(lambda: sb.role == "writer", "the standby to take over")
        assert sb.writer is not None and sb.writer.name == "seq-b"
        assert cb.state().snapshot() == before
        (res,) = cb.services["sequencer"].submit([enrol("after")])
        assert not isinstance(res, CivicError) and res.index == 2
        (again,) = cb.services["sequencer"].submit([first])
        assert isinstance(again, CivicError) and "replay" in again.message
        assert cb.log.verify_integrity() == 3
    finally:
        cb.close()


def test_a_paused_writer_that_lost_its_lock_is_fenced(pg_server: PgServer, tmp_path: Path) -> None:
    a, b = pair(pg_server, tmp_path)
    ca = open_context(a, serve=True)
    cb = open_context(b, serve=True)
    try:
        sa, sb = ca.services["standby"], cb.services["standby"]
        sb.start()
        kill_lock_session(pg_server, ORIGIN)
        wait_for(lambda: sb.role == "writer", "the standby to take over")
        (res,) = cb.services["sequencer"].submit([enrol("new-writer")])
        assert not isinstance(res, CivicError)
        size = cb.log.size
        # The old writer still believes it writes: its batch must not commit.
        (old,) = ca.services["sequencer"].submit([enrol("old-writer")])
        assert isinstance(old, NotWriterError), old
        assert sa.role == "fenced" and sa.writer is not None and sa.writer.name == "seq-b"
        refusal = sa.refusal()
        assert refusal is not None and b"seq-b" in refusal.body
        (more,) = cb.services["sequencer"].submit([enrol("still-writing")])
        assert not isinstance(more, CivicError) and more.index == size
        assert cb.log.verify_integrity() == size + 1
    finally:
        cb.close()
        ca.close()


def test_standby_on_sqlite_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "node"
    init_community(data, ORIGIN, [CHAIR])
    cfg = load_config(data)
    cfg.extra["standby"] = {"name": "seq-a"}
    save_config(data, cfg)
    with pytest.raises(InputError, match="needs PostgreSQL"):
        open_context(data, serve=True)


def test_a_standby_whose_session_broke_reconnects(pg_server: PgServer, tmp_path: Path) -> None:
    a, b = pair(pg_server, tmp_path)
    ca = open_context(a, serve=True)
    cb = open_context(b, serve=True)
    try:
        sb = cb.services["standby"]
        pid = sb.election.conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with psycopg.connect(pg_server.admin_dsn, autocommit=True) as conn:
            conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        sb.start()
        ca.close()
        wait_for(lambda: sb.role == "writer", "the standby to reconnect and take over")
        (res,) = cb.services["sequencer"].submit([enrol("after-reconnect")])
        assert not isinstance(res, CivicError) and res.index == 1
    finally:
        cb.close()
