"""Publishing documents: bytes into a node's document store, their hash into the log.

An invoice, a receipt or the minutes are uploaded (a request signed with a committee key)
and, unless the node says that hash is already published, announced with a signed
``funds.document.publish`` statement. The log then carries the SHA-256 that a ``funds.*``
statement cites; the bytes stay in the store, public or for committee keys only.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from client.http import NodeClient
from client.submit import submit_statement
from funds.bodies import document_body
from ledger.errors import InputError
from ledger.keys import KeyPair

__all__ = ["Document", "publish_document", "publish_files", "read_document"]

DEFAULT_MEDIA_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class Document:
    """One document to publish: its bytes, media type, name and visibility."""

    data: bytes
    media_type: str
    name: str
    public: bool
    kind: str


def read_document(path: Path, public: bool, kind: str) -> Document:
    """A file as a :class:`Document` (media type guessed from its name); InputError if unreadable."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    media = mimetypes.guess_type(path.name)[0] or DEFAULT_MEDIA_TYPE
    return Document(data, media, path.name[:200], public, kind)


def publish_document(c: NodeClient, key: KeyPair, doc: Document, origin: str | None = None) -> str:
    """Upload ``doc`` with ``key`` and publish its hash in the log (once); return the SHA-256."""
    r = c.signed_request(
        "POST", "/v1/documents", key, content=doc.data, headers={"Content-Type": doc.media_type}
    ).json()
    if not r["published"]:
        body = document_body(doc.data, r["media_type"], doc.public, doc.kind, doc.name)
        submit_statement(c, "funds.document.publish", body, key, origin=origin)
    sha: str = r["sha256"]
    return sha


def publish_files(
    c: NodeClient, key: KeyPair, files: Sequence[Path], public: bool, kind: str
) -> list[str]:
    """Publish each file (see :func:`publish_document`); their SHA-256 hashes, in order.

    Every file is read before the first upload, so an unreadable one publishes nothing.
    """
    docs = [read_document(p, public, kind) for p in files]
    if not docs:
        return []
    origin = str(c.community()["origin"])
    return [publish_document(c, key, d, origin) for d in docs]
