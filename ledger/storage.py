"""SQLAlchemy 2.0 storage of the log: entries, completed tree nodes, signed checkpoints.

Only what the C2SP tile layout needs is stored, so that a root or a proof costs
O(log n) reads: every record with its leaf hash (tree level 0) and every *completed*
interior node (level ≥ 1). Nothing here is ever updated or deleted; triggers make the
database itself refuse UPDATE and DELETE on these tables, on SQLite and PostgreSQL.
Partial tiles are derived from the completed nodes when they are read.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    and_,
    create_engine,
    event,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError

from ledger.errors import StorageError

__all__ = [
    "APPEND_ONLY_TABLES",
    "Store",
    "checkpoints",
    "entries",
    "metadata",
    "nodes",
    "sqlite_url",
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

entries = Table(
    "log_entries",
    metadata,
    Column("idx", Int64, primary_key=True, autoincrement=False),
    Column("data", LargeBinary, nullable=False),
    Column("leaf_hash", LargeBinary(32), nullable=False),
)
Index("ix_log_entries_leaf_hash", entries.c.leaf_hash)

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

APPEND_ONLY_TABLES = ("log_entries", "log_nodes", "log_checkpoints")


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite database file."""
    return f"sqlite+pysqlite:///{path}"


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


class Store:
    """One database: the engine, the log tables, and their append-only guards.

    Other layers (the community state, voting, funds) add their own tables to the same
    database through :meth:`create_tables`.
    """

    def __init__(self, url: str) -> None:
        try:
            self.engine: Engine = create_engine(url, pool_pre_ping=False)
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
            self.create_tables(metadata, APPEND_ONLY_TABLES)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot open database {url!r}: {exc}") from exc

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def create_tables(self, md: MetaData, append_only: Iterable[str] = ()) -> None:
        """Create the tables of ``md`` if missing and guard ``append_only`` ones."""
        with self.engine.begin() as conn:
            md.create_all(conn)
            _install_append_only(conn, append_only)

    def close(self) -> None:
        self.engine.dispose()

    # --- reads -------------------------------------------------------------------------

    def size(self, conn: Connection) -> int:
        """Number of stored entries (max index + 1)."""
        n = conn.execute(select(entries.c.idx).order_by(entries.c.idx.desc()).limit(1)).first()
        return 0 if n is None else int(n[0]) + 1

    def fetch_nodes(
        self, conn: Connection, ids: Iterable[tuple[int, int]]
    ) -> dict[tuple[int, int], bytes]:
        """Hashes of the completed nodes ``ids`` ((level, index)); level 0 are leaf hashes.

        One statement, straight to the driver: this is every proof's and root's read, and
        SQLAlchemy's statement building would cost more than SQLite's primary-key lookups.
        """
        leaves = [i for lvl, i in ids if lvl == 0]
        inner = [node_key(lvl, i) for lvl, i in ids if lvl != 0]
        if not leaves and not inner:
            return {}
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        parts = []
        if leaves:
            parts.append(
                f"SELECT idx, leaf_hash FROM log_entries WHERE idx IN ({','.join([mark] * len(leaves))})"
            )
        if inner:
            parts.append(
                f"SELECT nid, hash FROM log_nodes WHERE nid IN ({','.join([mark] * len(inner))})"
            )
        # The DBAPI cursor itself, inside the caller's SQLAlchemy connection and transaction.
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.execute(" UNION ALL ".join(parts), tuple(leaves + inner))
            rows = cur.fetchall()
        finally:
            cur.close()
        mask = (1 << NODE_SHIFT) - 1
        # Leaf indexes are below 2**NODE_SHIFT, so a key's level is 0 exactly for leaves.
        return {(int(k) >> NODE_SHIFT, int(k) & mask): bytes(h) for k, h in rows}

    def node_range(self, conn: Connection, level: int, lo: int, hi: int) -> list[bytes]:
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
        return [bytes(r[0]) for r in conn.execute(q)]

    def entry_range(self, conn: Connection, lo: int, hi: int) -> list[bytes]:
        """Entry bytes with indexes [lo, hi), in order."""
        q = (
            select(entries.c.data)
            .where(and_(entries.c.idx >= lo, entries.c.idx < hi))
            .order_by(entries.c.idx)
        )
        return [bytes(r[0]) for r in conn.execute(q)]

    def index_of_leaf(self, conn: Connection, leaf_hash: bytes) -> int | None:
        """The lowest index whose leaf hash is ``leaf_hash``, or None."""
        q = select(entries.c.idx).where(entries.c.leaf_hash == leaf_hash).order_by(entries.c.idx)
        row = conn.execute(q.limit(1)).first()
        return None if row is None else int(row[0])

    def latest_checkpoint(self, conn: Connection) -> tuple[int, bytes] | None:
        """(size, note bytes) of the newest stored checkpoint."""
        q = select(checkpoints.c.size, checkpoints.c.note).order_by(checkpoints.c.size.desc())
        row = conn.execute(q.limit(1)).first()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def checkpoint_at(self, conn: Connection, size: int) -> bytes | None:
        row = conn.execute(select(checkpoints.c.note).where(checkpoints.c.size == size)).first()
        return None if row is None else bytes(row[0])

    # --- writes ------------------------------------------------------------------------

    def insert_batch(
        self,
        conn: Connection,
        new_entries: list[tuple[int, bytes, bytes]],
        new_nodes: list[tuple[int, int, bytes]],
        checkpoint: tuple[int, bytes],
    ) -> None:
        """Insert one batch; the caller's transaction makes it all-or-nothing.

        ``new_entries`` are (index, data, leaf hash) and ``new_nodes`` (level, index, hash).
        Rows go straight to the driver's executemany: this is the append hot path.
        """
        mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
        if new_entries:
            conn.exec_driver_sql(
                f"INSERT INTO log_entries (idx, data, leaf_hash) VALUES ({mark}, {mark}, {mark})",
                new_entries,
            )
        if new_nodes:
            conn.exec_driver_sql(
                f"INSERT INTO log_nodes (nid, hash) VALUES ({mark}, {mark})",
                [(node_key(lv, i), h) for lv, i, h in new_nodes],
            )
        conn.exec_driver_sql(
            f"INSERT INTO log_checkpoints (size, note) VALUES ({mark}, {mark})",
            [checkpoint],
        )


def ping(conn: Connection) -> None:
    """Raise if the database does not answer."""
    conn.execute(text("SELECT 1"))
