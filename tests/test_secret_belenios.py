"""Our secret elections against the independent implementation: the real belenios-tool."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.errors import ProofError
from tests.support.secret import (
    GROUP,
    expected_result,
    export,
    run_belenios,
    secret_election,
)
from voting.secret.archive import archive_bytes, read_archive
from voting.secret.ballot import Ballot, check_ballot, parse_ballot
from voting.secret.elgamal import Ciphertext
from voting.secret.encoding import hex_hash
from voting.secret.tally import PartialDecryption, parse_partial_decryption
from voting.secret.verify import require_valid_public_data, verify_public_data


def _verify(directory: Path) -> tuple[bool, str]:
    proc = run_belenios("election", "verify", "--dir", str(directory), cwd=directory)
    return proc.returncode == 0 and "all checks passed" in proc.stderr, proc.stderr


def test_our_election_verified_by_belenios_tool(tmp_path: Path) -> None:
    se = secret_election()
    assert se.result == expected_result()
    ok, out = _verify(export(se.public_data(), tmp_path / "full"))
    assert ok, out
    assert verify_public_data(se.public_data(), workers=2).ok


def test_belenios_tool_computes_our_tally_and_result(tmp_path: Path) -> None:
    """belenios-tool recomputes the encrypted tally and the result from our archive."""
    se = secret_election()
    d = export(se.public_data(tally=None, partial_decryptions=(), result=None), tmp_path / "a")
    proc = run_belenios("election", "compute-encrypted-tally", "--dir", str(d), cwd=d)
    assert proc.returncode == 0, proc.stderr
    tally_text, sized_text = proc.stdout.splitlines()
    assert tally_text == se.tally.ciphertexts_json()  # byte for byte
    assert sized_text == se.tally.sized_json(hex_hash(tally_text))
    d = export(se.public_data(result=None), tmp_path / "b")
    proc = run_belenios("election", "compute-result", "--dir", str(d), cwd=d)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["result"] == [list(r) for r in expected_result()]


def test_archive_round_trip() -> None:
    se = secret_election()
    blob = archive_bytes(se.public_data())
    data = read_archive(blob)
    assert archive_bytes(data) == blob
    assert data.ballots == se.ballots
    assert data.result == se.result


def test_belenios_tool_ballot_accepted_by_us(tmp_path: Path) -> None:
    """A ballot from `belenios-tool election generate-ballot` for our election, with a
    private credential we generated, passes our checks and counts."""
    se = secret_election()
    d = export(
        se.public_data(
            ballots=(), ballots_ended=False, tally=None, partial_decryptions=(), result=None
        ),
        tmp_path / "setup",
    )
    cred = se.credentials[4]  # the voter who did not vote
    (d / "cred.txt").write_text(cred.private + "\n")
    vote = [[0, 1, 0], [0, 0, 0, 1], [0, 1, 1], [0, 1, 1]]
    (d / "vote.json").write_text(json.dumps(vote))
    proc = run_belenios(
        "election",
        "generate-ballot",
        "--dir",
        str(d),
        "--privcred",
        "cred.txt",
        "--ballot",
        "vote.json",
        cwd=d,
    )
    assert proc.returncode == 0, proc.stderr
    raw = proc.stdout.strip()
    creds = {c.public for c in se.credentials}
    verdict = check_ballot(se.election, raw, creds)
    assert verdict.ok, verdict.reason
    assert verdict.credential == cred.public
    # Wrong credential list or another election: refused.
    assert not check_ballot(se.election, raw, creds - {cred.public}).ok
    # Counted with ours, verified by both.
    data = se.public_data(
        ballots=(*se.ballots, raw),
        tally=None,
        partial_decryptions=(),
        result=None,
        ballots_ended=False,
    )
    assert verify_public_data(data, workers=1).ok
    ok, out = _verify(export(data, tmp_path / "with"))
    assert ok, out
    # belenios-tool appends it to our archive itself: we read and verify its archive.
    proc = run_belenios(
        "archive", "add-event", "--type=Ballot", "--dir", str(d), cwd=d, stdin=raw + "\n"
    )
    assert proc.returncode == 0, proc.stderr
    appended = read_archive((d / f"{se.election.uuid}.bel").read_bytes())
    assert appended.ballots == (raw,)
    assert verify_public_data(appended, workers=1).ok


def _tamper_ballot(raw: str) -> str:
    b = parse_ballot(raw)
    first = b.answers[0]
    ct = first.choices[1]
    bumped = Ciphertext(ct.alpha, GROUP.mul(ct.beta, GROUP.g))  # now encrypts m + 1
    answers = (
        replace(first, choices=(first.choices[0], bumped, *first.choices[2:])),
        *b.answers[1:],
    )
    return Ballot(b.election_uuid, b.election_hash, b.credential, answers, b.signature).to_json()


def _tamper_pd(text: str) -> str:
    pd = parse_partial_decryption(text)
    rows = [list(r) for r in pd.decryption_factors]
    rows[0][0] = GROUP.mul(rows[0][0], GROUP.g)
    return PartialDecryption(tuple(tuple(r) for r in rows), pd.decryption_proofs).to_json()


@pytest.mark.parametrize("what", ["ciphertext", "decryption share", "result"])
def test_tampered_export_refused_by_both(tmp_path: Path, what: str) -> None:
    se = secret_election()
    if what == "ciphertext":
        ballots = (_tamper_ballot(se.ballots[0]), *se.ballots[1:])
        data = se.public_data(ballots=ballots, tally=None, partial_decryptions=(), result=None)
        subject = "ballot"
    elif what == "decryption share":
        (o1, t1), rest = se.partial_decryptions[0], se.partial_decryptions[1:]
        # belenios-tool checks decryptions only against a published result: keep ours.
        data = se.public_data(partial_decryptions=((o1, _tamper_pd(t1)), *rest))
        subject = "partial decryption"
    else:
        wrong = tuple(
            tuple(v + (1 if (i, j) == (1, 2) else 0) for j, v in enumerate(row))
            for i, row in enumerate(se.result)
        )
        data = se.public_data(result=wrong)
        subject = "result"
    ok, out = _verify(export(data, tmp_path / "t"))
    assert not ok, f"belenios-tool accepted a tampered {what}: {out}"
    report = verify_public_data(data, workers=1)
    assert not report.ok
    assert report.failures[0].name == subject
    if what == "decryption share":
        # One valid decryption is fewer than the threshold: no result can stand on it.
        assert report.failures[0].subject == "trustee 1"
        assert "1 partial decryptions, 2 needed" in (report.failures[1].detail or "")
    with pytest.raises(ProofError, match=subject):
        require_valid_public_data(data, workers=1)
