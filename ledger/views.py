"""The state materialised in SQL: one row per document, written with each batch.

Written in the same transaction as the log batch that produced it, so the views are
never ahead of or behind the log; a restart loads them instead of replaying the log.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    select,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ledger.ruleset import RuleSet
from ledger.state import State
from ledger.storage import NAMING

__all__ = ["load_state", "state_meta", "state_rows", "views_metadata", "write_state"]

views_metadata = MetaData(naming_convention=NAMING)

state_rows = Table(
    "state_rows",
    views_metadata,
    Column("ns", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", Text, nullable=False),
)

state_meta = Table(
    "state_meta",
    views_metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("size", BigInteger, nullable=False),
    Column("head", String(64), nullable=False),
)


def _upsert(conn: Connection, table: Table, rows: list[dict[str, Any]], keys: list[str]) -> None:
    if not rows:
        return
    ins = pg_insert(table) if conn.dialect.name == "postgresql" else sqlite_insert(table)
    cols = [c for c in rows[0] if c not in keys]
    stmt = ins.on_conflict_do_update(index_elements=keys, set_={c: ins.excluded[c] for c in cols})
    conn.execute(stmt, rows)


def write_state(
    conn: Connection, dirty: Iterable[tuple[str, str, Any]], size: int, head: str
) -> None:
    """Write changed documents and the applied size, inside the caller's transaction."""
    up, gone = [], []
    for ns, key, value in dirty:
        if value is None:
            gone.append((ns, key))
        else:
            up.append({"ns": ns, "key": key, "value": json.dumps(value, sort_keys=True)})
    _upsert(conn, state_rows, up, ["ns", "key"])
    for ns, key in gone:
        conn.execute(delete(state_rows).where(state_rows.c.ns == ns, state_rows.c.key == key))
    _upsert(conn, state_meta, [{"id": 1, "size": size, "head": head}], ["id"])


def load_state(conn: Connection, rules: RuleSet) -> State:
    """The state as the views hold it (size 0 and empty when none was written), to go on
    under ``rules``."""
    state = State(rules)
    meta = conn.execute(select(state_meta.c.size, state_meta.c.head)).first()
    if meta is None:
        return state
    state.size, state.head = int(meta[0]), str(meta[1])
    for ns, key, value in conn.execute(
        select(state_rows.c.ns, state_rows.c.key, state_rows.c.value)
    ):
        state.load_row(ns, key, json.loads(value))
    return state
