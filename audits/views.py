"""View checks: what each node publishes, recomputed from the replayed state and compared.

A :class:`ViewCheck` has a name, a function giving the ``(path, expected JSON)`` pairs for a
replayed :class:`~ledger.state.State`, and a projection that keeps the part of the node's
answer the check is about (dropping what is legitimately node-specific, such as the node's
current checkpoint). The audit fetches each path from every node that stands at the audited
checkpoint and reports any difference as ``view.mismatch`` evidence.

The community's views are checked here. The ballot and funds views are checked by the
functions registered at the end of this module when ``voting`` and ``funds`` provide them;
another layer adds its own with :func:`register_view_check`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from audits.findings import Finding, finding
from ledger.community import community_view, members_view
from ledger.state import State

__all__ = ["ViewCheck", "invariant_findings", "json_diff", "register_view_check", "view_checks"]

Expected = Callable[[State], Iterable[tuple[str, Any]]]


def _identity(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class ViewCheck:
    """One published view: ``expected(state)`` yields (path, value) pairs to compare."""

    name: str
    expected: Expected
    project: Callable[[Any], Any] = _identity


_CHECKS: dict[str, ViewCheck] = {}


def register_view_check(check: ViewCheck) -> ViewCheck:
    """Add a view check (a name registered twice keeps the newest)."""
    _CHECKS[check.name] = check
    return check


def view_checks() -> list[ViewCheck]:
    """Every registered view check, in registration order."""
    return list(_CHECKS.values())


def json_diff(expected: Any, actual: Any, path: str = "", limit: int = 8) -> list[str]:
    """Up to ``limit`` human-readable differences, e.g. ``members[3].status: ...``."""
    out: list[str] = []

    def walk(e: Any, a: Any, p: str) -> None:
        if len(out) >= limit:
            return
        if isinstance(e, dict) and isinstance(a, dict):
            for k in sorted(set(e) | set(a)):
                sub = f"{p}.{k}" if p else str(k)
                if k not in a:
                    out.append(f"{sub}: missing at the node (log says {_short(e[k])})")
                elif k not in e:
                    out.append(f"{sub}: not in the log (node says {_short(a[k])})")
                else:
                    walk(e[k], a[k], sub)
                if len(out) >= limit:
                    return
        elif isinstance(e, list) and isinstance(a, list):
            if len(e) != len(a):
                out.append(f"{p or 'value'}: {len(e)} items in the log, {len(a)} at the node")
            for i, (x, y) in enumerate(zip(e, a, strict=False)):
                walk(x, y, f"{p}[{i}]")
                if len(out) >= limit:
                    return
        elif e != a or type(e) is not type(a):
            out.append(f"{p or 'value'}: log says {_short(e)}, node says {_short(a)}")

    walk(expected, actual, path)
    return out


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


# --- the community's views (node/routes_community.py) --------------------------------------


def _members(state: State) -> Iterable[tuple[str, Any]]:
    yield ("v1/members", members_view(state))


def _community(state: State) -> Iterable[tuple[str, Any]]:
    view = community_view(state)
    if view is not None:
        yield ("v1/community", view)


_NODE_OWN_FIELDS = ("checkpoint", "statement_types")


def _community_fields(value: Any) -> Any:
    # The node's current checkpoint and its software's statement types are its own business.
    if not isinstance(value, dict):
        return value
    return {k: v for k, v in value.items() if k not in _NODE_OWN_FIELDS}


register_view_check(ViewCheck("members", _members))
register_view_check(ViewCheck("community", _community, _community_fields))

# --- ballots (voting) and funds ---------------------------------------------------------------
# Registered only when those layers are installed; each expected value comes from that
# layer's own pure functions on the replayed state, never from a re-implementation here.


def _register_voting() -> None:
    try:
        from voting.rules import provisional_result
    except ImportError:  # pragma: no cover - a deployment without the voting layer
        return

    def ballot_results(state: State) -> Iterable[tuple[str, Any]]:
        # As node/routes_voting.py serves it: the recorded result of a closed ballot (the
        # close handler checked it against the tally), the running tally of an open one.
        for bid, doc in sorted(state.rows("ballot").items(), key=lambda kv: int(kv[0])):
            yield (
                f"v1/ballots/{bid}/result",
                {
                    "ballot": bid,
                    "status": doc.get("status"),
                    "closes": doc.get("closes"),
                    "closed_at": doc.get("closed_at"),
                    "electorate_hash": doc.get("electorate_hash"),
                    "result": doc.get("result"),
                    "provisional": provisional_result(state, bid),
                },
            )

    register_view_check(ViewCheck("ballot results", ballot_results))


def _register_funds() -> None:
    try:
        from funds.views import accounts_view, budget_view
    except ImportError:  # pragma: no cover - a deployment without the funds layer
        return

    def accounts(state: State) -> Iterable[tuple[str, Any]]:
        if state.rows("funds_account"):
            yield ("v1/funds/accounts", accounts_view(state))

    def budget(state: State) -> Iterable[tuple[str, Any]]:
        if state.rows("funds_budget"):
            yield ("v1/funds/budget", budget_view(state, None))

    register_view_check(ViewCheck("funds accounts", accounts))
    register_view_check(ViewCheck("funds budget", budget))


_register_voting()
_register_funds()


def invariant_findings(state: State) -> list[Finding]:
    """Recompute what the replayed state stores and must agree with itself: every account
    balance from its postings, every budget line from its expenses (``funds.ledger_math``)."""
    return _funds_findings(state) + _secret_findings(state)


def _funds_findings(state: State) -> list[Finding]:
    try:
        from funds.ledger_math import check_invariants
    except ImportError:  # pragma: no cover - a deployment without the funds layer
        return []
    return [
        finding("funds.invariant", f"after replaying the log, {problem}", rule=problem)
        for problem in check_invariants(state)
    ]


def _secret_findings(state: State) -> list[Finding]:
    """Belenios' universal verification (spec §3.5) of every secret ballot whose ceremony is
    complete, again and independently of the handlers that accepted each statement: every
    ballot proof (on both cores), the encrypted tally, every decryption proof, the result."""
    try:
        from voting.secret.verify import verify_public_data
        from voting.secret_rules import public_data
    except ImportError:  # pragma: no cover - a deployment without the voting layer
        return []
    out: list[Finding] = []
    for bid, doc in sorted(state.rows("ballot").items(), key=lambda kv: int(kv[0])):
        if doc.get("mode") != "secret" or doc.get("election_hash") is None:
            continue
        report = verify_public_data(public_data(state, bid), workers=2)
        for f in report.failures:
            msg = f"secret ballot {bid}: step {f.step} {f.name} {f.subject or ''}: {f.detail}"
            out.append(finding("secret.verify", msg, rule=f.name))
        if doc.get("result") is not None and report.result is None:
            out.append(finding("secret.verify", f"secret ballot {bid}: no verified result"))
    return out
