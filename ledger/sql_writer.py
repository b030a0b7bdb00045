"""Which process writes a community's log: a PostgreSQL advisory lock and a fencing token.

The SQL side of node/standby.py (it lives here, beside ledger/sql.py, because no module
above the ledger talks SQL). The lock is session-level, held on a dedicated connection for
the writer's life; the token in ``civic_writer`` orders every batch transaction against a
take-over (:func:`fence_batch`).
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from ledger.errors import StorageError
from ledger.records import format_time

__all__ = [
    "BatchConnection",
    "Election",
    "LockSessionError",
    "WriterInfo",
    "fence_batch",
    "lock_key",
]

# What SqlStore.fence is called with: the batch's own transaction.
BatchConnection = Connection


class LockSessionError(StorageError):
    """The session holding (or polling) the write lock failed: open another one."""


WRITER_TABLE = """CREATE TABLE IF NOT EXISTS civic_writer (
    origin TEXT PRIMARY KEY, token BIGINT NOT NULL, name TEXT NOT NULL,
    url TEXT, since TEXT NOT NULL, batches BIGINT NOT NULL DEFAULT 0)"""


def lock_key(origin: str) -> int:
    """The community's advisory-lock key: a signed 64-bit integer derived from the origin."""
    digest = hashlib.sha256(b"civic-ledger writer\n" + origin.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@dataclass(frozen=True)
class WriterInfo:
    """Who holds the write lock, as the writer recorded it when it took the lock."""

    name: str
    url: str | None
    since: str
    token: int

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "since": self.since, "token": self.token}

    def describe(self) -> str:
        where = f" at {self.url}" if self.url else ""
        return f"{self.name}{where} (writing since {self.since})"


class Election:
    """A dedicated PostgreSQL session that takes (and then holds) the community's lock."""

    def __init__(self, url: str, origin: str) -> None:
        self.origin = origin
        self.key = lock_key(origin)
        try:
            # NullPool: this one connection is the lock; it must never go back to a pool.
            self.engine = create_engine(url, poolclass=NullPool)
            self.conn: Connection = self.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT"
            )
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot open the standby's lock session: {exc}") from exc
        self._lock = threading.Lock()

    def reconnect(self) -> None:
        """A new session after the old one failed (PostgreSQL restarted, network cut): a
        standby must not poll a dead connection forever."""
        with self._lock:
            with contextlib.suppress(SQLAlchemyError):
                self.conn.close()
            try:
                self.conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            except SQLAlchemyError as exc:
                raise LockSessionError(f"cannot reopen the lock session: {exc}") from exc

    def try_lock(self) -> bool:
        """Take the lock if it is free (never waits)."""
        with self._lock:
            try:
                got = self.conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self.key})
            except SQLAlchemyError as exc:
                raise LockSessionError(f"the lock session failed: {exc}") from exc
            return bool(got.scalar())

    def claim(self, name: str, url: str | None) -> WriterInfo:
        """Record this process as the writer and bump the fencing token (holding the lock)."""
        since = format_time(datetime.now(UTC))
        with self._lock:
            try:
                self.conn.execute(text(WRITER_TABLE))
                token = self.conn.execute(
                    text(
                        "INSERT INTO civic_writer (origin, token, name, url, since) "
                        "VALUES (:o, 1, :n, :u, :s) ON CONFLICT (origin) DO UPDATE SET "
                        "token = civic_writer.token + 1, name = excluded.name, "
                        "url = excluded.url, since = excluded.since RETURNING token"
                    ),
                    {"o": self.origin, "n": name, "u": url, "s": since},
                ).scalar_one()
            except SQLAlchemyError as exc:
                raise LockSessionError(f"cannot record this writer: {exc}") from exc
        return WriterInfo(name, url, since, int(token))

    def writer(self) -> WriterInfo | None:
        """The recorded writer, or None before any writer recorded itself."""
        with self._lock:
            try:
                row = self.conn.execute(
                    text("SELECT name, url, since, token FROM civic_writer WHERE origin = :o"),
                    {"o": self.origin},
                ).first()
            except SQLAlchemyError:
                return None  # no table yet: no writer ever claimed this community
        return None if row is None else WriterInfo(row[0], row[1], row[2], int(row[3]))

    def close(self) -> None:
        """End the session: PostgreSQL releases the lock with it."""
        with self._lock:
            try:
                self.conn.close()
            finally:
                self.engine.dispose()


def fence_batch(
    conn: BatchConnection, origin: str, token: int | None
) -> tuple[bool, WriterInfo | None]:
    """Inside a batch transaction: ``(True, None)`` while ``token`` is still the writer's,
    else ``(False, the writer that took over or None)``: the caller must abort the batch.

    The UPDATE takes the writer row's lock, so a take-over's token bump is ordered before
    or after this batch as a whole.
    """
    done = conn.execute(
        text("UPDATE civic_writer SET batches = batches + 1 WHERE origin = :o AND token = :t"),
        {"o": origin, "t": token},
    )
    if done.rowcount == 1:
        return True, None
    row = conn.execute(
        text("SELECT name, url, since, token FROM civic_writer WHERE origin = :o"),
        {"o": origin},
    ).first()
    return False, None if row is None else WriterInfo(row[0], row[1], row[2], int(row[3]))
