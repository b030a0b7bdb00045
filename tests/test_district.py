"""A district node: many communities in one process, under /c/{origin}/, as real processes.

Every test runs the real CLI to lay out the folder, a real node process over real HTTP,
on SQLite files and on one PostgreSQL database (a schema per community).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from cli.main import app as cli_app
from client.http import NodeClient
from ledger.community import commitment
from ledger.keys import KeyPair
from ledger.statements import make_statement, sign_envelope
from node.district import community_dir, load_district, slug
from node.launcher import NodeProcess, start_node
from tests.factory import key
from tests.pg import PgServer

ELM = "civic.example/elm-street"
OAK = "civic.example/oak-street"
CHAIR = key("district-chair")
runner = CliRunner()


def civic(*args: str) -> Any:
    """Run the real CLI in-process; the JSON it prints."""
    res = runner.invoke(cli_app, [*args, "--json"], env={"CIVIC_PASSPHRASE": "pw"})
    assert res.exit_code == 0, res.output
    return json.loads(res.output)


def enrol(origin: str, label: str) -> dict[str, Any]:
    body = {"key": key(label).key_id, "unit_commitment": commitment(label, os.urandom(16))}
    return sign_envelope(make_statement(origin, "member.enrol", body, CHAIR.key_id), [CHAIR])


def key_file(tmp: Path, k: KeyPair) -> Path:
    from ledger.keys import save_key_file

    path = tmp / "chair.key"
    if not path.exists():
        save_key_file(path, k, "pw", strength="min")
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def district_db(request: pytest.FixtureRequest) -> str | None:
    """None (a SQLite file per community) or one PostgreSQL database for the district."""
    if request.param == "sqlite":
        return None
    srv: PgServer = request.getfixturevalue("pg_server")
    return srv.create_database("d_" + uuid.uuid4().hex[:12])


def make_district(tmp: Path, database: str | None, origins: list[str]) -> Path:
    data = tmp / "district"
    args = ["node", "init", "--data", str(data), "--role", "sequencer"]
    civic(*args, *(["--database", database] if database else []))
    chair = key_file(tmp, CHAIR)
    for origin in origins:
        out = civic(
            "node", "add-community", "--data", str(data), "--origin", origin,
            "--committee", str(chair),
        )  # fmt: skip
        assert out["origin"] == origin and out["genesis_hash"]
    return data


@pytest.fixture
def procs() -> Iterator[list[NodeProcess]]:
    started: list[NodeProcess] = []
    yield started
    for p in started:
        p.kill()


def submit(url: str, origin: str, env: dict[str, Any], timeout: float = 60) -> httpx.Response:
    return httpx.post(f"{url}/c/{origin}/v1/statements", json=env, timeout=timeout)


@given(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=80))
def test_slug_is_safe_and_tells_origins_apart(a: str, b: str) -> None:
    for s in (slug(a), slug(b)):
        assert s.replace("-", "").isalnum() and s.isascii() and s == s.lower()
        assert len("civic_" + s) <= 63  # a PostgreSQL identifier
    if a != b:
        assert slug(a) != slug(b)


def test_cli_lists_and_refuses_twice(tmp_path: Path) -> None:
    data = make_district(tmp_path, None, [ELM, OAK])
    rows = civic("node", "list-communities", "--data", str(data))
    assert [r["origin"] for r in rows] == [ELM, OAK]
    assert all(r["database"] == "sqlite" for r in rows)
    assert (community_dir(data, ELM) / "ledger.sqlite").is_file()
    again = subprocess.run(
        [sys.executable, "-m", "cli.main", "node", "add-community", "--data", str(data),
         "--origin", ELM, "--committee", str(tmp_path / "chair.key")],
        capture_output=True, text=True, env=dict(os.environ, CIVIC_PASSPHRASE="pw"),
    )  # fmt: skip
    assert again.returncode != 0 and "already serves" in again.stderr + again.stdout
    assert "Traceback" not in again.stderr
    assert load_district(data).communities == [ELM, OAK]  # nothing half-written
    for bad, says in (
        (["--follow", "http://127.0.0.1:9"], "set per community"),
        (["--role", "mirror"], "not a mirror"),
    ):
        refused = subprocess.run(
            [sys.executable, "-m", "cli.main", "node", "start", "--data", str(data), *bad],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert refused.returncode != 0 and says in refused.stderr + refused.stdout
        assert "Traceback" not in refused.stderr


def test_district_serves_each_community_under_its_prefix(
    tmp_path: Path, district_db: str | None, procs: list[NodeProcess]
) -> None:
    data = make_district(tmp_path, district_db, [ELM, OAK])
    node = start_node(data)
    procs.append(node)
    for i in range(3):
        assert submit(node.url, ELM, enrol(ELM, f"elm-{i}")).status_code == 201
    assert submit(node.url, OAK, enrol(OAK, "oak-0")).status_code == 201
    # A statement signed for one community is refused by the other (its origin).
    wrong = submit(node.url, OAK, enrol(ELM, "elm-x"))
    assert wrong.status_code >= 400 and wrong.headers["content-type"].startswith(
        "application/problem+json"
    )
    with NodeClient(f"{node.url}/c/{ELM}") as elm, NodeClient(f"{node.url}/c/{OAK}") as oak:
        assert elm.community()["origin"] == ELM and elm.community()["size"] == 4
        assert oak.community()["origin"] == OAK and oak.community()["size"] == 2
        assert elm.checkpoint().startswith(ELM.encode() + b"\n4\n")
        assert oak.checkpoint().startswith(OAK.encode() + b"\n2\n")
    listed = httpx.get(f"{node.url}/c/").json()
    assert [(c["origin"], c["size"], c["ok"]) for c in listed["communities"]] == [
        (ELM, 4, True),
        (OAK, 2, True),
    ]
    health = httpx.get(f"{node.url}/healthz")
    assert health.status_code == 200 and health.json()["serving"] == 2
    assert httpx.get(f"{node.url}/c/{ELM}/healthz").json()["origin"] == ELM
    # Each community's page, its files and its API docs under its own prefix.
    page = httpx.get(f"{node.url}/c/{ELM}", follow_redirects=True)
    assert page.status_code == 200 and str(page.url).endswith(f"/c/{ELM}/")
    assert "web/js/app.js" in page.text
    assert httpx.get(f"{node.url}/c/{ELM}/web/js/api.js").status_code == 200
    spec = httpx.get(f"{node.url}/c/{ELM}/openapi.json").json()
    assert spec["servers"] == [{"url": f"/c/{ELM}"}] and "/v1/statements" in spec["paths"]
    # No community at the root, and an unknown one is a problem+json 404.
    assert httpx.get(f"{node.url}/log/checkpoint").status_code == 404
    unknown = httpx.get(f"{node.url}/c/civic.example/nowhere/log/checkpoint")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    if district_db is not None:
        engine = create_engine(district_db)
        try:
            with engine.connect() as conn:
                schemas = set(
                    conn.execute(text("SELECT schema_name FROM information_schema.schemata"))
                    .scalars()
                    .all()
                )
                elm_schema = "civic_" + slug(ELM).replace("-", "_")
                assert {elm_schema, "civic_" + slug(OAK).replace("-", "_")} <= schemas
                n = conn.execute(text(f'SELECT count(*) FROM "{elm_schema}".log_entries')).scalar()
                assert n == 4
        finally:
            engine.dispose()
    # Restarted, every community resumes its own log.
    node.kill()
    node.restart()
    with NodeClient(f"{node.url}/c/{ELM}") as elm:
        assert elm.community()["size"] == 4


class Stall:
    """Blocks one community's writes from outside the node, as a slow disk or a long
    migration would: an exclusive SQLite write lock, or a PostgreSQL table lock that still
    lets plain reads through."""

    def __init__(self, data: Path, origin: str, database: str | None) -> None:
        self.folder = community_dir(data, origin)
        self.database = database
        self.origin = origin
        self._release: Any = None

    def __enter__(self) -> Stall:
        if self.database is None:
            conn = sqlite3.connect(self.folder / "ledger.sqlite", isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")

            def release_file() -> None:
                conn.execute("ROLLBACK")
                conn.close()

            self._release = release_file
        else:
            schema = "civic_" + slug(self.origin).replace("-", "_")
            engine = create_engine(self.database)
            conn2 = engine.connect()
            tx = conn2.begin()
            conn2.execute(text(f'LOCK TABLE "{schema}".log_entries IN EXCLUSIVE MODE'))

            def release() -> None:
                tx.rollback()
                conn2.close()
                engine.dispose()

            self._release = release
        return self

    def wait_for_waiter(self) -> None:
        """PostgreSQL: until the node's writer is queued behind the lock (SQLite's busy
        wait shows nowhere outside the node, so there the request having been sent is
        what the test knows)."""
        if self.database is None:
            return
        engine = create_engine(self.database)
        try:
            for _ in range(600):
                with engine.connect() as conn:
                    waiting = conn.execute(
                        text("SELECT count(*) FROM pg_locks WHERE NOT granted")
                    ).scalar()
                if waiting:
                    return
                time.sleep(0.1)
            raise AssertionError("the node's writer never waited on the lock")
        finally:
            engine.dispose()

    def __exit__(self, *exc: object) -> None:
        self._release()


def test_a_stalled_community_blocks_no_other(
    tmp_path: Path, district_db: str | None, procs: list[NodeProcess]
) -> None:
    data = make_district(tmp_path, district_db, [ELM, OAK])
    node = start_node(data)
    procs.append(node)
    assert submit(node.url, ELM, enrol(ELM, "elm-0")).status_code == 201
    stalled: dict[str, httpx.Response] = {}
    sent = threading.Event()
    env = enrol(ELM, "elm-1")

    def write_stalled() -> None:
        with httpx.Client(timeout=90, event_hooks={"request": [lambda _r: sent.set()]}) as c:
            stalled["r"] = c.post(f"{node.url}/c/{ELM}/v1/statements", json=env)

    with Stall(data, ELM, district_db) as stall:
        writer = threading.Thread(target=write_stalled)
        writer.start()
        assert sent.wait(30)
        stall.wait_for_waiter()
        # While elm's writer waits on its lock, oak accepts and everyone answers reads.
        for i in range(3):
            assert submit(node.url, OAK, enrol(OAK, f"oak-{i}")).status_code == 201
        assert httpx.get(f"{node.url}/c/{OAK}/log/checkpoint").content.startswith(
            OAK.encode() + b"\n4\n"
        )
        assert httpx.get(f"{node.url}/c/{ELM}/log/checkpoint").content.startswith(
            ELM.encode() + b"\n2\n"
        )
        assert httpx.get(f"{node.url}/healthz").status_code == 200
        assert "r" not in stalled, "elm's write went through its own lock"
    writer.join(timeout=90)
    r = stalled["r"]
    if r.status_code != 201:
        # SQLite's writer gives up after its busy timeout (10 s) on a loaded machine: a
        # clean "retry later", nothing half-written, and the retry lands.
        assert r.status_code == 503, r.text
        r = submit(node.url, ELM, env)
    assert r.status_code == 201, r.text
    assert httpx.get(f"{node.url}/c/{ELM}/log/checkpoint").content.startswith(
        ELM.encode() + b"\n3\n"
    )


def break_community(data: Path, origin: str, database: str | None) -> None:
    folder = community_dir(data, origin)
    if database is None:
        for p in folder.glob("ledger.sqlite*"):
            p.unlink()
        (folder / "ledger.sqlite").write_bytes(b"this is not a database" * 100)
    else:
        cfg = json.loads((folder / "node.json").read_text())
        cfg["database"] = cfg["database"].replace("/d_", "/gone_", 1)
        (folder / "node.json").write_text(json.dumps(cfg))


def test_a_broken_community_is_reported_and_the_others_serve(
    tmp_path: Path, district_db: str | None, procs: list[NodeProcess]
) -> None:
    data = make_district(tmp_path, district_db, [ELM, OAK])
    break_community(data, OAK, district_db)
    node = start_node(data)
    procs.append(node)
    health = httpx.get(f"{node.url}/healthz")
    assert health.status_code == 200, "one broken community does not take the node down"
    body = health.json()
    assert body["ok"] is False and body["failed"] == [OAK] and body["serving"] == 1
    rows = {c["origin"]: c for c in httpx.get(f"{node.url}/c/").json()["communities"]}
    assert rows[OAK]["status"] == "failed" and rows[OAK]["error"]
    assert rows[ELM]["status"] == "ok"
    down = httpx.get(f"{node.url}/c/{OAK}/log/checkpoint")
    assert down.status_code == 503
    assert down.headers["content-type"].startswith("application/problem+json")
    assert OAK in down.json()["detail"]
    assert submit(node.url, ELM, enrol(ELM, "elm-0")).status_code == 201
    assert httpx.get(f"{node.url}/c/{ELM}/log/checkpoint").content.startswith(
        ELM.encode() + b"\n2\n"
    )
    from tests.test_metrics import one, scrape

    m = scrape(node.url)
    assert one(m, "civic_community_up", origin=OAK) == 0
    assert one(m, "civic_community_up", origin=ELM) == 1
    assert one(m, "civic_statements_accepted_total", origin=ELM) == 1


def test_witness_and_mirror_districts_follow_each_community(
    tmp_path: Path, procs: list[NodeProcess]
) -> None:
    from node.launcher import free_port

    seq_port, wit_port = free_port(), free_port()
    seq_url, wit_url = f"http://127.0.0.1:{seq_port}", f"http://127.0.0.1:{wit_port}"
    wit_dir, mir_dir, seq_dir = tmp_path / "wit", tmp_path / "mir", tmp_path / "seq"
    w = civic(
        "node", "init", "--data", str(wit_dir), "--role", "witness", "--name", "w1.example",
        "--follow", seq_url,
    )  # fmt: skip
    civic("node", "init", "--data", str(mir_dir), "--role", "mirror", "--follow", seq_url)
    civic("node", "init", "--data", str(seq_dir), "--role", "sequencer")
    chair = key_file(tmp_path, CHAIR)
    vkeys = {}
    for origin in (ELM, OAK):
        out = civic(
            "node", "add-community", "--data", str(seq_dir), "--origin", origin,
            "--committee", str(chair), "--quorum", "1",
            "--witness", f"w1.example={w['vkey']}@{wit_url}/c/{origin}",
        )  # fmt: skip
        vkeys[origin] = out["log_vkey"]
        for d in (wit_dir, mir_dir):
            civic("node", "add-community", "--data", str(d), "--log-vkey", out["log_vkey"])
    for d in (seq_dir, wit_dir, mir_dir):
        for origin in (ELM, OAK):  # short rounds keep the test quick
            p = community_dir(d, origin) / "node.json"
            cfg = json.loads(p.read_text())
            cfg.update(gossip_interval=0.3, follow_interval=0.3, witness_retry=0.5)
            p.write_text(json.dumps(cfg))
    procs.append(start_node(seq_dir, port=seq_port))
    procs.append(start_node(wit_dir, port=wit_port))
    mirror = start_node(mir_dir)
    procs.append(mirror)
    for i in range(2):
        assert submit(seq_url, ELM, enrol(ELM, f"elm-{i}")).status_code == 201
    assert submit(seq_url, OAK, enrol(OAK, "oak-0")).status_code == 201

    def caught_up() -> bool:
        for origin, size in ((ELM, 3), (OAK, 2)):
            r = httpx.get(f"{seq_url}/c/{origin}/v1/checkpoints/witnessed")
            if r.status_code != 200 or f"\n{size}\n".encode() not in r.content:
                return False
            m = httpx.get(f"{mirror.url}/c/{origin}/log/checkpoint")
            if m.status_code != 200 or not m.content.startswith(f"{origin}\n{size}\n".encode()):
                return False
        return True

    from tests.test_network import wait_for

    wait_for("the witness cosigned and the mirror caught up in both communities", caught_up)
    rows = {c["origin"]: c for c in httpx.get(f"{mirror.url}/c/").json()["communities"]}
    assert rows[ELM]["size"] == 3 and rows[OAK]["size"] == 2
    assert httpx.get(f"{wit_url}/c/{OAK}/healthz").json()["role"] == "witness"
    # The same figures in /metrics: nothing left to cosign, nothing left to copy.
    from tests.test_metrics import one, scrape

    seq_m, mir_m = scrape(seq_url), scrape(mirror.url)
    for origin, size in ((ELM, 3), (OAK, 2)):
        assert one(seq_m, "civic_tree_size", origin=origin) == size
        assert one(seq_m, "civic_cosignature_lag_entries", origin=origin) == 0
        assert one(seq_m, "civic_cosignature_lag_seconds", origin=origin) == 0
        assert one(mir_m, "civic_tree_size", origin=origin) == size
        assert one(mir_m, "civic_replica_lag_entries", origin=origin) == 0


def test_a_hung_database_ties_up_no_other_community(
    tmp_path: Path, pg_server: PgServer, procs: list[NodeProcess]
) -> None:
    """Reads to a community whose tables are locked even for reading hang; more of them
    than the server has threads must still leave the other community answering."""
    from concurrent.futures import ThreadPoolExecutor

    database = pg_server.create_database("d_" + uuid.uuid4().hex[:12])
    data = make_district(tmp_path, database, [ELM, OAK])
    node = start_node(data)
    procs.append(node)
    assert submit(node.url, ELM, enrol(ELM, "elm-0")).status_code == 201
    assert submit(node.url, OAK, enrol(OAK, "oak-0")).status_code == 201
    engine = create_engine(database)
    schema = "civic_" + slug(ELM).replace("-", "_")
    hung = 60  # more than the 40 threads of the default pool
    try:
        with engine.connect() as conn, ThreadPoolExecutor(hung) as pool:
            tx = conn.begin()
            conn.execute(text(f'LOCK TABLE "{schema}".log_entries IN ACCESS EXCLUSIVE MODE'))
            stuck = [
                pool.submit(httpx.get, f"{node.url}/c/{ELM}/v1/records/1", timeout=120)
                for _ in range(hung)
            ]
            with engine.connect() as watch:
                for _ in range(600):  # until the node's reads queue behind the lock
                    q = "SELECT count(*) FROM pg_locks WHERE NOT granted"
                    if watch.execute(text(q)).scalar():
                        break
                    time.sleep(0.1)
            other = httpx.get(f"{node.url}/c/{OAK}/v1/records/1", timeout=30)
            assert other.status_code == 200, other.text
            assert submit(node.url, OAK, enrol(OAK, "oak-1"), timeout=30).status_code == 201
            assert httpx.get(f"{node.url}/healthz", timeout=30).status_code == 200
            assert not any(f.done() for f in stuck), "elm's reads went through its lock"
            tx.rollback()
            assert all(f.result().status_code == 200 for f in stuck)
    finally:
        engine.dispose()


def test_a_running_district_opens_added_communities_and_retries_failed_ones(
    tmp_path: Path, procs: list[NodeProcess]
) -> None:
    from tests.test_network import wait_for

    data = make_district(tmp_path, None, [ELM, OAK])
    cfg = json.loads((data / "district.json").read_text())
    cfg.update(watch_interval=0.2, retry_interval=0.5)
    (data / "district.json").write_text(json.dumps(cfg))
    db = community_dir(data, OAK) / "ledger.sqlite"
    kept = tmp_path / "oak.sqlite"
    db.rename(kept)
    db.write_bytes(b"not a database" * 100)
    node = start_node(data)
    procs.append(node)
    assert httpx.get(f"{node.url}/healthz").json()["failed"] == [OAK]
    # The operator puts the database back: the node opens the community by itself.
    kept.replace(db)
    wait_for("oak opened", lambda: httpx.get(f"{node.url}/healthz").json()["serving"] == 2)
    assert submit(node.url, OAK, enrol(OAK, "oak-0")).status_code == 201
    # A community added while the node runs is served without a restart.
    birch = "civic.example/birch-street"
    civic(
        "node", "add-community", "--data", str(data), "--origin", birch,
        "--committee", str(tmp_path / "chair.key"),
    )  # fmt: skip
    wait_for("birch served", lambda: httpx.get(f"{node.url}/c/{birch}/healthz").status_code == 200)
    assert submit(node.url, birch, enrol(birch, "birch-0")).status_code == 201
    listed = [c["origin"] for c in httpx.get(f"{node.url}/c/").json()["communities"]]
    assert listed == [ELM, OAK, birch]
