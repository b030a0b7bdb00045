"""Tallies: from the counted choices to a result, the same everywhere. Pure.

The sequencer's close handler, ``civic ballot tally`` and receipt verification all call
:func:`tally` on the last vote of each resident (:func:`last_votes`), so a result can only be
recorded, or believed, if anyone recomputing it from the log gets the same bytes.

A result::

    {"counts": {"yes": 5, "no": 2, "abstain": 1},   # every option, 0 included
     "turnout": 8,                                  # residents with a counted vote
     "electorate_size": 20,
     "quorum": {"percent": 30}, "quorum_met": true,
     "passing": "simple_majority", "passed": true,
     "chosen": ["yes"],                             # empty unless passed
     "spent": {"amount": 1200000, "currency": "EUR"}}   # budget ballots only

Passing rules (integers only, no floats; abstentions always count towards the quorum):

- yes_no ``simple_majority``: yes > no; ``absolute_majority``: yes > half of the turnout;
  ``two_thirds``: yes ≥ two thirds of yes + no, and yes > 0. ``chosen`` is ``["yes"]``.
- single ``plurality``: one option has strictly the most votes; ``absolute_majority``: it has
  more than half of the turnout; ``two_thirds``: at least two thirds of the turnout.
- approval ``plurality``: one option has strictly the most approvals; ``absolute_majority``:
  every option approved by more than half of the voters is chosen (at least one).
- budget ``greedy`` (as in participatory budgeting, e.g. Decidim): projects by votes
  (descending), then cost (ascending), then ballot order; each project with at least one vote
  is chosen if it still fits in what is left of the budget; ``chosen`` keeps that order.

A ballot passes only when its quorum is met and its rule chooses something.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.canonical import canonical_json
from voting.spec import BallotSpec, Choice

__all__ = [
    "VoteEvent",
    "describe_difference",
    "electorate_hash",
    "last_votes",
    "result_from_counts",
    "tally",
]


@dataclass(frozen=True)
class VoteEvent:
    """One ``vote.cast`` record: the voter it counts for, where it is, what it chose.

    ``voter`` is the key in the ballot's electorate snapshot; ``signer`` the key that signed
    (they differ only when the resident rotated their key after the ballot opened).
    """

    voter: str
    index: int
    choice: Choice
    signer: str


def electorate_hash(keys: Sequence[str]) -> str:
    """Hex SHA-256 of JCS(sorted key ids): anyone can recompute it from the key list."""
    return hashlib.sha256(canonical_json(sorted(keys))).hexdigest()


def last_votes(events: Iterable[VoteEvent]) -> dict[str, VoteEvent]:
    """Each voter's vote with the highest record index: one resident, one counted vote."""
    out: dict[str, VoteEvent] = {}
    for e in events:
        cur = out.get(e.voter)
        if cur is None or e.index > cur.index:
            out[e.voter] = e
    return out


def _top(counts: dict[str, int], options: Sequence[str]) -> tuple[int, list[str]]:
    best = max((counts[o] for o in options), default=0)
    return best, [o for o in options if counts[o] == best]


def _decide(spec: BallotSpec, counts: dict[str, int], turnout: int) -> list[str]:
    rule = spec.passing
    if spec.kind == "yes_no":
        yes, no = counts["yes"], counts["no"]
        ok = {
            "simple_majority": yes > no,
            "absolute_majority": 2 * yes > turnout,
            "two_thirds": yes > 0 and 3 * yes >= 2 * (yes + no),
        }[rule]
        return ["yes"] if ok else []
    if spec.kind in ("single", "approval") and rule == "plurality":
        best, tops = _top(counts, spec.options)
        return tops if best > 0 and len(tops) == 1 else []
    if spec.kind == "single":
        best, tops = _top(counts, spec.options)
        if best == 0 or len(tops) != 1:
            return []
        enough = 2 * best > turnout if rule == "absolute_majority" else 3 * best >= 2 * turnout
        return tops if enough else []
    if spec.kind == "approval":  # absolute_majority
        return [o for o in spec.options if 2 * counts[o] > turnout]
    # budget, greedy
    assert spec.budget is not None
    order = sorted(
        range(len(spec.options)),
        key=lambda i: (-counts[spec.options[i]], spec.costs[i], i),
    )
    left = spec.budget
    chosen = []
    for i in order:
        o = spec.options[i]
        if counts[o] > 0 and spec.costs[i] <= left:
            chosen.append(o)
            left -= spec.costs[i]
    return chosen


def tally(spec: BallotSpec, choices: Iterable[Choice], electorate_size: int) -> dict[str, Any]:
    """The result of a ballot from its counted choices (already checked against the spec)."""
    counts = dict.fromkeys(spec.options, 0)
    turnout = 0
    for c in choices:
        turnout += 1
        for o in [c] if isinstance(c, str) else c:
            counts[o] += 1
    return result_from_counts(spec, counts, turnout, electorate_size)


def result_from_counts(
    spec: BallotSpec, counts: dict[str, int], turnout: int, electorate_size: int
) -> dict[str, Any]:
    """The result from counts per option (every option present) and the turnout; a secret
    ballot's decrypted counts (:mod:`voting.secret_rules`) go through here too."""
    quorum_met = spec.quorum.met(turnout, electorate_size)
    chosen = _decide(spec, counts, turnout) if quorum_met else []
    result: dict[str, Any] = {
        "counts": counts,
        "turnout": turnout,
        "electorate_size": electorate_size,
        "quorum": spec.quorum.to_json(),
        "quorum_met": quorum_met,
        "passing": spec.passing,
        "passed": quorum_met and bool(chosen),
        "chosen": chosen,
    }
    if spec.kind == "budget":
        spent = sum(spec.cost_of(o) for o in chosen)
        result["spent"] = {"amount": spent, "currency": spec.currency}
    return result


def describe_difference(claimed: Any, computed: dict[str, Any]) -> str:
    """A short text naming where a claimed result departs from the recomputed one."""
    if not isinstance(claimed, dict):
        return "the claimed result is not a JSON object"
    parts = []
    for k in sorted(set(claimed) | set(computed)):
        a, b = claimed.get(k, "(missing)"), computed.get(k, "(missing)")
        if k == "counts" and isinstance(a, dict) and isinstance(b, dict):
            for o in sorted(set(a) | set(b)):
                if a.get(o) != b.get(o):
                    parts.append(f"counts.{o}: claimed {a.get(o)!r}, tallied {b.get(o)!r}")
        elif canonical_json(a) != canonical_json(b):
            parts.append(f"{k}: claimed {a!r}, tallied {b!r}")
    return "; ".join(parts[:5]) or "no difference"
