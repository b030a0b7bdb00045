"""``civic node fsck``: a stopped node's database checked offline, every problem listed.

Each tamper is what someone with write access to the database does (tests/support/tamper.py:
drop the append-only guards, rewrite rows with SQL); fsck must name it, and keep going to
list the others. SQLite folders and a PostgreSQL database, through the library and the CLI.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, sign_checkpoint
from ledger.c2sp.note import parse_note, signer_from_seed
from ledger.sql import SqlStore
from node.bootstrap import init_community
from node.config import load_config, load_log_key
from node.context import open_context
from node.freshness import WATERMARK_FILE
from node.fsck import FsckReport, fsck_data_dir, fsck_database
from tests.pg import PgServer
from tests.support.tamper import attacker_sql, node_key
from tests.test_witness import CHAIR, ORIGIN, SIGNERS, WITNESSES, enrol_env

ROOT = Path(__file__).resolve().parents[1]
SIZE = 41  # genesis + 40 enrolments in 4 batches: 4 checkpoints besides genesis's


def build(d: Path, database: str | None = None) -> Path:
    """A stopped sequencer's folder: 41 records, 5 checkpoints, 2 cosignatures on the newest."""
    init_community(d, ORIGIN, [CHAIR], WITNESSES, 2, database=database)
    ctx = open_context(d, serve=True)
    try:
        seq = ctx.services["sequencer"]
        for b in range(4):
            got = seq.submit([enrol_env(f"fsck-{b}-{i}") for i in range(10)])
            assert not any(isinstance(r, Exception) for r in got), got
        assert ctx.log.size == SIZE
        note = ctx.log.signed_checkpoint()
        body = parse_note(note).text
        for s in SIGNERS[:2]:
            ctx.store.add_cosignature(
                SIZE, f"{s.name}+{s.key_hash.hex()}", s.cosign(body, 1).line()
            )
    finally:
        ctx.close()
    return d


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return build(tmp_path / "seq")


def fsck(d: Path) -> FsckReport:
    (report,) = fsck_data_dir(d)
    return report


def kinds(report: FsckReport) -> set[str]:
    return {p.kind for p in report.problems}


def messages(report: FsckReport) -> str:
    return "\n".join(f"{p.kind}: {p.message}" for p in report.problems)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "node", "fsck", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def sql(d: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    attacker_sql(d / "ledger.sqlite", *statements)


def test_a_clean_folder_passes_with_every_count(folder: Path) -> None:
    report = fsck(folder)
    assert report.clean, messages(report)
    assert report.size == SIZE
    assert report.checked["records"] == SIZE
    assert report.checked["checkpoints"] == 5
    assert report.checked["cosignatures"] == 2
    # Every completed interior node of a 41-leaf tree: 20 + 10 + 5 + 2 + 1.
    assert report.checked["tree nodes"] == 38
    r = cli("--data", str(folder))
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.strip().splitlines()[-1].startswith(f"fsck {folder}: clean (41 records")


def test_edited_entry_bytes_are_reported_with_the_broken_chain(folder: Path) -> None:
    data = bytes(SqlStore(f"sqlite+pysqlite:///{folder / 'ledger.sqlite'}").read_entries(5, 6)[0])
    forged = data.replace(b'"index":5', b'"index":5 ', 1)
    sql(folder, ("UPDATE log_entries SET data = ? WHERE idx = 5", (forged,)))
    report = fsck(folder)
    text_ = messages(report)
    assert "records: record 5: its stored leaf hash is not the hash of its bytes" in text_
    assert "chain: record 6: its prev is not the leaf hash of record 5" in text_
    assert "guards: the append-only guards of log_entries" in text_
    # The checkpoints' roots are recomputed from the bytes: every one from size 6 on differs.
    assert sum(1 for p in report.problems if "is not the root of the tree" in p.message) == 4
    r = cli("--data", str(folder))
    assert r.returncode == 3
    assert "record 5: its stored leaf hash" in r.stdout
    assert "problem(s) found" in r.stdout.strip().splitlines()[-1]


def test_edited_bytes_and_leaf_hash_break_the_tree_node_above(folder: Path) -> None:
    store = SqlStore(f"sqlite+pysqlite:///{folder / 'ledger.sqlite'}")
    data = store.read_entries(8, 9)[0]
    store.close()
    forged = data.replace(b'"index":8', b'"index":8 ', 1)
    sql(
        folder,
        (
            "UPDATE log_entries SET data = ?, leaf_hash = ? WHERE idx = 8",
            (forged, merkle.leaf_hash(forged)),
        ),
    )
    report = fsck(folder)
    text_ = messages(report)
    assert "record 8: its stored leaf hash" not in text_
    assert "tree: tree node (level 1, index 4) over records 8..9 does not hash" in text_
    assert "chain: record 9: its prev is not the leaf hash of record 8" in text_


def test_a_rewritten_interior_node_is_named(folder: Path) -> None:
    sql(folder, ("UPDATE log_nodes SET hash = ? WHERE nid = ?", (b"\x07" * 32, node_key(2, 3))))
    report = fsck(folder)
    text_ = messages(report)
    assert "tree node (level 2, index 3) over records 12..15 does not hash" in text_
    # Its parent was computed from the original: it no longer hashes from it either.
    assert "tree node (level 3, index 1) over records 8..15 does not hash" in text_
    assert kinds(report) == {"tree", "guards"}


def test_a_deleted_tail_and_a_rolled_back_watermark(folder: Path) -> None:
    store = SqlStore(f"sqlite+pysqlite:///{folder / 'ledger.sqlite'}")
    note = store.latest_checkpoint()
    store.close()
    assert note is not None
    (folder / WATERMARK_FILE).write_bytes(note[1])
    sql(
        folder,
        ("DELETE FROM log_entries WHERE idx >= 30", ()),
        ("DELETE FROM log_nodes WHERE (nid & ((1 << 50) - 1)) << (nid >> 50) >= 30", ()),
    )
    report = fsck(folder)
    text_ = messages(report)
    assert "the newest checkpoint is of size 41 but the log has 30 records" in text_
    assert "the stored checkpoint of size 41 is larger than the log (30 records)" in text_
    assert "watermark: the node signed or verified a checkpoint of 41 records" in text_
    assert "state: the state views stand at record 41" in text_
    assert "cosignatures" not in kinds(report)  # they belong to a stored checkpoint still


def test_an_edited_state_view_and_a_foreign_document(folder: Path) -> None:
    store = SqlStore(f"sqlite+pysqlite:///{folder / 'ledger.sqlite'}")
    with store.engine.connect() as conn:
        ns, k, v = conn.execute(
            text("SELECT ns, key, value FROM state_rows WHERE ns = 'member' LIMIT 1")
        ).one()
    store.close()
    doc = json.loads(v)
    doc["status"] = "committee"
    sql(
        folder,
        ("UPDATE state_rows SET value = ? WHERE ns = ? AND key = ?", (json.dumps(doc), ns, k)),
        ("INSERT INTO state_rows (ns, key, value) VALUES ('member', 'ghost', '{}')", ()),
    )
    report = fsck(folder)
    text_ = messages(report)
    assert f"state: state view {ns}/{k} differs from the replay" in text_
    assert "state: state view member/ghost is not in the replay of the records" in text_
    assert kinds(report) == {"state", "guards"}  # the attacker dropped every guard


def test_a_forged_checkpoint_and_a_bad_cosignature_are_both_listed(folder: Path) -> None:
    other = signer_from_seed(ORIGIN, b"\x01" * 32)
    store = SqlStore(f"sqlite+pysqlite:///{folder / 'ledger.sqlite'}")
    lg_root = store.read_node_range(0, 0, 1)
    store.close()
    forged = sign_checkpoint(Checkpoint(ORIGIN, 1, lg_root[0]), other)
    w = SIGNERS[2]
    bad = w.cosign("not the checkpoint\n", 1).line()
    sql(
        folder,
        ("UPDATE log_checkpoints SET note = ? WHERE size = 1", (forged,)),
        (
            "INSERT INTO checkpoint_cosignatures (size, witness, line) VALUES (?, ?, ?)",
            (SIZE, f"{w.name}+{w.key_hash.hex()}", bad),
        ),
    )
    report = fsck(folder)
    text_ = messages(report)
    assert "checkpoints: the stored checkpoint of size 1 is not signed by the log key" in text_
    assert (
        f"cosignatures: the cosignature of the checkpoint of size {SIZE} by "
        f"{w.name}+{w.key_hash.hex()} does not verify" in text_
    )


def test_a_duplicated_leaf_hash_is_found_through_the_index(folder: Path) -> None:
    store = SqlStore(f"sqlite+pysqlite:///{folder / 'ledger.sqlite'}")
    (h3,) = store.read_node_range(0, 3, 4)
    store.close()
    sql(folder, ("UPDATE log_entries SET leaf_hash = ? WHERE idx = 7", (h3,)))
    report = fsck(folder)
    text_ = messages(report)
    assert "leaf-index: record 7 has the same leaf hash as record(s) 3" in text_
    assert "records: record 7: its stored leaf hash is not the hash of its bytes" in text_


def test_postgresql_database_clean_then_tampered(pg_server: PgServer, tmp_path: Path) -> None:
    url = pg_server.create_database("fsck_pg")
    d = build(tmp_path / "seq", database=url)
    vkey = load_log_key(d).verifier().vkey()
    assert load_config(d).database == url
    report = fsck(d)
    assert report.clean, messages(report)
    clean = fsck_database(url, vkey)
    assert clean.clean and clean.size == SIZE
    # An attacker with the database's owner role: disable the guards, rewrite a node.
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE log_nodes DISABLE TRIGGER USER"))
        conn.execute(
            text("UPDATE log_nodes SET hash = :h WHERE nid = :n"),
            {"h": b"\x09" * 32, "n": node_key(1, 2)},
        )
        conn.execute(text("ALTER TABLE log_nodes ENABLE TRIGGER USER"))
    engine.dispose()
    report = fsck_database(url, vkey)
    assert "tree node (level 1, index 2) over records 4..5 does not hash" in messages(report)
    r = cli("--database", url, "--log-vkey", vkey, "--json")
    assert r.returncode == 3, r.stderr
    (doc,) = json.loads(r.stdout)
    assert not doc["clean"] and {p["kind"] for p in doc["problems"]} == {"tree"}
    # Without the key, fsck reads it from genesis and says that proves less.
    assert any("--log-vkey" in n for n in fsck_database(url, None).notes)


def test_bad_usage_is_one_line(tmp_path: Path) -> None:
    r = cli("--data", str(tmp_path))
    assert r.returncode == 2 and r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    r = cli()
    assert r.returncode == 2 and "give either --data DIR or --database URL" in r.stderr


def test_a_district_folder_is_checked_community_by_community(tmp_path: Path) -> None:
    district = tmp_path / "district"
    (district / "communities").mkdir(parents=True)
    (district / "district.json").write_text('{"role": "sequencer"}')
    build(district / "communities" / "a")
    build(district / "communities" / "b")
    attacker_sql(
        district / "communities" / "b" / "ledger.sqlite",
        ("UPDATE log_nodes SET hash = ? WHERE nid = ?", (b"\x05" * 32, node_key(1, 0))),
    )
    a, b = fsck_data_dir(district)
    assert a.clean and a.target.endswith("communities/a")
    assert not b.clean and "tree node (level 1, index 0)" in messages(b)
    r = cli("--data", str(district))
    assert r.returncode == 3
    verdicts = [line for line in r.stdout.splitlines() if line.startswith("fsck ")]
    assert len(verdicts) == 2 and "clean" in verdicts[0] and "problem(s)" in verdicts[1]
