"""A node's data folder: its config file, its keys and its database.

Layout of ``DIR``::

    node.json      role, origin, database URL (null: the SQLite file below), peers
    log.key        the log's note signing key (sequencer only; mode 0600)
    witness.key    the witness's cosigning key (witness only; mode 0600)
    ledger.sqlite  the default database (a witness's or mirror's verified replica)
    newest-checkpoint  the newest checkpoint signed or verified here, outside the database
                   (node/freshness.py: the rollback check at start-up)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ledger.c2sp.note import (
    NoteSigner,
    NoteVerifier,
    generate_signer,
    parse_private_key,
    parse_vkey,
)
from ledger.errors import InputError
from ledger.files import write_atomic
from ledger.sql import sqlite_url
from node.limits import ConnectionLimits

__all__ = [
    "ROLES",
    "NodeConfig",
    "configured_log_key",
    "init_data_dir",
    "load_config",
    "load_log_key",
    "save_config",
]

CONFIG_FILE = "node.json"
LOG_KEY_FILE = "log.key"
WITNESS_KEY_FILE = "witness.key"
ROLES = ("sequencer", "witness", "mirror")


@dataclass
class NodeConfig:
    """What a node needs to start, kept in ``DIR/node.json``."""

    origin: str
    role: str = "sequencer"
    database: str | None = None
    log_vkey: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Witness and mirror: the base URL of the log they replicate (its tiles API).
    follow: str | None = None
    # Other nodes whose checkpoints and evidence this node fetches (gossip).
    peers: list[str] = field(default_factory=list)
    # Seconds between gossip rounds, between a mirror's polls of the log, and the longest
    # wait before the sequencer retries a witness that did not answer.
    gossip_interval: float = 5.0
    follow_interval: float = 1.0
    witness_retry: float = 5.0
    # The background integrity pass (node.integrity): seconds between ticks, and how many
    # records each tick re-verifies (leaf, chain, tree nodes) before it yields.
    integrity_interval: float = 1.0
    integrity_batch: int = 4096
    # The most of its time the pass may spend checking (it waits longer after a slow tick).
    integrity_duty: float = 0.1
    # Seconds a peer's signed checkpoint may stay ahead of this node before /healthz says
    # it is degraded (node/freshness.py).
    stale_after: float = 10.0
    # Connection limits (README "Limits"): seconds a client has to send a request's head,
    # then its body; seconds an idle kept-alive connection stays open; open connections
    # from one IP address.
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    keep_alive_timeout: int = 5
    max_connections_per_client: int = 256

    def connection_limits(self) -> ConnectionLimits:
        """The deadlines and the per-client cap to serve with; InputError if one is not positive."""
        for name in ("header_timeout", "body_timeout"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise InputError(f"{CONFIG_FILE}: {name} must be a positive number of seconds")
        for name in ("keep_alive_timeout", "max_connections_per_client"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{CONFIG_FILE}: {name} must be a whole number, at least 1")
        return ConnectionLimits(
            header_timeout=float(self.header_timeout),
            body_timeout=float(self.body_timeout),
            max_per_client=self.max_connections_per_client,
        )

    def database_url(self, data_dir: Path) -> str:
        """The configured database, or the SQLite file in the data folder."""
        return self.database or sqlite_url(data_dir.resolve() / "ledger.sqlite")


def load_config(data_dir: Path) -> NodeConfig:
    """Read ``DIR/node.json``; InputError that says how to create it when missing."""
    path = data_dir / CONFIG_FILE
    if not path.is_file():
        raise InputError(
            f"{data_dir} is not a civic-ledger data folder (no {CONFIG_FILE}); "
            "create one with `civic community init --data DIR ...`"
        )
    try:
        raw = json.loads(path.read_text("utf-8"))
        return NodeConfig(**raw)
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path} is not a valid node config: {exc}") from exc


def save_config(data_dir: Path, cfg: NodeConfig) -> None:
    """Write ``DIR/node.json`` atomically."""
    text = json.dumps(asdict(cfg), indent=2, sort_keys=True) + "\n"
    write_atomic(data_dir / CONFIG_FILE, text.encode("utf-8"))


def load_log_key(data_dir: Path) -> NoteSigner:
    """The log's signing key from ``DIR/log.key``."""
    path = data_dir / LOG_KEY_FILE
    if not path.is_file():
        raise InputError(f"no log key at {path}: this data folder is not a sequencer's")
    return parse_private_key(path.read_text("utf-8").strip())


def configured_log_key(cfg: NodeConfig) -> NoteVerifier:
    """The log's public key from the config; InputError saying how to set it if missing."""
    if not cfg.log_vkey:
        raise InputError(
            f"this {cfg.role} does not know the log's key yet: start it with "
            "`civic node start --log-vkey VKEY --follow URL`"
        )
    return parse_vkey(cfg.log_vkey)


def init_data_dir(
    data_dir: Path, origin: str, database: str | None = None, signer: NoteSigner | None = None
) -> tuple[NodeConfig, NoteSigner]:
    """Create a sequencer's data folder with a new log key; refuses to overwrite one."""
    data_dir.mkdir(parents=True, exist_ok=True)
    if (data_dir / CONFIG_FILE).exists():
        raise InputError(f"{data_dir} already holds a node; choose an empty folder")
    signer = signer or generate_signer(origin)
    write_atomic(data_dir / LOG_KEY_FILE, (signer.private_key_string() + "\n").encode(), 0o600)
    cfg = NodeConfig(origin=origin, database=database, log_vkey=signer.verifier().vkey())
    save_config(data_dir, cfg)
    return cfg, signer
