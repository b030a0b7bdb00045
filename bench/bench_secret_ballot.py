"""Secret-ballot benchmark skeleton: ballot building and verification in
Belenios' format, ours against the real ``belenios-tool`` on the same export.

Builds one election (3 trustees, threshold 2; a yes/no, a single-choice and an approval
question), N ballots (on the pool's cores, so setup is quick; the build figure is per ballot
on one core), the tally, two partial decryptions and the result, then:

- ballot verifications per second, on 1 core and on ``--workers`` cores (process pool);
- the whole export verified by ``belenios-tool election verify --dir`` and by ours
  (``read_archive`` + ``verify_public_data``), each timed in the same run; the ratio is
  belenios-tool's seconds over ours (≥ 1.0 means we are at least as fast).

With ``--e2e`` it runs a secret ballot end to end instead, through a real sequencer process
on 127.0.0.1: residents enrolled, the opening with the key ceremony and the credentials
(``ballot.credentials``), every ballot cast over HTTP (built on the pool, verified by the
sequencer), the close, two partial decryptions and the result, then the export verified by
``belenios-tool`` and by ours (the ratio). Seconds per phase are printed.

    .venv/bin/python bench/bench_secret_ballot.py [--ballots 200] [--workers 2]
    .venv/bin/python bench/bench_secret_ballot.py --e2e [--residents 1000] [--workers 2]
"""

from __future__ import annotations

import argparse
import base64
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import Figure, add_contract_args, write_results
from bench.common import row as _row
from ledger.records import format_time, parse_record
from ledger.state import replay
from voting.secret.archive import (
    PublicData,
    archive_bytes,
    credentials_json,
    read_archive,
    write_archive,
)
from voting.secret.ballot import build_ballot, parse_ballot
from voting.secret.election import Election, parse_election, question_for_kind, vote_vector
from voting.secret.encoding import loads
from voting.secret.group import BELENIOS_2048 as G
from voting.secret.setup import make_credentials, new_uuid, open_election, run_local_ceremony
from voting.secret.tally import (
    combine_result,
    encrypted_tally,
    make_partial_decryption,
    parse_partial_decryption,
)
from voting.secret.verify import check_ballots, verify_public_data

QUESTIONS = (
    question_for_kind("yes_no", "Repaint the hall?", ["yes", "no"]),
    question_for_kind("single", "Fair day?", ["Saturday", "Sunday", "Monday"]),
    question_for_kind("approval", "Trees?", ["oak", "lime", "cherry"]),
)


def row(*cols: object) -> str:
    return _row(*cols, widths=(40, 12, 12, 12))


def vote_for(i: int) -> list[list[int]]:
    """A deterministic, valid vote for voter ``i`` (some blank, some approvals empty)."""
    yes_no = [[0, 1, 0], [0, 0, 1], [1, 0, 0]][i % 3]
    single = [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [1, 0, 0, 0]][i % 4]
    approval = [(i >> k) & 1 for k in range(3)]
    return [yes_no, single, approval]


_election: Election | None = None


def _init(raw: str) -> None:
    global _election
    _election = parse_election(raw)


def _build(job: tuple[str, int]) -> str:
    assert _election is not None
    return build_ballot(_election, job[0], vote_for(job[1]))


def cpu_seconds() -> float:
    """CPU seconds used so far by this process and its finished children (user + system)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _build_single(job: tuple[str, str]) -> str:
    assert _election is not None
    return build_ballot(_election, job[0], [vote_vector(_election.questions[0], [job[1]])])


def _follow(c: Any, state: Any) -> Any:
    """Apply the records this state lacks (the client keeps up with the log incrementally)."""
    size = c.get_json("/healthz")["size"]
    records = [
        parse_record(base64.b64decode(c.record(i)["entry"])) for i in range(state.size, size)
    ]
    return replay(records, state)


def _verify_export(tool: str, d: Path, uuid: str, workers: int) -> tuple[float, float, Any]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [tool, "election", "verify", "--dir", str(d)], capture_output=True, text=True, check=False
    )
    t_tool = time.perf_counter() - t0
    if proc.returncode != 0 or "all checks passed" not in proc.stderr:
        sys.exit(f"error: belenios-tool refused the export: {proc.stderr.strip()}")
    t0 = time.perf_counter()
    report = verify_public_data(read_archive((d / f"{uuid}.bel").read_bytes()), workers=workers)
    return t_tool, time.perf_counter() - t0, report


def end_to_end(tool: str, residents: int, workers: int) -> None:
    """A secret ballot through a real sequencer process; seconds per phase."""
    from client.http import NodeClient
    from client.submit import signed_statement
    from ledger.keys import keypair_from_seed
    from ledger.state import State
    from node.bootstrap import init_community
    from node.launcher import start_node, wait_healthy
    from rules import community_rules
    from voting import secret_steps as steps
    from voting.rules import close_body
    from voting.secret_rules import ballot_election, public_data, result_body

    origin = "civic.example/bench-secret"
    committee = [keypair_from_seed(bytes([i + 1]) * 32) for i in range(3)]
    people = [keypair_from_seed(i.to_bytes(4, "big") * 8) for i in range(residents)]
    options = ["garden", "playground", "parking"]
    phases: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        init_community(d / "seq", origin, committee)
        node = start_node(d / "seq", log_file=d / "seq.log", wait=False)
        wait_healthy(node.url, timeout=180, proc=node.proc)
        try:
            with NodeClient(node.url) as c:

                def send(type_: str, body: dict[str, Any], kp: Any) -> Any:
                    return c.submit(signed_statement(origin, type_, body, kp))

                enrol = [
                    signed_statement(
                        origin, "member.enrol",
                        {"key": p.key_id, "unit_commitment": "ab" * 32}, committee[0],
                    )
                    for p in people
                ]  # fmt: skip
                for lo in range(0, len(enrol), 250):
                    assert all(r["status"] == 201 for r in c.submit(enrol[lo : lo + 250]))
                # Closing time: the ceremony plus the casting at a cautious 4 ballots/s.
                t0 = time.perf_counter()
                closes_at = datetime.now(UTC) + timedelta(seconds=60 + residents / 4)
                base = {
                    "kind": "single",
                    "title": {"en": "Bench"},
                    "options": [{"id": o, "label": {"en": o}} for o in options],
                    "passing": "plurality",
                    "quorum": {"votes": 1},
                    "closes": format_time(closes_at.replace(microsecond=0)),
                }
                body = steps.open_body(base, [k.key_id for k in committee], 2)
                bid = str(send("ballot.open", body, committee[0])["index"])
                state = _follow(c, State(community_rules()))
                for chunk in steps.credential_bodies(state, bid):
                    send("ballot.credentials", chunk, committee[0])
                for type_, make in (
                    ("trustee.cert", steps.cert_body),
                    ("trustee.polynomial", steps.polynomial_body),
                    ("trustee.voutput", steps.voutput_body),
                ):
                    for k in committee:
                        state = _follow(c, state)
                        send(type_, make(state, bid, k), k)
                state = _follow(c, state)
                phases.append(("opening: ballot, credentials, ceremony", time.perf_counter() - t0))
                t0 = time.perf_counter()
                election = ballot_election(state, bid)
                jobs = [
                    (steps.my_credential(state, bid, p), options[i % 3])
                    for i, p in enumerate(people)
                ]
                with ProcessPoolExecutor(
                    workers, initializer=_init, initargs=(election.raw,)
                ) as pool:
                    ballots = list(pool.map(_build_single, jobs, chunksize=8))
                phases.append(
                    (f"building {residents} ballots ({workers} cores)", time.perf_counter() - t0)
                )
                t0 = time.perf_counter()
                for p, raw in zip(people, ballots, strict=True):
                    send("vote.cast", {"ballot": bid, "belenios": raw}, p)
                t_cast = time.perf_counter() - t0
                phases.append((f"casting {residents} ballots over HTTP", t_cast))
                t0 = time.perf_counter()
                state = _follow(c, state)
                phases.append(("client catching up (re-verifies each)", time.perf_counter() - t0))
                wait = (closes_at - datetime.now(UTC)).total_seconds() + 0.5
                time.sleep(max(0.0, wait))
                t0 = time.perf_counter()
                send("ballot.close", close_body(state, bid), committee[0])
                state = _follow(c, state)
                phases.append(("close (encrypted tally)", time.perf_counter() - t0))
                t0 = time.perf_counter()
                for k in committee[:2]:
                    send("trustee.decrypt", steps.decrypt_body(state, bid, k), k)
                    state = _follow(c, state)
                phases.append(("two partial decryptions", time.perf_counter() - t0))
                t0 = time.perf_counter()
                send("ballot.result", result_body(state, bid), committee[0])
                state = _follow(c, state)
                phases.append(("result", time.perf_counter() - t0))
                result = c.get_json(f"/v1/ballots/{bid}/result")["result"]
        finally:
            node.stop()
        (d / "export").mkdir()
        write_archive(public_data(state, bid), d / "export")
        t_tool, t_ours, report = _verify_export(tool, d / "export", election.uuid, workers)
        assert report.ok
    print(
        f"secret ballot end to end: {residents} residents, 3 trustees (threshold 2), "
        f"BELENIOS-2048, {workers} workers; result {result['counts']}"
    )
    for name, secs in phases:
        print(row(name, f"{secs:.2f} s"))
    print(row("sequencer: ballots verified + logged", f"{residents / t_cast:.1f}/s"))
    print(row(f"ours: ballot verifications ({workers} cores)", f"{residents / t_ours:.1f}/s"))
    print(row("belenios-tool election verify", f"{t_tool:.2f} s"))
    print(row(f"ours, full verify ({workers} cores)", f"{t_ours:.2f} s"))
    print(row("ratio belenios-tool / ours", f"{t_tool / t_ours:.2f}x"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ballots", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--e2e", action="store_true", help="The end-to-end run through a node.")
    ap.add_argument("--residents", type=int, default=1000)
    add_contract_args(ap)
    args = ap.parse_args()
    if args.quick:
        args.ballots = min(args.ballots, 60)
    tool = shutil.which("belenios-tool")
    if tool is None:
        sys.exit("error: belenios-tool is missing (make test-deps installs it)")
    if args.e2e:
        end_to_end(tool, args.residents, args.workers)
        return

    t0 = time.perf_counter()
    ceremony = run_local_ceremony(G, 3, 2)
    t_ceremony = time.perf_counter() - t0
    uuid = new_uuid()
    election = open_election(
        G, uuid, "Bench", "Secret ballot benchmark", QUESTIONS, ceremony.parameters
    )
    t0 = time.perf_counter()
    creds = make_credentials(G, uuid, args.ballots)
    t_creds = time.perf_counter() - t0

    c0, t0 = cpu_seconds(), time.perf_counter()
    sample = [
        build_ballot(election, creds[i].private, vote_for(i)) for i in range(min(5, args.ballots))
    ]
    build_ms = (time.perf_counter() - t0) / len(sample) * 1000
    build_cpu_ms = (cpu_seconds() - c0) / len(sample) * 1000
    with ProcessPoolExecutor(args.workers, initializer=_init, initargs=(election.raw,)) as pool:
        rest = list(
            pool.map(
                _build,
                [(creds[i].private, i) for i in range(len(sample), args.ballots)],
                chunksize=8,
            )
        )
    ballots = sample + rest

    public = {c.public for c in creds}
    n1 = min(20, len(ballots))
    c0, t0 = cpu_seconds(), time.perf_counter()
    assert all(v.ok for v in check_ballots(election, ballots[:n1], public, workers=1))
    per_s_1 = n1 / (time.perf_counter() - t0)
    verify_cpu_ms = (cpu_seconds() - c0) / n1 * 1000
    t0 = time.perf_counter()
    assert all(v.ok for v in check_ballots(election, ballots, public, workers=args.workers))
    per_s_n = len(ballots) / (time.perf_counter() - t0)

    t0 = time.perf_counter()
    tally = encrypted_tally(election, [parse_ballot(b) for b in ballots])
    t_tally = time.perf_counter() - t0
    t0 = time.perf_counter()
    pds = [
        (j + 1, make_partial_decryption(election, tally, ceremony.decryption_key(G, j)).to_json())
        for j in (0, 1)
    ]
    t_decrypt = (time.perf_counter() - t0) / 2
    result = combine_result(
        election, [ceremony.parameters], tally, {o: parse_partial_decryption(t) for o, t in pds}
    )
    data = PublicData(
        election=election,
        trustees=ceremony.trustees_json(),
        credentials=tuple(loads(credentials_json(sorted(public)), "credentials")),
        ballots=tuple(ballots),
        ballots_ended=True,
        tally=tally,
        partial_decryptions=tuple(pds),
        result=result,
        timestamp=int(time.time()),
    )
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write_archive(data, d)
        c0, t0 = cpu_seconds(), time.perf_counter()
        proc = subprocess.run(
            [tool, "election", "verify", "--dir", str(d)],
            capture_output=True,
            text=True,
            check=False,
        )
        t_tool, c_tool = time.perf_counter() - t0, cpu_seconds() - c0
        if proc.returncode != 0 or "all checks passed" not in proc.stderr:
            sys.exit(f"error: belenios-tool refused the export: {proc.stderr.strip()}")
        c0, t0 = cpu_seconds(), time.perf_counter()
        report = verify_public_data(
            read_archive((d / f"{uuid}.bel").read_bytes()), workers=args.workers
        )
        t_ours, c_ours = time.perf_counter() - t0, cpu_seconds() - c0
        assert report.ok and report.result == result
        size = len(archive_bytes(data))

    print(
        f"secret ballot: {args.ballots} ballots, 3 trustees (threshold 2), BELENIOS-2048, "
        f"{args.workers} workers; archive {size / 1e6:.1f} MB"
    )
    print(row("ceremony (3 trustees, all 6 steps)", f"{t_ceremony:.2f} s"))
    print(row(f"credentials ({args.ballots})", f"{t_creds:.2f} s"))
    print(row("", "wall", "CPU", "ballots/s"))
    print(row("ballot build (1 core)", f"{build_ms:.0f} ms", f"{build_cpu_ms:.0f} ms"))
    print(
        row(
            "ballot verify (1 core)",
            f"{1000 / per_s_1:.0f} ms",
            f"{verify_cpu_ms:.0f} ms",
            f"{per_s_1:.1f}/s",
        )
    )
    print(
        row(
            f"ballot verify ({args.workers} cores)",
            f"{1000 / per_s_n:.0f} ms",
            "",
            f"{per_s_n:.1f}/s",
        )
    )
    print(row("encrypted tally", f"{t_tally:.2f} s"))
    print(row("partial decryption (per trustee)", f"{t_decrypt:.2f} s"))
    print(row("", "wall", "CPU"))
    print(row("belenios-tool election verify", f"{t_tool:.2f} s", f"{c_tool:.2f} s"))
    print(row(f"ours, full verify ({args.workers} cores)", f"{t_ours:.2f} s", f"{c_ours:.2f} s"))
    print(row("ratio belenios-tool / ours", f"{t_tool / t_ours:.2f}x", f"{c_tool / c_ours:.2f}x"))
    write_results(args.json, [
        Figure("secret_ballot", f"ballot verify ({args.workers} cores)", round(per_s_n, 1),
               "ballots/s"),
        Figure("secret_ballot", f"export of {args.ballots} ballots verified (ours)",
               round(t_ours, 2), "s", "belenios-tool election verify", round(t_tool, 2),
               round(t_tool / t_ours, 3), higher_is_better=False,
               notes="ratio is belenios-tool's seconds over ours: >= 1 means we are as fast"),
    ])  # fmt: skip


if __name__ == "__main__":
    main()
