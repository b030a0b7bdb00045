"""The funds vocabulary: money, identifiers, the funds policy and statement-body checks.

Pure: plain values in, plain values out, no I/O. The rule handlers (:mod:`funds.rules`),
the views, the CLI and the export all parse and format through these functions so that
a value means the same thing everywhere.

Money is an integer count of minor units plus an ISO 4217 code (docs/design.md); a float, a
string, a boolean, zero or a negative number is never an amount.

Funds policy keys (in ``policy/current``; absent keys take these defaults, so a genesis
made before the funds layer existed still works):

``funds_currencies``
    ISO 4217 codes the community keeps money in. Default ``["EUR"]``.
``funds_approval_bands``
    ``[{"up_to": <minor units or null>, "approvals": M}, ...]`` in increasing ``up_to``;
    an expense of amount A needs the M of the first band with ``A <= up_to`` (``null`` =
    no upper bound) approvals by committee members. Bands compare minor units whatever
    the currency. Default: up to 1,000.00 → 1 approval, above → 2.
``funds_ballot_threshold``
    Expenses of an amount strictly above this (minor units) need a passed ballot of the
    voting module before their final approval; ``null`` = never. Default 1,000,000
    (10,000.00).
``funds_income_recorders``
    ``"committee"``: any committee member may record income; ``"quorum"``: the income
    envelope carries the committee quorum's signatures. Default ``"committee"``.
``funds_transfer_signatures``
    Committee signatures a transfer between accounts needs in its envelope; ``null`` =
    the committee quorum. Default ``null``.
``funds_documents_required``
    Statement types that must reference at least one published document. Default
    ``["funds.expense.request", "funds.income"]`` (an invoice or quote; a remittance).
``funds_requesters``
    ``"resident"``: active residents and committee members may request expenses;
    ``"committee"``: committee members only. Default ``"resident"``.
``funds_request_expiry_days``
    A request not paid within this many days can no longer be approved or paid; anyone
    on the committee then records ``funds.expense.expire``. Default 90.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ledger.errors import InputError

__all__ = [
    "FUNDS_POLICY_DEFAULTS",
    "MAX_AMOUNT",
    "Band",
    "FundsPolicy",
    "check_amount",
    "check_currency",
    "check_documents",
    "check_fields",
    "check_id",
    "check_label",
    "check_media_type",
    "check_period",
    "check_sha256",
    "check_slug",
    "check_text",
    "expense_account",
    "format_money",
    "funds_policy",
    "income_account",
    "minor_exponent",
    "parse_money",
    "period_of_line",
]

# Amounts stay below 2**53 so that every JSON implementation reads them exactly.
MAX_AMOUNT = 10**15

FUNDS_POLICY_DEFAULTS: dict[str, Any] = {
    "funds_currencies": ["EUR"],
    "funds_approval_bands": [
        {"up_to": 100_000, "approvals": 1},
        {"up_to": None, "approvals": 2},
    ],
    "funds_ballot_threshold": 1_000_000,
    "funds_income_recorders": "committee",
    "funds_transfer_signatures": None,
    "funds_documents_required": ["funds.expense.request", "funds.income"],
    "funds_requesters": "resident",
    "funds_request_expiry_days": 90,
}

_CURRENCY = re.compile(r"^[A-Z]{3}$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
_PERIOD = re.compile(r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_ID = re.compile(r"^(0|[1-9][0-9]{0,15})$")
# A private payee's label is a pseudonym, never a name: "p-" and 8 to 32 hex digits.
_LABEL = re.compile(r"^p-[0-9a-f]{8,32}$")
_MEDIA = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")
# ISO 4217 minor units, where they are not 2 (for the CLI's decimal input and display).
_EXPONENTS = {
    "BHD": 3, "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "IQD": 3, "ISK": 0, "JOD": 3,
    "JPY": 0, "KMF": 0, "KRW": 0, "KWD": 3, "LYD": 3, "OMR": 3, "PYG": 0, "RWF": 0,
    "TND": 3, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
}  # fmt: skip


@dataclass(frozen=True)
class Band:
    """Expenses up to ``up_to`` minor units (None: no bound) need ``approvals`` approvals."""

    up_to: int | None
    approvals: int


@dataclass(frozen=True)
class FundsPolicy:
    """The funds keys of ``policy/current``, defaults filled in, and its version."""

    version: int
    currencies: tuple[str, ...]
    bands: tuple[Band, ...]
    ballot_threshold: int | None
    income_recorders: str
    transfer_signatures: int | None
    documents_required: frozenset[str]
    requesters: str
    request_expiry_days: int

    def approvals_needed(self, amount: int) -> int:
        """M for an expense of ``amount``: the first band that holds it."""
        for band in self.bands:
            if band.up_to is None or amount <= band.up_to:
                return band.approvals
        return self.bands[-1].approvals

    def needs_ballot(self, amount: int) -> bool:
        return self.ballot_threshold is not None and amount > self.ballot_threshold


def _int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def funds_policy(policy: Mapping[str, Any] | None) -> FundsPolicy:
    """The funds policy from a ``policy/current`` document (None or partial: defaults).

    A malformed key raises InputError: a ``policy.set`` carrying it is refused by the
    statement that relies on it rather than silently read some other way.
    """
    p = {**FUNDS_POLICY_DEFAULTS, **{k: v for k, v in (policy or {}).items()}}
    currencies = p["funds_currencies"]
    if (
        not isinstance(currencies, list)
        or not currencies
        or not all(isinstance(c, str) and _CURRENCY.match(c) for c in currencies)
    ):
        raise InputError("policy.funds_currencies must be a non-empty list of ISO 4217 codes")
    raw_bands = p["funds_approval_bands"]
    if not isinstance(raw_bands, list) or not raw_bands:
        raise InputError("policy.funds_approval_bands must be a non-empty list of bands")
    bands: list[Band] = []
    for b in raw_bands:
        if not isinstance(b, dict) or set(b) != {"up_to", "approvals"}:
            raise InputError('each approval band is {"up_to": <int or null>, "approvals": <int>}')
        up, m = b["up_to"], b["approvals"]
        if (up is not None and not _int(up)) or not _int(m) or m < 1:
            raise InputError("approval band up_to must be an integer or null, approvals >= 1")
        bands.append(Band(up, m))
    for lo, hi in itertools.pairwise(bands):
        if lo.up_to is None or (hi.up_to is not None and hi.up_to <= lo.up_to):
            raise InputError("approval bands must be in increasing up_to, null only last")
    threshold = p["funds_ballot_threshold"]
    if threshold is not None and (not _int(threshold) or threshold < 0):
        raise InputError("policy.funds_ballot_threshold must be a non-negative integer or null")
    if p["funds_income_recorders"] not in ("committee", "quorum"):
        raise InputError("policy.funds_income_recorders must be 'committee' or 'quorum'")
    sigs = p["funds_transfer_signatures"]
    if sigs is not None and (not _int(sigs) or sigs < 1):
        raise InputError("policy.funds_transfer_signatures must be a positive integer or null")
    required = p["funds_documents_required"]
    if not isinstance(required, list) or not all(isinstance(t, str) for t in required):
        raise InputError("policy.funds_documents_required must be a list of statement types")
    if p["funds_requesters"] not in ("resident", "committee"):
        raise InputError("policy.funds_requesters must be 'resident' or 'committee'")
    days = p["funds_request_expiry_days"]
    if not _int(days) or not 1 <= days <= 3660:
        raise InputError("policy.funds_request_expiry_days must be an integer from 1 to 3660")
    version = p.get("version", 0)
    return FundsPolicy(
        version=version if _int(version) else 0,
        currencies=tuple(currencies),
        bands=tuple(bands),
        ballot_threshold=threshold,
        income_recorders=p["funds_income_recorders"],
        transfer_signatures=sigs,
        documents_required=frozenset(required),
        requesters=p["funds_requesters"],
        request_expiry_days=days,
    )


# --- body checks ----------------------------------------------------------------------


def check_fields(
    body: Mapping[str, Any], required: Iterable[str], optional: Iterable[str] = ()
) -> None:
    """The body has every ``required`` field and nothing outside ``required | optional``."""
    req, opt = set(required), set(optional)
    missing, extra = req - set(body), set(body) - req - opt
    if missing or extra:
        raise InputError(f"body fields: missing {sorted(missing)}, unexpected {sorted(extra)}")


def check_amount(value: Any, name: str = "amount") -> int:
    """A positive integer of minor units; floats, strings, booleans and negatives refused."""
    if isinstance(value, float):
        raise InputError(
            f"body.{name} is a float ({value!r}); amounts are integers of minor units "
            "(cents): write 12345 for 123.45"
        )
    if not _int(value):
        raise InputError(f"body.{name} must be an integer of minor units, got {value!r}")
    if not 0 < value <= MAX_AMOUNT:
        raise InputError(f"body.{name} must be from 1 to {MAX_AMOUNT} minor units, got {value}")
    result: int = value
    return result


def check_currency(value: Any, policy: FundsPolicy, name: str = "currency") -> str:
    """An ISO 4217 code that the community's policy lists."""
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise InputError(f"body.{name} must be an ISO 4217 code like EUR, got {value!r}")
    if value not in policy.currencies:
        raise InputError(
            f"currency {value} is not one of this community's currencies "
            f"({', '.join(policy.currencies)}); change policy.funds_currencies first"
        )
    return value


def check_slug(value: Any, name: str) -> str:
    """A short lowercase identifier: letters, digits and hyphens (categories, codes)."""
    if not isinstance(value, str) or not _SLUG.match(value):
        raise InputError(
            f"body.{name} must be 1-40 lowercase letters, digits or hyphens, got {value!r}"
        )
    return value


def check_period(value: Any, name: str = "period") -> str:
    """A budget period: a year ``2026``, a quarter ``2026-Q4`` or a month ``2026-11``."""
    if not isinstance(value, str) or not _PERIOD.match(value):
        raise InputError(f"body.{name} must be like 2026, 2026-Q4 or 2026-11, got {value!r}")
    return value


def check_sha256(value: Any, name: str) -> str:
    """64 lowercase hex digits."""
    if not isinstance(value, str) or not _SHA256.match(value):
        raise InputError(f"{name} must be a SHA-256 in 64 lowercase hex digits, got {value!r}")
    return value


def check_id(value: Any, name: str) -> str:
    """An id: the decimal record index (as a string) of the statement that created it."""
    if not isinstance(value, str) or not _ID.match(value):
        raise InputError(f"body.{name} must be an id (a record index as a string), got {value!r}")
    return value


def check_label(value: Any, name: str = "payee_label") -> str:
    """A private payee's pseudonymous label: ``p-`` and 8 to 32 hex digits."""
    if not isinstance(value, str) or not _LABEL.match(value):
        raise InputError(
            f"body.{name} must be a pseudonym like p-3f9a0c21 (never a name), got {value!r}"
        )
    return value


def check_text(value: Any, name: str, max_len: int = 500, required: bool = True) -> str:
    """Free text for the public log: a string of at most ``max_len`` characters."""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > max_len:
        raise InputError(f"body.{name} must be text of 1 to {max_len} characters")
    return value


def check_media_type(value: Any) -> str:
    """A media type like ``application/pdf`` (lowercase, no parameters)."""
    if not isinstance(value, str) or not _MEDIA.match(value):
        raise InputError(f"media type must be like application/pdf, got {value!r}")
    return value


def check_documents(value: Any, name: str = "documents") -> list[str]:
    """A list of distinct SHA-256 document hashes (at most 32)."""
    if not isinstance(value, list) or len(value) > 32:
        raise InputError(f"body.{name} must be a list of at most 32 SHA-256 hashes")
    out = [check_sha256(v, f"body.{name}[]") for v in value]
    if len(set(out)) != len(out):
        raise InputError(f"body.{name} lists a document twice")
    return out


# --- accounts, periods, money -----------------------------------------------------------


def income_account(source: str) -> str:
    """The nominal account that income from ``source`` is credited to."""
    return f"income:{source}"


def expense_account(category: str) -> str:
    """The nominal account that spending in ``category`` is debited to."""
    return f"expense:{category}"


def period_of_line(line: str) -> str:
    """The period part of a budget line key ``<period>/<category>``."""
    return line.split("/", 1)[0]


def minor_exponent(currency: str) -> int:
    """Digits after the decimal point of ``currency`` (ISO 4217; 2 unless listed)."""
    return _EXPONENTS.get(currency, 2)


def parse_money(text: str, currency: str) -> int:
    """Decimal text (``"450.00"``, ``"450"``) to integer minor units of ``currency``."""
    exp = minor_exponent(currency)
    try:
        d = Decimal(text.strip().replace("_", ""))
    except InvalidOperation as exc:
        raise InputError(f"amount {text!r} is not a decimal number like 450.00") from exc
    if not d.is_finite():
        raise InputError(f"amount {text!r} is not a finite number")
    minor = d.scaleb(exp)
    if minor != minor.to_integral_value():
        raise InputError(f"amount {text!r} has more than {exp} decimals for {currency}")
    return check_amount(int(minor))


def format_money(minor: int, currency: str) -> str:
    """Integer minor units as decimal text with the currency's decimals: ``450.00``."""
    exp = minor_exponent(currency)
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), 10**exp)
    return f"{sign}{whole:,}" + (f".{frac:0{exp}d}" if exp else "")
