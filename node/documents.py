"""The node's content-addressed document store: invoices, receipts, contracts, minutes.

docs/design.md, Privacy: documents live off the log, keyed by SHA-256; the log holds only the
hash, size, media type and public flag (``funds.document.publish``). Layout in the data
folder::

    DIR/documents/ab/cdef...    the bytes of the document whose SHA-256 is abcdef...

Each file is written atomically (temporary file in the same folder, fsync, rename), so a
crash never leaves a half-written document under a valid name; a file is re-hashed when
it is read, so a document altered on disk is refused rather than served. The upload's
metadata (size, media type, who uploaded it, when) is a table in the node's database.
"""

from __future__ import annotations

import hashlib
import re
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from funds.model import check_media_type
from ledger.errors import InputError, IntegrityError, NotFoundError, TooLargeError
from ledger.files import write_atomic
from ledger.records import format_time
from ledger.storage import DocumentInfo, DocumentStorage

__all__ = [
    "MAX_DOCUMENT_BYTES",
    "DocumentInfo",
    "DocumentStore",
    "documents_of",
]

# Uploads above this are refused with 413 (below the app's 8 MiB request limit).
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
_SHA = re.compile(r"^[0-9a-f]{64}$")


def _check_sha(sha256: str) -> str:
    if not _SHA.match(sha256):
        raise InputError(f"{sha256!r} is not a SHA-256 in 64 lowercase hex digits")
    return sha256


class DocumentStore:
    """Documents under ``root`` (``DIR/documents``) and their metadata in ``store``."""

    def __init__(
        self, root: Path, store: DocumentStorage, max_bytes: int = MAX_DOCUMENT_BYTES
    ) -> None:
        self.root = root
        self.db = store
        self.max_bytes = max_bytes

    def path_of(self, sha256: str) -> Path:
        """Where the bytes of ``sha256`` live: ``root/ab/cdef...``."""
        _check_sha(sha256)
        return self.root / sha256[:2] / sha256[2:]

    def put(self, data: bytes, media_type: str, uploaded_by: str) -> DocumentInfo:
        """Store ``data`` (idempotent: the same bytes again return the first upload's info)."""
        if len(data) > self.max_bytes:
            raise TooLargeError(
                f"document is {len(data)} bytes; this node keeps documents up to "
                f"{self.max_bytes} bytes"
            )
        media_type = check_media_type(media_type)
        sha = hashlib.sha256(data).hexdigest()
        path = self.path_of(sha)
        if not path.exists():
            write_atomic(path, data)
        now = format_time(datetime.now(UTC).replace(microsecond=0))
        self.db.add_document(DocumentInfo(sha, len(data), media_type, uploaded_by, now))
        info = self.info(sha)
        assert info is not None
        return info

    def info(self, sha256: str) -> DocumentInfo | None:
        """The metadata of ``sha256``, or None if this node does not hold it."""
        _check_sha(sha256)
        info = self.db.document(sha256)
        if info is None or not self.path_of(sha256).exists():
            return None
        return info

    def read(self, sha256: str) -> tuple[bytes, DocumentInfo]:
        """The bytes and metadata of ``sha256``; NotFoundError if not held here,
        IntegrityError if the file no longer hashes to its name."""
        info = self.info(sha256)
        if info is None:
            raise NotFoundError(f"this node holds no document {sha256}")
        data = self.path_of(sha256).read_bytes()
        if hashlib.sha256(data).hexdigest() != sha256:
            raise IntegrityError(f"stored document {sha256} no longer matches its hash")
        return data, info


_LOCK = threading.Lock()


def documents_of(ctx: Any) -> DocumentStore:
    """The document store of a node context (opened on first use, kept in its services)."""
    with _LOCK:
        ds = ctx.services.get("documents")
        if ds is None:
            ds = DocumentStore(Path(ctx.data_dir) / "documents", ctx.store)
            ctx.services["documents"] = ds
    assert isinstance(ds, DocumentStore)
    return ds
