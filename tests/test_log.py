"""The log on both engines: appends, proofs, tiles, append-only guards, reopening, tampering."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger import merkle
from ledger.c2sp.checkpoint import open_checkpoint
from ledger.c2sp.note import generate_signer, parse_private_key
from ledger.errors import InputError, IntegrityError, NotFoundError, SignatureError
from ledger.log import Log
from ledger.records import parse_record
from ledger.sql import SqlStore
from ledger.tiles import decode_bundle
from tests.conftest import VECTORS

TESSERA = VECTORS / "tessera-log"
TESSERA_KEY = (
    "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
)
TESSERA_ENTRIES = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eit",
    "nain",
    "ten",
    "ileven",
    "twelf",
    "threeten",
    "fourten",
    "fivten",
]


MakeStore = Callable[[str], SqlStore]


@pytest.fixture
def log(db_url: str, make_store: MakeStore) -> Log:
    signer = generate_signer("civic.example/test")
    return Log(make_store(db_url), "civic.example/test", signer)


def test_tessera_log_is_reproduced_byte_for_byte(db_url: str, make_store: MakeStore) -> None:
    signer = parse_private_key(TESSERA_KEY)
    log = Log(make_store(db_url), "example.com/log/testdata", signer)
    assert log.checkpoint() == (TESSERA / "checkpoint.0").read_bytes()
    for i, word in enumerate(TESSERA_ENTRIES):
        res = log.append([word.encode()])
        size = i + 1
        assert res.checkpoint == (TESSERA / f"checkpoint.{size}").read_bytes(), size
        assert log.tile(0, 0, size) == (TESSERA / "tile/0/000.p" / str(size)).read_bytes()
        bundle = log.entry_bundle(0, size)
        assert bundle == (TESSERA / "tile/entries/000.p" / str(size)).read_bytes()
        assert decode_bundle(bundle) == [w.encode() for w in TESSERA_ENTRIES[:size]]
    assert log.checkpoint() == (TESSERA / "checkpoint").read_bytes()
    # Older partial widths stay servable and equal to what was published at that size.
    assert log.tile(0, 0, 7) == (TESSERA / "tile/0/000.p/7").read_bytes()


def test_proofs_verify_against_checkpoints(log: Log) -> None:
    sizes = []
    for batch in (1, 3, 250, 300, 1):
        res = log.append([f"e{log.size + i}".encode() for i in range(batch)])
        cp, _ = open_checkpoint(res.checkpoint, log.verifier)
        assert cp.size == res.size and cp.root_hash == log.root()
        sizes.append(cp.size)
    n = log.size
    leaves = [merkle.leaf_hash(e) for e in log.entries(0, n)]
    assert log.root() == merkle.root_from_leaves(leaves)
    for size in sizes:
        root = log.root_at(size)
        assert root == merkle.root_from_leaves(leaves[:size])
        for index in {0, size // 2, size - 1}:
            proof = log.inclusion_proof(index, size)
            merkle.verify_inclusion(leaves[index], index, size, proof, root)
        for first in {0, 1, size // 3, size}:
            proof = log.consistency_proof(first, n)
            if first:
                merkle.verify_consistency(first, n, proof, log.root_at(first), log.root())


def test_tiles_at_higher_levels(log: Log) -> None:
    n = 256 * 256 + 300
    for lo in range(0, n, 5000):
        log.append([str(i).encode() for i in range(lo, min(n, lo + 5000))])
    full = log.tile(1, 0, 256)
    assert len(full) == 256 * 32
    # Tile level 1 holds tree level 8: each hash is the root of 256 leaves.
    assert full[:32] == merkle.root_from_leaves(log.leaf_hashes(0, 256))
    assert log.tile(2, 0, 1) == merkle.root_from_leaves(log.leaf_hashes(0, 65536))
    assert len(log.tile(1, 1, 1)) == 32
    with pytest.raises(NotFoundError):
        log.tile(1, 1, 2)  # only one level-8 node exists past 65536
    with pytest.raises(NotFoundError):
        log.entry_bundle(257, 45)


def test_out_of_range_requests_are_refused(log: Log) -> None:
    log.append([b"a", b"b", b"c"])
    for call in (
        lambda: log.inclusion_proof(3, 3),
        lambda: log.inclusion_proof(0, 4),
        lambda: log.consistency_proof(2, 1),
        lambda: log.consistency_proof(1, 9),
        lambda: log.root_at(4),
    ):
        with pytest.raises(InputError):
            call()
    with pytest.raises(NotFoundError):
        log.entry(3)
    with pytest.raises(NotFoundError):
        log.index_of_leaf(merkle.leaf_hash(b"zzz"))
    assert log.index_of_leaf(merkle.leaf_hash(b"b")) == 1


@pytest.mark.parametrize("table", ["log_entries", "log_nodes", "log_checkpoints"])
@pytest.mark.parametrize("op", ["UPDATE", "DELETE"])
def test_database_refuses_update_and_delete(log: Log, table: str, op: str) -> None:
    log.append([b"a", b"b", b"c", b"d"])
    col = {"log_entries": "data", "log_nodes": "hash", "log_checkpoints": "note"}[table]
    sql = f"UPDATE {table} SET {col} = {col}" if op == "UPDATE" else f"DELETE FROM {table}"
    with pytest.raises(Exception, match="append-only"), log.store.engine.begin() as conn:
        conn.execute(text(sql))
    assert log.verify_integrity(chained_records=False) == 4


def test_reopen_resumes(db_url: str, make_store: MakeStore) -> None:
    signer = generate_signer("civic.example/test")
    log = Log(make_store(db_url), "civic.example/test", signer)
    log.append_records([{"n": i} for i in range(37)])
    root, last = log.root(), log.last_leaf_hash
    again = Log(make_store(db_url), "civic.example/test", signer)
    assert (again.size, again.root(), again.last_leaf_hash) == (37, root, last)
    res = again.append_records([{"n": 37}])
    rec = parse_record(again.entry(37))
    assert last is not None
    assert (rec.index, rec.prev) == (37, last.hex())
    assert res.size == 38
    assert again.verify_integrity() == 38


def test_records_are_chained(log: Log) -> None:
    log.append_records([{"a": 1}, {"a": 2}])
    log.append_records([{"a": 3}])
    recs = [parse_record(e) for e in log.entries(0, 3)]
    assert recs[0].prev == "0" * 64
    assert recs[1].prev == merkle.leaf_hash(recs[0].raw).hex()
    assert recs[2].prev == merkle.leaf_hash(recs[1].raw).hex()
    assert [r.index for r in recs] == [0, 1, 2]


def _drop_guards(log: Log) -> None:
    with log.store.engine.begin() as conn:
        if log.store.dialect == "sqlite":
            for t in ("log_entries", "log_nodes"):
                conn.execute(text(f"DROP TRIGGER {t}_no_update"))
        else:
            for t in ("log_entries", "log_nodes"):
                conn.execute(text(f"DROP TRIGGER {t}_append_only ON {t}"))


def test_edited_record_is_detected(log: Log) -> None:
    log.append_records([{"amount": i} for i in range(20)])
    _drop_guards(log)
    with log.store.engine.begin() as conn:
        conn.execute(
            text("UPDATE log_entries SET data = :d WHERE idx = 5"),
            {"d": log.entry(5).replace(b'"amount":5', b'"amount":9')},
        )
    with pytest.raises(IntegrityError, match="entry 5"):
        log.verify_integrity()


def test_edited_tree_node_is_detected_on_open(db_url: str, make_store: MakeStore) -> None:
    signer = generate_signer("civic.example/test")
    log = Log(make_store(db_url), "civic.example/test", signer)
    log.append([str(i).encode() for i in range(64)])
    _drop_guards(log)
    with log.store.engine.begin() as conn:
        conn.execute(
            text("UPDATE log_nodes SET hash = :h WHERE nid = :k"), {"h": b"\x00" * 32, "k": 6 << 50}
        )
    with pytest.raises(IntegrityError, match="checkpoint"):
        Log(make_store(db_url), "civic.example/test", signer)


def test_wrong_key_or_origin_refused(db_url: str, make_store: MakeStore, tmp_path: Path) -> None:
    signer = generate_signer("civic.example/test")
    Log(make_store(db_url), "civic.example/test", signer).append([b"x"])
    with pytest.raises(SignatureError, match="signed by no known key"):
        Log(make_store(db_url), "civic.example/test", generate_signer("civic.example/test"))
    with pytest.raises(InputError):
        Log(make_store(db_url), "civic.example/other", signer)


def test_oversized_entry_refused_and_nothing_written(log: Log) -> None:
    log.append([b"a"])
    with pytest.raises(InputError):
        log.append([b"b", b"x" * 70000])
    assert log.size == 1
    assert log.verify_integrity(chained_records=False) == 1


def test_checkpoint_note_is_c2sp(log: Log) -> None:
    log.append([b"hello"])
    note = log.checkpoint().decode()
    lines = note.split("\n")
    assert lines[0] == "civic.example/test"
    assert lines[1] == "1"
    assert base64.b64decode(lines[2]) == merkle.leaf_hash(b"hello")
    assert lines[3] == ""
    assert lines[4].startswith("— civic.example/test ")


# --- the leaf-hash index and its integrator (issue 13) ------------------------------------


def _leaves_of(log: Log) -> list[bytes]:
    return [merkle.leaf_hash(e) for e in log.entries(0, log.size)]


def test_lookup_by_leaf_hash_before_during_and_after_the_integrator(
    db_url: str, make_store: MakeStore
) -> None:
    signer = generate_signer("civic.example/test")
    # No integrator thread: every step below is at a known point of the index.
    log = Log(make_store(db_url), "civic.example/test", signer, 50, background_index=False)
    log.append([b"dup", b"a", b"b"])
    assert log.store.indexed_size() == 0
    # Right after the append, nothing is indexed: the lookups scan the tail.
    assert log.index_of_leaf(merkle.leaf_hash(b"b")) == 2
    log.append([b"dup"] + [b"x%d" % i for i in range(60)])  # 64 entries: over the lag
    assert log.store.indexed_size() == 64
    log.append([b"y%d" % i for i in range(10)] + [b"dup"])
    indexed = log.store.indexed_size()
    assert indexed == 64 < log.size == 75
    leaves = _leaves_of(log)
    for i, lh in enumerate(leaves):
        if lh != merkle.leaf_hash(b"dup"):
            assert log.index_of_leaf(lh) == i, i
    # A repeated entry is found at its first index, in the index and in the tail alike.
    assert log.index_of_leaf(merkle.leaf_hash(b"dup")) == 0
    assert log.index_of_leaf(merkle.leaf_hash(b"y3")) == 67
    with pytest.raises(NotFoundError):
        log.index_of_leaf(merkle.leaf_hash(b"y3"), 67)  # not below tree size 67
    with pytest.raises(NotFoundError):
        log.index_of_leaf(merkle.leaf_hash(b"never"))
    assert log.index_leaves() == 75 == log.store.indexed_size()
    assert log.index_leaves() == 75  # repeating is harmless
    assert [log.index_of_leaf(lh) for lh in leaves[60:74]] == list(range(60, 74))
    assert log.index_of_leaf(leaves[74]) == 0  # "dup" again


def test_lookups_are_right_after_a_crash_before_the_integrator_caught_up(
    db_url: str, make_store: MakeStore
) -> None:
    signer = generate_signer("civic.example/test")
    log = Log(make_store(db_url), "civic.example/test", signer, 1 << 30, background_index=False)
    log.append_records([{"n": i} for i in range(300)])
    log.store.close()  # the writer is gone; its index never ran
    again = Log(make_store(db_url), "civic.example/test", signer, 1 << 30)
    assert again.store.indexed_size() == 0
    leaves = _leaves_of(again)
    assert [again.index_of_leaf(lh) for lh in leaves] == list(range(300))
    # A writer with the usual lag brings the index up to date when it opens the log.
    third = Log(make_store(db_url), "civic.example/test", signer, 100, background_index=False)
    assert third.store.indexed_size() == 300
    assert [third.index_of_leaf(lh) for lh in leaves[::7]] == list(range(0, 300, 7))


def test_background_integrator_catches_up_and_lookups_stay_right(
    db_url: str, make_store: MakeStore
) -> None:
    signer = generate_signer("civic.example/test")
    log = Log(make_store(db_url), "civic.example/test", signer, 32)
    for k in range(20):
        log.append([b"e%d.%d" % (k, i) for i in range(17)])
        # Whatever the thread has reached, the newest entry is found at once.
        assert log.index_of_leaf(merkle.leaf_hash(b"e%d.16" % k)) == log.size - 1
    log.wait_for_index()
    assert log.store.indexed_size() >= log.size - 32
    assert [log.index_of_leaf(lh) for lh in _leaves_of(log)] == list(range(log.size))


def test_an_altered_index_row_never_names_another_entry(db_url: str, make_store: MakeStore) -> None:
    signer = generate_signer("civic.example/test")
    log = Log(make_store(db_url), "civic.example/test", signer, 8, background_index=False)
    log.append([b"e%d" % i for i in range(16)])
    assert log.store.indexed_size() == 16
    target = merkle.leaf_hash(b"e3")
    with log.store.engine.begin() as conn:
        # A forged row: e3's prefix pointing at entry 9.
        conn.execute(
            text("INSERT INTO log_leaf_index (prefix, idx) VALUES (:p, 99)"), {"p": target[:8]}
        )
        conn.execute(
            text("INSERT INTO log_leaf_index (prefix, idx) VALUES (:p, 9)"), {"p": target[:8]}
        )
    assert log.index_of_leaf(target) == 3


def test_precomputed_leaf_hashes_are_used_and_checked_for_count(log: Log) -> None:
    data = [b"p%d" % i for i in range(5)]
    res = log.append(data, leaf_hashes=[merkle.leaf_hash(d) for d in data])
    assert res.leaf_hashes == tuple(merkle.leaf_hash(d) for d in data)
    assert log.root() == merkle.root_from_leaves(list(res.leaf_hashes))
    assert log.verify_integrity(chained_records=False) == 5
    with pytest.raises(InputError, match="2 leaf hashes given for 3 entries"):
        log.append([b"a", b"b", b"c"], leaf_hashes=res.leaf_hashes[:2])
    with pytest.raises(InputError, match="leaf hash 1 must be 32 bytes"):
        log.append([b"a", b"b"], leaf_hashes=[res.leaf_hashes[0], b"short"])
    assert log.size == 5  # bad input changed nothing


def test_batch_appends_match_one_by_one_appends(
    db_url: str, make_store: MakeStore, tmp_path: Path
) -> None:
    # The level-by-level batch path (CompactRange.extend) against appends of one entry,
    # including the proofs carried in each AppendResult.
    signer = generate_signer("civic.example/test")
    one = Log(make_store(f"sqlite+pysqlite:///{tmp_path / 'one.sqlite'}"), signer.name, signer)
    data = [b"r%d" % i for i in range(300)]
    for d in data:
        one.append([d])
    many = Log(make_store(db_url), signer.name, signer)
    lo = 0
    for size in (1, 2, 5, 64, 100, 128):
        res = many.append(data[lo : lo + size])
        for i in range(res.first, res.size):
            proof = res.inclusion_proof(i)
            merkle.verify_inclusion(merkle.leaf_hash(data[i]), i, res.size, proof, many.root())
        lo += size
    assert many.size == one.size == 300 and many.root() == one.root()
    for level in range(1, 9):
        assert many.store.read_node_range(level, 0, 300) == one.store.read_node_range(level, 0, 300)
