"""The storage interface: SqlStore keeps its contract on both engines, and nothing above
the storage layer touches SQL (routes least of all)."""

from __future__ import annotations

import ast
import inspect
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger import merkle
from ledger.errors import StorageError
from ledger.sql import SqlStore
from ledger.storage import (
    Batch,
    CosignatureStorage,
    DocumentInfo,
    DocumentStorage,
    EvidenceRow,
    EvidenceStorage,
    LogStorage,
    Opening,
    PrivateStorage,
    StateChange,
    Storage,
    WitnessStorage,
)
from rules import community_rules

ROOT = Path(__file__).parent.parent
PACKAGES = ("ledger", "voting", "funds", "node", "audits", "cli")
MakeStore = Callable[[str], SqlStore]

# --- the boundary ------------------------------------------------------------------------

DB_MODULES = ("sqlalchemy", "sqlite3", "psycopg", "psycopg2", "ledger.sql")
# What a route would reach for to run SQL itself: an engine or connection, a cursor, or
# the storage object behind the log and the services.
DB_ATTRIBUTES = frozenset(
    {
        "engine",
        "connect",
        "begin",
        "execute",
        "executemany",
        "exec_driver_sql",
        "connection",
        "driver_connection",
        "cursor",
        "store",
    }
)
SQL_WORDS = ("SELECT ", "INSERT INTO", "UPDATE ", "DELETE FROM", "CREATE TABLE")


def _imports(tree: ast.AST) -> list[str]:
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            out.append(node.module)
    return out


def _is_db_module(name: str) -> bool:
    return any(name == m or name.startswith(m + ".") for m in DB_MODULES)


def route_violations(source: str) -> list[str]:
    """What in a route module's source reaches past the storage interface."""
    tree = ast.parse(source)
    found = [f"imports {m}" for m in _imports(tree) if _is_db_module(m)]
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in DB_ATTRIBUTES:
            found.append(f"line {node.lineno}: .{node.attr}")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and any(w in node.value for w in SQL_WORDS)
        ):
            found.append(f"line {node.lineno}: SQL text {node.value[:30]!r}")
    return found


def test_the_route_checker_catches_sql() -> None:
    bad = (
        "from sqlalchemy import select\n"
        "def r(ctx):\n"
        "    with ctx.store.engine.connect() as conn:\n"
        "        return conn.exec_driver_sql('SELECT 1 FROM log_entries')\n"
    )
    got = route_violations(bad)
    assert "imports sqlalchemy" in got
    assert {".store", ".engine", ".connect", ".exec_driver_sql"} <= {g.split(": ")[-1] for g in got}
    assert any("SQL text" in g for g in got)
    assert route_violations("import ledger.sql\n") == ["imports ledger.sql"]
    assert route_violations("def r(ctx):\n    return ctx.log.entries(0, 1)\n") == []


def test_routes_never_touch_an_engine_or_sql() -> None:
    routes = sorted((ROOT / "node").glob("routes_*.py"))
    assert len(routes) >= 8, "the route modules were not found"
    bad = {p.name: v for p in routes if (v := route_violations(p.read_text("utf-8")))}
    assert bad == {}


def test_only_the_sql_implementation_imports_a_database_library() -> None:
    importers = set()
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if any(
                _is_db_module(m) and m != "ledger.sql"
                for m in _imports(ast.parse(path.read_text("utf-8")))
            ):
                importers.add(path.relative_to(ROOT).as_posix())
    # node/fsck.py reads the raw rows on purpose: an offline check must not trust the
    # store's own read paths (and their derived indexes) to tell it what is stored.
    # ledger/sql_writer.py is the standby's lock and fencing token, the same SQL family.
    assert importers == {"ledger/sql.py", "ledger/sql_writer.py", "node/fsck.py"}


def _members(proto: type) -> set[str]:
    return {
        n
        for cls in proto.__mro__
        if cls is not object and getattr(cls, "_is_protocol", False)
        for n, v in vars(cls).items()
        if not n.startswith("_") and (callable(v) or isinstance(v, property))
    }


def test_sql_store_implements_every_operation_of_the_interface() -> None:
    members = _members(Storage)
    for part in (LogStorage, PrivateStorage, DocumentStorage, EvidenceStorage):
        assert _members(part) <= members
    assert {"append_batch", "read_nodes", "read_entries", "read_state", "write_state"} <= members
    for part in (CosignatureStorage, WitnessStorage):
        assert _members(part) <= members
    for name in sorted(members):
        impl = getattr(SqlStore, name)
        want = getattr(Storage, name)
        if isinstance(want, property):
            assert isinstance(impl, property), name
            continue
        assert list(inspect.signature(impl).parameters) == list(
            inspect.signature(want).parameters
        ), name


# --- the contract, on both engines ---------------------------------------------------------


def _batch(first: int, data: list[bytes], frontier: merkle.CompactRange) -> Batch:
    rows, inner = [], []
    for k, d in enumerate(data):
        lh = merkle.leaf_hash(d)
        rows.append((first + k, d, lh))
        inner.extend((lv, i, h) for (lv, i), h in frontier.append(lh) if lv)
    return Batch(rows, inner, (frontier.size, b"note %d" % frontier.size))


def test_log_tables_and_state_on_both_engines(db_url: str, make_store: MakeStore) -> None:
    s = make_store(db_url)
    assert (s.size(), s.latest_checkpoint(), s.read_state(community_rules()).size) == (0, None, 0)
    fr = merkle.CompactRange()
    data = [b"e%d" % i for i in range(5)]
    b = _batch(0, data, fr)
    opening = Opening("c" * 64, "r1", "member.enrol", "flat 3", "salt", "2026-01-01T00:00:00Z")
    change = StateChange([("member", "r1", {"n": 1}), ("member", "gone", None)], 5, "ab" * 32)
    s.append_batch(Batch(b.entries, b.nodes, b.checkpoint, change, [opening]))
    assert s.size() == 5
    assert s.read_entries(1, 3) == data[1:3]
    leaves = [merkle.leaf_hash(d) for d in data]
    assert s.read_node_range(0, 0, 5) == leaves
    assert s.read_nodes([(0, 4), (2, 0), (1, 1), (3, 0)]) == {
        (0, 4): leaves[4],
        (2, 0): merkle.root_from_leaves(leaves[:4]),
        (1, 1): merkle.node_hash(leaves[2], leaves[3]),
    }
    assert s.read_node_range(1, 0, 3) == [
        merkle.node_hash(leaves[0], leaves[1]),
        merkle.node_hash(leaves[2], leaves[3]),
    ]
    assert s.index_of_leaf(leaves[3]) == 3 and s.index_of_leaf(b"\0" * 32) is None
    assert s.latest_checkpoint() == (5, b"note 5") and s.checkpoint_at(5) == b"note 5"
    assert s.checkpoint_at(4) is None
    s.add_checkpoint(3, b"note 3")
    assert s.checkpoint_at(3) == b"note 3" and s.latest_checkpoint() == (5, b"note 5")
    st = s.read_state(community_rules())
    assert (st.size, st.head, st.peek("member", "r1"), st.peek("member", "gone")) == (
        5,
        "ab" * 32,
        {"n": 1},
        None,
    )
    s.write_state(StateChange([("member", "r1", None), ("x", "y", [1])], 5, "ab" * 32))
    st = s.read_state(community_rules())
    assert st.peek("member", "r1") is None and st.peek("x", "y") == [1]
    assert [o.to_json() for o in s.openings_of("r1")] == [opening.to_json()]
    assert s.subject_of_opening("member.enrol", "flat 3") == "r1"
    assert s.subject_of_opening("funds.expense.request", "flat 3") is None
    s.ping()


def test_a_failing_batch_writes_nothing(db_url: str, make_store: MakeStore) -> None:
    s = make_store(db_url)
    fr = merkle.CompactRange()
    opening = Opening("c" * 64, "r1", "member.enrol", "v", "salt", "t")
    first = _batch(0, [b"a"], fr)
    s.append_batch(Batch(first.entries, first.nodes, first.checkpoint, None, [opening]))
    second = _batch(1, [b"b", b"c"], fr)
    change = StateChange([("member", "r2", {"n": 2})], 3, "cd" * 32)
    # The same commitment again violates the private store's key: the whole batch goes.
    with pytest.raises(StorageError, match="append of 2 entries at 1 failed"):
        s.append_batch(Batch(second.entries, second.nodes, second.checkpoint, change, [opening]))
    assert (s.size(), s.latest_checkpoint(), s.read_state(community_rules()).size) == (
        1,
        (1, b"note 1"),
        0,
    )
    assert s.read_nodes([(1, 0)]) == {}


def test_node_stores_on_both_engines(db_url: str, make_store: MakeStore) -> None:
    s = make_store(db_url)
    # Openings are erasable (the one table rows leave).
    s.append_batch(
        Batch(
            _batch(0, [b"a"], merkle.CompactRange()).entries,
            [],
            (1, b"n"),
            None,
            [Opening(f"{i}" * 64, "p-1", "k", f"v{i}", "s", "t") for i in range(2)],
        )
    )
    assert s.erase_openings("p-1") == 2
    assert s.erase_openings("p-1") == 0 and s.openings_of("p-1") == []
    # Documents: the first upload's metadata stays.
    info = DocumentInfo("a" * 64, 3, "text/plain", "k1", "2026-01-01T00:00:00Z")
    s.add_document(info)
    s.add_document(DocumentInfo("a" * 64, 3, "text/csv", "k2", "2026-01-02T00:00:00Z"))
    assert s.document("a" * 64) == info and s.document("b" * 64) is None
    # Evidence: added once, read oldest first.
    e2 = EvidenceRow("id2", "integrity", "2026-01-02T00:00:00Z", "w", {"reason": "two"})
    e1 = EvidenceRow("id1", "equivocation", "2026-01-01T00:00:00Z", "w", {"reason": "one"})
    s.add_evidence(e2)
    s.add_evidence(e1)
    s.add_evidence(EvidenceRow("id1", "integrity", "2026-01-03T00:00:00Z", "x", {}))
    assert s.all_evidence() == [e1, e2]
    # Cosignatures: one line per witness key and size.
    assert s.latest_cosigned_size() is None
    s.add_cosignature(5, "w1+aa", "line a")
    s.add_cosignature(5, "w1+aa", "line a again")
    s.add_cosignature(5, "w2+bb", "line b")
    s.add_cosignature(7, "w2+bb", "line c")
    assert sorted(s.cosignature_lines(5)) == ["line a", "line b"]
    assert s.cosignatures_above(5) == [(7, "line c")]
    assert (s.latest_cosigned_size(), s.latest_cosigned_size("w1+aa")) == (7, 5)
    assert s.latest_cosigned_size("w3+cc") is None
    # A witness's record of what it cosigned, per origin.
    assert s.latest_witnessed("o") is None
    s.record_witnessed("o", 4, b"r" * 32, b"note 4", "t")
    s.record_witnessed("o", 9, b"R" * 32, b"note 9", "t")
    s.record_witnessed("other", 20, b"x" * 32, b"note 20", "t")
    assert s.latest_witnessed("o") == (9, b"R" * 32, b"note 9")
    with pytest.raises(StorageError, match="recording the cosigned checkpoint"):
        s.record_witnessed("o", 9, b"R" * 32, b"note 9", "t")


@pytest.mark.parametrize("table", ["evidence", "checkpoint_cosignatures", "witness_checkpoints"])
def test_node_records_are_append_only(db_url: str, make_store: MakeStore, table: str) -> None:
    s = make_store(db_url)
    s.add_evidence(EvidenceRow("id", "integrity", "t", "w", {}))
    s.add_cosignature(1, "w+aa", "line")
    s.record_witnessed("o", 1, b"r" * 32, b"note", "t")
    for sql in (f"DELETE FROM {table}", f"UPDATE {table} SET size = size"):
        if table == "evidence":
            sql = sql.replace("size = size", "kind = kind")
        with pytest.raises(Exception, match="append-only"), s.engine.begin() as conn:
            conn.execute(text(sql))
    assert len(s.all_evidence()) == 1 and s.latest_cosigned_size() == 1
    assert s.latest_witnessed("o") == (1, b"r" * 32, b"note")


def test_leaf_index_is_filled_after_the_appends_and_lookups_never_miss(
    db_url: str, make_store: MakeStore
) -> None:
    s = make_store(db_url)
    fr = merkle.CompactRange()
    data = [b"e%d" % i for i in range(10)] + [b"e3"]  # e3 twice: the first index counts
    s.append_batch(_batch(0, data[:6], fr))
    s.append_batch(_batch(6, data[6:], fr))
    leaves = [merkle.leaf_hash(d) for d in data]
    assert s.indexed_size() == 0
    want = [3 if i == 10 else i for i in range(11)]
    assert [s.index_of_leaf(lh) for lh in leaves] == want  # all from the tail scan
    assert s.index_leaves(4) == 4  # part of the log: index below 4, scan from 4
    assert [s.index_of_leaf(lh) for lh in leaves] == want
    # Past the stored entries the index stops at them: later entries cannot be skipped.
    assert s.index_leaves(50) == 11
    assert [s.index_of_leaf(lh) for lh in leaves] == want
    assert s.index_leaves(11) == 11 == s.indexed_size()
    s.append_batch(_batch(11, [b"late"], fr))
    assert s.index_of_leaf(merkle.leaf_hash(b"late")) == 11
    assert s.index_of_leaf(b"\x01" * 32) is None
    with s.engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM log_leaf_index")).scalar() == 11
