"""Funds benchmark: N transactions through the sequencer, then report and export.

In-process: a real node data folder (SQLite, durable group commits) and its sequencer,
fed pre-signed envelopes in batches of 1000 through ``Sequencer.submit`` — the same code
path ``POST /v1/statements`` takes, without HTTP. The N transactions are a mix: 50%
income, 20% transfers between two accounts, 30% expense payments, each of which goes
through the whole workflow (request, approval, payment: three statements). Then the
report (balances, budget against actual, rendered as tables), the Frictionless export of
every transaction, its stock validation, the invariant check and a full replay of the
log compared with the live state.

    .venv/bin/python bench/bench_funds.py [--n 100000] [--no-validate] [--no-replay]
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console

from bench.common import Figure, add_contract_args, ratio_of, row, write_results
from bench.ed25519_bound import ed25519_bound
from cli.funds_report import render_report
from funds.bodies import document_body
from funds.export import write_package
from funds.ledger_math import check_invariants
from funds.report import build_report
from funds.views import accounts_view, budget_view, transactions_view
from ledger.errors import CivicError
from ledger.keys import KeyPair
from ledger.records import parse_record
from ledger.state import State, replay
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.context import NodeContext, open_context
from tests.factory import key

ORIGIN = "bench.example/funds"
A, B, C = (key(f"bench-funds-{n}") for n in ("alice", "bob", "chen"))
BATCH = 1000


class Bench:
    def __init__(self, ctx: NodeContext) -> None:
        self.ctx = ctx
        self.seq = ctx.services["sequencer"]
        self.sign_s = 0.0
        self.submit_s = 0.0
        self.statements = 0

    def env(self, type_: str, body: dict[str, Any], *signers: KeyPair) -> dict[str, Any]:
        t = time.perf_counter()
        e = sign_envelope(make_statement(ORIGIN, type_, body, signers[0].key_id), list(signers))
        self.sign_s += time.perf_counter() - t
        return e

    def submit(self, envs: list[dict[str, Any]]) -> list[int]:
        out: list[int] = []
        for lo in range(0, len(envs), BATCH):
            t = time.perf_counter()
            res = self.seq.submit(envs[lo : lo + BATCH])
            self.submit_s += time.perf_counter() - t
            for r in res:
                if isinstance(r, CivicError):
                    raise r
                out.append(r.index)
        self.statements += len(envs)
        return out


def run(n: int, data: Path, validate_export: bool, do_replay: bool) -> list[Figure]:
    """Run the benchmark, print its table; its figures for bench/results.json."""
    rnd = random.Random(5)
    init_community(data / "node", ORIGIN, [A, B, C])
    ctx = open_context(data / "node", serve=True)
    try:
        b = Bench(ctx)
        doc = b"bench invoice"
        b.submit([b.env("funds.document.publish", document_body(doc, "text/plain", True), A)])
        sha = document_body(doc, "text/plain", True)["sha256"]
        acc = [
            str(i)
            for i in b.submit(
                [
                    b.env("funds.account.open", {"code": c, "title": c, "currency": "EUR"}, A, B)
                    for c in ("fees", "reserve")
                ]
            )
        ]
        budget = {"period": "2026", "category": "upkeep", "amount": 10**14, "currency": "EUR"}
        seed = {
            "account": acc[0],
            "amount": 10**12,
            "currency": "EUR",
            "source": "grant",
            "description": "seed",
            "documents": [sha],
        }
        b.submit([b.env("funds.budget.set", budget, A, B), b.env("funds.income", seed, A)])

        t0 = time.perf_counter()
        done = 0
        while done < n:
            chunk = min(BATCH, n - done)
            kinds = [rnd.random() for _ in range(chunk)]
            pays = [k for k in kinds if k >= 0.7]
            # 1. requests and approvals for this chunk's payments (ids come back from the log)
            reqs = [
                b.env(
                    "funds.expense.request",
                    {
                        "amount": rnd.randint(1, 100_000),
                        "currency": "EUR",
                        "category": "upkeep",
                        "budget_line": "2026/upkeep",
                        "purpose": "repairs",
                        "documents": [sha],
                        "payee": f"Supplier {i % 50}",
                    },
                    A,
                )
                for i in range(len(pays))
            ]
            ids = [str(i) for i in b.submit(reqs)]
            approved = [(e, r["statement"]["body"]) for e, r in zip(ids, reqs, strict=True)]
            b.submit(
                [
                    b.env("funds.expense.approve", {"expense": e, "policy_version": 1}, B)
                    for e in ids
                ]
            )
            # 2. the transactions themselves
            envs = []
            it = iter(approved)
            for k in kinds:
                if k < 0.5:
                    body = {
                        "account": acc[rnd.randrange(2)],
                        "amount": rnd.randint(1, 100_000),
                        "currency": "EUR",
                        "source": "property-fees",
                        "description": "fees",
                        "documents": [sha],
                    }
                    envs.append(b.env("funds.income", body, A))
                elif k < 0.7:
                    body = {
                        "from": acc[0],
                        "to": acc[1],
                        "amount": rnd.randint(1, 1000),
                        "currency": "EUR",
                        "description": "move",
                    }
                    envs.append(b.env("funds.transfer", body, A, B))
                else:
                    eid, req = next(it)
                    body = {
                        "expense": eid,
                        "account": acc[0],
                        "amount": req["amount"],
                        "currency": "EUR",
                        "payee": req["payee"],
                    }
                    envs.append(b.env("funds.expense.pay", body, C))
            b.submit(envs)
            done += chunk
        total = time.perf_counter() - t0
        st = ctx.state()
        ntx = len(st.rows("funds_tx"))

        def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
            t = time.perf_counter()
            out = fn()
            return time.perf_counter() - t, out

        def report() -> str:
            buf = io.StringIO()
            data_ = build_report(accounts_view(st), budget_view(st))
            render_report(data_, Console(file=buf, width=120))
            return buf.getvalue()

        def export() -> Any:
            def rows() -> Any:
                after = None
                while True:
                    page = transactions_view(st, after, 5000)
                    yield from page["transactions"]
                    if page["next"] is None:
                        return
                    after = page["next"]

            cp = ctx.log.checkpoint().decode()
            return write_package(data / "export", rows(), budget_view(st)["lines"], ORIGIN, cp)

        report_s, _ = timed(report)
        export_s, res = timed(export)
        print(f"civic-ledger funds benchmark: {n} transactions, in-process sequencer, SQLite")
        print(row("figure", "seconds", "rate/s", widths=(50, 12, 12)))
        print(
            row(
                "sign envelopes (client side)",
                f"{b.sign_s:.1f}",
                f"{b.statements / b.sign_s:.0f}",
                widths=(50, 12, 12),
            )
        )
        print(
            row(
                f"sequencer: {b.statements} statements accepted",
                f"{b.submit_s:.1f}",
                f"{b.statements / b.submit_s:.0f}",
                widths=(50, 12, 12),
            )
        )
        print(
            row(
                f"  = {ntx} transactions (wall, incl. signing)",
                f"{total:.1f}",
                f"{ntx / total:.0f}",
                widths=(50, 12, 12),
            )
        )
        print(
            row("report (balances, budget vs actual)", f"{report_s:.3f}", "", widths=(50, 12, 12))
        )
        print(
            row(
                f"export ({res.transactions} rows + datapackage.json)",
                f"{export_s:.2f}",
                f"{res.transactions / export_s:.0f}",
                widths=(50, 12, 12),
            )
        )
        if validate_export:
            from frictionless import validate

            v_s, rep = timed(lambda: validate(str(res.descriptor)))
            print(
                row(
                    f"frictionless validate (valid={rep.valid})",
                    f"{v_s:.1f}",
                    "",
                    widths=(50, 12, 12),
                )
            )
        inv_s, problems = timed(lambda: check_invariants(st))
        print(
            row(
                f"invariant check ({len(problems)} problems)",
                f"{inv_s:.2f}",
                "",
                widths=(50, 12, 12),
            )
        )
        if do_replay:
            log = ctx.log

            def rebuild() -> bool:
                again = State(ctx.rules)
                for lo in range(0, log.size, 4096):
                    recs = [parse_record(e) for e in log.entries(lo, min(log.size, lo + 4096))]
                    again = replay(recs, again)
                return again.snapshot() == st.snapshot()

            r_s, same = timed(rebuild)
            print(
                row(
                    f"replay {log.size} records (== live: {same})",
                    f"{r_s:.1f}",
                    f"{log.size / r_s:.0f}",
                    widths=(50, 12, 12),
                )
            )
        one, _ = ed25519_bound(5_000)
        rate = b.statements / b.submit_s
        print(
            f"machine bound: {one:.0f} Ed25519 verifications/s on one core; the sequencer "
            f"accepts {rate:.0f} statements/s = {rate / one:.2f} of it"
        )
        bound = "Ed25519 verify, one core"
        return [
            Figure("funds", "funds statements accepted by the sequencer, in-process",
                   round(rate), "statements/s", bound, round(one), ratio_of(rate, one)),
            Figure("funds", f"funds transactions end to end ({ntx})", round(ntx / total),
                   "transactions/s", notes="wall, including client-side signing"),
            Figure("funds", f"funds export ({res.transactions} rows)",
                   round(res.transactions / export_s), "rows/s"),
        ]  # fmt: skip
    finally:
        ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="transactions to record")
    ap.add_argument("--no-validate", action="store_true", help="skip frictionless validate")
    ap.add_argument("--no-replay", action="store_true", help="skip the full replay")
    add_contract_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.n = min(args.n, 10_000)
        args.no_validate = True
    with tempfile.TemporaryDirectory(prefix="bench-funds-") as tmp:
        figures = run(args.n, Path(tmp), not args.no_validate, not args.no_replay)
    write_results(args.json, figures)


if __name__ == "__main__":
    main()
