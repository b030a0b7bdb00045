"""The documents aggregate: ``funds.document.publish``, and references to published documents.

Namespace ``funds_document/<sha256>``: size, media type, public flag, who published it and
where. Every document a funds statement references must have been published by an earlier
record, so none can be swapped afterwards.
"""

from __future__ import annotations

from typing import Any

from funds.model import (
    FundsPolicy,
    check_documents,
    check_fields,
    check_media_type,
    check_sha256,
    check_text,
)
from ledger.community import is_active_resident
from ledger.errors import ConflictError, ForbiddenError, InputError, RuleViolation
from ledger.state import Context, State
from ledger.statements import Envelope

__all__ = ["DOCUMENT_KINDS", "MAX_DOCUMENT_SIZE", "publish", "referenced_documents"]

MAX_DOCUMENT_SIZE = 2**40
DOCUMENT_KINDS = ("invoice", "receipt", "quote", "contract", "minutes", "statement", "other")


def referenced_documents(
    state: State, policy: FundsPolicy, env: Envelope, value: Any, required: bool | None = None
) -> list[str]:
    """The referenced documents, each published by an earlier record (so none can be
    swapped afterwards); at least one when the policy asks for it on this type."""
    docs = check_documents([] if value is None else value)
    need = env.type in policy.documents_required if required is None else required
    if need and not docs:
        raise RuleViolation(
            f"{env.type} must reference at least one published document "
            "(policy.funds_documents_required)"
        )
    for sha in docs:
        if state.peek("funds_document", sha) is None:
            raise RuleViolation(
                f"document {sha} was never published in the log: upload it, publish it "
                "with funds.document.publish, then reference it"
            )
    return docs


def publish(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.document.publish``: a committee member or an active resident; each hash once."""
    if env.signer not in state.rows("committee") and not is_active_resident(
        state, env.signer, ctx.time
    ):
        raise ForbiddenError("documents are published by committee members or active residents")
    b = env.body
    check_fields(b, {"sha256", "size", "media_type", "public"}, {"title", "kind"})
    sha = check_sha256(b["sha256"], "body.sha256")
    size = b["size"]
    if type(size) is not int or not 0 <= size <= MAX_DOCUMENT_SIZE:
        raise InputError("body.size must be the document's size in bytes (an integer)")
    media = check_media_type(b["media_type"])
    if not isinstance(b["public"], bool):
        raise InputError("body.public must be true or false")
    kind = b.get("kind", "other")
    if kind not in DOCUMENT_KINDS:
        raise InputError(f"body.kind must be one of {', '.join(DOCUMENT_KINDS)}")
    title = check_text(b.get("title", ""), "title", 200, required=False)
    if state.peek("funds_document", sha) is not None:
        raise ConflictError(f"document {sha} is published already")
    state.put(
        "funds_document",
        sha,
        {
            "sha256": sha,
            "size": size,
            "media_type": media,
            "public": b["public"],
            "kind": kind,
            "title": title,
            "by": env.signer,
            "published_at": ctx.index,
            "leaf_hash": ctx.leaf_hash,
        },
    )
