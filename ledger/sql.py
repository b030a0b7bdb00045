"""The SQLAlchemy 2.0 implementation of :mod:`ledger.storage`, on SQLite and PostgreSQL.

Only what the C2SP tile layout needs is stored, so that a root or a proof costs
O(log n) reads: every entry with its leaf hash (tree level 0) and every *completed*
interior node (level ≥ 1). Nothing in the log's tables is ever updated or deleted;
triggers make the database itself refuse UPDATE and DELETE on them (and on evidence and
cosignatures), on SQLite and PostgreSQL. Beside them: the state documents (one row per
document, written in the same transaction as the batch that changed it) and the node's
stores (private openings, document metadata, evidence).

Everything engine-specific lives here: the SQLite pragmas, the append-only triggers, the
upsert dialects, and the two hot paths that go straight to the driver (executemany on
append, one UNION statement for a proof's nodes). Every method opens its own connection
from the pool and turns a database failure into :class:`~ledger.errors.StorageError`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    delete,
    event,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import InputError, StorageError
from ledger.ruleset import RuleSet
from ledger.state import State
from ledger.storage import (
    Batch,
    DocumentInfo,
    EvidenceRow,
    NodeId,
    Opening,
    StateChange,
)

__all__ = [
    "APPEND_ONLY_TABLES",
    "LEAF_PREFIX",
    "NAMING",
    "OLD_LEAF_INDEX",
    "SqlStore",
    "checkpoints",
    "entries",
    "leaf_index",
    "leaf_index_meta",
    "metadata",
    "node_key",
    "nodes",
    "sqlite_url",
    "with_schema",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = MetaData(naming_convention=NAMING)

# On SQLite only INTEGER PRIMARY KEY makes the key the table's own rowid (one B-tree, not two).
Int64 = BigInteger().with_variant(Integer, "sqlite")

# --- the log ---------------------------------------------------------------------------

entries = Table(
    "log_entries",
    metadata,
    Column("idx", Int64, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)

# The leaf-hash → index lookup table, filled after the appends by Log's integrator
# (SqlStore.index_leaves) rather than in them: a B-tree keyed by a hash takes random
# inserts, and indexing each batch as it commits cost more than the rest of the append.
# It keys the first 8 bytes of the leaf hash (a B-tree of 8-byte keys is a third the size
# of one of 32-byte keys: half the cost to fill); a lookup confirms the whole hash on the
# entry itself. It covers the entries below leaf_index_meta.upto; lookups scan the rest.
LEAF_PREFIX = 8
leaf_index = Table(
    "log_leaf_index",
    metadata,
    Column("prefix", LargeBinary(LEAF_PREFIX), primary_key=True),
    Column("idx", Int64, primary_key=True, autoincrement=False),
    sqlite_with_rowid=False,
)
leaf_index_meta = Table(
    "log_leaf_index_meta",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("upto", BigInteger, nullable=False),
)
# Rows per multi-row INSERT on the append path (well under both engines' parameter limits).
INSERT_ROWS = 256
# Entries indexed per transaction when catching up, so none grows without bound.
INDEX_CHUNK = 1 << 16
# Databases written before the integrator kept the leaf-hash index on log_entries itself.
OLD_LEAF_INDEX = "ix_log_entries_leaf_hash"

# A completed interior node (level ≥ 1) keyed by one integer, level << 50 | index, so a
# proof's scattered nodes are point lookups on the primary key and a tile is one range.
NODE_SHIFT = 50
nodes = Table(
    "log_nodes",
    metadata,
    Column("nid", Int64, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
)


def node_key(level: int, index: int) -> int:
    """The integer key of tree node (level, index)."""
    return (level << NODE_SHIFT) | index


checkpoints = Table(
    "log_checkpoints",
    metadata,
    Column("size", Int64, primary_key=True, autoincrement=False),
    Column("note", LargeBinary, nullable=False),
)

# --- the state documents ---------------------------------------------------------------

state_rows = Table(
    "state_rows",
    metadata,
    Column("ns", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

state_meta = Table(
    "state_meta",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("head", String(64), nullable=False),
)

# --- the node's stores -----------------------------------------------------------------

private_openings = Table(
    "private_openings",
    metadata,
    Column("commitment", String(64), primary_key=True),
    Column("subject", String(128), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("value", Text, nullable=False),
    Column("salt", String(64), nullable=False),
    Column("stored", String(40), nullable=False),
)

documents_table = Table(
    "documents",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("media_type", String(130), nullable=False),
    Column("uploaded_by", String(128), nullable=False),
    Column("uploaded_at", String(40), nullable=False),
)

evidence_table = Table(
    "evidence",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("found_at", String(40), nullable=False),
    Column("found_by", String(255), nullable=False),
    Column("body", Text, nullable=False),
)

cosignatures_table = Table(
    "checkpoint_cosignatures",
    metadata,
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    # "<key name>+<8 hex key ID>": one cosignature per witness key per checkpoint size.
    Column("witness", String(300), primary_key=True),
    Column("line", Text, nullable=False),
)

witness_checkpoints = Table(
    "witness_checkpoints",
    metadata,
    Column("origin", String(255), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", LargeBinary, nullable=False),
    Column("cosigned_at", String(40), nullable=False),
)

APPEND_ONLY_TABLES = (
    "log_entries",
    "log_nodes",
    "log_checkpoints",
    "log_leaf_index",
    "evidence",
    "checkpoint_cosignatures",
    "witness_checkpoints",
)


def with_schema(database: str, schema: str) -> str:
    """The PostgreSQL URL ``database`` with its search_path set to ``schema``.

    InputError for any other engine: only PostgreSQL keeps many logs in one database.
    """
    url = make_url(database)
    if url.get_backend_name() != "postgresql":
        raise InputError("a district's shared database must be PostgreSQL (SQLite: leave it out)")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite database file."""
    return f"sqlite+pysqlite:///{path}"


def _create_schema(engine: Engine) -> None:
    # A district keeps each community in its own schema, named by the URL's search_path
    # (node/district.py); it must exist before the tables can be created in it.
    found = re.search(r"search_path\s*=\s*([a-z0-9_]+)", str(engine.url.query.get("options", "")))
    if found:
        with engine.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{found.group(1)}"'))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the single writer; synchronous=FULL makes a COMMIT
    # durable on disk before it returns, so an acknowledged append survives kill -9.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    # A larger page cache and fewer WAL checkpoints: the leaf-hash index takes random
    # inserts, and each checkpoint is an extra fsync of the database file.
    cur.execute("PRAGMA cache_size=-65536")
    cur.execute("PRAGMA wal_autocheckpoint=10000")
    cur.close()


def _install_append_only(conn: Connection, tables: Iterable[str]) -> None:
    if conn.dialect.name == "sqlite":
        for t in tables:
            for op in ("UPDATE", "DELETE"):
                conn.exec_driver_sql(
                    f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
                    f"BEGIN SELECT RAISE(ABORT, '{t} is append-only: {op} refused'); END"
                )
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            "CREATE OR REPLACE FUNCTION civic_append_only() RETURNS trigger AS $$ BEGIN "
            "RAISE EXCEPTION '%% is append-only: %% refused', TG_TABLE_NAME, TG_OP; END $$ "
            "LANGUAGE plpgsql"
        )
        for t in tables:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                "FOR EACH ROW EXECUTE FUNCTION civic_append_only()"
            )
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t} "
                "FOR EACH STATEMENT EXECUTE FUNCTION civic_append_only()"
            )
    else:  # pragma: no cover - only the two engines are supported
        raise StorageError(f"unsupported database engine {conn.dialect.name!r}")


class SqlStore:
    """One database implementing :class:`ledger.storage.Storage` (SQLite or PostgreSQL by URL).

    Every table above is created on open, the append-only ones with their guards.
    """

    def __init__(self, url: str) -> None:
        try:
            self.engine: Engine = create_engine(url, pool_pre_ping=False)
            self._insert_sql: dict[tuple[str, int, int], str] = {}
            # Run first inside every batch transaction (node/standby.py: the writer's
            # fencing token); raising aborts the batch.
            self.fence: Callable[[Connection], None] | None = None
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
            else:
                _create_schema(self.engine)
            self.create_tables(metadata, APPEND_ONLY_TABLES)
            with self.engine.begin() as conn:
                # Its job is log_leaf_index's now (filled by Log on opening such a log).
                conn.exec_driver_sql(f"DROP INDEX IF EXISTS {OLD_LEAF_INDEX}")
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot open database {url!r}: {exc}") from exc

    @property
    def dialect(self) -> str:
        """The engine's name: ``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def create_tables(self, md: MetaData, append_only: Iterable[str] = ()) -> None:
        """Create the tables of ``md`` if missing and guard ``append_only`` ones."""
        with self.engine.begin() as conn:
            md.create_all(conn)
            _install_append_only(conn, append_only)

    def close(self) -> None:
        """Release the database (dispose of the connection pool)."""
        self.engine.dispose()

    def ping(self) -> None:
        """Raise StorageError if the database does not answer."""
        with self._connect("reach the database") as conn:
            conn.execute(text("SELECT 1"))

    @contextmanager
    def _connect(self, what: str = "read the database") -> Iterator[Connection]:
        try:
            with self.engine.connect() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot {what}: {exc}") from exc

    @contextmanager
    def _begin(self, what: str) -> Iterator[Connection]:
        try:
            with self.engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StorageError(f"{what} failed: {exc}") from exc

    def _mark(self) -> str:
        return "?" if self.engine.dialect.paramstyle == "qmark" else "%s"

    def _insert(self, table: Table) -> Any:
        return pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)

    # --- the log: reads --------------------------------------------------------------

    def size(self) -> int:
        """Number of stored entries (max index + 1)."""
        with self._connect("read the log") as conn:
            q = select(entries.c.idx).order_by(entries.c.idx.desc()).limit(1)
            n = conn.execute(q).first()
        return 0 if n is None else int(n[0]) + 1

    def read_nodes(self, ids: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """Hashes of the completed nodes ``ids`` ((level, index)); level 0 are leaf hashes.

        One statement, straight to the driver: this is every proof's and root's read, and
        SQLAlchemy's statement building would cost more than SQLite's primary-key lookups.
        """
        leaves = [i for lvl, i in ids if lvl == 0]
        inner = [node_key(lvl, i) for lvl, i in ids if lvl != 0]
        if not leaves and not inner:
            return {}
        mark = self._mark()
        parts = []
        if leaves:
            parts.append(
                f"SELECT idx, leaf_hash FROM log_entries WHERE idx IN ({','.join([mark] * len(leaves))})"
            )
        if inner:
            parts.append(
                f"SELECT nid, hash FROM log_nodes WHERE nid IN ({','.join([mark] * len(inner))})"
            )
        with self._connect("read the log") as conn:
            # The DBAPI cursor itself, inside SQLAlchemy's pooled connection.
            cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cur.execute(" UNION ALL ".join(parts), tuple(leaves + inner))
                rows = cur.fetchall()
            except Exception as exc:  # the driver's own errors, not SQLAlchemy's
                raise StorageError(f"cannot read tree nodes: {exc}") from exc
            finally:
                cur.close()
        mask = (1 << NODE_SHIFT) - 1
        # Leaf indexes are below 2**NODE_SHIFT, so a key's level is 0 exactly for leaves.
        return {(int(k) >> NODE_SHIFT, int(k) & mask): bytes(h) for k, h in rows}

    def read_node_range(self, level: int, lo: int, hi: int) -> list[bytes]:
        """Hashes of the completed nodes at ``level`` with indexes [lo, hi), in order."""
        if level == 0:
            q = (
                select(entries.c.leaf_hash)
                .where(and_(entries.c.idx >= lo, entries.c.idx < hi))
                .order_by(entries.c.idx)
            )
        else:
            q = (
                select(nodes.c.hash)
                .where(and_(nodes.c.nid >= node_key(level, lo), nodes.c.nid < node_key(level, hi)))
                .order_by(nodes.c.nid)
            )
        with self._connect("read the log") as conn:
            return [bytes(r[0]) for r in conn.execute(q)]

    def read_entries(self, lo: int, hi: int) -> list[bytes]:
        """Entry bytes with indexes [lo, hi), in order."""
        q = (
            select(entries.c.data)
            .where(and_(entries.c.idx >= lo, entries.c.idx < hi))
            .order_by(entries.c.idx)
        )
        with self._connect("read the log") as conn:
            return [bytes(r[0]) for r in conn.execute(q)]

    def index_of_leaf(self, leaf_hash: bytes) -> int | None:
        """The lowest index whose leaf hash is ``leaf_hash``, or None.

        One statement, so one snapshot: the index for the entries it covers (its prefix
        matches confirmed on the entries, so an altered index row cannot name another
        entry), and a scan of the
        entries above ``upto`` the integrator has not reached yet, bounded by how far
        Log lets it fall behind.
        """
        m = self._mark()
        q = (
            "SELECT MIN(idx) FROM ("
            "SELECT e.idx AS idx FROM log_leaf_index i JOIN log_entries e ON e.idx = i.idx "
            f"WHERE i.prefix = {m} AND e.leaf_hash = {m} "
            "UNION ALL "
            "SELECT idx FROM log_entries WHERE idx >= "
            "(SELECT COALESCE(MAX(upto), 0) FROM log_leaf_index_meta) "
            f"AND leaf_hash = {m}"
            ") AS found"
        )
        args = (leaf_hash[:LEAF_PREFIX], leaf_hash, leaf_hash)
        with self._connect("read the log") as conn:
            got = conn.exec_driver_sql(q, args).scalar()
        return None if got is None else int(got)

    def indexed_size(self) -> int:
        """How many entries, from index 0, the leaf-hash index covers."""
        with self._connect("read the log") as conn:
            got = conn.execute(select(func.max(leaf_index_meta.c.upto))).scalar()
        return 0 if got is None else int(got)

    def index_leaves(self, upto: int) -> int:
        """Cover the entries below ``upto`` by the leaf-hash index, INDEX_CHUNK entries per
        transaction; return how many entries it covers now.

        The rows are copied inside the database (INSERT … SELECT), sorted by key so the
        B-tree fills page by page; ON CONFLICT DO NOTHING and a watermark that only rises
        make a repeated or concurrent run harmless.
        """
        mark = self._mark()
        done = self.indexed_size()
        stored = self.size()
        upto = min(upto, stored)
        while done < upto:
            hi = min(upto, done + INDEX_CHUNK)
            with self._begin(f"indexing the leaf hashes of entries {done}..{hi - 1}") as conn:
                conn.exec_driver_sql(
                    "INSERT INTO log_leaf_index (prefix, idx) "
                    f"SELECT substr(leaf_hash, 1, {LEAF_PREFIX}), idx FROM log_entries "
                    f"WHERE idx >= {mark} AND idx < {mark} ORDER BY 1, 2 "
                    "ON CONFLICT DO NOTHING",
                    (done, hi),
                )
                conn.exec_driver_sql(
                    f"INSERT INTO log_leaf_index_meta (id, upto) VALUES (1, {mark}) "
                    "ON CONFLICT (id) DO UPDATE SET upto = excluded.upto "
                    "WHERE log_leaf_index_meta.upto < excluded.upto",
                    (hi,),
                )
            done = hi
        return self.indexed_size()

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        """(size, note bytes) of the newest stored checkpoint."""
        q = select(checkpoints.c.size, checkpoints.c.note).order_by(checkpoints.c.size.desc())
        with self._connect("read the log") as conn:
            row = conn.execute(q.limit(1)).first()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def checkpoint_at(self, size: int) -> bytes | None:
        """The stored checkpoint note of exactly ``size``, or None."""
        q = select(checkpoints.c.note).where(checkpoints.c.size == size)
        with self._connect("read the log") as conn:
            row = conn.execute(q).first()
        return None if row is None else bytes(row[0])

    # --- the log: writes -------------------------------------------------------------

    def add_checkpoint(self, size: int, note: bytes) -> None:
        """Keep a checkpoint of an earlier size (a replica remembering the log's note)."""
        with self._begin(f"storing the checkpoint of size {size}") as conn:
            conn.execute(checkpoints.insert().values(size=size, note=note))

    def append_batch(self, batch: Batch) -> None:
        """Write one batch in one transaction: entries, nodes, checkpoint, state, openings.

        Entries and nodes go to the driver as multi-row INSERTs (see _insert_rows): the
        append hot path.
        """
        first = batch.entries[0][0] if batch.entries else batch.checkpoint[0]
        n = len(batch.entries)
        shift = NODE_SHIFT
        with self._begin(f"append of {n} entries at {first}") as conn:
            if self.fence is not None:
                self.fence(conn)
            cur = conn.connection.cursor()
            try:
                self._insert_rows(cur, "log_entries (idx, data, leaf_hash)", 3, batch.entries)
                self._insert_rows(
                    cur,
                    "log_nodes (nid, hash)",
                    2,
                    [((lv << shift) | i, h) for lv, i, h in batch.nodes],
                )
                self._insert_rows(cur, "log_checkpoints (size, note)", 2, [batch.checkpoint])
            except Exception as exc:  # the driver's own errors, not SQLAlchemy's
                raise StorageError(f"append of {n} entries at {first} failed: {exc}") from exc
            finally:
                cur.close()
            if batch.state is not None:
                self._write_state(conn, batch.state)
            if batch.openings:
                conn.execute(private_openings.insert(), [o.to_json() for o in batch.openings])

    def _insert_rows(
        self, cur: Any, into: str, width: int, rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """INSERT ``rows`` with statements of INSERT_ROWS rows and, for the rest, of the
        powers of two below it.

        One statement of many rows binds and steps once where executemany does it per row
        (about a third less CPU on SQLite); the few fixed row counts keep every statement
        in the driver's prepared-statement cache.
        """
        pos, n = 0, len(rows)
        while pos < n:
            k = INSERT_ROWS if n - pos >= INSERT_ROWS else 1 << ((n - pos).bit_length() - 1)
            sql = self._insert_sql.get((into, width, k))
            if sql is None:
                group = "(" + ",".join([self._mark()] * width) + ")"
                sql = f"INSERT INTO {into} VALUES " + ",".join([group] * k)
                self._insert_sql[into, width, k] = sql
            cur.execute(sql, [v for row in rows[pos : pos + k] for v in row])
            pos += k

    # --- the state documents ---------------------------------------------------------

    def _upsert(
        self, conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]
    ) -> None:
        if not rows:
            return
        ins = self._insert(table)
        cols = [c for c in rows[0] if c not in keys]
        stmt = ins.on_conflict_do_update(
            index_elements=keys, set_={c: ins.excluded[c] for c in cols}
        )
        conn.execute(stmt, rows)

    def _write_state(self, conn: Connection, change: StateChange) -> None:
        up, gone = [], []
        for ns, key, value in change.documents:
            if value is None:
                gone.append((ns, key))
            else:
                up.append({"ns": ns, "key": key, "value": json.dumps(value, sort_keys=True)})
        self._upsert(conn, state_rows, up, ["ns", "key"])
        for ns, key in gone:
            conn.execute(delete(state_rows).where(state_rows.c.ns == ns, state_rows.c.key == key))
        self._upsert(
            conn, state_meta, [{"id": 1, "size": change.size, "head": change.head}], ["id"]
        )

    def write_state(self, change: StateChange) -> None:
        """Write changed state documents and the applied size, in their own transaction."""
        with self._begin("writing the state views") as conn:
            self._write_state(conn, change)

    def state_namespace(self, ns: str) -> list[Any]:
        """The JSON values of one state namespace, without building the whole state (a
        node opening a rotated log reads its ``log_key`` rows before anything else)."""
        with self._connect(f"read the state's {ns!r} rows") as conn:
            rows = conn.execute(select(state_rows.c.value).where(state_rows.c.ns == ns))
            return [json.loads(v) for (v,) in rows]

    def read_state(self, rules: RuleSet) -> State:
        """The state as the views hold it (size 0 and empty when none was written), to go on
        under ``rules``."""
        state = State(rules)
        with self._connect("read the state views") as conn:
            meta = conn.execute(select(state_meta.c.size, state_meta.c.head)).first()
            if meta is None:
                return state
            state.size, state.head = int(meta[0]), str(meta[1])
            for ns, key, value in conn.execute(
                select(state_rows.c.ns, state_rows.c.key, state_rows.c.value)
            ):
                state.load_row(ns, key, json.loads(value))
        return state

    # --- private openings ------------------------------------------------------------

    def openings_of(self, subject: str) -> list[Opening]:
        """Every opening kept for ``subject``."""
        q = select(private_openings).where(private_openings.c.subject == subject)
        with self._connect("read the private store") as conn:
            return [Opening(**dict(r)) for r in conn.execute(q).mappings()]

    def subject_of_opening(self, kind: str, value: str) -> str | None:
        """The subject of some opening of ``kind`` whose value is ``value``, or None."""
        q = (
            select(private_openings.c.subject)
            .where(private_openings.c.kind == kind, private_openings.c.value == value)
            .limit(1)
        )
        with self._connect("read the private store") as conn:
            row = conn.execute(q).first()
        return None if row is None else str(row[0])

    def erase_openings(self, subject: str) -> int:
        """Delete the openings of ``subject``; how many there were."""
        with self._begin("erasing private data") as conn:
            n = conn.execute(
                delete(private_openings).where(private_openings.c.subject == subject)
            ).rowcount
        return int(n)

    # --- document metadata -----------------------------------------------------------

    def add_document(self, info: DocumentInfo) -> None:
        """Keep ``info`` unless the same SHA-256 is held (the first upload stays)."""
        ins = self._insert(documents_table).on_conflict_do_nothing(index_elements=["sha256"])
        with self._begin("storing the document's metadata") as conn:
            conn.execute(ins, [info.to_json()])

    def document(self, sha256: str) -> DocumentInfo | None:
        """The metadata kept for ``sha256``, or None."""
        q = select(documents_table).where(documents_table.c.sha256 == sha256)
        with self._connect("read the document store") as conn:
            r = conn.execute(q).first()
        if r is None:
            return None
        return DocumentInfo(r.sha256, int(r.size), r.media_type, r.uploaded_by, r.uploaded_at)

    # --- evidence --------------------------------------------------------------------

    def add_evidence(self, row: EvidenceRow) -> None:
        """Keep ``row`` durably unless an item with its id is held."""
        values = {
            "id": row.id,
            "kind": row.kind,
            "found_at": row.found_at,
            "found_by": row.found_by,
            "body": json.dumps(row.body, sort_keys=True),
        }
        with self._begin("storing evidence") as conn:
            conn.execute(self._insert(evidence_table).values(**values).on_conflict_do_nothing())

    def all_evidence(self) -> list[EvidenceRow]:
        """Every held item, oldest first."""
        q = select(evidence_table).order_by(evidence_table.c.found_at)
        with self._connect("read the evidence") as conn:
            return [
                EvidenceRow(r.id, r.kind, r.found_at, r.found_by, json.loads(r.body))
                for r in conn.execute(q)
            ]

    # --- witness cosignatures ----------------------------------------------------------

    def add_cosignature(self, size: int, witness: str, line: str) -> None:
        """Keep ``witness``'s cosignature ``line`` of the checkpoint of ``size`` (once)."""
        ins = self._insert(cosignatures_table).values(size=size, witness=witness, line=line)
        with self._begin("storing a cosignature") as conn:
            conn.execute(ins.on_conflict_do_nothing())

    def cosignature_lines(self, size: int) -> list[str]:
        """The cosignature lines held for the checkpoint of ``size``."""
        q = select(cosignatures_table.c.line).where(cosignatures_table.c.size == size)
        with self._connect("read the cosignatures") as conn:
            return [str(r[0]) for r in conn.execute(q)]

    def cosignatures_above(self, size: int) -> list[tuple[int, str]]:
        """(size, line) of every cosignature of a checkpoint larger than ``size``."""
        q = select(cosignatures_table.c.size, cosignatures_table.c.line).where(
            cosignatures_table.c.size > size
        )
        with self._connect("read the cosignatures") as conn:
            return [(int(r[0]), str(r[1])) for r in conn.execute(q)]

    def latest_cosigned_size(self, witness: str | None = None) -> int | None:
        """The largest size with a cosignature (by ``witness``, if given), or None."""
        q = select(func.max(cosignatures_table.c.size))
        if witness is not None:
            q = q.where(cosignatures_table.c.witness == witness)
        with self._connect("read the cosignatures") as conn:
            got = conn.execute(q).scalar()
        return None if got is None else int(got)

    # --- a witness's own record --------------------------------------------------------

    def latest_witnessed(self, origin: str) -> tuple[int, bytes, bytes] | None:
        """(size, root hash, note) of the largest checkpoint cosigned for ``origin``."""
        t = witness_checkpoints
        q = (
            select(t.c.size, t.c.root, t.c.note)
            .where(t.c.origin == origin)
            .order_by(t.c.size.desc())
            .limit(1)
        )
        with self._connect("read the witness's checkpoints") as conn:
            row = conn.execute(q).first()
        return None if row is None else (int(row[0]), bytes(row[1]), bytes(row[2]))

    def record_witnessed(
        self, origin: str, size: int, root: bytes, note: bytes, cosigned_at: str
    ) -> None:
        """Durably keep a newly cosigned checkpoint of ``origin`` (before answering)."""
        ins = witness_checkpoints.insert().values(
            origin=origin, size=size, root=root, note=note, cosigned_at=cosigned_at
        )
        with self._begin("recording the cosigned checkpoint") as conn:
            conn.execute(ins)
