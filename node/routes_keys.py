"""The log's key history and incident records (docs/adr/0012-log-key-rotation.md)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict

from ledger.log_keys import incidents_view, revoked_view
from node import schemas as S
from node.context import NodeContext, get_ctx
from node.log_keys import log_keys_document

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["community"])
Ctx = Annotated[NodeContext, Depends(get_ctx)]


class LogKey(BaseModel):
    vkey: str
    first_size: int
    record: int | None
    old_key_status: str | None


class Rotation(BaseModel):
    index: int
    record: str


class LogKeys(BaseModel):
    """Every log key, from which checkpoint size it signs, and the proof of each rotation."""

    model_config = ConfigDict(extra="forbid")
    origin: str
    keys: list[LogKey]
    rotations: list[Rotation]
    checkpoint: str
    proofs: list[list[str]]


class Incidents(BaseModel):
    incidents: list[dict[str, Any]]
    revoked: dict[str, dict[str, Any]]


@router.get("/log-keys", response_model=LogKeys, responses=S.problems(404))
def log_keys(ctx: Ctx) -> dict[str, Any]:
    """The log's keys: the genesis key, then each log.rotate record's key with the checkpoint
    size it signs from; each rotation record (base64) and its inclusion proof in the newest
    witnessed checkpoint, so a verifier holding only the genesis key can follow."""
    return log_keys_document(ctx)


@router.get("/incidents", response_model=Incidents)
def incidents(ctx: Ctx) -> dict[str, Any]:
    """Every incident.report record, and the keys revoked with the record they date from."""
    state = ctx.state()
    return {"incidents": incidents_view(state), "revoked": revoked_view(state)}
