"""The C2SP tlog-witness API of a witness node: ``POST /witness/add-checkpoint``."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Depends, Request, Response

from ledger.errors import NotFoundError
from node.context import NodeContext, get_ctx

__all__ = ["router"]

router = APIRouter(prefix="/witness", tags=["witness (C2SP tlog-witness)"])
Ctx = Annotated[NodeContext, Depends(get_ctx)]
# An add-checkpoint body is a size line, at most 63 hashes and a checkpoint note.
MAX_BODY = 64 * 1024


@router.post(
    "/add-checkpoint",
    response_class=Response,
    responses={
        200: {"description": "cosignature line(s)", "content": {"text/plain": {}}},
        400: {"description": "malformed request"},
        403: {"description": "no valid log signature (or evidence held against the log)"},
        404: {"description": "unknown log origin"},
        409: {"description": "old size is stale (body: text/x.tlog.size) or roots differ"},
        422: {"description": "consistency proof fails, or a record breaks a rule"},
        503: {"description": "the witness cannot fetch the log's entries right now"},
    },
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
