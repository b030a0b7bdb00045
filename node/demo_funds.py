"""The funds part of the demo community."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from node.context import NodeContext

__all__ = ["populate"]


def populate(ctx: NodeContext, keys: Path) -> dict[str, Any]:
    """Add sample funds statements to the demo community; return a summary for demo.json."""
    return {}
