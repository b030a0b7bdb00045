"""The accounts aggregate: ``funds.account.open``, and the one way balances move.

Namespaces ``funds_account/<id>`` (asset accounts, the community's money, and the nominal
accounts ``income:<source>`` and ``expense:<category>`` that double entry needs, created on
first use) and ``funds_tx/<id>`` (each balanced transaction with its postings): a
:func:`post` writes both, so no balance changes without its transaction.
"""

from __future__ import annotations

from typing import Any

from funds.ledger_math import Posting, account_kind, check_balanced
from funds.model import check_currency, check_fields, check_id, check_slug, check_text
from funds.rules._common import copy_doc, current_policy, money
from ledger.community import require_committee_quorum
from ledger.errors import ConflictError, InputError, RuleViolation
from ledger.state import Context, State
from ledger.statements import Envelope

__all__ = ["asset_account", "open_account", "post"]


def asset_account(state: State, value: Any, name: str, currency: str) -> dict[str, Any]:
    """Asset account ``body.<name>``, which must keep ``currency``."""
    aid = check_id(value, name)
    acc = state.peek("funds_account", aid)
    if acc is None or acc["kind"] != "asset":
        raise ConflictError(f"body.{name}: there is no funds account {aid}")
    if acc["currency"] != currency:
        raise RuleViolation(
            f"account {acc['code']} ({aid}) keeps {acc['currency']}, not {currency}"
        )
    result: dict[str, Any] = acc
    return result


def _nominal(account_id: str, ctx: Context) -> dict[str, Any]:
    return {
        "id": account_id,
        "kind": account_kind(account_id),
        "code": account_id,
        "title": account_id.split(":", 1)[1],
        "currency": None,
        "allow_negative": False,
        "balances": {},
        "opened_at": ctx.index,
    }


def post(
    state: State,
    env: Envelope,
    ctx: Context,
    kind: str,
    postings: list[Posting],
    **extra: Any,
) -> str:
    """Record a balanced transaction and move the balances; an asset account may not go
    below zero unless it allows it. Returns the transaction id."""
    check_balanced(postings)
    for p in postings:
        aid, cur, amount = p["account"], p["currency"], p["amount"]
        acc = copy_doc(state, "funds_account", aid)
        if acc is None:
            acc = _nominal(aid, ctx)
        new = acc["balances"].get(cur, 0) + amount
        if acc["kind"] == "asset" and new < 0 and not acc["allow_negative"]:
            raise RuleViolation(
                f"overspend: account {acc['code']} ({aid}) holds "
                f"{money(acc['balances'].get(cur, 0), cur)}, {money(-amount, cur)} "
                "would take it below zero"
            )
        acc["balances"] = {**acc["balances"], cur: new}
        state.put("funds_account", aid, acc)
    tid = str(ctx.index)
    state.put(
        "funds_tx",
        tid,
        {
            "id": tid,
            "index": ctx.index,
            "time": ctx.time_text,
            "leaf_hash": ctx.leaf_hash,
            "kind": kind,
            "by": env.signer,
            "postings": postings,
            "expense": None,
            "reverses": None,
            "reversed_by": None,
            "documents": [],
            "description": "",
            "counterparty": None,
            **extra,
        },
    )
    return tid


def open_account(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.account.open``: committee quorum; codes are unique."""
    require_committee_quorum(state, env, "opening a funds account")
    b = env.body
    check_fields(b, {"code", "title", "currency"}, {"allow_negative"})
    pol = current_policy(state)
    code = check_slug(b["code"], "code")
    title = check_text(b["title"], "title", 200)
    currency = check_currency(b["currency"], pol)
    allow = b.get("allow_negative", False)
    if not isinstance(allow, bool):
        raise InputError("body.allow_negative must be true or false")
    for acc in state.rows("funds_account").values():
        if acc["code"] == code:
            raise ConflictError(f"an account with code {code!r} exists already ({acc['id']})")
    aid = str(ctx.index)
    state.put(
        "funds_account",
        aid,
        {
            "id": aid,
            "kind": "asset",
            "code": code,
            "title": title,
            "currency": currency,
            "allow_negative": allow,
            "balances": {currency: 0},
            "opened_at": ctx.index,
        },
    )
