"""The funds statement types and their rules: :data:`RULES`, for the community's rule set.

One module per aggregate: :mod:`~funds.rules.accounts` (accounts and the postings that move
their balances), :mod:`~funds.rules.budget`, :mod:`~funds.rules.documents`,
:mod:`~funds.rules.expenses` (the approval workflow) and :mod:`~funds.rules.transactions`
(income, transfers, reversals).

Namespaces these modules keep in the state (ids are the record index, as a string, of
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

from funds.model import funds_policy
from funds.rules import accounts, budget, documents, expenses, transactions
from funds.rules.expenses import ballot_passed
from ledger.ruleset import CommittedField, Rules

__all__ = ["FUNDS_TYPES", "PAYEE_COMMITMENT_FIELD", "PAYEE_LABEL_FIELD", "RULES", "ballot_passed"]

# A private payee's opening (name and salt) travels as the envelope's `private` part of a
# funds.expense.request; the sequencer checks it against body.payee_commitment and keeps
# it under the payee's pseudonymous label, erasable on request.
PAYEE_COMMITMENT_FIELD = "payee_commitment"
PAYEE_LABEL_FIELD = "payee_label"

RULES = Rules.of(
    "funds",
    {
        "funds.account.open": accounts.open_account,
        "funds.budget.set": budget.set_line,
        "funds.document.publish": documents.publish,
        "funds.income": transactions.income,
        "funds.transfer": transactions.transfer,
        "funds.expense.request": expenses.request,
        "funds.expense.approve": expenses.approve,
        "funds.expense.reject": expenses.reject,
        "funds.expense.withdraw": expenses.withdraw,
        "funds.expense.expire": expenses.expire,
        "funds.expense.pay": expenses.pay,
        "funds.transaction.reverse": transactions.reverse,
    },
    # A malformed funds key is refused when the policy is set, not when first read.
    policy_validators=[funds_policy],
    committed_fields=[
        CommittedField("funds.expense.request", PAYEE_COMMITMENT_FIELD, PAYEE_LABEL_FIELD)
    ],
)
FUNDS_TYPES = tuple(RULES.types())
