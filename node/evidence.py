"""A node's durable store of evidence (and its own integrity alerts).

Rows are only ever inserted: evidence, once found, stays until an operator moves the
database aside. While any row exists the node reports itself unhealthy (``/healthz``
answers 503 with the reasons) and a witness refuses to cosign.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from typing import Any

from ledger.evidence import Evidence, evidence_from_json
from ledger.records import format_time
from ledger.storage import EvidenceRow, EvidenceStorage

__all__ = ["EvidenceStore"]

log = logging.getLogger("civic.evidence")


class EvidenceStore:
    """Evidence rows in the node's database, cached in memory."""

    def __init__(self, store: EvidenceStorage) -> None:
        self.db = store
        self._lock = threading.Lock()
        self._items: dict[str, dict[str, Any]] = {}
        for row in store.all_evidence():
            self._items[row.id] = {**row.body, "found_by": row.found_by, "found_at": row.found_at}

    def add(self, ev: Evidence, found_by: str) -> bool:
        """Store ``ev`` durably; False if the same evidence (same id) was already held."""
        eid = ev.id
        with self._lock:
            if eid in self._items:
                return False
            body = ev.to_json()
            when = format_time(datetime.now(UTC).replace(microsecond=0))
            self.db.add_evidence(EvidenceRow(eid, ev.kind, when, found_by, body))
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
