"""Checkpoint gossip: every node compares the log's checkpoints seen by its peers with its own.

Each round (every ``gossip_interval`` seconds, or on demand) a node:

1. re-hashes one bundle of its own stored records (round robin), so a record edited in
   its database is found;
2. if it is a replica, compares one bundle served by the log it follows with its verified
   copy (round robin), so a record edited in the log's database is found;
3. for each peer: fetches ``/log/checkpoint`` and checks it against its own tree — a
   signed checkpoint whose root is not our tree's root at that size is equivocation
   (checkpoints ahead of our tree are kept and checked once we have caught up);
4. for each peer: fetches ``/v1/evidence`` and keeps every piece it can verify itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, log_signed_only
from ledger.c2sp.note import NoteVerifier
from ledger.errors import CivicError, InputError, NotFoundError, VerificationError
from ledger.evidence import (
    SHAREABLE_KINDS,
    Evidence,
    equivocation_with,
    evidence_from_json,
    integrity_alert,
    verify_evidence,
)
from ledger.ruleset import RuleSet
from ledger.state import State
from node.cosigning import WitnessedLog
from node.evidence import EvidenceStore
from node.replica import Replica, check_own_bundle

__all__ = ["Gossip", "PeerView"]

log = logging.getLogger("civic.gossip")
# Checkpoints from peers that are ahead of our tree, kept per peer until we catch up.
_PENDING_PER_PEER = 16


@dataclass
class PeerView:
    """The latest checkpoint seen from one peer."""

    url: str
    size: int | None = None
    checkpoint: str | None = None
    seen_at: float | None = None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "size": self.size,
            "checkpoint": self.checkpoint,
            "seen_at": self.seen_at,
            "error": self.error,
        }


class Gossip(threading.Thread):
    """Fetches peers' checkpoints and evidence on an interval; checks its own records."""

    def __init__(
        self,
        log_: WitnessedLog,
        evidence: EvidenceStore,
        peers: Callable[[], list[str]],
        interval: float,
        name: str,
        replica: Replica | None = None,
        state: Callable[[], State] | None = None,
        recheck_rules: RuleSet | None = None,
    ) -> None:
        super().__init__(name="gossip", daemon=True)
        self.log = log_
        self.verifier: NoteVerifier = log_.verifier
        self.origin = log_.origin
        self.evidence = evidence
        self.peers = peers
        self.interval = interval
        self.node_name = name
        self.replica = replica
        self.state = state
        # A sequencer re-checks a claimed rule break by replaying from genesis (its views
        # are its own writing); records below _replayed_clean were found valid that way.
        self.recheck_rules = recheck_rules
        self._replayed_clean = 0
        self.views: dict[str, PeerView] = {}
        self._pending: dict[str, list[tuple[Checkpoint, bytes]]] = {}
        self._own_bundle = 0
        self._source_bundle = 0
        self._round_lock = threading.Lock()
        self._http = httpx.Client(timeout=max(2.0, min(10.0, interval * 4)))
        self.stopping = threading.Event()

    # --- the loop ---------------------------------------------------------------------

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.round()
            except Exception:  # a bad round must not end gossip
                log.exception("gossip round failed")

    def stop(self) -> None:
        self.stopping.set()

    def close(self) -> None:
        self.stop()
        if self.is_alive():
            self.join(timeout=5)
        self._http.close()

    def round(self) -> None:
        """One gossip round (also run on demand by ``GET /v1/peers?refresh=true``)."""
        with self._round_lock:
            self._check_own_records()
            self._check_source()
            for url in self.peers():
                view = self.views.setdefault(url, PeerView(url))
                try:
                    self._visit(url, view)
                    view.error = ""
                except (CivicError, httpx.HTTPError, ValueError) as exc:
                    view.error = str(exc) or type(exc).__name__

    # --- 1 and 2: our records and the log's -------------------------------------------

    def _check_own_records(self) -> None:
        size = self.log.size
        if size == 0:
            return
        bundles = (size + 255) // 256
        b = self._own_bundle % bundles
        self._own_bundle += 1
        problem = check_own_bundle(self.log, b)
        if problem is not None:
            self.evidence.add(integrity_alert(self.origin, problem), f"{self.node_name} self-check")

    def _check_source(self) -> None:
        if self.replica is None or self.replica.source is None:
            return
        size = self.replica.log.size
        if size == 0:
            return
        bundles = (size + 255) // 256
        b = self._source_bundle % bundles
        self._source_bundle += 1
        # _compare_served records the integrity alert itself.
        self.replica.spot_check_source(b)

    # --- 3 and 4: peers ---------------------------------------------------------------

    def _get(self, url: str) -> httpx.Response:
        r = self._http.get(url)
        if r.status_code == 404:
            raise NotFoundError(f"{url}: not found")
        if r.status_code != 200:
            raise InputError(f"{url}: HTTP {r.status_code}")
        return r

    def _visit(self, url: str, view: PeerView) -> None:
        base = url.rstrip("/")
        note = self._get(base + "/log/checkpoint").content
        cp, log_note = log_signed_only(note, self._key_for(note))
        view.size, view.checkpoint, view.seen_at = cp.size, note.decode(), time.time()
        pending = self._pending.setdefault(url, [])
        pending.append((cp, log_note))
        self._pending[url] = self._compare(pending)[-_PENDING_PER_PEER:]
        try:
            items = self._get(base + "/v1/evidence").json().get("evidence", [])
        except NotFoundError:
            return
        for item in items:
            self._consider(item, url)

    def _key_for(self, note: bytes) -> NoteVerifier:
        """The log key of the note's size, after any log.rotate (node/log_keys.py)."""
        if self.state is None:
            return self.log.verifier
        from ledger.c2sp.checkpoint import read_checkpoint
        from node.log_keys import replica_history

        return replica_history(self.state(), self.verifier).key_for(read_checkpoint(note).size)

    def _compare(self, notes: list[tuple[Checkpoint, bytes]]) -> list[tuple[Checkpoint, bytes]]:
        """Check each checkpoint within our tree; return those still ahead of it."""
        ahead = []
        for cp, note in notes:
            size = self.log.size
            if cp.size > size:
                ahead.append((cp, note))
                continue
            if cp.size == 0 or self.log.root_at(cp.size) == cp.root_hash:
                continue
            ev = equivocation_with(self.log, self.origin, cp, note)
            self.evidence.add(ev, f"{self.node_name} gossip")
        return ahead

    def _consider(self, item: Any, url: str) -> None:
        """Keep a peer's piece of evidence if we can verify it ourselves."""
        try:
            ev = evidence_from_json(item)
        except CivicError:
            return
        if ev.kind not in SHAREABLE_KINDS or ev.origin != self.origin or self.evidence.has(ev.id):
            return
        try:
            verify_evidence(ev, self.verifier)
            if ev.kind == "invalid-record":
                self._check_claimed_rule(ev)
        except (VerificationError, InputError) as exc:
            log.warning("ignoring evidence %s from %s: %s", ev.id[:12], url, exc)
            return
        self.evidence.add(ev, f"{self.node_name}, from peer {url}")

    def _check_claimed_rule(self, ev: Evidence) -> None:
        """Refuse a claim about a record we replayed ourselves and found valid."""
        assert ev.index is not None and ev.record is not None
        if self.recheck_rules is not None:
            self._replay_claim(ev.index, ev.record)
            return
        state = self.state() if self.state is not None else None
        if state is None or state.size <= ev.index:
            return  # we have not replayed that far: the claim stands on its proof
        mine = self.log.leaf_hashes(ev.index, ev.index + 1)
        if mine and mine[0] == merkle.leaf_hash(ev.record):
            raise VerificationError(f"record {ev.index} was replayed here without breaking a rule")

    def _replay_claim(self, index: int, record: bytes) -> None:
        from node.integrity import first_rule_break

        mine = self.log.leaf_hashes(index, index + 1)
        if not mine or mine[0] != merkle.leaf_hash(record):
            return  # not our record at that index: the claim stands on its proof
        if index < self._replayed_clean:
            raise VerificationError(f"record {index} was replayed here without breaking a rule")
        assert self.recheck_rules is not None
        found = first_rule_break(self.log, self.recheck_rules, index + 1)
        if found is None:
            self._replayed_clean = index + 1
            raise VerificationError(f"record {index} was replayed here without breaking a rule")
        if found[0] != index:
            raise VerificationError(f"record {found[0]}, not {index}, is the first to break a rule")

    def to_json(self) -> list[dict[str, Any]]:
        return [v.to_json() for v in self.views.values()]
