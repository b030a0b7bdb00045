"""What an attacker with write access to a node's database file does: drop the append-only
guards and rewrite rows with plain SQL, behind the node's back."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ledger.sql import node_key

__all__ = ["attacker_sql", "drop_guards", "node_key"]


def drop_guards(db: sqlite3.Connection) -> list[str]:
    """Drop every trigger of the database (the append-only guards); their names."""
    names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")]
    for n in names:
        db.execute(f'DROP TRIGGER "{n}"')
    return names


def attacker_sql(path: Path, *statements: tuple[str, Sequence[Any]]) -> None:
    """Run ``statements`` (SQL, parameters) on the SQLite file ``path`` without its guards,
    in one transaction, as someone with file access would (the node may be running)."""
    db = sqlite3.connect(path, timeout=30)
    try:
        drop_guards(db)
        for sql, params in statements:
            db.execute(sql, tuple(params))
        db.commit()
    finally:
        db.close()
