"""What a running node holds: its config, database, log and services; opened in the lifespan.

Three roles share one shape. A **sequencer** holds the log key, appends through its
:class:`~node.sequencer.Sequencer` and collects witness cosignatures. A **witness** and a
**mirror** hold a verified :class:`~node.replica.Replica` of the log instead; the witness
also cosigns. Every role keeps an evidence store and gossips with its peers, and
:meth:`NodeContext.state` gives each the state it verified, so the read routes are the
same everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import Request

from ledger.c2sp.policy import Policy
from ledger.errors import InputError, NotFoundError
from ledger.ruleset import RuleSet
from ledger.sql import SqlStore
from ledger.state import State
from ledger.storage import Storage
from ledger.witness_policy import policy_from_genesis
from node.config import (
    ROLES,
    NodeConfig,
    configured_log_key,
    load_config,
    load_log_key,
)
from node.cosigning import WitnessedLog
from rules import community_rules

if TYPE_CHECKING:
    from node.evidence import EvidenceStore
    from node.integrity import ServedProofs
    from node.private import PrivateStore

__all__ = ["NodeContext", "get_ctx", "open_context"]


@dataclass
class NodeContext:
    """The node's open resources; one per process."""

    data_dir: Path
    cfg: NodeConfig
    store: Storage
    log: WitnessedLog
    # The rule set every role replays under: built once, at start-up, from rules.LAYERS.
    rules: RuleSet
    services: dict[str, Any] = field(default_factory=dict)

    @property
    def role(self) -> str:
        return self.cfg.role

    @property
    def name(self) -> str:
        """How this node names itself in evidence it finds."""
        w = self.services.get("witness")
        if w is not None:
            return f"witness {w.signer.name}"
        return f"{self.role} {self.data_dir.resolve().name}"

    def state(self) -> State:
        """The community state this node has verified: the sequencer's, or the replica's."""
        seq = self.services.get("sequencer")
        if seq is not None:
            st: State = seq.state
            return st
        rep = self.services.get("replica")
        if rep is not None:
            rs: State = rep.state
            return rs
        sb = self.services.get("standby")  # node/standby.py: the committed state, re-read
        if sb is not None and sb.state is not None:
            ss: State = sb.state
            return ss
        raise InputError("this node keeps no community state")

    def private(self) -> PrivateStore:
        p: PrivateStore | None = self.services.get("private")
        if p is None:
            raise NotFoundError("this node keeps no private data: ask the sequencer's operator")
        return p

    def evidence(self) -> EvidenceStore | None:
        ev: EvidenceStore | None = self.services.get("evidence")
        return ev

    def proofs(self) -> ServedProofs:
        """The proofs this node serves, each verified against a signed root first."""
        p: ServedProofs | None = self.services.get("proofs")
        if p is None:
            from node.integrity import ServedProofs

            evidence = self.evidence()
            if evidence is None:
                raise InputError("serving proofs needs a context opened with serve=True")
            p = ServedProofs(self.log, evidence, self.name)
            self.services["proofs"] = p
        return p

    def policy(self) -> Policy | None:
        """The community's current trust policy (None before genesis)."""
        try:
            return policy_from_genesis(self.state())
        except InputError:
            return None

    def cosignatures(self, size: int) -> int:
        """How many witness cosignatures this node holds for the checkpoint of ``size``."""
        book = self.services.get("book")
        return 0 if book is None else int(book.count(size))

    def peers(self) -> list[str]:
        """Nodes to gossip with: configured peers, the followed log, the genesis witnesses."""
        urls = [*self.cfg.peers]
        if self.cfg.follow:
            urls.append(self.cfg.follow)
        if self.role == "sequencer":
            try:
                current = self.state().peek("witnesses", "current") or {}
                urls.extend(w["url"] for w in current.get("witnesses", []))
            except InputError:
                pass
        out: list[str] = []
        for u in urls:
            u = u.rstrip("/")
            if u not in out:
                out.append(u)
        return out

    def start_background(self) -> None:
        """Start the role's threads: cosignature collection, following, gossip."""
        from node.gossip import Gossip

        evidence = self.evidence()
        if evidence is None:
            raise InputError("start_background needs a context opened with serve=True")
        if "sequencer" in self.services:  # a standby starts it when it takes over
            self.start_collector()
        standby = self.services.get("standby")
        if standby is not None:
            standby.start()
        replica = self.services.get("replica")
        if self.role == "mirror" and replica is not None and replica.source is not None:
            from node.mirror import Follower

            follower = Follower(
                replica, replica.source, self.services["book"], self.cfg.follow_interval
            )
            self.services["follower"] = follower
            follower.start()
        gossip = Gossip(
            self.log,
            evidence,
            self.peers,
            self.cfg.gossip_interval,
            self.name,
            replica=replica,
            state=self.state,
            recheck_rules=self.rules if self.role == "sequencer" else None,
        )
        self.services["gossip"] = gossip
        gossip.start()
        from node.integrity import IntegrityPass

        check = IntegrityPass(
            self.log,
            evidence,
            self.name,
            self.cfg.integrity_interval,
            self.cfg.integrity_batch,
            duty=self.cfg.integrity_duty,
        )
        self.services["integrity"] = check
        check.start()

        from node.freshness import Freshness

        # Started last: it reads the gossip views; its start-up check runs here, before
        # the node serves a request.
        freshness = Freshness(self)
        self.services["freshness"] = freshness
        freshness.start()

    def start_collector(self) -> None:
        """Start collecting witness cosignatures for the sequencer's new checkpoints."""
        if self.role == "sequencer":
            from node.cosigning import CheckpointCollector

            seq = self.services["sequencer"]

            def witnesses() -> list[dict[str, str]]:
                current = seq.state.peek("witnesses", "current") or {}
                return list(current.get("witnesses", []))

            collector = CheckpointCollector(
                self.log, self.services["book"], witnesses, retry_max=self.cfg.witness_retry
            )
            seq.on_batch = collector.notify
            self.services["collector"] = collector
            collector.start()

    def close(self) -> None:
        standby = self.services.get("standby")
        if standby is not None:
            standby.stop()
        for name in ("freshness", "integrity", "gossip", "follower", "collector"):
            svc = self.services.pop(name, None)
            if svc is None:
                continue
            if name == "follower":
                svc.stop()
                svc.join(timeout=5)
            else:
                svc.close()
        seq = self.services.get("sequencer")
        if seq is not None:
            seq.on_batch = None
            seq.close()
        if standby is not None:
            standby.close()
        rep = self.services.get("replica")
        if rep is not None:
            rep.close()
        self.store.close()


def open_context(data_dir: Path, serve: bool = False) -> NodeContext:
    """Open the data folder's database and log (checks the newest checkpoint).

    With ``serve``, also open the role's services (no threads but the sequencer's writer;
    :meth:`NodeContext.start_background` starts the rest): evidence, cosignatures, and the
    sequencer with its private store, or the replica (and the witness).
    """
    cfg = load_config(data_dir)
    if cfg.role not in ROLES:
        raise InputError(f"unknown node role {cfg.role!r}; roles: {', '.join(ROLES)}")
    store: Storage = SqlStore(cfg.database_url(data_dir))
    try:
        log: WitnessedLog
        if cfg.role == "sequencer":
            from node.log_keys import Keyring, stored_log_verifiers

            # Every key of the folder verifies the newest checkpoint: after a rotation it
            # may be signed by a key that is not (yet) log.key (node/log_keys.py).
            ring = Keyring(data_dir).verifiers() + stored_log_verifiers(store)
            log = WitnessedLog(store, cfg.origin, load_log_key(data_dir), verifiers=ring)
        else:
            from node.log_keys import stored_log_verifiers
            from node.replica import ReplicaLog

            log = ReplicaLog(store, configured_log_key(cfg), stored_log_verifiers(store))
        ctx = NodeContext(data_dir, cfg, store, log, community_rules())
        if serve:
            _open_services(ctx)
    except Exception:
        store.close()
        raise
    return ctx


def _open_services(ctx: NodeContext) -> None:
    from node.cosigning import CosignatureBook
    from node.evidence import EvidenceStore
    from node.metrics import CommunityMetrics

    store = ctx.store
    metrics = CommunityMetrics()
    ctx.services["metrics"] = metrics
    evidence = EvidenceStore(store)
    ctx.services["evidence"] = evidence
    book = CosignatureBook(store, ctx.policy)
    ctx.services["book"] = book
    ctx.log.book = book
    if ctx.role == "sequencer":
        from node.private import PrivateStore
        from node.sequencer import Sequencer
        from node.standby import open_standby, standby_settings

        private = PrivateStore(store, ctx.rules)
        ctx.services["private"] = private
        settings = standby_settings(ctx.cfg)
        if settings is not None:  # node/standby.py: writes only while it holds the lock
            ctx.services["standby"] = open_standby(ctx, settings)
            return
        seq = Sequencer(ctx.log, store, private, ctx.rules)
        seq.metrics = metrics
        ctx.services["sequencer"] = seq
        from node.log_keys import install_sequencer_keys

        install_sequencer_keys(ctx)
        return
    from node.replica import HttpSource, Replica, ReplicaLog

    assert isinstance(ctx.log, ReplicaLog)
    source = HttpSource(ctx.cfg.follow) if ctx.cfg.follow else None
    witness_signer = None
    if ctx.role == "witness":
        from node.witness import load_witness_key

        witness_signer = load_witness_key(ctx.data_dir)
    name = f"witness {witness_signer.name}" if witness_signer else ctx.name
    replica = Replica(ctx.log, store, evidence, source, name, ctx.rules)
    ctx.services["replica"] = replica
    if witness_signer is not None:
        from node.witness import Witness

        ctx.services["witness"] = Witness(
            witness_signer, ctx.log.verifier, store, evidence, replica
        )


async def get_ctx(request: Request) -> NodeContext:
    """FastAPI dependency: the node context of this app."""
    ctx: NodeContext = request.app.state.ctx
    return ctx
