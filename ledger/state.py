"""The deterministic rule engine: ``state = replay(genesis, records)``.

The community's state is a set of namespaced JSON documents. Each statement type has
exactly one handler that validates a statement against the state and then applies it;
a state holds the :class:`~ledger.ruleset.RuleSet` it is replayed under, given when it
is created (``State(rules)``), so no replay can run without saying which rules. The
sequencer, witnesses, mirrors and auditors all build the same rule set, so they all
reach the same state. Nothing here does I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger import merkle
from ledger.errors import CivicError, ConflictError, ForbiddenError, RuleViolation
from ledger.records import GENESIS_PREV, Record, parse_time
from ledger.ruleset import Handler, RuleSet
from ledger.statements import Envelope, parse_envelope

__all__ = [
    "Context",
    "Handler",
    "State",
    "apply_envelope",
    "apply_record",
    "replay",
]


@dataclass(frozen=True)
class Context:
    """Where a statement lands: its record index, the sequencer's time, its leaf hash."""

    index: int
    time: datetime
    time_text: str
    leaf_hash: str


_MISSING = object()


class State:
    """Namespaced JSON documents, with dirty tracking and undo for failed statements.

    ``rules`` is the rule set every statement applied to this state runs under.
    """

    def __init__(self, rules: RuleSet) -> None:
        if not isinstance(rules, RuleSet):
            raise TypeError(f"State needs the community's RuleSet, got {type(rules).__name__}")
        self.rules = rules
        self._rows: dict[str, dict[str, Any]] = {}
        self._dirty: set[tuple[str, str]] = set()
        self._undo: list[tuple[str, str, Any]] | None = None
        self.size = 0
        self.head = GENESIS_PREV

    # --- reading ----------------------------------------------------------------------

    def get(self, ns: str, key: str, default: Any = None) -> Any:
        """A private copy of document ``ns/key`` (change it, then :meth:`put` it back)."""
        v = self._rows.get(ns, {}).get(key, _MISSING)
        return default if v is _MISSING else copy.deepcopy(v)

    def peek(self, ns: str, key: str, default: Any = None) -> Any:
        """Document ``ns/key`` without copying: read it, never change it."""
        return self._rows.get(ns, {}).get(key, default)

    def has(self, ns: str, key: str) -> bool:
        return key in self._rows.get(ns, {})

    def rows(self, ns: str) -> dict[str, Any]:
        """All documents of ``ns`` (read-only view)."""
        return self._rows.get(ns, {})

    def namespaces(self) -> list[str]:
        return sorted(self._rows)

    # --- writing ----------------------------------------------------------------------

    def put(self, ns: str, key: str, value: Any) -> None:
        """Set document ``ns/key`` (JSON values only)."""
        table = self._rows.setdefault(ns, {})
        if self._undo is not None:
            self._undo.append((ns, key, table.get(key, _MISSING)))
        table[key] = value
        self._dirty.add((ns, key))

    def delete(self, ns: str, key: str) -> None:
        """Remove document ``ns/key`` (no-op if absent)."""
        table = self._rows.setdefault(ns, {})
        if key not in table:
            return
        if self._undo is not None:
            self._undo.append((ns, key, table[key]))
        del table[key]
        self._dirty.add((ns, key))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All of the block's puts, or none of them if it raises."""
        outer = self._undo
        self._undo = []
        try:
            yield
        except BaseException:
            for ns, key, old in reversed(self._undo):
                if old is _MISSING:
                    self._rows[ns].pop(key, None)
                else:
                    self._rows[ns][key] = old
            raise
        finally:
            undo, self._undo = self._undo, outer
            if outer is not None and undo:
                outer.extend(undo)

    def take_dirty(self) -> list[tuple[str, str, Any]]:
        """(ns, key, value-or-None) changed since the last call; for the SQL views."""
        out = [(ns, k, self._rows.get(ns, {}).get(k)) for ns, k in sorted(self._dirty)]
        self._dirty.clear()
        return out

    def load_row(self, ns: str, key: str, value: Any) -> None:
        """Restore a document from the SQL views (no dirty mark)."""
        self._rows.setdefault(ns, {})[key] = value

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """A deep copy of every document, for comparisons."""
        return copy.deepcopy(self._rows)


def _check_common(state: State, env: Envelope, ctx: Context) -> None:
    """Rules every statement obeys, before its type's handler runs."""
    community = state.peek("community", "genesis")
    if community is None:
        if env.type != "community.genesis":
            raise RuleViolation("the first record must be the community's genesis")
        return
    # 1. it is meant for this community
    if env.statement["community"] != community["origin"]:
        raise RuleViolation(
            f"statement is for community {env.statement['community']!r}, "
            f"this log is {community['origin']!r}"
        )
    # 2. its creation time is within the policy window of the sequencer's clock
    window = int(state.peek("policy", "current", {}).get("statement_window_seconds", 900))
    skew = abs((env.created - ctx.time).total_seconds())
    if skew > window:
        raise ConflictError(
            f"statement created {env.statement['created']} is {int(skew)}s from the sequencer's "
            f"time {ctx.time_text}; the window is {window}s: create it again and resubmit"
        )
    # 3. it is not a replay: a nonce enters once per signer
    if state.has("nonce", f"{env.signer}/{env.statement['nonce']}"):
        raise ConflictError(
            "replay: this signer already used this nonce (statement submitted twice)"
        )
    # 4. no signature by a key an incident.report revoked (ledger/log_keys.py)
    revoked = state.rows("revoked")
    for k in sorted(env.signers & revoked.keys()):
        raise ForbiddenError(
            f"{k} was revoked by incident record {revoked[k]['at']}; statements signed "
            "with it are refused from that record on: sign with a key that was not revoked"
        )


def apply_envelope(state: State, env: Envelope, ctx: Context) -> None:
    """Validate and apply one statement; on any error the state is unchanged."""
    fn = state.rules.handler_for(env.type)
    with state.transaction():
        _check_common(state, env, ctx)
        fn(state, env, ctx)
        state.put("nonce", f"{env.signer}/{env.statement['nonce']}", ctx.index)
        state.size = ctx.index + 1
        state.head = ctx.leaf_hash


def apply_record(state: State, record: Record) -> Envelope:
    """Check a record's place in the chain, its envelope, and apply it."""
    if record.index != state.size:
        raise RuleViolation(f"record {record.index} arrives where record {state.size} belongs")
    if record.prev != state.head:
        raise RuleViolation(f"record {record.index}: prev does not link to record {state.size - 1}")
    leaf = merkle.leaf_hash(record.raw).hex()
    env = parse_envelope(record.envelope)
    ctx = Context(record.index, parse_time(record.time), record.time, leaf)
    apply_envelope(state, env, ctx)  # moves size and head only once it succeeded
    return env


def replay(records: Sequence[Record], state: State) -> State:
    """Apply ``records`` in order onto ``state`` (``State(rules)`` to start from genesis);
    raise at the first invalid one with its index in the message."""
    for rec in records:
        try:
            apply_record(state, rec)
        except CivicError as exc:
            raise type(exc)(f"record {rec.index}: {exc.message}") from exc
    return state
