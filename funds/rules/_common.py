"""What every funds aggregate shares: the parsed funds policy, copy on write, money text."""

from __future__ import annotations

from typing import Any

from funds.model import FundsPolicy, format_money, funds_policy
from ledger.state import State

__all__ = ["copy_doc", "current_policy", "money"]

# The last policy parsed, with the very document object it came from: policy documents are
# replaced (never changed in place) by policy.set, so the same object means the same policy.
_POLICY_CACHE: list[tuple[Any, FundsPolicy]] = []


def current_policy(state: State) -> FundsPolicy:
    """The funds policy in force (parsed once per policy document)."""
    doc = state.peek("policy", "current")
    for cached_doc, parsed in list(_POLICY_CACHE):
        if cached_doc is doc:
            return parsed
    parsed = funds_policy(doc)
    _POLICY_CACHE[:] = [(doc, parsed)]
    return parsed


def copy_doc(state: State, ns: str, key: str) -> dict[str, Any] | None:
    """A shallow copy of document ``ns/key`` to change and put back.

    Copy on write instead of :meth:`State.get`'s deep copy: the funds rules never change a
    nested list or dict in place, it replaces it (``doc["history"] = [*old, new]``), so
    the stored document and any reader of it never see a change. Deep copies of growing
    expense histories were the largest cost per statement.
    """
    doc = state.peek(ns, key)
    return None if doc is None else dict(doc)


def money(amount: int, currency: str) -> str:
    """``12.50 EUR``: an amount for a rule's message."""
    return f"{format_money(amount, currency)} {currency}"
