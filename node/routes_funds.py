"""HTTP routes of the funds layer (filled in by the funds work)."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["funds"])
