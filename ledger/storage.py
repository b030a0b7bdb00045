"""The storage interface: everything the log, the state and a node keep in a database.

Like tessera's storage drivers, one small set of operations sits between the code and the
database engine: append a batch (entries, completed tree nodes, the new checkpoint and
whatever must commit with them) all-or-nothing, read tree nodes, read entries, read
checkpoints, read and write the state documents, and the node's own stores (private
openings, document metadata, evidence, witness cosignatures, a witness's own record). :class:`ledger.sql.SqlStore` implements it on
SQLite and PostgreSQL; engine-specific parts (pragmas, append-only triggers, the driver
fast paths of appends and proofs) stay there. Nothing above this interface sees an
engine, a connection or a SQL statement, and every method raises
:class:`~ledger.errors.StorageError` when the database fails.

Tree nodes are named ``(level, index)``: level 0 are the leaf hashes (RFC 9162 §2.1.1),
and only *completed* interior nodes are ever stored (C2SP tlog-tiles derives partial
tiles from them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ledger.ruleset import RuleSet
from ledger.state import State

__all__ = [
    "Batch",
    "CosignatureStorage",
    "DocumentInfo",
    "DocumentStorage",
    "EvidenceRow",
    "EvidenceStorage",
    "LogStorage",
    "NodeId",
    "Opening",
    "PrivateStorage",
    "StateChange",
    "Storage",
    "WitnessStorage",
]

NodeId = tuple[int, int]


@dataclass(frozen=True)
class StateChange:
    """State documents a batch changed, and the log position the state has reached.

    ``documents`` are ``(namespace, key, value)``; a value of None deletes the document.
    """

    documents: Sequence[tuple[str, str, Any]]
    size: int
    head: str


@dataclass(frozen=True)
class Opening:
    """The opening of a commitment (value and salt), kept off the log and erasable."""

    commitment: str
    subject: str
    kind: str
    value: str
    salt: str
    stored: str

    def to_json(self) -> dict[str, str]:
        return {
            "commitment": self.commitment,
            "subject": self.subject,
            "kind": self.kind,
            "value": self.value,
            "salt": self.salt,
            "stored": self.stored,
        }


@dataclass(frozen=True)
class Batch:
    """One append, written in one transaction: all of it commits or none of it does.

    ``entries`` are (index, bytes, leaf hash), ``nodes`` the interior nodes the entries
    completed as (level ≥ 1, index, hash), ``checkpoint`` (size, signed note). ``state``
    and ``openings`` commit with them, so the views are never ahead of or behind the log.
    """

    entries: Sequence[tuple[int, bytes, bytes]]
    nodes: Sequence[tuple[int, int, bytes]]
    checkpoint: tuple[int, bytes]
    state: StateChange | None = None
    openings: Sequence[Opening] = field(default=())


@dataclass(frozen=True)
class DocumentInfo:
    """What the node knows of a stored document."""

    sha256: str
    size: int
    media_type: str
    uploaded_by: str
    uploaded_at: str

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "size": self.size,
            "media_type": self.media_type,
            "uploaded_by": self.uploaded_by,
            "uploaded_at": self.uploaded_at,
        }


@dataclass(frozen=True)
class EvidenceRow:
    """One held item of evidence: its wire form (``body``), who found it and when."""

    id: str
    kind: str
    found_at: str
    found_by: str
    body: dict[str, Any]


class LogStorage(Protocol):
    """The log's tables and the state documents: append-only except the state."""

    def size(self) -> int:
        """Number of stored entries."""
        ...

    def read_nodes(self, ids: Iterable[NodeId]) -> dict[NodeId, bytes]:
        """Hashes of the stored nodes among ``ids`` (absent ones are left out)."""
        ...

    def read_node_range(self, level: int, lo: int, hi: int) -> list[bytes]:
        """Hashes of the stored nodes at ``level`` with indexes [lo, hi), in order."""
        ...

    def read_entries(self, lo: int, hi: int) -> list[bytes]:
        """Entry bytes with indexes [lo, hi), in order."""
        ...

    def index_of_leaf(self, leaf_hash: bytes) -> int | None:
        """The lowest index whose leaf hash is ``leaf_hash``, or None.

        Correct at every moment: entries the leaf-hash index does not cover yet (see
        :meth:`index_leaves`) are scanned.
        """
        ...

    def indexed_size(self) -> int:
        """How many entries, from index 0, the leaf-hash index covers."""
        ...

    def index_leaves(self, upto: int) -> int:
        """Cover the entries below ``upto`` (at most the stored ones) by the leaf-hash index,
        in transactions of their own after the appends that wrote them; return
        :meth:`indexed_size` afterwards. Safe to run beside appends and to repeat."""
        ...

    def latest_checkpoint(self) -> tuple[int, bytes] | None:
        """(size, note) of the newest stored checkpoint, or None."""
        ...

    def checkpoint_at(self, size: int) -> bytes | None:
        """The stored checkpoint note of exactly ``size``, or None."""
        ...

    def add_checkpoint(self, size: int, note: bytes) -> None:
        """Keep a checkpoint of an earlier size (a replica remembering the log's note)."""
        ...

    def append_batch(self, batch: Batch) -> None:
        """Write ``batch`` in one durable transaction."""
        ...

    def read_state(self, rules: RuleSet) -> State:
        """The state documents as stored (size 0 and empty when none were written), under
        ``rules``."""
        ...

    def write_state(self, change: StateChange) -> None:
        """Write changed state documents outside an append (catching up after a crash)."""
        ...

    def close(self) -> None:
        """Release the database."""
        ...


class PrivateStorage(Protocol):
    """Openings of commitments (the private store): the one table rows leave, on erasure."""

    def openings_of(self, subject: str) -> list[Opening]:
        """Every opening kept for ``subject``."""
        ...

    def subject_of_opening(self, kind: str, value: str) -> str | None:
        """The subject of some opening of ``kind`` whose value is ``value``, or None."""
        ...

    def erase_openings(self, subject: str) -> int:
        """Delete the openings of ``subject``; how many there were."""
        ...


class DocumentStorage(Protocol):
    """Metadata of the documents a node holds (the bytes live in files)."""

    def add_document(self, info: DocumentInfo) -> None:
        """Keep ``info`` unless the same SHA-256 is held (the first upload stays)."""
        ...

    def document(self, sha256: str) -> DocumentInfo | None:
        """The metadata kept for ``sha256``, or None."""
        ...


class EvidenceStorage(Protocol):
    """Evidence a node found: rows are only ever added."""

    def add_evidence(self, row: EvidenceRow) -> None:
        """Keep ``row`` durably unless an item with its id is held."""
        ...

    def all_evidence(self) -> list[EvidenceRow]:
        """Every held item, oldest first."""
        ...


class CosignatureStorage(Protocol):
    """Witness cosignature lines (C2SP tlog-cosignature) per checkpoint size: only added."""

    def add_cosignature(self, size: int, witness: str, line: str) -> None:
        """Keep ``witness``'s cosignature ``line`` of the checkpoint of ``size`` (once)."""
        ...

    def cosignature_lines(self, size: int) -> list[str]:
        """The cosignature lines held for the checkpoint of ``size``."""
        ...

    def cosignatures_above(self, size: int) -> list[tuple[int, str]]:
        """(size, line) of every cosignature of a checkpoint larger than ``size``."""
        ...

    def latest_cosigned_size(self, witness: str | None = None) -> int | None:
        """The largest size with a cosignature (by ``witness``, if given), or None."""
        ...


class WitnessStorage(Protocol):
    """A witness's own record of what it cosigned, per log: only grows (C2SP tlog-witness)."""

    def latest_witnessed(self, origin: str) -> tuple[int, bytes, bytes] | None:
        """(size, root hash, note) of the largest checkpoint cosigned for ``origin``."""
        ...

    def record_witnessed(
        self, origin: str, size: int, root: bytes, note: bytes, cosigned_at: str
    ) -> None:
        """Durably keep a newly cosigned checkpoint of ``origin``."""
        ...


class Storage(
    LogStorage,
    PrivateStorage,
    DocumentStorage,
    EvidenceStorage,
    CosignatureStorage,
    WitnessStorage,
    Protocol,
):
    """Everything a node keeps in its one database."""

    def ping(self) -> None:
        """Raise StorageError if the database does not answer."""
        ...
