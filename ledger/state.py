"""The deterministic rule engine: ``state = replay(genesis, records)``.

The community's state is a set of namespaced JSON documents. Each statement type
registers exactly one handler that validates a statement against the state and then
applies it; ledger, voting and funds register theirs the same way. The sequencer,
witnesses, mirrors and auditors all run these handlers, so they all reach the same
state. Nothing here does I/O.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ledger import merkle
from ledger.errors import CivicError, ConflictError, InputError, RuleViolation
from ledger.records import GENESIS_PREV, Record, parse_time
from ledger.statements import Envelope, parse_envelope

__all__ = [
    "Context",
    "Handler",
    "State",
    "apply_envelope",
    "apply_record",
    "handler",
    "handler_for",
    "registered_types",
    "replay",
]


@dataclass(frozen=True)
class Context:
    """Where a statement lands: its record index, the sequencer's time, its leaf hash."""

    index: int
    time: datetime
    time_text: str
    leaf_hash: str


Handler = Callable[["State", Envelope, Context], None]
_HANDLERS: dict[str, Handler] = {}
_MISSING = object()


def handler(type_name: str) -> Callable[[Handler], Handler]:
    """Register the one handler of statement type ``type_name``."""

    def deco(fn: Handler) -> Handler:
        if type_name in _HANDLERS and _HANDLERS[type_name] is not fn:
            raise RuntimeError(f"statement type {type_name!r} already has a handler")
        _HANDLERS[type_name] = fn
        return fn

    return deco


def handler_for(type_name: str) -> Handler:
    """The handler of ``type_name``; InputError (unknown type) if none is registered."""
    _load_modules()
    try:
        return _HANDLERS[type_name]
    except KeyError:
        raise InputError(
            f"unknown statement type {type_name!r}; known types: {', '.join(registered_types())}"
        ) from None


def registered_types() -> list[str]:
    """Every statement type with a handler."""
    _load_modules()
    return sorted(_HANDLERS)


_LOADED: list[bool] = []


def _load_modules() -> None:
    # Handlers live in their own layers; importing them registers them. Imported lazily so
    # that ledger does not depend on voting or funds at import time; once per process.
    if _LOADED:
        return
    _LOADED.append(True)
    import importlib

    for mod in ("ledger.community", "voting.rules", "funds.rules"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise


class State:
    """Namespaced JSON documents, with dirty tracking and undo for failed statements."""

    def __init__(self) -> None:
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


def apply_envelope(state: State, env: Envelope, ctx: Context) -> None:
    """Validate and apply one statement; on any error the state is unchanged."""
    fn = handler_for(env.type)
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


def replay(records: Sequence[Record], state: State | None = None) -> State:
    """Apply ``records`` in order (genesis first if ``state`` is None); raise at the first
    invalid one with its index in the message."""
    state = state or State()
    for rec in records:
        try:
            apply_record(state, rec)
        except CivicError as exc:
            raise type(exc)(f"record {rec.index}: {exc.message}") from exc
    return state
