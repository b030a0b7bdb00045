"""Secret-ballot benchmark skeleton: ballot building and verification in
Belenios' format, ours against the real ``belenios-tool`` on the same export.

Builds one election (3 trustees, threshold 2; a yes/no, a single-choice and an approval
question), N ballots (on the pool's cores, so setup is quick; the build figure is per ballot
on one core), the tally, two partial decryptions and the result, then:

- ballot verifications per second, on 1 core and on ``--workers`` cores (process pool);
- the whole export verified by ``belenios-tool election verify --dir`` and by ours
  (``read_archive`` + ``verify_public_data``), each timed in the same run; the ratio is
  belenios-tool's seconds over ours (≥ 1.0 means we are at least as fast).

The end-to-end HTTP run (1,000 residents casting through the sequencer) comes with the
integration of secret ballots into the node.

    .venv/bin/python bench/bench_secret_ballot.py [--ballots 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import row as _row
from voting.secret.archive import (
    PublicData,
    archive_bytes,
    credentials_json,
    read_archive,
    write_archive,
)
from voting.secret.ballot import build_ballot, parse_ballot
from voting.secret.election import Election, parse_election, question_for_kind
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ballots", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    tool = shutil.which("belenios-tool")
    if tool is None:
        sys.exit("error: belenios-tool is missing (make test-deps installs it)")

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


if __name__ == "__main__":
    main()
