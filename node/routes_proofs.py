"""JSON reads under ``/v1/``: records and RFC 9162 proofs."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from ledger import merkle
from ledger.canonical import parse_json
from ledger.errors import InputError
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


@router.get("/proofs/inclusion", response_model=InclusionOut, responses=S.problems(400, 404, 422))
def inclusion(
    ctx: Ctx,
    tree_size: Annotated[int, Query(ge=1)],
    index: Annotated[int | None, Query(ge=0)] = None,
    leaf_hash: Annotated[str | None, Query(pattern=HEX64)] = None,
) -> InclusionOut:
    """RFC 9162 inclusion proof by ``index`` or ``leaf_hash`` (hex) in the tree of ``tree_size``."""
    if (index is None) == (leaf_hash is None):
        raise InputError("give exactly one of index or leaf_hash")
    if tree_size > ctx.log.size:
        raise InputError(f"tree_size {tree_size} is beyond the current tree size {ctx.log.size}")
    if index is None:
        assert leaf_hash is not None
        index = ctx.log.index_of_leaf(bytes.fromhex(leaf_hash), tree_size)
    proof = ctx.log.inclusion_proof(index, tree_size)
    return InclusionOut(leaf_index=index, tree_size=tree_size, hashes=[h.hex() for h in proof])


@router.get(
    "/proofs/consistency",
    response_model=ConsistencyOut,
    responses=S.problems(400, 404, 422),
)
def consistency(
    ctx: Ctx,
    first: Annotated[int, Query(ge=0)],
    second: Annotated[int, Query(ge=0)],
) -> ConsistencyOut:
    """RFC 9162 consistency proof between tree sizes ``first`` ≤ ``second``."""
    if first > second:
        raise InputError(f"first ({first}) must not exceed second ({second})")
    proof = ctx.log.consistency_proof(first, second)
    return ConsistencyOut(first=first, second=second, hashes=[h.hex() for h in proof])
