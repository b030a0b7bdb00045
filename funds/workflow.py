"""Who must act next on an expense, and whether anyone can: the "waiting on you" view.

Pure: the expense document, the committee's key ids and the funds policy in, a
:class:`NextStep` out. The workflow is request → M approvals by committee members → one
payment by a committee member or a treasurer, and segregation of duties (the rules in
:mod:`funds.rules.expenses`) means the requester never approves or pays, and an approver
never pays. So a small committee can reach a dead end: in a committee of three, a
member's request for an amount that needs two approvals leaves nobody allowed to pay.
:func:`completion_problem` says so when the expense is requested, and :func:`next_step`
says who may act on an open expense, or why nobody can.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from funds.model import FundsPolicy

__all__ = ["NextStep", "completion_problem", "next_step"]

_WAY_OUT = (
    "name a treasurer (policy funds_treasurers, a key who may pay without approving) or "
    "add a committee member"
)


@dataclass(frozen=True)
class NextStep:
    """What expense ``expense`` waits for: ``action`` (``approve``, ``pay`` or None when
    it is closed) by any one of ``who``; ``blocked`` says why it can never complete."""

    expense: str
    status: str
    action: str | None
    who: tuple[str, ...]
    still_needed: int
    blocked: str | None

    def to_json(self) -> dict[str, Any]:
        """The JSON the API serves (``GET /v1/funds/next``)."""
        return {
            "expense": self.expense,
            "status": self.status,
            "action": self.action,
            "who": list(self.who),
            "still_needed": self.still_needed,
            "blocked": self.blocked,
        }


def _problem(
    requester: str, approvers: set[str], needed: int, committee: set[str], pol: FundsPolicy
) -> str | None:
    """Why no choice of the ``needed`` remaining approvers leaves someone to pay."""
    eligible = committee - {requester} - approvers
    if len(eligible) < needed:
        return (
            f"it needs {needed} more approval(s) and only {len(eligible)} committee "
            "member(s) may still approve (never the requester)"
        )
    # Every eligible approver is also a possible payer, so after `needed` of them approve
    # someone is left to pay iff the pool of payers is larger than `needed`.
    payers = (committee | pol.treasurers) - {requester} - approvers
    if len(payers) <= needed:
        return (
            "once approved nobody may pay it: the requester and the approvers may not; " + _WAY_OUT
        )
    return None


def completion_problem(
    requester: str, amount: int, committee: Iterable[str], pol: FundsPolicy
) -> str | None:
    """Why an expense of ``amount`` requested by ``requester`` can never be paid under
    ``pol`` with this committee, or None when the workflow can complete."""
    problem = _problem(requester, set(), pol.approvals_needed(amount), set(committee), pol)
    return None if problem is None else f"this expense can never be paid: {problem}"


def next_step(expense: Mapping[str, Any], committee: Iterable[str], pol: FundsPolicy) -> NextStep:
    """Who must act next on ``expense`` (a ``funds_expense`` document), or why nobody can."""
    members = set(committee)
    requester = str(expense["requester"])
    approvers = {str(a["by"]) for a in expense["approvals"]}
    eid, status = str(expense["id"]), str(expense["status"])
    if status == "requested":
        needed = max(0, int(expense["approvals_needed"]) - len(approvers))
        who = members - {requester} - approvers
        blocked = _problem(requester, approvers, needed, members, pol)
        return NextStep(eid, status, "approve", tuple(sorted(who)), needed, blocked)
    if status == "approved":
        who = (members | pol.treasurers) - {requester} - approvers
        blocked = None if who else "nobody may pay it: the requester and the approvers may not; "
        if blocked is not None:
            blocked += _WAY_OUT
        return NextStep(eid, status, "pay", tuple(sorted(who)), 1, blocked)
    return NextStep(eid, status, None, (), 0, None)
