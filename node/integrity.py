"""A node's checks on its own log while it runs.

Three guards, each cheap enough to stay on:

1. :class:`ServedProofs` verifies every RFC 9162 inclusion and consistency proof the node
   is about to serve against the root of a checkpoint the log key signed (the one of that
   size, or, for a size with no checkpoint of its own, a root bound to the newest signed
   checkpoint by a consistency proof). A proof that fails is never served: the node
   records integrity evidence against itself and answers 503 problem+json.
2. :class:`IntegrityPass` recomputes the whole tree in the background, a bounded number of
   records per tick, resuming where the last tick stopped: every leaf hash from its bytes,
   every record's ``index`` and ``prev`` link (docs/design.md, the hash chain), every completed
   interior node from its children (RFC 9162 §2.1.1), and at the end of each cycle the
   root against the signed checkpoint of that size. Then it starts over from record 0, so
   an old record or node edited later is found on the next cycle.
3. :func:`write_refusal`: a sequencer that holds any evidence against its own log (its own
   integrity findings, or equivocation or an invalid record learnt from a peer) accepts no
   statement until its operator acts (README, "When a node holds evidence").
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from fastapi.responses import JSONResponse

from ledger import merkle
from ledger.errors import (
    CivicError,
    InputError,
    IntegrityError,
    ProofError,
    SelfIntegrityError,
    VerificationError,
)
from ledger.evidence import integrity_alert
from ledger.log import Log
from ledger.records import GENESIS_PREV, parse_record
from ledger.ruleset import RuleSet
from ledger.state import State, apply_record
from node.cosigning import WitnessedLog
from node.evidence import EvidenceStore
from node.problems import problem

__all__ = [
    "IntegrityPass",
    "PassStatus",
    "ServedProofs",
    "first_rule_break",
    "next_wait",
    "write_refusal",
]

log = logging.getLogger("civic.integrity")

RUNBOOK = "README.md, 'When a node holds evidence'"


class ServedProofs:
    """Proofs the node serves, each verified against a signed root before it leaves."""

    def __init__(self, log_: WitnessedLog, evidence: EvidenceStore, name: str) -> None:
        self.log = log_
        self.evidence = evidence
        self.name = name

    def _fail(self, reason: str, index: int | None = None) -> SelfIntegrityError:
        try:
            note: bytes | None = self.log.signed_checkpoint()
        except CivicError:
            note = None
        self.evidence.add(
            integrity_alert(self.log.origin, reason, index, None, note),
            f"{self.name} proof check",
        )
        return SelfIntegrityError(
            f"{reason}; the node holds this as evidence against its own log and will not "
            "serve the proof (see /v1/evidence)"
        )

    def signed_root(self, size: int) -> bytes:
        """The root of the tree of ``size`` as the log key signed it.

        The stored checkpoint of that size when there is one; otherwise the root computed
        from the stored nodes, accepted only if an RFC 9162 §2.1.4.2 consistency proof binds
        it to the newest signed checkpoint. SelfIntegrityError (evidence recorded) if not.
        """
        if size == 0:
            return merkle.EMPTY_ROOT
        try:
            note = self.log.store.checkpoint_at(size)
            if note is not None:
                return self.log.open_own(note)[0].root_hash
            # The checkpoint of the tree as this process holds it (every batch stores one);
            # the store's newest may already be a batch ahead.
            top = self.log.store.checkpoint_at(self.log.size)
            if top is None:
                raise IntegrityError(f"no signed checkpoint of size {self.log.size} is stored")
            newest, _ = self.log.open_own(top)
            claimed = self.log.root_at(size)
            proof = self.log.consistency_proof(size, newest.size)
            merkle.verify_consistency(size, newest.size, proof, claimed, newest.root_hash)
            return claimed
        except (IntegrityError, VerificationError) as exc:
            # Not a StorageError: a database that is away for a moment is not evidence.
            raise self._fail(
                f"the stored tree of size {size} does not match the log's signed checkpoints: "
                f"{exc.message}"
            ) from exc

    def inclusion(self, index: int, size: int) -> list[bytes]:
        """The inclusion proof of record ``index`` in the tree of ``size``, verified for the
        record's stored bytes against the signed root of that size."""
        try:
            proof = self.log.inclusion_proof(index, size)  # bad input stays a 400
            leaf = merkle.leaf_hash(self.log.entry(index))
        except IntegrityError as exc:
            raise self._fail(f"record {index} or its tree nodes: {exc.message}", index) from exc
        root = self.signed_root(size)
        try:
            # RFC 9162 §2.1.3.2, as the client will check it.
            merkle.verify_inclusion(leaf, index, size, proof, root)
        except ProofError as exc:
            raise self._fail(
                f"the inclusion proof of record {index} in the tree of size {size} does not "
                f"verify against the signed checkpoint: {exc.message}",
                index,
            ) from exc
        return proof

    def consistency(self, first: int, second: int) -> list[bytes]:
        """The consistency proof from ``first`` to ``second``, verified against both signed
        roots (a proof from 0, or between equal sizes, is empty and needs no check)."""
        try:
            proof = self.log.consistency_proof(first, second)  # bad input stays a 400
        except IntegrityError as exc:
            raise self._fail(f"the tree nodes of a consistency proof: {exc.message}") from exc
        if first == 0 or first == second:
            return proof
        root1, root2 = self.signed_root(first), self.signed_root(second)
        try:
            merkle.verify_consistency(first, second, proof, root1, root2)
        except ProofError as exc:
            raise self._fail(
                f"the consistency proof from size {first} to {second} does not verify "
                f"against the signed checkpoints: {exc.message}"
            ) from exc
        return proof


@dataclass(frozen=True)
class PassStatus:
    """Where the background pass stands, for ``/healthz``."""

    position: int
    cycles: int
    last_cycle_size: int | None
    last_cycle_at: float | None
    interval: float

    def to_json(self) -> dict[str, Any]:
        return {
            "checked_to": self.position,
            "cycles": self.cycles,
            "last_full_size": self.last_cycle_size,
            "last_full_at": self.last_cycle_at,
            "interval": self.interval,
        }


def next_wait(interval: float, spent: float, duty: float) -> float:
    """Seconds to wait after a tick that took ``spent``, to check at most ``duty`` of the time.

    Under load the pass shares the interpreter with the writer (it took half the node's
    samples in the ingest profile); on a quiet or small log a tick takes milliseconds and
    the interval rules.
    """
    return max(interval, spent * (1 - duty) / duty)


class IntegrityPass(threading.Thread):
    """Recomputes the stored tree and chain incrementally, ``batch`` records per tick."""

    def __init__(
        self,
        log_: Log,
        evidence: EvidenceStore,
        name: str,
        interval: float,
        batch: int = 4096,
        chained: bool = True,
        duty: float = 0.1,
    ) -> None:
        super().__init__(name="integrity", daemon=True)
        if interval <= 0 or batch < 1 or not 0 < duty <= 1:
            raise ValueError(
                "the integrity pass needs a positive interval and batch, and a duty in (0, 1]"
            )
        self.log = log_
        self.evidence = evidence
        self.node_name = name
        self.interval = interval
        self.batch = batch
        self.chained = chained
        self.duty = duty
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._restart()
        self._cycles = 0
        self._last: tuple[int, float] | None = None

    def _restart(self) -> None:
        self._frontier = merkle.CompactRange()
        self._prev = GENESIS_PREV

    # --- the loop ---------------------------------------------------------------------

    def run(self) -> None:
        wait = self.interval
        while not self.stopping.wait(wait):
            started = time.monotonic()
            try:
                self.tick()
            except Exception:  # a failed tick must not end the pass
                log.exception("integrity tick failed")
            wait = next_wait(self.interval, time.monotonic() - started, self.duty)

    def close(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join(timeout=5)

    def status(self) -> PassStatus:
        with self._lock:
            last = self._last
            return PassStatus(
                self._frontier.size,
                self._cycles,
                None if last is None else last[0],
                None if last is None else last[1],
                self.interval,
            )

    def tick(self) -> str | None:
        """Check the next ``batch`` records (and close the cycle at the end of the tree).

        Returns the problem found (also recorded as evidence), or None.
        """
        with self._lock:
            size = self.log.size
            lo = self._frontier.size
            problem_ = None
            if lo < size:
                hi = min(size, lo + self.batch)
                problem_ = self._check(lo, hi)
            if problem_ is None and self._frontier.size == size and size > 0:
                problem_ = self._close_cycle(size)
            if problem_ is not None:
                # Start over: the finding is kept; the next cycle looks at everything again.
                self._restart()
            return problem_

    def _record(self, reason: str, index: int | None, served: bytes | None) -> str:
        ev = integrity_alert(self.log.origin, reason, index, served)
        self.evidence.add(ev, f"{self.node_name} integrity pass")
        return reason

    def _check(self, lo: int, hi: int) -> str | None:
        store = self.log.store
        data = store.read_entries(lo, hi)
        leaves = store.read_node_range(0, lo, hi)
        for i in range(lo, hi):
            k = i - lo
            if k >= len(data) or k >= len(leaves):
                return self._record(
                    f"record {i} is missing from the database (the log has {self.log.size} "
                    "records): the database was altered outside the log",
                    i,
                    None,
                )
            entry, stored_leaf = data[k], leaves[k]
            lh = merkle.leaf_hash(entry)
            if lh != stored_leaf:
                return self._record(
                    f"record {i}: the stored bytes no longer hash to the stored leaf hash; "
                    "the database was altered outside the log",
                    i,
                    entry,
                )
            if self.chained:
                try:
                    rec = parse_record(entry)
                except CivicError as exc:
                    return self._record(f"record {i} is not a record: {exc.message}", i, entry)
                if rec.index != i or rec.prev != self._prev:
                    # docs/design.md: each record's prev is the leaf hash of the one before it.
                    return self._record(
                        f"record {i}: its index or prev link no longer matches record "
                        f"{i - 1}; the database was altered outside the log",
                        i,
                        entry,
                    )
                self._prev = lh.hex()
            completed = dict(self._frontier.append(lh))
            inner = [nid for nid in completed if nid[0] > 0]
            if inner:
                stored = store.read_nodes(inner)
                for nid in inner:
                    if stored.get(nid) != completed[nid]:
                        level, idx = nid
                        return self._record(
                            f"tree node (level {level}, index {idx}) does not match the "
                            f"records below it ({idx << level}..{((idx + 1) << level) - 1}); "
                            "the database was altered outside the log",
                            idx << level,
                            stored.get(nid),
                        )
        return None

    def _close_cycle(self, size: int) -> str | None:
        try:
            note = self.log.store.checkpoint_at(size)
            if note is None:
                return self._record(f"no signed checkpoint of size {size} is stored", None, None)
            cp, _ = self.log.open_own(note)
        except (VerificationError, InputError) as exc:
            return self._record(f"the checkpoint of size {size}: {exc.message}", None, None)
        root = self._frontier.root()
        if cp.root_hash != root:
            return self._record(
                f"the tree recomputed from the {size} stored records does not have the root "
                f"of the log's signed checkpoint of size {size}",
                None,
                root,
            )
        self._cycles += 1
        self._last = (size, time.time())
        self._restart()
        return None


def first_rule_break(
    log_: Log, rules: RuleSet, stop: int, batch: int = 4096
) -> tuple[int, str] | None:
    """Replay records [0, ``stop``) from genesis into a fresh state, as a witness does; the
    index and reason of the first record that breaks a rule, or None.

    A sequencer's state views are its own writing, so a peer's claim that one of its
    records breaks a rule is checked against this replay, not against those views.
    """
    state = State(rules)
    lo = 0
    while lo < stop:
        hi = min(stop, lo + batch)
        for k, data in enumerate(log_.entries(lo, hi)):
            try:
                apply_record(state, parse_record(data))
            except CivicError as exc:
                return lo + k, exc.message
            except Exception as exc:  # any failure of a record is its fault
                return lo + k, f"{type(exc).__name__}: {exc}"
        lo = hi
    return None


def write_refusal(evidence: EvidenceStore | None) -> JSONResponse | None:
    """The 503 a sequencer answers a statement with while it holds evidence; else None.

    Evidence against the log is evidence against this sequencer: appending more would bury
    it under records no one can trust. Nothing is accepted until an operator has inspected
    the database and restored it (the evidence rows are append-only).
    """
    if evidence is None or not evidence.count():
        return None
    reasons = evidence.reasons()
    return problem(
        503,
        "Sequencer halted: evidence against its own log",
        f"this sequencer holds {len(reasons)} piece(s) of evidence against its own log "
        f"({reasons[0]}) and accepts no statement until its operator acts; see {RUNBOOK}",
        reasons=reasons,
        evidence="/v1/evidence",
    )
