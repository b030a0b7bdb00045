"""JSON reads under ``/v1/``: records and RFC 9162 proofs."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from ledger import merkle
from ledger.c2sp.checkpoint import read_checkpoint
from ledger.canonical import parse_json
from ledger.errors import InputError, NotFoundError
from node import schemas as S
from node.context import NodeContext, get_ctx

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["records and proofs"])
Ctx = Annotated[NodeContext, Depends(get_ctx)]
HEX64 = r"^[0-9a-fA-F]{64}$"


class RecordOut(BaseModel):
    index: int
    leaf_hash: str
    record: Any
    entry: str  # base64 of the exact record bytes: verify these, not a re-serialisation


class InclusionOut(BaseModel):
    leaf_index: int
    tree_size: int
    hashes: list[str]
    # With ``witnessed=true``: the witnessed checkpoint note the proof is against, verbatim
    # with its cosignatures (a receipt keeps it as is).
    checkpoint: str | None = None


class ConsistencyOut(BaseModel):
    first: int
    second: int
    hashes: list[str]


@router.get("/records/{index}", response_model=RecordOut, responses=S.problems(400, 404, 422))
def get_record(index: int, ctx: Ctx) -> RecordOut:
    """One record with its leaf hash; 404 for an index not in the log."""
    data = ctx.log.entry(index)
    return RecordOut(
        index=index,
        leaf_hash=merkle.leaf_hash(data).hex(),
        record=parse_json(data),
        entry=base64.b64encode(data).decode(),
    )


_CHECKED = S.problems(
    503,
    _503="the proof failed the node's own check against its signed "
    "checkpoint: not served, held as evidence (see /v1/evidence)",
)


@router.get(
    "/proofs/inclusion",
    response_model=InclusionOut,
    response_model_exclude_none=True,
    responses={**S.problems(400, 404, 422), **_CHECKED},
)
def inclusion(
    ctx: Ctx,
    tree_size: Annotated[int | None, Query(ge=1)] = None,
    index: Annotated[int | None, Query(ge=0)] = None,
    leaf_hash: Annotated[str | None, Query(pattern=HEX64)] = None,
    witnessed: bool = False,
) -> InclusionOut:
    """RFC 9162 inclusion proof by ``index`` or ``leaf_hash`` (hex) in the tree of ``tree_size``.

    With ``witnessed=true`` instead of ``tree_size``: against the newest checkpoint that
    carries the witness quorum, returned in ``checkpoint`` (C2SP tlog-proof wants a
    witnessed checkpoint); 404 while no witnessed checkpoint covers the record yet.
    """
    if (index is None) == (leaf_hash is None):
        raise InputError("give exactly one of index or leaf_hash")
    note: bytes | None = None
    if witnessed:
        if tree_size is not None:
            raise InputError("give tree_size or witnessed=true, not both")
        note = ctx.log.witnessed_checkpoint()
        if note is None:
            raise NotFoundError("no checkpoint has reached the witness quorum yet; retry")
        tree_size = read_checkpoint(note).size
    elif tree_size is None:
        raise InputError("give tree_size, or witnessed=true for the newest witnessed checkpoint")
    if tree_size > ctx.log.size:
        raise InputError(f"tree_size {tree_size} is beyond the current tree size {ctx.log.size}")
    if index is None:
        assert leaf_hash is not None
        index = ctx.log.index_of_leaf(bytes.fromhex(leaf_hash), tree_size)
    if note is not None and index >= tree_size:
        raise NotFoundError(
            f"record {index} is not in the newest witnessed checkpoint (size {tree_size}) yet; "
            "retry shortly"
        )
    proof = ctx.proofs().inclusion(index, tree_size)
    return InclusionOut(
        leaf_index=index,
        tree_size=tree_size,
        hashes=[h.hex() for h in proof],
        checkpoint=None if note is None else note.decode("utf-8"),
    )


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyOut,
    responses={**S.problems(400, 404, 422), **_CHECKED},
)
def consistency(
    ctx: Ctx,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=0)],
) -> ConsistencyOut:
    """RFC 9162 consistency proof between tree sizes ``first`` ≤ ``second`` (0 < first).

    RFC 9162 §2.1.4 defines consistency proofs only from a non-empty tree (0 < m): every
    tree extends the empty one and there is no root of size 0 to check a proof against,
    so ``first=0`` is refused with a 400 rather than answered with an empty "proof" a
    client could mistake for a checked one.
    """
    if first == 0:
        raise InputError(
            "RFC 9162 §2.1.4 defines consistency proofs only for 0 < first: every tree "
            "extends the empty tree, there is nothing to prove"
        )
    if first > second:
        raise InputError(f"first ({first}) must not exceed second ({second})")
    proof = ctx.proofs().consistency(first, second)
    return ConsistencyOut(first=first, second=second, hashes=[h.hex() for h in proof])
