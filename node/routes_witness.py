"""The C2SP tlog-witness API of a witness node: ``POST /witness/add-checkpoint``."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Request, Response

from ledger.c2sp.witness import SIZE_MEDIA_TYPE
from ledger.errors import InputError, NotFoundError
from node import schemas as S
from node.context import NodeContext, get_ctx
from node.cosigning import CHECKPOINT_LENGTH, ENTRIES_FROM, ENTRIES_HEADER

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


# civic's extension (node.cosigning, "Pushing the records"): the same request with the
# new records after it.


@router.post(
    "/add-checkpoint-entries",
    response_class=Response,
    responses=_ANSWERS,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/octet-stream": {"schema": {"type": "string"}}},
        },
        "parameters": [
            {"name": CHECKPOINT_LENGTH, "in": "header", "required": True,
             "schema": {"type": "integer"}, "description": "bytes of the add-checkpoint body"},
            {"name": ENTRIES_FROM, "in": "header", "required": True,
             "schema": {"type": "integer"}, "description": "index of the first pushed record"},
        ],
    },
)  # fmt: skip
async def add_checkpoint_entries(request: Request, ctx: Ctx) -> Response:
    """``add-checkpoint`` followed by the new records (a C2SP entry bundle).

    Body: the add-checkpoint body (``Civic-Checkpoint-Length`` bytes), then the records from
    index ``Civic-Entries-From`` on. The records are used only if they hash to the signed
    root; the answer is the one ``add-checkpoint`` gives.
    """
    # The request's own shape first, whatever the role: a malformed request is a 400 on
    # every node (as the OpenAPI's required headers say), not a 404 on a non-witness.
    try:
        length = int(request.headers[CHECKPOINT_LENGTH])
        first = int(request.headers[ENTRIES_FROM])
    except (KeyError, ValueError) as exc:
        raise InputError(
            f"add-checkpoint-entries needs integer {CHECKPOINT_LENGTH} and {ENTRIES_FROM} headers"
        ) from exc
    if not 0 < length <= MAX_BODY or first < 0:
        raise InputError(f"{CHECKPOINT_LENGTH} must be 1 to {MAX_BODY}, {ENTRIES_FROM} >= 0")
    witness = ctx.services.get("witness")
    if witness is None:
        raise NotFoundError("this node is not a witness")
    body = await request.body()
    if length > len(body):
        raise InputError(f"the body is shorter than {CHECKPOINT_LENGTH} ({length} bytes)")
    res = await anyio.to_thread.run_sync(
        witness.add_checkpoint_with_entries, body[:length], first, body[length:]
    )
    return Response(
        res.body,
        status_code=res.status,
        media_type=res.media_type,
        headers={ENTRIES_HEADER: "1"},
    )
