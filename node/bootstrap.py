"""Create a community: its data folder, log key and genesis record."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ledger.c2sp.note import NoteSigner
from ledger.community import genesis_envelope
from ledger.errors import CivicError
from ledger.keys import KeyPair
from node.config import init_data_dir
from node.context import open_context

__all__ = ["init_community"]


def init_community(
    data_dir: Path,
    origin: str,
    committee: Sequence[KeyPair],
    witnesses: Sequence[dict[str, str]] = (),
    quorum: int = 0,
    policy: dict[str, Any] | None = None,
    database: str | None = None,
    log_signer: NoteSigner | None = None,
) -> dict[str, Any]:
    """Write genesis as record 0; return what the community posts on its notice board."""
    before = set(data_dir.iterdir()) if data_dir.exists() else set()
    try:
        cfg, signer = init_data_dir(data_dir, origin, database, log_signer)
        env = genesis_envelope(origin, signer, committee, witnesses, quorum, policy)
        ctx = open_context(data_dir, serve=True)
        try:
            (result,) = ctx.services["sequencer"].submit([env])
        finally:
            ctx.close()
        if isinstance(result, CivicError):
            raise result
    except BaseException:
        # Nothing half-written: remove what this call created.
        for p in set(data_dir.iterdir()) - before if data_dir.exists() else ():
            p.unlink()
        raise
    return {
        "origin": origin,
        "genesis_hash": result.leaf_hash,
        "log_vkey": cfg.log_vkey,
        "checkpoint": result.checkpoint.decode(),
    }
