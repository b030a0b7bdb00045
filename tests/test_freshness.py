"""A node that is behind says so; a node that went back refuses (issue 10, items 1 and 3).

Real processes on 127.0.0.1: a sequencer and a mirror of a community without witnesses.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from ledger.c2sp.note import signer_from_seed
from node.bootstrap import init_community
from node.context import open_context
from node.freshness import WATERMARK_FILE, Freshness
from node.launcher import NodeProcess, free_port, start_node
from node.mirror import init_mirror
from tests.support.audit import ORIGIN as AUDIT_ORIGIN
from tests.support.audit import make_community
from tests.test_network import CHAIR, ORIGIN, enrol_env, wait_for

FAST = ["--gossip-interval", "0.2"]


def set_config(data_dir: Path, **values: object) -> None:
    path = data_dir / "node.json"
    cfg = json.loads(path.read_text())
    cfg.update(values)
    path.write_text(json.dumps(cfg))


def submit(http: httpx.Client, seq: NodeProcess, n: int, tag: str) -> int:
    """Submit ``n`` enrolments; the tree size after the last."""
    size = 0
    for i in range(n):
        r = http.post(seq.url + "/v1/statements", json=enrol_env(f"{tag}-{i}"))
        assert r.status_code == 201, r.text
        size = r.json()["inclusion_proof"]["tree_size"]
    return size


def size_of(http: httpx.Client, node: NodeProcess) -> int:
    n: int = http.get(node.url + "/healthz").json()["size"]
    return n


@contextmanager
def running(*procs: NodeProcess) -> Iterator[None]:
    try:
        yield
    finally:
        for p in procs:
            p.kill()


def test_a_frozen_mirror_says_it_is_behind_in_healthz_and_in_every_answer(
    tmp_path: Path,
) -> None:
    info = init_community(tmp_path / "seq", ORIGIN, [CHAIR])
    seq = start_node(tmp_path / "seq", extra_args=FAST)
    init_mirror(tmp_path / "mirror", seq.url, info["log_vkey"])
    set_config(tmp_path / "mirror", stale_after=0.5)
    args = [*FAST, "--follow-interval", "0.2", "--peer", seq.url]
    mirror = start_node(tmp_path / "mirror", extra_args=args, log_file=tmp_path / "m.log")
    with running(seq, mirror), httpx.Client(timeout=30) as http:
        size = submit(http, seq, 3, "a")
        wait_for("the mirror", lambda: size_of(http, mirror) == size)
        assert http.get(mirror.url + "/healthz").json()["freshness"]["status"] == "current"
        # Freeze it: it now follows a port where nothing listens, and still gossips.
        mirror.kill()
        dead = f"http://127.0.0.1:{free_port()}"
        mirror.args[mirror.args.index("--follow-interval") :] = [
            "--follow-interval", "0.2", "--peer", seq.url, "--follow", dead,
        ]  # fmt: skip
        mirror.restart()
        ahead = submit(http, seq, 20, "b")
        r = wait_for(
            "the mirror to say it is behind",
            lambda: (
                (r := http.get(mirror.url + "/healthz")).status_code == 503
                and r.json()["freshness"]["lag"] == 20
                and r
            ),
        )
        body = r.json()
        assert body["ok"] is False and body["size"] == size
        assert body["freshness"]["status"] == "degraded"
        assert body["freshness"]["lag"] == ahead - size == 20
        assert body["freshness"]["newest_seen"] == ahead
        assert any(x.startswith("stale: 20 record(s) behind") for x in body["reasons"])
        # Every answer carrying a size says how old it is.
        for path in ("/log/checkpoint", "/v1/records/0", f"/v1/proofs/inclusion?index=1&tree_size={size}"):  # fmt: skip
            got = http.get(mirror.url + path)
            assert got.status_code == 200, path
            assert got.headers["x-civic-lag"] == "20", path
            assert got.headers["x-civic-newest-seen"] == str(ahead), path
        # The sequencer, ahead of everyone, is current and carries no lag header.
        s = http.get(seq.url + "/healthz")
        assert s.status_code == 200 and s.json()["freshness"]["status"] == "current"
        assert "x-civic-lag" not in http.get(seq.url + "/log/checkpoint").headers
        # Followed again, the mirror catches up and is healthy.
        mirror.kill()
        mirror.args[-1] = seq.url
        mirror.restart()
        wait_for("the mirror to recover", lambda: http.get(mirror.url + "/healthz").status_code == 200)  # fmt: skip


def _db_files(data_dir: Path) -> list[Path]:
    return sorted(data_dir.glob("ledger.sqlite*"))


def test_a_sequencer_restored_from_an_old_database_refuses_to_sequence(tmp_path: Path) -> None:
    d = tmp_path / "seq"
    init_community(d, ORIGIN, [CHAIR])
    log_file = tmp_path / "seq.log"
    seq = start_node(d, extra_args=FAST, log_file=log_file)
    with running(seq), httpx.Client(timeout=30) as http:
        submit(http, seq, 3, "old")
        seq.kill()
        backup = tmp_path / "backup"
        backup.mkdir()
        for f in _db_files(d):
            shutil.copy2(f, backup / f.name)
        seq.restart(log_file=log_file)
        size = submit(http, seq, 5, "new")
        # The newest signed checkpoint is kept outside the database as the log grows.
        wait_for(
            "the watermark file",
            # Not there at all until the first commit after the restart has been noted.
            lambda: (
                (d / WATERMARK_FILE).is_file()
                and f"\n{size}\n" in (d / WATERMARK_FILE).read_text(errors="replace")
            ),
        )
        seq.kill()
        # The operator (or an attacker) puts the old database back: 5 records are gone.
        for f in _db_files(d):
            f.unlink()
        for f in backup.iterdir():
            shutil.copy2(f, d / f.name)
        seq.restart(log_file=log_file)
        r = http.post(seq.url + "/v1/statements", json=enrol_env("after-rollback"))
        assert r.status_code == 503, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        detail = r.json()["detail"]
        assert f"holds {size - 5} records" in detail and f"checkpoint of {size} records" in detail
        h = http.get(seq.url + "/healthz")
        assert h.status_code == 503
        fresh = h.json()["freshness"]
        assert fresh["status"] == "rolled-back" and fresh["watermark"] == size
        assert h.json()["size"] == size - 5
        assert any(x.startswith("rollback: ") for x in h.json()["reasons"])
        # /healthz says what POST /v1/statements does: no statement is accepted.
        assert h.json()["accepting_statements"] is False
        # Reads still work, and the refusal survives another restart (the file did not move).
        assert http.get(seq.url + "/v1/records/0").status_code == 200
        seq.kill()
        seq.restart(log_file=log_file)
        assert http.post(seq.url + "/v1/statements", json=enrol_env("x")).status_code == 503
        assert f"\n{size}\n" in (d / WATERMARK_FILE).read_text()
    assert "ROLLBACK: the database holds" in log_file.read_text(errors="replace")


# --- in process: the start-up check itself ----------------------------------------------


def _freshness_of(data_dir: Path) -> Freshness:
    ctx = open_context(data_dir, serve=True)
    try:
        return Freshness(ctx)  # the start-up check runs in the constructor
    finally:
        ctx.close()


def test_another_tree_of_the_same_size_is_refused_and_a_bad_file_too(tmp_path: Path) -> None:
    signer = signer_from_seed(AUDIT_ORIGIN, b"f" * 32)
    make_community(tmp_path / "a", 3, label="a", log_signer=signer)
    make_community(tmp_path / "b", 3, label="b", log_signer=signer)
    # a's watermark, as a's node would have written it.
    ctx = open_context(tmp_path / "a", serve=True)
    try:
        fresh = Freshness(ctx)
        assert fresh.refusal is None and fresh.watermark is None
        fresh._advance()
        assert fresh.watermark is not None and fresh.watermark.size == 4
    finally:
        ctx.close()
    note = (tmp_path / "a" / WATERMARK_FILE).read_bytes()
    assert _freshness_of(tmp_path / "a").refusal is None
    # b's database under a's file: the same size, another tree.
    (tmp_path / "b" / WATERMARK_FILE).write_bytes(note)
    refusal = _freshness_of(tmp_path / "b").refusal
    assert refusal is not None and "the database was replaced" in refusal
    # A file the log key did not sign is no reference: refused as well, saying why.
    (tmp_path / "b" / WATERMARK_FILE).write_bytes(note.replace(b"\n4\n", b"\n5\n"))
    refusal = _freshness_of(tmp_path / "b").refusal
    assert refusal is not None and "does not hold a checkpoint signed by the log key" in refusal
