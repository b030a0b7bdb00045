"""Money in and between accounts: ``funds.income``, ``funds.transfer`` and
``funds.transaction.reverse``, each a balanced transaction (:func:`funds.rules.accounts.post`).

A reversal posts the opposite of a transaction; reversing a payment also reverses its
expense (:func:`funds.rules.expenses.payment_reversed`).
"""

from __future__ import annotations

from funds.model import (
    check_amount,
    check_currency,
    check_fields,
    check_id,
    check_slug,
    check_text,
    income_account,
)
from funds.rules._common import copy_doc, current_policy
from funds.rules.accounts import asset_account, post
from funds.rules.documents import referenced_documents
from funds.rules.expenses import payment_reversed
from ledger.community import (
    committee_keys,
    committee_threshold,
    require_committee,
    require_committee_quorum,
)
from ledger.errors import ConflictError, ForbiddenError, InputError
from ledger.state import Context, State
from ledger.statements import Envelope

__all__ = ["income", "reverse", "transfer"]


def _signers_on_committee(state: State, env: Envelope, need: int, what: str) -> None:
    have = env.signers & committee_keys(state)
    if len(have) < need:
        raise ForbiddenError(
            f"{what} needs signatures of {need} committee members; it carries {len(have)}"
        )


def income(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.income``: a committee member (or quorum, per policy)."""
    pol = current_policy(state)
    if pol.income_recorders == "quorum":
        require_committee_quorum(state, env, "recording income")
    else:
        require_committee(state, env, "recording income")
    b = env.body
    check_fields(
        b, {"account", "amount", "currency", "source", "description", "documents"}, {"payer"}
    )
    amount = check_amount(b["amount"])
    currency = check_currency(b["currency"], pol)
    acc = asset_account(state, b["account"], "account", currency)
    source = check_slug(b["source"], "source")
    description = check_text(b["description"], "description")
    payer = check_text(b["payer"], "payer", 200) if "payer" in b else None
    docs = referenced_documents(state, pol, env, b["documents"])
    post(
        state,
        env,
        ctx,
        "income",
        [
            {"account": acc["id"], "amount": amount, "currency": currency},
            {"account": income_account(source), "amount": -amount, "currency": currency},
        ],
        description=description,
        documents=docs,
        counterparty=payer,
    )


def transfer(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.transfer``: the committee signatures the policy asks for."""
    pol = current_policy(state)
    need = pol.transfer_signatures or committee_threshold(state)
    _signers_on_committee(state, env, need, "a transfer between accounts")
    b = env.body
    check_fields(b, {"from", "to", "amount", "currency", "description"}, {"documents"})
    amount = check_amount(b["amount"])
    currency = check_currency(b["currency"], pol)
    src = asset_account(state, b["from"], "from", currency)
    dst = asset_account(state, b["to"], "to", currency)
    if src["id"] == dst["id"]:
        raise InputError("a transfer needs two different accounts")
    description = check_text(b["description"], "description")
    docs = referenced_documents(state, pol, env, b.get("documents"))
    post(
        state,
        env,
        ctx,
        "transfer",
        [
            {"account": src["id"], "amount": -amount, "currency": currency},
            {"account": dst["id"], "amount": amount, "currency": currency},
        ],
        description=description,
        documents=docs,
    )


def reverse(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.transaction.reverse``: committee quorum; posts the opposite transaction."""
    require_committee_quorum(state, env, "reversing a transaction")
    b = env.body
    check_fields(b, {"transaction", "reason"}, {"documents"})
    pol = current_policy(state)
    tid = check_id(b["transaction"], "transaction")
    tx = copy_doc(state, "funds_tx", tid)
    if tx is None:
        raise ConflictError(f"there is no transaction {tid}")
    if tx["kind"] == "reversal":
        raise ConflictError(f"transaction {tid} is a reversal; record a new transaction instead")
    if tx["reversed_by"] is not None:
        raise ConflictError(f"transaction {tid} was reversed already by {tx['reversed_by']}")
    reason = check_text(b["reason"], "reason")
    docs = referenced_documents(state, pol, env, b.get("documents"))
    new = post(
        state,
        env,
        ctx,
        "reversal",
        [{**p, "amount": -p["amount"]} for p in tx["postings"]],
        reverses=tid,
        expense=tx["expense"],
        description=reason,
        documents=docs,
        counterparty=tx["counterparty"],
    )
    tx["reversed_by"] = new
    state.put("funds_tx", tid, tx)
    if tx["expense"] is not None:
        payment_reversed(state, env, ctx, tx["expense"], new, reason)
