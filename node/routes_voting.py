"""HTTP routes of the voting layer (filled in by the voting work)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["voting"])
