"""What a running node holds: its config, database, log and services; opened in the lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request

from ledger.errors import InputError
from ledger.log import Log
from ledger.state import State
from ledger.storage import Store
from node.config import NodeConfig, load_config, load_log_key

if TYPE_CHECKING:
    from node.private import PrivateStore

__all__ = ["NodeContext", "get_ctx", "open_context"]


@dataclass
class NodeContext:
    """The node's open resources; one per process."""

    data_dir: Path
    cfg: NodeConfig
    store: Store
    log: Log
    services: dict[str, Any] = field(default_factory=dict)

    def state(self) -> State:
        """The community state this node has verified (the sequencer's, for now)."""
        seq = self.services.get("sequencer")
        if seq is None:
            raise InputError("this node keeps no community state")
        st: State = seq.state
        return st

    def private(self) -> PrivateStore:
        p: PrivateStore = self.services["private"]
        return p

    def close(self) -> None:
        seq = self.services.get("sequencer")
        if seq is not None:
            seq.close()
        self.store.close()


def open_context(data_dir: Path, serve: bool = False) -> NodeContext:
    """Open the data folder's database and log (checks the newest checkpoint).

    With ``serve``, also start the node's services: the sequencer and private store.
    """
    cfg = load_config(data_dir)
    store = Store(cfg.database_url(data_dir))
    try:
        log = Log(store, cfg.origin, load_log_key(data_dir))
        ctx = NodeContext(data_dir, cfg, store, log)
        if serve:
            from node.private import PrivateStore
            from node.sequencer import Sequencer

            private = PrivateStore(store)
            ctx.services["private"] = private
            ctx.services["sequencer"] = Sequencer(log, store, private)
    except Exception:
        store.close()
        raise
    return ctx


def get_ctx(request: Request) -> NodeContext:
    """FastAPI dependency: the node context of this app."""
    ctx: NodeContext = request.app.state.ctx
    return ctx
