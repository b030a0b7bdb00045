"""Building funds statement bodies on the client side (CLI, demo, benchmark).

The handlers in :mod:`funds.rules` are the authority on what a body must contain; these
helpers only assemble bodies the way the handlers expect, so that callers do not repeat
field names. The one thing here that is not a plain assembly is :func:`private_payee`,
which makes the commitment and its opening for a private individual.
"""

from __future__ import annotations

import hashlib
import os
from base64 import b64encode
from collections.abc import Sequence
from typing import Any

from ledger.community import commitment

__all__ = [
    "document_body",
    "expense_request_body",
    "new_label",
    "pay_body",
    "private_payee",
]


def new_label() -> str:
    """A fresh pseudonymous label for a private payee: ``p-`` and 10 random hex digits."""
    return "p-" + os.urandom(5).hex()


def private_payee(
    name: str, label: str | None = None, salt: bytes | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    """(body fields, private part) for paying the private individual ``name``.

    The log gets ``payee_label`` and ``payee_commitment`` (a salted hash of the name);
    the private part ``{"value", "salt"}`` travels next to the envelope and is kept by
    the node, erasable on request. Reuse the label the node already holds for this
    person (``POST /v1/funds/payees/resolve``) so their payments stay linked.
    """
    salt = salt if salt is not None else os.urandom(16)
    fields = {"payee_label": label or new_label(), "payee_commitment": commitment(name, salt)}
    return fields, {"value": name, "salt": b64encode(salt).decode()}


def document_body(
    data: bytes, media_type: str, public: bool, kind: str = "other", title: str = ""
) -> dict[str, Any]:
    """The body of ``funds.document.publish`` for ``data``."""
    body: dict[str, Any] = {
        "sha256": hashlib.sha256(data).hexdigest(),
        "size": len(data),
        "media_type": media_type,
        "public": public,
        "kind": kind,
    }
    if title:
        body["title"] = title
    return body


def expense_request_body(
    amount: int,
    currency: str,
    category: str,
    period: str,
    purpose: str,
    documents: Sequence[str],
    payee: str | None = None,
    private: dict[str, str] | None = None,
    ballot: str | None = None,
) -> dict[str, Any]:
    """The body of ``funds.expense.request``: ``payee`` (an organisation) or ``private``
    (the fields from :func:`private_payee`)."""
    body: dict[str, Any] = {
        "amount": amount,
        "currency": currency,
        "category": category,
        "budget_line": f"{period}/{category}",
        "purpose": purpose,
        "documents": list(documents),
    }
    if payee is not None:
        body["payee"] = payee
    if private is not None:
        body.update(private)
    if ballot is not None:
        body["ballot"] = ballot
    return body


def pay_body(
    expense: dict[str, Any],
    account: str,
    documents: Sequence[str] = (),
    reference: str | None = None,
) -> dict[str, Any]:
    """The body of ``funds.expense.pay`` for ``expense`` as the API shows it: the same
    amount, currency and payee as approved."""
    body: dict[str, Any] = {
        "expense": expense["id"],
        "account": account,
        "amount": expense["amount"],
        "currency": expense["currency"],
    }
    if expense["payee"] is not None:
        body["payee"] = expense["payee"]
    else:
        body["payee_label"] = expense["payee_label"]
    if documents:
        body["documents"] = list(documents)
    if reference:
        body["reference"] = reference
    return body
