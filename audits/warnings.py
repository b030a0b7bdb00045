"""Data-quality warnings: not rule violations, but things a committee should look at.

Two kinds of check, both pure:

- *record checks* see each applied record in order (``observe``), for patterns over time;
- *state checks* look at the replayed state once at the end (``finish``).

Both register by name (:func:`record_check`, :func:`state_check`), so the voting and funds
layers' warnings plug in the same way as the community's. Warnings never change an audit's
exit code; they are listed apart from the findings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from audits.findings import Finding, finding
from audits.verify import CheckedRecord
from ledger.errors import CivicError
from ledger.records import parse_time
from ledger.state import State

__all__ = ["WarningCollector", "record_check", "state_check"]

RecordCheck = Callable[[dict[str, Any], CheckedRecord, State], Iterable[Finding]]
StateCheck = Callable[[State], Iterable[Finding]]

_RECORD_CHECKS: dict[str, RecordCheck] = {}
_STATE_CHECKS: dict[str, StateCheck] = {}


def record_check(name: str) -> Callable[[RecordCheck], RecordCheck]:
    """Register ``fn(memory, record, state)``, called after each applied record.

    ``memory`` is a dict the check keeps between records.
    """

    def deco(fn: RecordCheck) -> RecordCheck:
        _RECORD_CHECKS[name] = fn
        return fn

    return deco


def state_check(name: str) -> Callable[[StateCheck], StateCheck]:
    """Register ``fn(state)``, called once on the final replayed state."""

    def deco(fn: StateCheck) -> StateCheck:
        _STATE_CHECKS[name] = fn
        return fn

    return deco


class WarningCollector:
    """Runs the registered checks over one replay."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self._memory: dict[str, dict[str, Any]] = {name: {} for name in _RECORD_CHECKS}
        self._checks = list(_RECORD_CHECKS.items())

    def observe(self, rec: CheckedRecord, state: State) -> None:
        """After ``rec`` was applied (or refused) at its position."""
        for name, fn in self._checks:
            self.findings.extend(fn(self._memory[name], rec, state))

    def finish(self, state: State) -> list[Finding]:
        """The record warnings so far plus every state check's."""
        out = list(self.findings)
        for fn in _STATE_CHECKS.values():
            out.extend(fn(state))
        return out


# --- the community's warnings ---------------------------------------------------------------


@record_check("time_backwards")
def _time_backwards(memory: dict[str, Any], rec: CheckedRecord, state: State) -> list[Finding]:
    # The sequencer stamps records with its clock; going back in time is not forbidden by
    # the rules but means a clock was reset or records were built elsewhere.
    if rec.time is None:
        return []
    when: datetime = rec.when if rec.when is not None else parse_time(rec.time)
    last: tuple[datetime, str] | None = memory.get("last")
    memory["last"] = (when, rec.time)
    if last is None or when >= last[0]:
        return []
    return [
        finding(
            "warn.time_backwards",
            f"record {rec.position} is stamped {rec.time}, before record "
            f"{rec.position - 1} ({last[1]})",
            index=rec.position,
        )
    ]


@state_check("unwitnessed_policy")
def _unwitnessed(state: State) -> list[Finding]:
    doc = state.peek("witnesses", "current")
    if doc is None or int(doc.get("quorum", 0)) > 0:
        return []
    return [
        finding(
            "warn.unwitnessed_policy",
            "the community's policy needs no witness cosignature on checkpoints: only "
            "comparing nodes (as this audit does) can reveal a forked log",
        )
    ]


# --- funds and voting (read from their state namespaces; silent when those layers are absent)

# A member who approved this many expenses of one payee is worth a look.
MANY_APPROVALS = 5
# A period's spending on a category this many times its earlier periods' average is a spike.
SPIKE_FACTOR = 3
SPIKE_HISTORY = 2


def _money(amount: int, currency: str) -> str:
    try:
        from funds.model import format_money

        return f"{format_money(amount, currency)} {currency}"
    except (ImportError, CivicError):  # pragma: no cover - without funds, or odd currency
        return f"{amount} {currency} (minor units)"


@state_check("payment_without_document")
def _payment_without_document(state: State) -> list[Finding]:
    docs, txs = state.rows("funds_document"), state.rows("funds_tx")
    out = []
    for eid, e in state.rows("funds_expense").items():
        pay = e.get("payment")
        if e.get("status") != "paid" or not pay:
            continue
        shas = [
            *(e.get("documents") or []),
            *(txs.get(pay.get("transaction"), {}).get("documents") or []),
        ]
        if any((docs.get(sha) or {}).get("public") for sha in shas):
            continue
        payee = e.get("payee") or e.get("payee_label") or "?"
        out.append(
            finding(
                "warn.payment_without_document",
                f"expense {eid} ({_money(e['amount'], e['currency'])} to {payee}) was paid at "
                f"record {pay.get('index')} with no public document (invoice, receipt)",
                index=pay.get("index"),
            )
        )
    return out


@state_check("approver_payee_concentration")
def _approver_payee(state: State) -> list[Finding]:
    counts: dict[tuple[str, str], list[str]] = {}
    for eid, e in state.rows("funds_expense").items():
        payee = e.get("payee") or e.get("payee_label")
        if payee is None:
            continue
        for a in e.get("approvals") or []:
            counts.setdefault((a["by"], payee), []).append(eid)
    out = []
    for (member, payee), eids in sorted(counts.items()):
        if len(eids) >= MANY_APPROVALS:
            out.append(
                finding(
                    "warn.approver_payee_concentration",
                    f"{member} approved {len(eids)} expenses of payee {payee} "
                    f"(expenses {', '.join(sorted(eids, key=int)[:10])})",
                    node=None,
                    member=member,
                    payee=payee,
                    expenses=sorted(eids, key=int),
                )
            )
    return out


@state_check("spending_spike")
def _spending_spike(state: State) -> list[Finding]:
    # Budget lines are <period>/<category>; compare each period's spending on a category
    # with the earlier periods of the same kind (years with years, months with months).
    history: dict[tuple[str, int], list[tuple[str, int, str]]] = {}
    for line in state.rows("funds_budget").values():
        period = str(line.get("period", ""))
        history.setdefault((str(line.get("category")), len(period)), []).append(
            (period, int(line.get("spent", 0)), str(line.get("currency", "")))
        )
    out = []
    for (category, _), rows in sorted(history.items()):
        rows.sort()
        for i in range(SPIKE_HISTORY, len(rows)):
            before = [spent for _, spent, _ in rows[:i]]
            avg = sum(before) / len(before)
            period, spent, cur = rows[i]
            if avg > 0 and spent > SPIKE_FACTOR * avg:
                out.append(
                    finding(
                        "warn.spending_spike",
                        f"{period}/{category}: spent {_money(spent, cur)}, more than "
                        f"{SPIKE_FACTOR}x the average {_money(round(avg), cur)} of its "
                        f"{len(before)} earlier periods",
                    )
                )
    return out


@state_check("turnout_below_quorum")
def _turnout(state: State) -> list[Finding]:
    out = []
    for bid, doc in sorted(state.rows("ballot").items(), key=lambda kv: int(kv[0])):
        result = doc.get("result")
        if doc.get("status") != "closed" or not isinstance(result, dict):
            continue
        if result.get("quorum_met") is False:
            out.append(
                finding(
                    "warn.turnout_below_quorum",
                    f"ballot {bid} ({doc.get('title', '')!s}) closed with turnout "
                    f"{result.get('turnout')} of {result.get('electorate_size')}, under its "
                    f"quorum {result.get('quorum')}",
                    index=doc.get("closed_at"),
                )
            )
    return out
