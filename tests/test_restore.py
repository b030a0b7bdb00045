"""``civic node restore``: a lost sequencer rebuilt from a mirror, as real processes.

A community with a sequencer, three witnesses (quorum 2) and a mirror on 127.0.0.1
(tests/test_network.py). The sequencer is killed and its folder deleted; the restore runs
as an operator would (the CLI), the restored sequencer starts on the old port — the URL the
witnesses follow — takes a new statement, and the witnesses cosign the new checkpoint,
which they do only if it is consistent with the one they cosigned before.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from ledger.c2sp.note import generate_signer
from node.config import load_config, load_log_key, save_config
from node.fsck import fsck_data_dir
from node.launcher import NodeProcess, start_node
from tests.pg import PgServer
from tests.support.tamper import attacker_sql
from tests.test_network import GOSSIP, Net, network, wait_for

ROOT = Path(__file__).resolve().parents[1]


def civic(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def restore(net: Net, source: str, data: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return civic(
        "node", "restore", "--from", source, "--data", str(data), "--log-key",
        str(net.tmp / "saved-log.key"), *extra,
    )  # fmt: skip


def save_key_and_lose_sequencer(net: Net) -> None:
    """The operator's offline copy of the log key survives; the machine does not."""
    (net.tmp / "saved-log.key").write_text(load_log_key(net.tmp / "seq").private_key_string())
    net.seq.kill()
    shutil.rmtree(net.tmp / "seq")


def witnessed(net: Net, node: NodeProcess, size: int) -> bool:
    return net.quorum_at(node, size)


def audit(net: Net, *nodes: NodeProcess, genesis: str) -> tuple[int, dict[str, object]]:
    out = net.tmp / f"audit-{time.monotonic_ns()}.json"
    args = ["audit", "--genesis", genesis, "--json", str(out), "--quiet", "--workers", "1"]
    for n in nodes:
        args += ["--node", n.url]
    r = civic(*args)
    report: dict[str, object] = json.loads(out.read_text())
    return r.returncode, report


def test_restore_from_a_mirror_resumes_the_same_log(tmp_path: Path, pg_server: PgServer) -> None:
    with network(tmp_path) as net:
        assert net.mirror is not None
        mirror = net.mirror
        size = net.submit(10)[-1]["inclusion_proof"]["tree_size"]
        wait_for("the quorum", lambda: witnessed(net, net.seq, size))
        wait_for("the mirror", lambda: net.size(mirror) == size and witnessed(net, mirror, size))
        genesis = net.get(net.seq, "/v1/records/0").json()["leaf_hash"]
        old_root = net.get(net.seq, "/log/checkpoint").content.split(b"\n")[2]
        save_key_and_lose_sequencer(net)

        # Refused, and nothing written: a folder that is not empty, a key that is not the log's.
        busy = tmp_path / "busy"
        busy.mkdir()
        (busy / "keep.txt").write_text("mine")
        r = restore(net, mirror.url, busy)
        assert r.returncode == 2 and "is not empty" in r.stderr
        assert [p.name for p in busy.iterdir()] == ["keep.txt"]
        other = tmp_path / "other.key"
        other.write_text(
            generate_signer(load_config(tmp_path / "mirror").origin).private_key_string()
        )
        r = civic(
            "node", "restore", "--from", mirror.url, "--data", str(tmp_path / "seq"),
            "--log-key", str(other),
        )  # fmt: skip
        assert r.returncode == 2 and "is not the key of the log" in r.stderr, r.stderr
        assert not (tmp_path / "seq").exists()

        r = restore(net, mirror.url, tmp_path / "seq")
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"size:      {size} records" in r.stdout
        assert f"witnessed: checkpoint of size {size} cosigned by" in r.stdout
        assert "private store" in r.stdout and "not restored" in r.stdout
        assert not list(tmp_path.glob(".seq.restoring-*"))
        # The restored folder is a clean sequencer's, offline.
        (report,) = fsck_data_dir(tmp_path / "seq")
        assert report.clean, [p.message for p in report.problems]
        assert load_config(tmp_path / "seq").role == "sequencer"
        # The same into PostgreSQL (a district's database): verified again, then moved there.
        url = pg_server.create_database("restored")
        r = restore(net, mirror.url, tmp_path / "seq-pg", "--database", url)
        assert r.returncode == 0, r.stdout + r.stderr
        assert load_config(tmp_path / "seq-pg").database == url
        assert not list((tmp_path / "seq-pg").glob("ledger.sqlite*"))
        (report,) = fsck_data_dir(tmp_path / "seq-pg")
        assert report.clean and report.size == size, [p.message for p in report.problems]
        assert report.checked["cosignatures"] >= 2
        r = restore(net, mirror.url, tmp_path / "seq-pg2", "--database", url)
        assert r.returncode == 2 and "already holds a log" in r.stderr
        assert not (tmp_path / "seq-pg2").exists()

        # Start it where the old one listened: witnesses and the mirror follow that URL.
        port = net.seq.port
        urls = [n.url for n in net.nodes if n.port != port]
        args = [a for u in urls for a in ("--peer", u)]
        args += ["--gossip-interval", GOSSIP, "--witness-retry", GOSSIP]
        seq = start_node(tmp_path / "seq", port, args, log_file=tmp_path / "seq-restored.log")
        try:
            net.seq = seq
            assert net.get(seq, "/log/checkpoint").content.split(b"\n")[2] == old_root
            body = net.submit(1)[0]
            new = body["inclusion_proof"]["tree_size"]
            assert new == size + 1 and body["index"] == size
            # Every witness cosigns the new checkpoint: consistent with the one it cosigned.
            for w in net.witnesses:
                wait_for(
                    f"{w.url} to cosign {new}",
                    lambda w=w: (
                        net.get(w, "/v1/witnesses").json()["witness"]["cosigned_size"]  # type: ignore[misc]
                        == new
                    ),
                )
            wait_for("the quorum on the new checkpoint", lambda: witnessed(net, seq, new))
            wait_for("the mirror", lambda: net.size(mirror) == new)
            for n in net.nodes:
                assert net.evidence(n) == [], n.url
            code, rep = audit(net, seq, mirror, genesis=genesis)
            assert code == 0, rep
            assert rep["verdict"] == "clean"
        finally:
            seq.kill()


def test_a_restore_that_would_fork_the_log_is_refused(tmp_path: Path) -> None:
    with network(tmp_path) as net:
        assert net.mirror is not None
        mirror = net.mirror
        early = net.submit(4)[-1]["inclusion_proof"]["tree_size"]
        wait_for("the mirror", lambda: net.size(mirror) == early and witnessed(net, mirror, early))
        mirror.kill()  # the mirror stops early ...
        late = net.submit(5)[-1]["inclusion_proof"]["tree_size"]
        # ... while the sequencer goes on and the witnesses cosign more.
        wait_for("the quorum", lambda: witnessed(net, net.seq, late))
        save_key_and_lose_sequencer(net)
        mirror.restart(log_file=tmp_path / "mirror.log")
        assert net.size(mirror) == early

        r = restore(net, mirror.url, tmp_path / "seq")
        assert r.returncode == 3, r.stdout + r.stderr
        msg = r.stderr
        assert msg.startswith("error: restore refused: witness ") and "Traceback" not in msg
        assert f"up to size {late}" in msg and f"gives only {early} records" in msg
        assert "--from http://127.0.0.1:" in msg  # what to do: a witness that has it all
        assert not (tmp_path / "seq").exists()
        assert not list(tmp_path.glob(".seq.restoring-*"))

        # The advice works: a witness serves the same tiles API, with every record.
        ahead = next(w for w in net.witnesses if f"({w.url})" in msg or f"--from {w.url}" in msg)
        r = restore(net, ahead.url, tmp_path / "seq")
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"size:      {late} records" in r.stdout
        assert f"witnessed: checkpoint of size {late}" in r.stdout

        # The other two witnesses gone: together they could have cosigned something newer.
        for w in net.witnesses:
            if w is not ahead:
                w.kill()
        r = restore(net, ahead.url, tmp_path / "seq-2")
        assert r.returncode == 4, r.stdout + r.stderr
        assert "could together have cosigned a newer checkpoint" in r.stderr
        assert "--allow-unreachable-witnesses" in r.stderr
        assert not (tmp_path / "seq-2").exists()


def test_a_mirror_serving_a_tampered_tile_is_refused(tmp_path: Path) -> None:
    with network(tmp_path) as net:
        assert net.mirror is not None
        mirror = net.mirror
        size = net.submit(6)[-1]["inclusion_proof"]["tree_size"]
        wait_for("the mirror", lambda: net.size(mirror) == size and witnessed(net, mirror, size))
        save_key_and_lose_sequencer(net)
        # Someone edits record 3 in the mirror's database. (The mirror's own checks, which
        # would find it, are slowed down: the restore must find it by itself.)
        mirror.kill()
        cfg = load_config(tmp_path / "mirror")
        cfg.integrity_interval = 3600.0
        save_config(tmp_path / "mirror", cfg)
        at = mirror.args.index("--gossip-interval")
        mirror.args[at + 1] = "3600"
        db = tmp_path / "mirror" / "ledger.sqlite"
        con = sqlite3.connect(db)
        (data,) = con.execute("SELECT data FROM log_entries WHERE idx = 3").fetchone()
        con.close()
        forged = bytes(data).replace(b'"index":3', b'"index":3 ', 1)
        attacker_sql(db, ("UPDATE log_entries SET data = ? WHERE idx = 3", (forged,)))
        mirror.restart(log_file=tmp_path / "mirror.log")
        assert forged in net.get(mirror, "/log/tile/entries/000.p/" + str(size)).content

        r = restore(net, mirror.url, tmp_path / "seq")
        assert r.returncode == 3, r.stdout + r.stderr
        assert "restore refused" in r.stderr
        assert "do not verify against the log's signed checkpoint" in r.stderr
        assert "Restore from another mirror or a witness" in r.stderr
        assert not (tmp_path / "seq").exists()
        assert not list(tmp_path.glob(".seq.restoring-*"))
