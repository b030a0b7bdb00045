"""The funds statement types and their rules (registered with the rule engine on import).

Namespaces this module keeps in the state (ids are the record index, as a string, of
the statement that created the thing):

- ``funds_account/<id>``: asset accounts (the community's money: code, currency,
  balances, ``allow_negative``) and the nominal accounts ``income:<source>`` and
  ``expense:<category>`` that double entry needs (created on first use);
- ``funds_budget/<period>/<category>``: budget lines: amount, committed (approved and
  unpaid), spent (paid and not reversed), revisions;
- ``funds_tx/<id>``: transactions: balanced postings, kind, leaf hash, reversal links;
- ``funds_expense/<id>``: expenses: request, approvals, status, payment, full history;
- ``funds_document/<sha256>``: published documents: size, media type, public flag;
- ``funds_commitment/<hex>``: private payee commitments already used (never twice);
- ``funds_ballot_use/<ballot id>``: the expense a passed ballot authorised (only one).

Statement types (body fields; ``?`` = optional):

- ``funds.account.open`` {code, title, currency, allow_negative?}: committee quorum;
- ``funds.budget.set`` {period, category, amount, currency, note?}: committee quorum;
  never below what the line has committed and spent;
- ``funds.document.publish`` {sha256, size, media_type, public, title?, kind?}: a
  committee member or an active resident; each hash once;
- ``funds.income`` {account, amount, currency, source, description, documents, payer?}:
  a committee member (or quorum, per policy);
- ``funds.transfer`` {from, to, amount, currency, description, documents?}: the
  committee signatures the policy asks for, in one envelope;
- ``funds.expense.request`` {amount, currency, category, budget_line, purpose,
  documents, payee | (payee_label, payee_commitment), ballot?}: an active resident or a
  committee member; must fit what is left of the budget line;
- ``funds.expense.approve`` {expense, policy_version, ballot?, documents?, note?}:
  committee members (every committee signer of the envelope approves), never the
  requester, once each; ``policy_version`` must be the one in force and is frozen into
  each approval; the approval that completes the band's M needs a passed ballot above
  the threshold and reserves the amount in the budget line;
- ``funds.expense.reject`` {expense, reason}: a committee member other than the requester;
- ``funds.expense.withdraw`` {expense, reason?}: the requester;
- ``funds.expense.expire`` {expense}: a committee member, once the request has expired;
- ``funds.expense.pay`` {expense, account, amount, currency, payee | payee_label,
  documents?, reference?}: a committee member who neither requested nor approved it;
  amount, currency and payee must match the approval; records the transaction;
- ``funds.transaction.reverse`` {transaction, reason, documents?}: committee quorum;
  posts the opposite transaction (a reversed payment sets its expense to ``reversed``).

Every document a statement references must have been published by an earlier record.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from funds.ledger_math import Posting, account_kind, check_balanced
from funds.model import (
    FundsPolicy,
    check_amount,
    check_currency,
    check_documents,
    check_fields,
    check_id,
    check_label,
    check_media_type,
    check_period,
    check_sha256,
    check_slug,
    check_text,
    expense_account,
    format_money,
    funds_policy,
    income_account,
)
from ledger.community import (
    committee_keys,
    committee_threshold,
    is_active_resident,
    register_policy_validator,
    require_committee,
    require_committee_quorum,
)
from ledger.errors import ConflictError, ForbiddenError, InputError, RuleViolation
from ledger.records import format_time, parse_time
from ledger.state import Context, State, handler
from ledger.statements import Envelope

__all__ = ["FUNDS_TYPES", "ballot_passed"]

FUNDS_TYPES = (
    "funds.account.open",
    "funds.budget.set",
    "funds.document.publish",
    "funds.income",
    "funds.transfer",
    "funds.expense.request",
    "funds.expense.approve",
    "funds.expense.reject",
    "funds.expense.withdraw",
    "funds.expense.expire",
    "funds.expense.pay",
    "funds.transaction.reverse",
)
OPEN = ("requested", "approved")
MAX_DOCUMENT_SIZE = 2**40
DOCUMENT_KINDS = ("invoice", "receipt", "quote", "contract", "minutes", "statement", "other")


# --- helpers ----------------------------------------------------------------------------


# The last policy parsed, with the very document object it came from: policy documents are
# replaced (never changed in place) by policy.set, so the same object means the same policy.
_POLICY_CACHE: list[tuple[Any, FundsPolicy]] = []


def _policy(state: State) -> FundsPolicy:
    doc = state.peek("policy", "current")
    for cached_doc, parsed in list(_POLICY_CACHE):
        if cached_doc is doc:
            return parsed
    parsed = funds_policy(doc)
    _POLICY_CACHE[:] = [(doc, parsed)]
    return parsed


def _copy(state: State, ns: str, key: str) -> dict[str, Any] | None:
    """A shallow copy of document ``ns/key`` to change and put back.

    Copy on write instead of :meth:`State.get`'s deep copy: this module never changes a
    nested list or dict in place, it replaces it (``doc["history"] = [*old, new]``), so
    the stored document and any reader of it never see a change. Deep copies of growing
    expense histories were the largest cost per statement.
    """
    doc = state.peek(ns, key)
    return None if doc is None else dict(doc)


def _money(amount: int, currency: str) -> str:
    return f"{format_money(amount, currency)} {currency}"


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


def _documents(
    state: State, policy: FundsPolicy, env: Envelope, value: Any, required: bool | None = None
) -> list[str]:
    """The referenced documents, each published by an earlier record (so none can be
    swapped afterwards); at least one when the policy asks for it on this type."""
    docs = check_documents([] if value is None else value)
    need = env.type in policy.documents_required if required is None else required
    if need and not docs:
        raise RuleViolation(
            f"{env.type} must reference at least one published document "
            "(policy.funds_documents_required)"
        )
    for sha in docs:
        if state.peek("funds_document", sha) is None:
            raise RuleViolation(
                f"document {sha} was never published in the log: upload it, publish it "
                "with funds.document.publish, then reference it"
            )
    return docs


def _asset(state: State, value: Any, name: str, currency: str) -> dict[str, Any]:
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


def _expense(state: State, value: Any) -> dict[str, Any]:
    eid = check_id(value, "expense")
    e = _copy(state, "funds_expense", eid)
    if e is None:
        raise ConflictError(f"there is no expense {eid}")
    result: dict[str, Any] = e
    return result


def _line(state: State, key: str) -> dict[str, Any]:
    line = _copy(state, "funds_budget", key)
    if line is None:
        raise ConflictError(f"there is no budget line {key}; set it with funds.budget.set")
    result: dict[str, Any] = line
    return result


def _available(line: dict[str, Any]) -> int:
    left: int = line["amount"] - line["committed"] - line["spent"]
    return left


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


def _post(
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
        acc = _copy(state, "funds_account", aid)
        if acc is None:
            acc = _nominal(aid, ctx)
        new = acc["balances"].get(cur, 0) + amount
        if acc["kind"] == "asset" and new < 0 and not acc["allow_negative"]:
            raise RuleViolation(
                f"overspend: account {acc['code']} ({aid}) holds "
                f"{_money(acc['balances'].get(cur, 0), cur)}, {_money(-amount, cur)} "
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


def _signers_on_committee(state: State, env: Envelope, need: int, what: str) -> None:
    have = env.signers & committee_keys(state)
    if len(have) < need:
        raise ForbiddenError(
            f"{what} needs signatures of {need} committee members; it carries {len(have)}"
        )


# --- accounts, budgets, documents -------------------------------------------------------


# A malformed funds key is refused when the policy is set, not when first read.
register_policy_validator(funds_policy)


@handler("funds.account.open")
def _account_open(state: State, env: Envelope, ctx: Context) -> None:
    require_committee_quorum(state, env, "opening a funds account")
    b = env.body
    check_fields(b, {"code", "title", "currency"}, {"allow_negative"})
    pol = _policy(state)
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


@handler("funds.budget.set")
def _budget_set(state: State, env: Envelope, ctx: Context) -> None:
    require_committee_quorum(state, env, "setting a budget line")
    b = env.body
    check_fields(b, {"period", "category", "amount", "currency"}, {"note"})
    pol = _policy(state)
    period = check_period(b["period"])
    category = check_slug(b["category"], "category")
    # A line may be cut to zero, so 0 is allowed here (but never negative or a float).
    amount = 0 if b["amount"] == 0 and type(b["amount"]) is int else check_amount(b["amount"])
    currency = check_currency(b["currency"], pol)
    note = check_text(b.get("note", ""), "note", 500, required=False)
    key = f"{period}/{category}"
    line = _copy(state, "funds_budget", key)
    if line is None:
        line = {
            "key": key,
            "period": period,
            "category": category,
            "currency": currency,
            "amount": 0,
            "committed": 0,
            "spent": 0,
            "revisions": [],
        }
    elif line["currency"] != currency:
        raise RuleViolation(f"budget line {key} is in {line['currency']}, not {currency}")
    if amount < line["committed"] + line["spent"]:
        raise RuleViolation(
            f"budget line {key} already has {_money(line['committed'] + line['spent'], currency)}"
            f" committed or spent; it cannot be set to {_money(amount, currency)}"
        )
    line["amount"] = amount
    line["set_at"] = ctx.index
    line["leaf_hash"] = ctx.leaf_hash
    line["revisions"] = [*line["revisions"], {"index": ctx.index, "amount": amount, "note": note}]
    state.put("funds_budget", key, line)


@handler("funds.document.publish")
def _document_publish(state: State, env: Envelope, ctx: Context) -> None:
    if env.signer not in state.rows("committee") and not is_active_resident(
        state, env.signer, ctx.time
    ):
        raise ForbiddenError("documents are published by committee members or active residents")
    b = env.body
    check_fields(b, {"sha256", "size", "media_type", "public"}, {"title", "kind"})
    sha = check_sha256(b["sha256"], "body.sha256")
    size = b["size"]
    if type(size) is not int or not 0 <= size <= MAX_DOCUMENT_SIZE:
        raise InputError("body.size must be the document's size in bytes (an integer)")
    media = check_media_type(b["media_type"])
    if not isinstance(b["public"], bool):
        raise InputError("body.public must be true or false")
    kind = b.get("kind", "other")
    if kind not in DOCUMENT_KINDS:
        raise InputError(f"body.kind must be one of {', '.join(DOCUMENT_KINDS)}")
    title = check_text(b.get("title", ""), "title", 200, required=False)
    if state.peek("funds_document", sha) is not None:
        raise ConflictError(f"document {sha} is published already")
    state.put(
        "funds_document",
        sha,
        {
            "sha256": sha,
            "size": size,
            "media_type": media,
            "public": b["public"],
            "kind": kind,
            "title": title,
            "by": env.signer,
            "published_at": ctx.index,
            "leaf_hash": ctx.leaf_hash,
        },
    )


# --- money in and between accounts -------------------------------------------------------


@handler("funds.income")
def _income(state: State, env: Envelope, ctx: Context) -> None:
    pol = _policy(state)
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
    acc = _asset(state, b["account"], "account", currency)
    source = check_slug(b["source"], "source")
    description = check_text(b["description"], "description")
    payer = check_text(b["payer"], "payer", 200) if "payer" in b else None
    docs = _documents(state, pol, env, b["documents"])
    _post(
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


@handler("funds.transfer")
def _transfer(state: State, env: Envelope, ctx: Context) -> None:
    pol = _policy(state)
    need = pol.transfer_signatures or committee_threshold(state)
    _signers_on_committee(state, env, need, "a transfer between accounts")
    b = env.body
    check_fields(b, {"from", "to", "amount", "currency", "description"}, {"documents"})
    amount = check_amount(b["amount"])
    currency = check_currency(b["currency"], pol)
    src = _asset(state, b["from"], "from", currency)
    dst = _asset(state, b["to"], "to", currency)
    if src["id"] == dst["id"]:
        raise InputError("a transfer needs two different accounts")
    description = check_text(b["description"], "description")
    docs = _documents(state, pol, env, b.get("documents"))
    _post(
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


# --- the expense workflow ------------------------------------------------------------------


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


@handler("funds.expense.request")
def _request(state: State, env: Envelope, ctx: Context) -> None:
    pol = _policy(state)
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
    docs = _documents(state, pol, env, b["documents"])
    line = _line(state, b["budget_line"])
    if line["currency"] != currency:
        raise RuleViolation(f"budget line {line['key']} is in {line['currency']}, not {currency}")
    if amount > _available(line):
        raise RuleViolation(
            f"overspend: budget line {line['key']} has {_money(_available(line), currency)} "
            f"left, the request is for {_money(amount, currency)}"
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


@handler("funds.expense.approve")
def _approve(state: State, env: Envelope, ctx: Context) -> None:
    require_committee(state, env, "approving an expense")
    b = env.body
    check_fields(b, {"expense", "policy_version"}, {"ballot", "documents", "note"})
    pol = _policy(state)
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
    docs = _documents(state, pol, env, b.get("documents"), required=False)
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
                    f"({_money(pol.ballot_threshold or 0, e['currency'])}): it needs a passed "
                    "ballot (body.ballot) before its final approval"
                )
            ballot_passed(state, e["ballot"], e["id"])
            state.put("funds_ballot_use", e["ballot"], e["id"])
        line = _line(state, e["budget_line"])
        if e["amount"] > _available(line):
            raise RuleViolation(
                f"overspend: budget line {line['key']} has "
                f"{_money(_available(line), e['currency'])} left, the expense is "
                f"{_money(e['amount'], e['currency'])}"
            )
        line["committed"] += e["amount"]
        state.put("funds_budget", line["key"], line)
        e["status"] = "approved"
        e["approved_at"] = ctx.index
    state.put("funds_expense", e["id"], e)


def _close(state: State, e: dict[str, Any], status: str) -> None:
    """End an open expense; an approved one releases its budget reservation."""
    if e["status"] == "approved":
        line = _line(state, e["budget_line"])
        line["committed"] -= e["amount"]
        state.put("funds_budget", line["key"], line)
    e["status"] = status
    state.put("funds_expense", e["id"], e)


@handler("funds.expense.reject")
def _reject(state: State, env: Envelope, ctx: Context) -> None:
    require_committee(state, env, "rejecting an expense")
    check_fields(env.body, {"expense", "reason"})
    e = _expense(state, env.body["expense"])
    reason = check_text(env.body["reason"], "reason")
    if env.signer == e["requester"]:
        raise ForbiddenError("the requester withdraws (funds.expense.withdraw), not rejects")
    _require_open(e, "rejected")
    e["history"] = [*e["history"], _event(env, ctx, reason=reason)]
    _close(state, e, "rejected")


@handler("funds.expense.withdraw")
def _withdraw(state: State, env: Envelope, ctx: Context) -> None:
    check_fields(env.body, {"expense"}, {"reason"})
    e = _expense(state, env.body["expense"])
    reason = check_text(env.body.get("reason", ""), "reason", 500, required=False)
    if env.signer != e["requester"]:
        raise ForbiddenError("only the requester may withdraw an expense request")
    _require_open(e, "withdrawn")
    e["history"] = [*e["history"], _event(env, ctx, reason=reason)]
    _close(state, e, "withdrawn")


@handler("funds.expense.expire")
def _expire(state: State, env: Envelope, ctx: Context) -> None:
    require_committee(state, env, "expiring an expense request")
    check_fields(env.body, {"expense"})
    e = _expense(state, env.body["expense"])
    _require_open(e, "expired")
    if ctx.time < parse_time(e["expires_at"]):
        raise ConflictError(f"expense {e['id']} does not expire before {e['expires_at']}")
    e["history"] = [*e["history"], _event(env, ctx)]
    _close(state, e, "expired")


@handler("funds.expense.pay")
def _pay(state: State, env: Envelope, ctx: Context) -> None:
    require_committee(state, env, "paying an expense")
    b = env.body
    check_fields(
        b,
        {"expense", "account", "amount", "currency"},
        {"payee", "payee_label", "documents", "reference"},
    )
    pol = _policy(state)
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
            f"{_money(e['amount'], e['currency'])} to {e['payee'] or e['payee_label']}"
        )
    acc = _asset(state, b["account"], "account", currency)
    docs = _documents(state, pol, env, b.get("documents"))
    reference = check_text(b.get("reference", ""), "reference", 200, required=False)
    tid = _post(
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
    line = _line(state, e["budget_line"])
    line["committed"] -= amount
    line["spent"] += amount
    state.put("funds_budget", line["key"], line)
    e["status"] = "paid"
    e["payment"] = {"transaction": tid, "account": acc["id"], "by": env.signer, "index": ctx.index}
    e["history"] = [
        *e["history"],
        _event(env, ctx, account=acc["id"], documents=docs, reference=reference),
    ]
    state.put("funds_expense", e["id"], e)


@handler("funds.transaction.reverse")
def _reverse(state: State, env: Envelope, ctx: Context) -> None:
    require_committee_quorum(state, env, "reversing a transaction")
    b = env.body
    check_fields(b, {"transaction", "reason"}, {"documents"})
    pol = _policy(state)
    tid = check_id(b["transaction"], "transaction")
    tx = _copy(state, "funds_tx", tid)
    if tx is None:
        raise ConflictError(f"there is no transaction {tid}")
    if tx["kind"] == "reversal":
        raise ConflictError(f"transaction {tid} is a reversal; record a new transaction instead")
    if tx["reversed_by"] is not None:
        raise ConflictError(f"transaction {tid} was reversed already by {tx['reversed_by']}")
    reason = check_text(b["reason"], "reason")
    docs = _documents(state, pol, env, b.get("documents"))
    new = _post(
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
        e = _expense(state, tx["expense"])
        line = _line(state, e["budget_line"])
        line["spent"] -= e["amount"]
        state.put("funds_budget", line["key"], line)
        e["status"] = "reversed"
        e["history"] = [*e["history"], _event(env, ctx, transaction=new, reason=reason)]
        state.put("funds_expense", e["id"], e)
