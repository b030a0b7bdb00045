"""Gossip, evidence, the trust policy and cosigned checkpoints under ``/v1/``."""

from __future__ import annotations

from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends, Query, Response

from ledger.c2sp.policy import format_policy
from ledger.errors import InputError, NotFoundError
from ledger.witness_policy import policy_from_genesis
from node.context import NodeContext, get_ctx

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["witnessing and gossip"])
Ctx = Annotated[NodeContext, Depends(get_ctx)]
NOTE = "text/plain; charset=utf-8"


@router.get("/peers")
async def peers(
    ctx: Ctx, refresh: Annotated[bool, Query(description="Run a gossip round first.")] = False
) -> dict[str, Any]:
    """The latest checkpoint seen from each peer (and the error of the last attempt)."""
    gossip = ctx.services.get("gossip")
    if gossip is None:
        return {"peers": [], "interval": None}
    if refresh:
        await anyio.to_thread.run_sync(gossip.round)
    return {"peers": gossip.to_json(), "interval": gossip.interval}


@router.get("/evidence")
def evidence(ctx: Ctx) -> dict[str, Any]:
    """Evidence this node holds, with both checkpoint notes verbatim; empty when healthy.

    ``equivocation`` and ``invalid-record`` items verify with the log key alone
    (``ledger.evidence.verify_evidence``); ``integrity`` items are this node's own findings.
    """
    store = ctx.evidence()
    items = [] if store is None else store.all()
    return {"count": len(items), "evidence": items}


@router.get("/policy", response_class=Response)
def policy(ctx: Ctx) -> Response:
    """The community's checkpoint trust policy as C2SP tlog-policy text."""
    try:
        text = format_policy(policy_from_genesis(ctx.state()))
    except InputError as exc:
        raise NotFoundError(f"no policy yet: {exc.message}") from exc
    return Response(text, media_type=NOTE)


@router.get("/witnesses")
def witnesses(ctx: Ctx) -> dict[str, Any]:
    """Per witness: the largest size it cosigned and the last error (sequencer); or this
    witness's own status (witness)."""
    out: dict[str, Any] = {"role": ctx.role}
    collector = ctx.services.get("collector")
    if collector is not None:
        out["witnesses"] = [
            {"name": s.name, "url": s.url, "cosigned_size": s.cosigned_size, "error": s.error}
            for s in collector.status()
        ]
    witness = ctx.services.get("witness")
    if witness is not None:
        out["witness"] = witness.status()
    return out


def _note_response(ctx: NodeContext, note: bytes, size: int) -> Response:
    return Response(
        note,
        media_type=NOTE,
        headers={"Cache-Control": "no-cache", "X-Civic-Cosignatures": str(ctx.cosignatures(size))},
    )


@router.get("/checkpoints/witnessed", response_class=Response)
def witnessed_checkpoint(ctx: Ctx) -> Response:
    """The newest checkpoint whose cosignatures meet the genesis quorum (404 if none yet)."""
    note = ctx.log.witnessed_checkpoint()
    book = ctx.services.get("book")
    size = None if book is None else book.witnessed_size()
    if note is None or size is None:
        raise NotFoundError("no checkpoint has reached the witness quorum yet")
    return _note_response(ctx, note, size)


@router.get("/checkpoints/{size}", response_class=Response)
def checkpoint_at(size: int, ctx: Ctx) -> Response:
    """The checkpoint of exactly ``size`` with every cosignature collected for it so far:
    fetch it later to upgrade a receipt's checkpoint to a cosigned one."""
    if size < 0:
        raise InputError("size must not be negative")
    return _note_response(ctx, ctx.log.checkpoint_at(size), size)
