"""What a resident's earlier vote on a ballot was, so a new one can say what it replaces."""

from __future__ import annotations

from typing import Any

from client.http import NodeClient

__all__ = ["previous_vote"]


def previous_vote(c: NodeClient, ballot: str, key_id: str) -> dict[str, Any] | None:
    """The vote of ``key_id`` that counts on ``ballot`` now (index, time, n: votes cast so
    far), or None when this key has not voted; the rules count only the last vote."""
    votes: list[dict[str, Any]] = c.get_json(f"/v1/ballots/{ballot}/votes", key=key_id)["votes"]
    return votes[0] if votes else None
