"""The expenses aggregate: the workflow request → approve → pay, or reject, withdraw, expire.

Namespaces ``funds_expense/<id>`` (the request, its approvals, status, payment and full
history), ``funds_commitment/<hex>`` (private payee commitments already used: never
twice) and ``funds_ballot_use/<ballot id>`` (the one expense a passed ballot authorised).
An approval that completes the band's M reserves the amount in its budget line; a
payment posts the transaction (:func:`funds.rules.accounts.post`) and spends it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from funds.model import (
    check_amount,
    check_currency,
    check_fields,
    check_id,
    check_label,
    check_period,
    check_sha256,
    check_slug,
    check_text,
    expense_account,
)
from funds.rules._common import copy_doc, current_policy, money
from funds.rules.accounts import asset_account, post
from funds.rules.budget import adjust_line, available, get_line
from funds.rules.documents import referenced_documents
from ledger.community import committee_keys, is_active_resident, require_committee
from ledger.errors import ConflictError, ForbiddenError, InputError, RuleViolation
from ledger.records import format_time, parse_time
from ledger.state import Context, State
from ledger.statements import Envelope

__all__ = [
    "approve",
    "ballot_passed",
    "expire",
    "pay",
    "payment_reversed",
    "reject",
    "request",
    "withdraw",
]

OPEN = ("requested", "approved")


def _event(env: Envelope, ctx: Context, **extra: Any) -> dict[str, Any]:
    """One entry of an expense's history: what happened, where in the log, by whom."""
    return {
        "index": ctx.index,
        "type": env.type,
        "by": env.signer,
        "time": ctx.time_text,
        "leaf_hash": ctx.leaf_hash,
        **extra,
    }


def _expense(state: State, value: Any) -> dict[str, Any]:
    eid = check_id(value, "expense")
    e = copy_doc(state, "funds_expense", eid)
    if e is None:
        raise ConflictError(f"there is no expense {eid}")
    result: dict[str, Any] = e
    return result


def _require_open(e: dict[str, Any], what: str) -> None:
    if e["status"] not in OPEN:
        raise ConflictError(f"expense {e['id']} is {e['status']}: it cannot be {what}")


def _require_unexpired(e: dict[str, Any], ctx: Context) -> None:
    if ctx.time >= parse_time(e["expires_at"]):
        raise ConflictError(
            f"expense {e['id']} expired at {e['expires_at']}: record funds.expense.expire "
            "and request it again"
        )


def ballot_passed(state: State, ballot_id: str, expense_id: str) -> None:
    """RuleViolation unless ballot ``ballot_id`` is closed and passed and backs no other
    expense (voting contract: ``ballot/<id>`` with ``status`` and ``result.passed``)."""
    b = state.peek("ballot", ballot_id)
    if b is None:
        raise RuleViolation(f"ballot {ballot_id} does not exist")
    if b.get("status") != "closed":
        raise RuleViolation(f"ballot {ballot_id} is not closed yet; approve after it passes")
    result = b.get("result")
    if not isinstance(result, dict) or result.get("passed") is not True:
        raise RuleViolation(f"ballot {ballot_id} did not pass")
    used = state.peek("funds_ballot_use", ballot_id)
    if used is not None and used != expense_id:
        raise ConflictError(f"ballot {ballot_id} already authorised expense {used}")


def _payee(b: dict[str, Any]) -> tuple[str | None, str | None]:
    """(organisation name, private label): exactly one is set."""
    if "payee" in b:
        if "payee_label" in b or "payee_commitment" in b:
            raise InputError("give either payee (an organisation) or payee_label, not both")
        return check_text(b["payee"], "payee", 200), None
    if "payee_label" not in b:
        raise InputError(
            "body needs payee (a company or public body, by name) or payee_label and "
            "payee_commitment (a private individual)"
        )
    return None, check_label(b["payee_label"])


def request(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.expense.request``: an active resident or a committee member; it must fit
    what is left of its budget line."""
    pol = current_policy(state)
    on_committee = env.signer in state.rows("committee")
    if not on_committee and (
        pol.requesters == "committee" or not is_active_resident(state, env.signer, ctx.time)
    ):
        who = "committee members" if pol.requesters == "committee" else "residents or committee"
        raise ForbiddenError(f"expenses are requested by {who}; {env.signer} is neither")
    b = env.body
    check_fields(
        b,
        {"amount", "currency", "category", "budget_line", "purpose", "documents"},
        {"payee", "payee_label", "payee_commitment", "ballot"},
    )
    amount = check_amount(b["amount"])
    currency = check_currency(b["currency"], pol)
    category = check_slug(b["category"], "category")
    if not isinstance(b["budget_line"], str) or b["budget_line"].count("/") != 1:
        raise InputError("body.budget_line must be <period>/<category>, e.g. 2026/gardening")
    period, line_category = b["budget_line"].split("/")
    check_period(period, "budget_line period")
    if line_category != category:
        raise InputError(f"budget line {b['budget_line']} is not for category {category}")
    purpose = check_text(b["purpose"], "purpose", 1000)
    payee, label = _payee(b)
    commitment = None
    if label is not None:
        if "payee_commitment" not in b:
            raise InputError("a private payee needs payee_commitment (salted hash of identity)")
        commitment = check_sha256(b["payee_commitment"], "body.payee_commitment")
        if state.peek("funds_commitment", commitment) is not None:
            raise ConflictError("this payee commitment was used before: use a fresh salt")
    ballot = check_id(b["ballot"], "ballot") if "ballot" in b else None
    docs = referenced_documents(state, pol, env, b["documents"])
    line = get_line(state, b["budget_line"])
    if line["currency"] != currency:
        raise RuleViolation(f"budget line {line['key']} is in {line['currency']}, not {currency}")
    if amount > available(line):
        raise RuleViolation(
            f"overspend: budget line {line['key']} has {money(available(line), currency)} "
            f"left, the request is for {money(amount, currency)}"
        )
    eid = str(ctx.index)
    if commitment is not None:
        state.put("funds_commitment", commitment, eid)
    state.put(
        "funds_expense",
        eid,
        {
            "id": eid,
            "index": ctx.index,
            "time": ctx.time_text,
            "leaf_hash": ctx.leaf_hash,
            "status": "requested",
            "requester": env.signer,
            "amount": amount,
            "currency": currency,
            "category": category,
            "budget_line": line["key"],
            "period": period,
            "purpose": purpose,
            "payee": payee,
            "payee_label": label,
            "payee_commitment": commitment,
            "documents": docs,
            "ballot": ballot,
            "approvals": [],
            "approvals_needed": pol.approvals_needed(amount),
            "needs_ballot": pol.needs_ballot(amount),
            "expires_at": format_time(ctx.time + timedelta(days=pol.request_expiry_days)),
            "payment": None,
            "history": [_event(env, ctx)],
        },
    )


def approve(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.expense.approve``: committee members, never the requester, once each."""
    require_committee(state, env, "approving an expense")
    b = env.body
    check_fields(b, {"expense", "policy_version"}, {"ballot", "documents", "note"})
    pol = current_policy(state)
    e = _expense(state, b["expense"])
    committee = committee_keys(state)
    approvers = sorted(env.signers)
    if not set(approvers) <= committee:
        raise ForbiddenError("every signer of an approval must be on the committee")
    # Segregation of duties: the requester never approves, each member approves once.
    if e["requester"] in approvers:
        raise ForbiddenError(f"expense {e['id']}: the requester cannot approve their own expense")
    done = {a["by"] for a in e["approvals"]}
    twice = sorted(done.intersection(approvers))
    if twice:
        raise ConflictError(f"expense {e['id']} already has an approval by {', '.join(twice)}")
    if e["status"] == "approved":
        raise ConflictError(f"expense {e['id']} is approved already; it awaits payment")
    _require_open(e, "approved")
    _require_unexpired(e, ctx)
    version = b["policy_version"]
    if type(version) is not int:
        raise InputError("body.policy_version must be the integer version of the policy")
    if version != pol.version:
        raise ConflictError(
            f"the policy in force is version {pol.version}, the approval names {version}: "
            "review the current policy and approve again"
        )
    docs = referenced_documents(state, pol, env, b.get("documents"), required=False)
    note = check_text(b.get("note", ""), "note", 500, required=False)
    if "ballot" in b:
        ballot = check_id(b["ballot"], "ballot")
        if e["ballot"] is not None and e["ballot"] != ballot:
            raise ConflictError(f"expense {e['id']} already names ballot {e['ballot']}")
        e["ballot"] = ballot
    e["approvals"] = [
        *e["approvals"],
        *(
            {"by": who, "index": ctx.index, "policy_version": pol.version, "time": ctx.time_text}
            for who in approvers
        ),
    ]
    e["approvals_needed"] = pol.approvals_needed(e["amount"])
    e["needs_ballot"] = pol.needs_ballot(e["amount"])
    e["documents"] = e["documents"] + [d for d in docs if d not in e["documents"]]
    e["history"] = [
        *e["history"],
        _event(env, ctx, approvers=approvers, policy_version=pol.version, note=note),
    ]
    if len(e["approvals"]) >= e["approvals_needed"]:
        if e["needs_ballot"]:
            if e["ballot"] is None:
                raise RuleViolation(
                    f"expense {e['id']} is above the ballot threshold "
                    f"({money(pol.ballot_threshold or 0, e['currency'])}): it needs a passed "
                    "ballot (body.ballot) before its final approval"
                )
            ballot_passed(state, e["ballot"], e["id"])
            state.put("funds_ballot_use", e["ballot"], e["id"])
        line = get_line(state, e["budget_line"])
        if e["amount"] > available(line):
            raise RuleViolation(
                f"overspend: budget line {line['key']} has "
                f"{money(available(line), e['currency'])} left, the expense is "
                f"{money(e['amount'], e['currency'])}"
            )
        adjust_line(state, line, committed=e["amount"])
        e["status"] = "approved"
        e["approved_at"] = ctx.index
    state.put("funds_expense", e["id"], e)


def _close(state: State, e: dict[str, Any], status: str) -> None:
    """End an open expense; an approved one releases its budget reservation."""
    if e["status"] == "approved":
        adjust_line(state, get_line(state, e["budget_line"]), committed=-e["amount"])
    e["status"] = status
    state.put("funds_expense", e["id"], e)


def reject(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.expense.reject``: a committee member other than the requester."""
    require_committee(state, env, "rejecting an expense")
    check_fields(env.body, {"expense", "reason"})
    e = _expense(state, env.body["expense"])
    reason = check_text(env.body["reason"], "reason")
    if env.signer == e["requester"]:
        raise ForbiddenError("the requester withdraws (funds.expense.withdraw), not rejects")
    _require_open(e, "rejected")
    e["history"] = [*e["history"], _event(env, ctx, reason=reason)]
    _close(state, e, "rejected")


def withdraw(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.expense.withdraw``: the requester."""
    check_fields(env.body, {"expense"}, {"reason"})
    e = _expense(state, env.body["expense"])
    reason = check_text(env.body.get("reason", ""), "reason", 500, required=False)
    if env.signer != e["requester"]:
        raise ForbiddenError("only the requester may withdraw an expense request")
    _require_open(e, "withdrawn")
    e["history"] = [*e["history"], _event(env, ctx, reason=reason)]
    _close(state, e, "withdrawn")


def expire(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.expense.expire``: a committee member, once the request has expired."""
    require_committee(state, env, "expiring an expense request")
    check_fields(env.body, {"expense"})
    e = _expense(state, env.body["expense"])
    _require_open(e, "expired")
    if ctx.time < parse_time(e["expires_at"]):
        raise ConflictError(f"expense {e['id']} does not expire before {e['expires_at']}")
    e["history"] = [*e["history"], _event(env, ctx)]
    _close(state, e, "expired")


def pay(state: State, env: Envelope, ctx: Context) -> None:
    """``funds.expense.pay``: a committee member who neither requested nor approved it."""
    require_committee(state, env, "paying an expense")
    b = env.body
    check_fields(
        b,
        {"expense", "account", "amount", "currency"},
        {"payee", "payee_label", "documents", "reference"},
    )
    pol = current_policy(state)
    e = _expense(state, b["expense"])
    if e["status"] == "requested":
        raise RuleViolation(
            f"expense {e['id']} is not approved: it has {len(e['approvals'])} of the "
            f"{e['approvals_needed']} approvals it needs"
        )
    if e["status"] != "approved":
        raise ConflictError(f"expense {e['id']} is {e['status']}: it cannot be paid")
    _require_unexpired(e, ctx)
    # Segregation of duties: the payer neither requested nor approved it.
    if env.signer == e["requester"]:
        raise ForbiddenError(f"expense {e['id']}: its requester cannot also pay it")
    if env.signer in {a["by"] for a in e["approvals"]}:
        raise ForbiddenError(f"expense {e['id']}: an approver cannot also pay it")
    amount = check_amount(b["amount"])
    currency = check_currency(b["currency"], pol)
    payee, label = _payee(b)
    if (amount, currency, payee, label) != (
        e["amount"],
        e["currency"],
        e["payee"],
        e["payee_label"],
    ):
        raise RuleViolation(
            f"the payment does not match expense {e['id']} as approved: "
            f"{money(e['amount'], e['currency'])} to {e['payee'] or e['payee_label']}"
        )
    acc = asset_account(state, b["account"], "account", currency)
    docs = referenced_documents(state, pol, env, b.get("documents"))
    reference = check_text(b.get("reference", ""), "reference", 200, required=False)
    tid = post(
        state,
        env,
        ctx,
        "payment",
        [
            {"account": acc["id"], "amount": -amount, "currency": currency},
            {"account": expense_account(e["category"]), "amount": amount, "currency": currency},
        ],
        expense=e["id"],
        description=e["purpose"],
        documents=docs,
        counterparty=e["payee"] or e["payee_label"],
    )
    adjust_line(state, get_line(state, e["budget_line"]), committed=-amount, spent=amount)
    e["status"] = "paid"
    e["payment"] = {"transaction": tid, "account": acc["id"], "by": env.signer, "index": ctx.index}
    e["history"] = [
        *e["history"],
        _event(env, ctx, account=acc["id"], documents=docs, reference=reference),
    ]
    state.put("funds_expense", e["id"], e)


def payment_reversed(
    state: State, env: Envelope, ctx: Context, expense_id: str, transaction: str, reason: str
) -> None:
    """A paid expense whose payment was reversed (by ``transaction``): it becomes
    ``reversed`` and its budget line no longer counts it as spent."""
    e = _expense(state, expense_id)
    adjust_line(state, get_line(state, e["budget_line"]), spent=-e["amount"])
    e["status"] = "reversed"
    e["history"] = [*e["history"], _event(env, ctx, transaction=transaction, reason=reason)]
    state.put("funds_expense", e["id"], e)
