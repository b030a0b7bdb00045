"""Community reads: genesis summary, policy, witnesses, members; private openings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from ledger.community import community_view, members_view
from ledger.errors import ForbiddenError, NotFoundError
from node.auth import verify_authorization
from node.context import NodeContext, get_ctx

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["community"])
Ctx = Annotated[NodeContext, Depends(get_ctx)]


@router.get("/community")
def community(ctx: Ctx) -> dict[str, Any]:
    """Genesis summary, committee, witnesses, policy, the current checkpoint."""
    view = community_view(ctx.state())
    if view is None:
        raise NotFoundError("this log has no genesis yet")
    return {
        **view,
        "checkpoint": ctx.log.checkpoint().decode(),
        "statement_types": ctx.rules.types(),
    }


@router.get("/members")
def members(ctx: Ctx, status: str | None = None) -> dict[str, Any]:
    """Residents (key id, status, unit commitment, enrolment) and the committee."""
    return members_view(ctx.state(), status)


@router.get("/members/{key_id}")
def member(key_id: str, ctx: Ctx) -> dict[str, Any]:
    """One resident or committee member."""
    st = ctx.state()
    m = st.peek("member", key_id)
    c = st.peek("committee", key_id)
    if m is None and c is None:
        raise NotFoundError(f"{key_id} is neither a resident nor on the committee")
    return {"key": key_id, "resident": m, "committee": c is not None}


def _committee_caller(request: Request, ctx: NodeContext) -> str:
    st = ctx.state()
    window = int(st.peek("policy", "current", {}).get("statement_window_seconds", 900))
    key = verify_authorization(
        request.headers.get("authorization"),
        request.method,
        request.url.path,
        datetime.now(UTC),
        window,
    )
    if key not in st.rows("committee"):
        raise ForbiddenError("only committee members may read or erase private data")
    return key


@router.get("/members/{key_id}/private")
def read_private(key_id: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    """The opening of a resident's unit commitment (signed committee request)."""
    _committee_caller(request, ctx)
    rows = ctx.private().read(key_id)
    if not rows:
        raise NotFoundError(f"no private data is held for {key_id}")
    return {"key": key_id, "openings": rows}


@router.delete("/members/{key_id}/private")
def erase_private(key_id: str, request: Request, ctx: Ctx) -> dict[str, Any]:
    """Erase the private opening; the log and its proofs stay intact (signed committee request)."""
    by = _committee_caller(request, ctx)
    n = ctx.private().erase(key_id)
    return {"key": key_id, "erased": n, "by": by}
