"""Ballot specifications and choices: what a ``ballot.open`` body says, checked. Pure.

A ``ballot.open`` statement body::

    {"kind": "yes_no" | "single" | "approval" | "budget",
     "title": {"en": "Install solar panels?", "zh": "安装太阳能板？"},   # language tag → text
     "text": {...},                      # optional, same shape, up to 5,000 characters each
     "document": "<hex SHA-256>",        # optional: a longer text in the document store
     "options": [{"id": "garden", "label": {"en": "Community garden"},
                  "cost": {"amount": 450000, "currency": "EUR"}}, ...],  # absent for yes_no
     "budget": {"amount": 1500000, "currency": "EUR"},                   # budget kind only
     "opens": "2026-12-01T00:00:00Z",    # optional; the sequencer's time if absent or past
     "closes": "2026-12-15T00:00:00Z",
     "quorum": {"votes": 50} | {"percent": 30},   # minimum turnout
     "passing": "simple_majority" | ...}          # see PASSING_RULES

Kinds and their choices (the ``choice`` of a ``vote.cast``):

- ``yes_no``: ``"yes"``, ``"no"`` or ``"abstain"`` (the options are fixed);
- ``single``: one option id;
- ``approval``: a list of distinct option ids, any subset (the empty list too);
- ``budget``: a list of distinct project ids whose summed cost fits the budget.

``kind`` is a field so that a secret-ballot kind can be added later: a new kind brings its
own choice check and tally rule here and leaves the others untouched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ledger.errors import InputError, RuleViolation
from ledger.money import format_money
from ledger.records import parse_time

__all__ = [
    "DEFAULT_PASSING",
    "KINDS",
    "PASSING_RULES",
    "YES_NO_OPTIONS",
    "BallotSpec",
    "Choice",
    "OpenBody",
    "Quorum",
    "check_choice",
    "parse_open_body",
    "spec_from_doc",
]

KINDS = ("yes_no", "single", "approval", "budget")
YES_NO_OPTIONS = ("yes", "no", "abstain")
# What "passed" means, per kind (voting/tally.py implements each).
PASSING_RULES: dict[str, tuple[str, ...]] = {
    "yes_no": ("simple_majority", "absolute_majority", "two_thirds"),
    "single": ("plurality", "absolute_majority", "two_thirds"),
    "approval": ("plurality", "absolute_majority"),
    "budget": ("greedy",),
}
# The rule the CLI proposes when none is given (the statement itself must name one).
DEFAULT_PASSING = {
    "yes_no": "simple_majority",
    "single": "plurality",
    "approval": "plurality",
    "budget": "greedy",
}

Choice = str | list[str]

_LANG = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_OPTION_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_BODY_FIELDS = {
    "kind",
    "title",
    "text",
    "document",
    "options",
    "budget",
    "opens",
    "closes",
    "quorum",
    "passing",
}
_REQUIRED = {"kind", "title", "closes", "quorum", "passing"}
MAX_OPTIONS = 64
MAX_LANGUAGES = 8
MAX_TITLE = 200
MAX_TEXT = 5000


@dataclass(frozen=True)
class Quorum:
    """Minimum turnout: ``votes`` counted votes, or ``percent`` of the electorate."""

    votes: int | None = None
    percent: int | None = None

    def min_votes(self, electorate_size: int) -> int:
        """The least turnout that meets the quorum for an electorate of that size."""
        if self.votes is not None:
            return self.votes
        assert self.percent is not None
        # ceil(percent · size / 100) in integers: no float ever decides a vote.
        return -(-self.percent * electorate_size // 100)

    def met(self, turnout: int, electorate_size: int) -> bool:
        return turnout >= self.min_votes(electorate_size)

    def to_json(self) -> dict[str, int]:
        if self.votes is not None:
            return {"votes": self.votes}
        assert self.percent is not None
        return {"percent": self.percent}


@dataclass(frozen=True)
class BallotSpec:
    """What a tally needs: kind, option ids in order, rule, quorum and (budget) costs."""

    kind: str
    options: tuple[str, ...]
    passing: str
    quorum: Quorum
    costs: tuple[int, ...] = ()
    budget: int | None = None
    currency: str | None = None

    def cost_of(self, option: str) -> int:
        return self.costs[self.options.index(option)]


@dataclass(frozen=True)
class OpenBody:
    """A checked ``ballot.open`` body: the spec and the normalised texts and times."""

    spec: BallotSpec
    title: dict[str, str]
    text: dict[str, str] | None
    document: str | None
    options: list[dict[str, Any]]
    opens: str | None
    closes: str


def _int(v: Any, what: str, lo: int = 0, hi: int | None = None) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or v < lo or (hi is not None and v > hi):
        bound = f"from {lo} to {hi}" if hi is not None else f"at least {lo}"
        raise InputError(f"{what} must be an integer {bound}, got {v!r}")
    return v


def _texts(v: Any, what: str, limit: int) -> dict[str, str]:
    """A language tag → text map: 1 to 8 languages, each text non-empty and not too long."""
    if not isinstance(v, dict) or not 1 <= len(v) <= MAX_LANGUAGES:
        raise InputError(
            f"{what} must be an object of 1 to {MAX_LANGUAGES} language tags to text, "
            'e.g. {"en": "...", "zh": "..."}'
        )
    for lang, text in v.items():
        if not _LANG.match(lang):
            raise InputError(f"{what}: {lang!r} is not a language tag like 'en' or 'zh-Hant'")
        if not isinstance(text, str) or not text.strip():
            raise InputError(f"{what}.{lang} must be a non-empty string")
        if len(text) > limit:
            raise InputError(
                f"{what}.{lang} has {len(text)} characters, over {limit}: put long texts in "
                "the document store and give their SHA-256 as 'document'"
            )
    return dict(v)


def _money(v: Any, what: str) -> tuple[int, str]:
    if not isinstance(v, dict) or set(v) != {"amount", "currency"}:
        raise InputError(f"{what} must be {{amount: integer minor units, currency: ISO 4217}}")
    amount = _int(v["amount"], f"{what}.amount", lo=1)
    if not isinstance(v["currency"], str) or not _CURRENCY.match(v["currency"]):
        raise InputError(
            f"{what}.currency must be an ISO 4217 code like EUR, got {v['currency']!r}"
        )
    return amount, v["currency"]


def _quorum(v: Any) -> Quorum:
    if not isinstance(v, dict) or len(v) != 1 or not set(v) <= {"votes", "percent"}:
        raise InputError('quorum must be {"votes": N} or {"percent": P}')
    if "votes" in v:
        return Quorum(votes=_int(v["votes"], "quorum.votes"))
    return Quorum(percent=_int(v["percent"], "quorum.percent", hi=100))


def _options(kind: str, v: Any) -> list[dict[str, Any]]:
    if kind == "yes_no":
        if v is not None:
            raise InputError("a yes_no ballot has the fixed options yes, no, abstain: omit options")
        return [{"id": o} for o in YES_NO_OPTIONS]
    least = 2 if kind == "single" else 1
    if not isinstance(v, list) or not least <= len(v) <= MAX_OPTIONS:
        raise InputError(f"a {kind} ballot needs a list of {least} to {MAX_OPTIONS} options")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, o in enumerate(v):
        fields = {"id", "label", "cost"} if kind == "budget" else {"id", "label"}
        if not isinstance(o, dict) or set(o) != fields:
            raise InputError(f"options[{i}] must have exactly the fields {sorted(fields)}")
        oid = o["id"]
        if not isinstance(oid, str) or not _OPTION_ID.match(oid):
            raise InputError(
                f"options[{i}].id {oid!r} must be 1-40 of a-z 0-9 _ . - (starting a-z or 0-9)"
            )
        if oid in seen:
            raise InputError(f"option id {oid!r} is listed twice")
        seen.add(oid)
        item: dict[str, Any] = {
            "id": oid,
            "label": _texts(o["label"], f"options[{i}].label", MAX_TITLE),
        }
        if kind == "budget":
            amount, cur = _money(o["cost"], f"options[{i}].cost")
            item["cost"] = {"amount": amount, "currency": cur}
        out.append(item)
    return out


def parse_open_body(body: Any) -> OpenBody:
    """Check a ``ballot.open`` body; InputError naming the first malformed field."""
    if not isinstance(body, dict):
        raise InputError("a ballot.open body must be a JSON object")
    missing, extra = _REQUIRED - set(body), set(body) - _BODY_FIELDS
    if missing or extra:
        raise InputError(f"body fields: missing {sorted(missing)}, unexpected {sorted(extra)}")
    kind = body["kind"]
    if kind not in KINDS:
        raise InputError(f"ballot kind {kind!r} is not one of {', '.join(KINDS)}")
    title = _texts(body["title"], "title", MAX_TITLE)
    text = _texts(body["text"], "text", MAX_TEXT) if "text" in body else None
    document = body.get("document")
    if document is not None and (not isinstance(document, str) or not _HEX64.match(document)):
        raise InputError("document must be the lowercase hex SHA-256 of a stored document")
    options = _options(kind, body.get("options"))
    budget: int | None = None
    currency: str | None = None
    costs: tuple[int, ...] = ()
    if kind == "budget":
        if "budget" not in body:
            raise InputError("a budget ballot needs budget: {amount, currency}")
        budget, currency = _money(body["budget"], "budget")
        costs = tuple(o["cost"]["amount"] for o in options)
        for o in options:
            if o["cost"]["currency"] != currency:
                raise InputError(
                    f"project {o['id']!r} costs in {o['cost']['currency']}, "
                    f"the budget is in {currency}"
                )
            if o["cost"]["amount"] > budget:
                raise InputError(
                    f"project {o['id']!r} costs {format_money(o['cost']['amount'], currency)} "
                    f"{currency}, more than the whole budget of "
                    f"{format_money(budget, currency)} {currency}"
                )
    elif "budget" in body:
        raise InputError("only a budget ballot has a budget")
    passing = body["passing"]
    if passing not in PASSING_RULES[kind]:
        raise InputError(
            f"passing rule {passing!r} does not apply to a {kind} ballot; "
            f"use one of {', '.join(PASSING_RULES[kind])}"
        )
    quorum = _quorum(body["quorum"])
    opens = body.get("opens")
    if opens is not None:
        parse_time(opens)
    closes = body["closes"]
    parse_time(closes)
    if opens is not None and parse_time(closes) <= parse_time(opens):
        raise InputError(f"closes {closes} must be after opens {opens}")
    spec = BallotSpec(
        kind=kind,
        options=tuple(o["id"] for o in options),
        passing=passing,
        quorum=quorum,
        costs=costs,
        budget=budget,
        currency=currency,
    )
    return OpenBody(spec, title, text, document, options, opens, closes)


def spec_from_doc(doc: dict[str, Any]) -> BallotSpec:
    """The spec of a ballot document in the state (already checked when it was opened)."""
    q = doc["quorum"]
    budget = doc.get("budget")
    return BallotSpec(
        kind=doc["kind"],
        options=tuple(o["id"] for o in doc["options"]),
        passing=doc["passing"],
        quorum=Quorum(votes=q.get("votes"), percent=q.get("percent")),
        costs=tuple(o["cost"]["amount"] for o in doc["options"]) if budget else (),
        budget=budget["amount"] if budget else None,
        currency=budget["currency"] if budget else None,
    )


def check_choice(spec: BallotSpec, choice: Any) -> Choice:
    """The normalised choice, or why it is refused.

    InputError if the choice has the wrong JSON shape for the kind; RuleViolation for an
    option the ballot does not have, an option chosen twice or an allocation over budget.
    Lists come back in the ballot's option order.
    """
    known = spec.options
    if spec.kind in ("yes_no", "single"):
        if not isinstance(choice, str):
            raise InputError(f"a {spec.kind} vote's choice is one option id (a string)")
        if choice not in known:
            raise RuleViolation(
                f"this ballot has no option {choice!r}; its options are {', '.join(known)}"
            )
        return choice
    if not isinstance(choice, list) or not all(isinstance(c, str) for c in choice):
        raise InputError(f"a {spec.kind} vote's choice is a list of option ids")
    unknown = [c for c in choice if c not in known]
    if unknown:
        raise RuleViolation(
            f"this ballot has no option {unknown[0]!r}; its options are {', '.join(known)}"
        )
    if len(set(choice)) != len(choice):
        twice = next(c for c in choice if choice.count(c) > 1)
        raise RuleViolation(f"option {twice!r} is chosen twice")
    ordered = [o for o in known if o in choice]
    if spec.kind == "budget":
        assert spec.budget is not None
        total = sum(spec.cost_of(o) for o in ordered)
        cur = spec.currency or ""
        if total > spec.budget:
            raise RuleViolation(
                f"the chosen projects cost {format_money(total, cur)} {cur} in all, over "
                f"the budget of {format_money(spec.budget, cur)} {cur}: choose fewer or "
                "cheaper projects"
            )
    return ordered
