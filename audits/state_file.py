"""``--state FILE``: what an audit verified, so the next one verifies only what is new.

The file is JSON (format ``civic-ledger-audit-state/v1``)::

    {"format": "civic-ledger-audit-state/v1", "audited_at": "<RFC 3339 UTC>",
     "origin": "...", "log_vkey": "<note vkey>", "genesis_hash": "<hex>",
     "checkpoint": "<the verified checkpoint note, verbatim>",
     "size": N, "root": "<hex>", "head": "<hex leaf hash of record N-1>",
     "frontier": ["<hex>", ...],        hashes of RFC 9162 root_ranges(N), largest first
     "witness_history": [[since, {witnesses document}], ...],
     "state": {"size": N, "head": "<hex>", "rows": {ns: {key: document}}}}

The frontier is all the tree the next audit needs: it checks the new checkpoint against the
remembered one with an RFC 9162 consistency proof, then extends the frontier with the new
leaves only (``merkle.CompactRange``) and must reach the new root. The replayed state lets
the rules continue from record N. The file is the auditor's own and is trusted; it is only
written after an audit that found no evidence and verified the whole log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audits.verify import fresh_state
from ledger import merkle
from ledger.c2sp.checkpoint import read_checkpoint
from ledger.errors import InputError
from ledger.files import write_atomic
from ledger.state import State

__all__ = ["STATE_FORMAT", "AuditState", "load_state_file", "save_state_file"]

STATE_FORMAT = "civic-ledger-audit-state/v1"


@dataclass
class AuditState:
    """What one audit verified."""

    origin: str
    log_vkey: str
    genesis_hash: str
    checkpoint: bytes
    size: int
    root: bytes
    frontier: list[bytes]
    state: State
    witness_history: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    audited_at: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "format": STATE_FORMAT,
            "audited_at": self.audited_at,
            "origin": self.origin,
            "log_vkey": self.log_vkey,
            "genesis_hash": self.genesis_hash,
            "checkpoint": self.checkpoint.decode("utf-8"),
            "size": self.size,
            "root": self.root.hex(),
            "head": self.state.head,
            "frontier": [h.hex() for h in self.frontier],
            "witness_history": [[s, d] for s, d in self.witness_history],
            "state": {
                "size": self.state.size,
                "head": self.state.head,
                "rows": self.state.snapshot(),
            },
        }


def load_state_file(path: Path) -> AuditState | None:
    """The remembered audit at ``path``; None if the file does not exist yet.

    InputError if it is not a state file or does not hold together (frontier and root).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise InputError(f"cannot read audit state file {path}: {exc.strerror}") from exc
    try:
        doc = json.loads(raw)
        if doc.get("format") != STATE_FORMAT:
            raise InputError(f"{path} is not an audit state file ({STATE_FORMAT})")
        state = fresh_state()
        for ns, rows in doc["state"]["rows"].items():
            for key, value in rows.items():
                state.load_row(ns, key, value)
        state.size = int(doc["state"]["size"])
        state.head = str(doc["state"]["head"])
        size = int(doc["size"])
        root = bytes.fromhex(doc["root"])
        frontier = [bytes.fromhex(h) for h in doc["frontier"]]
        note = str(doc["checkpoint"]).encode("utf-8")
        cp = read_checkpoint(note)
        out = AuditState(
            origin=str(doc["origin"]),
            log_vkey=str(doc["log_vkey"]),
            genesis_hash=str(doc["genesis_hash"]),
            checkpoint=note,
            size=size,
            root=root,
            frontier=frontier,
            state=state,
            witness_history=[(int(s), dict(d)) for s, d in doc.get("witness_history", [])],
            audited_at=str(doc.get("audited_at", "")),
        )
    except InputError as exc:
        raise InputError(f"{path}: {exc.message}") from exc
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{path} is not a valid audit state file: {exc}") from exc
    if cp.size != size or cp.root_hash != root or state.size != size:
        raise InputError(f"{path}: its checkpoint, size and state do not agree")
    if merkle.CompactRange(size, frontier).root() != root:
        raise InputError(f"{path}: its tree frontier does not hash to its root")
    return out


def save_state_file(path: Path, st: AuditState) -> None:
    """Write ``st`` to ``path`` atomically."""
    data = json.dumps(st.to_json(), separators=(",", ":"), sort_keys=True).encode("utf-8")
    write_atomic(path, data)
