"""The C2SP tlog-tiles read API under ``/log/``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from ledger.errors import InputError
from ledger.tiles import parse_tile_path
from node.context import NodeContext, get_ctx

__all__ = ["router"]

router = APIRouter(prefix="/log", tags=["tiles (C2SP tlog-tiles)"])
Ctx = Annotated[NodeContext, Depends(get_ctx)]

IMMUTABLE = "public, max-age=31536000, immutable"
VOLATILE = "no-cache"
# The longest valid path after ``tile/``: "entries/" and a tile index below 2**64 in
# 3-digit groups (C2SP tlog-tiles: "x018/x446/x744/x073/x709/x551/615") and ".p/255" is 47
# characters. Longer paths are refused before they are parsed, and before an index with
# thousands of digits is built from them.
MAX_TILE_PATH = 64


@router.get("/checkpoint", response_class=Response)
def checkpoint(ctx: Ctx) -> Response:
    """The newest checkpoint: a C2SP signed note (tlog-checkpoint)."""
    return Response(
        ctx.log.checkpoint(),
        media_type="text/plain; charset=utf-8",
        headers={"Cache-Control": VOLATILE},
    )


@router.get("/tile/{path:path}", response_class=Response)
def tile(path: str, ctx: Ctx) -> Response:
    """A hash tile ``tile/<L>/<N>[.p/<W>]`` or entry bundle ``tile/entries/<N>[.p/<W>]``."""
    if len(path) > MAX_TILE_PATH:
        raise InputError(f"not a tile path: longer than {MAX_TILE_PATH} characters")
    ref = parse_tile_path("tile/" + path)
    if ref.level is None:
        body = ctx.log.entry_bundle(ref.index, ref.width)
    else:
        body = ctx.log.tile(ref.level, ref.index, ref.width)
    cache = IMMUTABLE if ref.is_full else VOLATILE
    return Response(body, media_type="application/octet-stream", headers={"Cache-Control": cache})
