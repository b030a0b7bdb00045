"""The C2SP tlog-witness API of a witness node: ``POST /witness/add-checkpoint``."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request, Response

from ledger.c2sp.witness import SIZE_MEDIA_TYPE
from ledger.errors import NotFoundError
from node import schemas as S
from node.context import NodeContext, get_ctx

__all__ = ["router"]

router = APIRouter(prefix="/witness", tags=["witness (C2SP tlog-witness)"])
Ctx = Annotated[NodeContext, Depends(get_ctx)]
# An add-checkpoint body is a size line, at most 63 hashes and a checkpoint note.
MAX_BODY = 64 * 1024


_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "cosignature line(s)",
        "content": {"text/plain": {"schema": {"type": "string"}}},
    },
    **S.problems(
        400,
        403,
        404,
        409,
        413,
        422,
        503,
        _403="no valid log signature (or evidence held against the log)",
        _404="unknown log origin, or this node is not a witness",
        _409="old size is stale (body: the witness's size, text/x.tlog.size), or the roots differ",
        _413=f"body over {MAX_BODY} bytes (text/plain) or over the node's limit",
        _422="consistency proof fails, or a record breaks a rule",
        _503="the witness cannot fetch the log's entries right now",
    ),
}
# C2SP tlog-witness: a stale old size is answered with the witness's size as text.
_ANSWERS[409]["content"][SIZE_MEDIA_TYPE] = {"schema": {"type": "string"}}
_ANSWERS[413]["content"]["text/plain"] = {"schema": {"type": "string"}}


@router.post(
    "/add-checkpoint",
    response_class=Response,
    responses=_ANSWERS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
)
async def add_checkpoint(request: Request, ctx: Ctx) -> Response:
    """Cosign a checkpoint after checking its consistency and replaying its new records.

    Body: ``old <size>``, consistency proof lines (base64), an empty line, the checkpoint.
    """
    witness = ctx.services.get("witness")
    if witness is None:
        raise NotFoundError("this node is not a witness")
    body = await request.body()
    if len(body) > MAX_BODY:
        return Response(b"request too large\n", status_code=413, media_type="text/plain")
    res = await anyio.to_thread.run_sync(witness.add_checkpoint, body)
    return Response(res.body, status_code=res.status, media_type=res.media_type)
