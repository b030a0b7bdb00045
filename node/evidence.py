"""A node's durable store of evidence (and its own integrity alerts).

Rows are only ever inserted: evidence, once found, stays until an operator moves the
database aside. While any row exists the node reports itself unhealthy (``/healthz``
answers 503 with the reasons) and a witness refuses to cosign.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, MetaData, String, Table, Text, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ledger.evidence import Evidence, evidence_from_json
from ledger.records import format_time
from ledger.storage import NAMING, Store

__all__ = ["EvidenceStore", "evidence_table"]

log = logging.getLogger("civic.evidence")

evidence_metadata = MetaData(naming_convention=NAMING)
evidence_table = Table(
    "evidence",
    evidence_metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(32), nullable=False),
    Column("found_at", String(40), nullable=False),
    Column("found_by", String(255), nullable=False),
    Column("body", Text, nullable=False),
)


class EvidenceStore:
    """Evidence rows in the node's database, cached in memory."""

    def __init__(self, store: Store) -> None:
        self.db = store
        store.create_tables(evidence_metadata, ("evidence",))
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}
        with store.engine.connect() as conn:
            for row in conn.execute(select(evidence_table).order_by(evidence_table.c.found_at)):
                self._items[row.id] = {
                    **json.loads(row.body),
                    "found_by": row.found_by,
                    "found_at": row.found_at,
                }

    def add(self, ev: Evidence, found_by: str) -> bool:
        """Store ``ev`` durably; False if the same evidence (same id) was already held."""
        eid = ev.id
        with self._lock:
            if eid in self._items:
                return False
            body = ev.to_json()
            when = format_time(datetime.now(UTC).replace(microsecond=0))
            row = {
                "id": eid,
                "kind": ev.kind,
                "found_at": when,
                "found_by": found_by,
                "body": json.dumps(body, sort_keys=True),
            }
            ins = pg_insert if self.db.dialect == "postgresql" else sqlite_insert
            with self.db.engine.begin() as conn:
                conn.execute(ins(evidence_table).values(**row).on_conflict_do_nothing())
            self._items[eid] = {**body, "found_by": found_by, "found_at": when}
        log.error("EVIDENCE (%s) found by %s: %s", ev.kind, found_by, ev.reason)
        return True

    def all(self) -> list[dict[str, Any]]:
        """Every held item in its wire form, plus who found it and when."""
        with self._lock:
            return [dict(v) for v in self._items.values()]

    def evidence(self) -> list[Evidence]:
        """Every held item, parsed."""
        return [evidence_from_json(v) for v in self.all()]

    def has(self, eid: str) -> bool:
        with self._lock:
            return eid in self._items

    def count(self) -> int:
        """How many items are held (0 means healthy)."""
        with self._lock:
            return len(self._items)

    def reasons(self) -> list[str]:
        """One line per item, for ``/healthz``."""
        return [f"{v['kind']}: {v['reason']}" for v in self.all()]
