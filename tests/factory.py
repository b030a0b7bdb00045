"""An in-memory community for rule tests: fixed keys, a controllable clock, real signatures.

Statements are signed and applied through exactly the code the sequencer runs
(``parse_envelope`` then ``apply_envelope`` on a record built with ``build_record``).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger import merkle
from ledger.c2sp.note import signer_from_seed
from ledger.community import commitment, genesis_envelope
from ledger.keys import KeyPair, keypair_from_seed
from ledger.records import build_record, format_time
from ledger.state import Context, State, apply_envelope
from ledger.statements import make_statement, parse_envelope, sign_envelope
from rules import community_rules

ORIGIN = "civic.example/test-garden"
T0 = datetime(2026, 11, 28, 10, 0, 0, tzinfo=UTC)


def key(label: str) -> KeyPair:
    """A fixed key derived from a label (reproducible tests)."""
    return keypair_from_seed(hashlib.sha256(b"civic-test-key/" + label.encode()).digest())


class Community:
    """A community state driven statement by statement."""

    def __init__(
        self,
        committee: int = 3,
        policy: dict[str, Any] | None = None,
        witnesses: list[dict[str, str]] | None = None,
        quorum: int = 0,
    ) -> None:
        self.origin = ORIGIN
        self.log_signer = signer_from_seed(ORIGIN, hashlib.sha256(b"log").digest())
        self.committee = [key(f"committee-{i}") for i in range(committee)]
        self.now = T0
        self.state = State(community_rules())
        self.records: list[bytes] = []
        self.counter = 0
        env = genesis_envelope(
            ORIGIN, self.log_signer, self.committee, witnesses or [], quorum, policy, self.now
        )
        self.submit(env)

    @property
    def chair(self) -> KeyPair:
        return self.committee[0]

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def envelope(
        self,
        type_: str,
        body: dict[str, Any],
        signer: KeyPair,
        also: list[KeyPair] | None = None,
        created: datetime | None = None,
        community: str | None = None,
    ) -> dict[str, Any]:
        """A signed envelope (fresh deterministic nonce) created at the current time."""
        self.counter += 1
        nonce = hashlib.sha256(f"nonce-{self.counter}".encode()).digest()[:16]
        st = make_statement(
            community or self.origin, type_, body, signer.key_id, created or self.now, nonce
        )
        return sign_envelope(st, [signer, *(also or [])])

    def submit(self, envelope: dict[str, Any]) -> Context:
        """Apply as the sequencer would; raises the rule's error and leaves state unchanged."""
        env = parse_envelope(envelope)
        index = self.state.size
        when = format_time(self.now)
        data = build_record(index, self.state.head, when, env.to_json())
        ctx = Context(index, self.now, when, merkle.leaf_hash(data).hex())
        apply_envelope(self.state, env, ctx)
        self.records.append(data)
        return ctx

    def do(self, type_: str, body: dict[str, Any], signer: KeyPair, **kw: Any) -> Context:
        """Sign and apply in one step."""
        return self.submit(self.envelope(type_, body, signer, **kw))

    def enrol(self, label: str, unit: str | None = None) -> KeyPair:
        """Enrol a resident with a fixed key; returns the key."""
        kp = key(f"resident-{label}")
        c = commitment(unit or f"unit {label}", b"s" * 16)
        self.do("member.enrol", {"key": kp.key_id, "unit_commitment": c}, self.chair)
        return kp
