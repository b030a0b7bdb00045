"""Community reads: genesis summary, policy, witnesses, members; private openings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request

from ledger.community import community_view, members_view
from ledger.errors import NotFoundError
from node import schemas as S
from node.auth import authenticate, request_body
from node.context import NodeContext, get_ctx

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["community"])
Ctx = Annotated[NodeContext, Depends(get_ctx)]


@router.get("/community", response_model=S.Community, responses=S.problems(404))
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


@router.get("/members", response_model=S.Members)
def members(ctx: Ctx, status: str | None = None) -> dict[str, Any]:
    """Residents (key id, status, unit commitment, enrolment) and the committee."""
    return members_view(ctx.state(), status)


@router.get("/members/{key_id}", response_model=S.Member, responses=S.problems(404))
def member(key_id: str, ctx: Ctx) -> dict[str, Any]:
    """One resident or committee member."""
    st = ctx.state()
    m = st.peek("member", key_id)
    c = st.peek("committee", key_id)
    if m is None and c is None:
        raise NotFoundError(f"{key_id} is neither a resident nor on the committee")
    return {"key": key_id, "resident": m, "committee": c is not None}


Body = Annotated[bytes, Depends(request_body)]


def _committee_caller(request: Request, body: bytes, ctx: NodeContext) -> str:
    st = ctx.state()
    return authenticate(
        request,
        body,
        ctx,
        lambda key: key in st.rows("committee"),
        "only committee members may read or erase private data",
    )


@router.get(
    "/members/{key_id}/private",
    response_model=S.Openings,
    responses=S.problems(400, 401, 403, 404),
)
def read_private(key_id: str, request: Request, body: Body, ctx: Ctx) -> dict[str, Any]:
    """The opening of a resident's unit commitment (signed committee request)."""
    _committee_caller(request, body, ctx)
    rows = ctx.private().read(key_id)
    if not rows:
        raise NotFoundError(f"no private data is held for {key_id}")
    return {"key": key_id, "openings": rows}


@router.delete(
    "/members/{key_id}/private",
    response_model=S.Erased,
    responses=S.problems(400, 401, 403, 404),
)
def erase_private(key_id: str, request: Request, body: Body, ctx: Ctx) -> dict[str, Any]:
    """Erase the private opening; the log and its proofs stay intact (signed committee request)."""
    by = _committee_caller(request, body, ctx)
    n = ctx.private().erase(key_id)
    return {"key": key_id, "erased": n, "by": by}
