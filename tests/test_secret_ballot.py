"""Ballots, credentials, elections and verification reports of voting.secret: every refusal
names its reason, and changes nothing."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from ledger.errors import InputError, IntegrityError, ProofError
from tests.support.secret import GROUP, QUESTIONS, secret_election
from voting.secret.archive import archive_bytes, read_archive
from voting.secret.ballot import (
    Ballot,
    ballot_tracker,
    build_ballot,
    check_ballot,
    parse_ballot,
    require_valid_ballot,
)
from voting.secret.credentials import (
    credential_secret,
    generate_credential,
    normalize_credential,
    public_credential,
)
from voting.secret.election import (
    make_election,
    parse_election,
    question_for_kind,
    result_counts,
    vote_vector,
)
from voting.secret.encoding import b64_hash
from voting.secret.group import group_by_name
from voting.secret.proofs import Proof
from voting.secret.verify import check_ballots, verify_public_data

VOTE = [[0, 1, 0], [0, 0, 1, 0], [1, 0, 0], [1, 0, 1]]


def test_ballot_round_trip_and_tracker() -> None:
    se = secret_election()
    raw = se.ballots[0]
    assert parse_ballot(raw).to_json() == raw
    verdict = require_valid_ballot(se.election, raw, {c.public for c in se.credentials})
    assert verdict.tracker == ballot_tracker(raw) == b64_hash(raw)
    assert "=" not in verdict.tracker  # unpadded Base64 (spec §4.15)


def test_election_round_trip() -> None:
    se = secret_election()
    again = parse_election(se.election.raw)
    assert again == se.election
    assert again.fingerprint == se.election.fingerprint


def _refusal(raw: str, credentials: set[int] | None = None) -> str:
    se = secret_election()
    verdict = check_ballot(se.election, raw, credentials)
    assert not verdict.ok
    return verdict.reason or ""


def test_ballot_refusals_name_their_reason() -> None:
    se = secret_election()
    creds = {c.public for c in se.credentials}
    good = parse_ballot(se.ballots[1])
    # A credential that is not in the frozen list.
    assert "not in the election's list" in _refusal(se.ballots[1], creds - {good.credential})
    # A ballot made for another election (same key, other uuid).
    other = make_election(
        uuid="1" * 14,
        name="x",
        description="x",
        group=GROUP,
        public_key=se.election.public_key,
        questions=QUESTIONS,
    )
    foreign = build_ballot(other, se.credentials[1].private, VOTE)
    assert "is for election" in _refusal(foreign)
    # An invalid proof: one individual proof's response moved.
    a0 = good.answers[0]
    p = a0.individual_proofs[0]
    moved = (Proof(p[0].challenge, (p[0].response + 1) % GROUP.q), p[1])
    bad = replace(
        good,
        answers=(
            replace(a0, individual_proofs=(moved, *a0.individual_proofs[1:])),
            *good.answers[1:],
        ),
    )
    assert "choice 0: the individual proof" in _refusal(bad.to_json())
    # The signature does not cover the ballot, or is made with another key.
    assert good.signature is not None
    resigned = replace(good, signature=replace(good.signature, hash="x" + good.signature.hash[1:]))
    assert "hash mismatch" in _refusal(resigned.to_json())
    stolen = replace(good, credential=parse_ballot(se.ballots[2]).credential)
    assert "does not verify" in _refusal(stolen.to_json())
    # Not canonical (the tracker would not be unique), or not JSON at all.
    assert "canonical" in _refusal(json.dumps(json.loads(se.ballots[1]), indent=1))
    with pytest.raises(InputError, match="not valid JSON"):
        require_valid_ballot(se.election, "{")
    with pytest.raises(ProofError, match="individual proof"):
        require_valid_ballot(se.election, bad.to_json())


def test_a_ballot_with_a_missing_question_or_blank_proof_is_refused() -> None:
    se = secret_election()
    good = parse_ballot(se.ballots[1])
    short = Ballot(
        good.election_uuid, good.election_hash, good.credential, good.answers[:-1], good.signature
    )
    assert "3 answers for 4 questions" in _refusal(short.to_json())
    a0 = replace(good.answers[0], blank_proof=None)
    assert "blank proof is missing" in _refusal(
        replace(good, answers=(a0, *good.answers[1:])).to_json()
    )


@pytest.mark.parametrize(
    ("vote", "message"),
    [
        ([[0, 1, 0], [0, 0, 1, 0], [1, 0, 0]], "3 answers for 4 questions"),
        ([[0, 1, 1], [0, 0, 1, 0], [1, 0, 0], [1, 0, 1]], "between 1 and 1"),
        ([[1, 1, 0], [0, 0, 1, 0], [1, 0, 0], [1, 0, 1]], "a blank vote selects no answer"),
        ([[0, 1, 0], [0, 0, 1, 0], [1, 0, 0], [1, 1, 1]], "between 1 and 2"),
        ([[0, 1, 0], [0, 0, 1, 0], [1, 0, 0], [0, 0, 0]], "between 1 and 2"),
        ([[0, 2, 0], [0, 0, 1, 0], [1, 0, 0], [1, 0, 1]], "0 or 1"),
        ([[0, 1], [0, 0, 1, 0], [1, 0, 0], [1, 0, 1]], "expected 3 values"),
    ],
)
def test_out_of_range_votes_are_refused_before_encryption(
    vote: list[list[int]], message: str
) -> None:
    se = secret_election()
    with pytest.raises(InputError, match=message):
        build_ballot(se.election, se.credentials[0].private, vote)


def test_parallel_verification_matches_serial_and_names_the_bad_ballot() -> None:
    se = secret_election()
    good = parse_ballot(se.ballots[0])
    stolen = replace(good, credential=parse_ballot(se.ballots[2]).credential).to_json()
    raws = [*se.ballots, stolen]
    creds = {c.public for c in se.credentials}
    serial = check_ballots(se.election, raws, creds, workers=1)
    parallel = check_ballots(se.election, raws, creds, workers=2)
    assert serial == parallel
    assert [v.ok for v in parallel].count(False) == 1
    assert parallel[len(se.ballots)].tracker == ballot_tracker(stolen)


def test_report_names_the_failing_ballot() -> None:
    se = secret_election()
    good = parse_ballot(se.ballots[0])
    stolen = replace(good, credential=parse_ballot(se.ballots[2]).credential).to_json()
    data = se.public_data(
        ballots=(*se.ballots, stolen), tally=None, partial_decryptions=(), result=None
    )
    report = verify_public_data(data, workers=1)
    assert [(c.step, c.name, c.subject) for c in report.failures] == [
        (2, "ballot", f"ballot {ballot_tracker(stolen)}")
    ]


def test_credentials() -> None:
    cred = generate_credential(GROUP, "abcdefghijkmno")
    assert normalize_credential(cred.private.replace("-", "")) == cred.private
    assert public_credential(GROUP, "abcdefghijkmno", cred.private) == cred.public
    assert credential_secret(GROUP, "abcdefghijkmnp", cred.private) != credential_secret(
        GROUP, "abcdefghijkmno", cred.private
    )
    body = cred.private.replace("-", "")
    wrong = body[:-1] + ("2" if body[-1] != "2" else "3")
    with pytest.raises(InputError, match="checksum"):
        normalize_credential(wrong)
    with pytest.raises(InputError, match="15 Base58"):
        normalize_credential("0OIl-abc")


def test_kinds_groups_and_questions() -> None:
    with pytest.raises(InputError, match="budget ballots cannot be secret"):
        question_for_kind("budget", "x", ["a"])
    with pytest.raises(InputError, match="unknown Belenios group"):
        group_by_name("Ed25519")
    q = question_for_kind("approval", "x", ["a", "b"])
    assert (q.min, q.max, q.blank) == (0, 2, False)
    with pytest.raises(InputError, match="min ≤ max"):
        replace(q, min=3)


def test_archive_tampering_is_detected() -> None:
    se = secret_election()
    blob = bytearray(archive_bytes(se.public_data()))
    at = blob.index(b'"num_tallied":')
    blob[at + len(b'"num_tallied":')] ^= 1  # one digit of the sized tally
    with pytest.raises(IntegrityError, match="does not hash to its name"):
        read_archive(bytes(blob))


def test_vote_vectors_and_result_counts() -> None:
    yes_no, single, approval, stalls = QUESTIONS
    assert vote_vector(yes_no, ["yes"]) == [0, 1, 0]
    assert vote_vector(yes_no, None) == [1, 0, 0]
    assert vote_vector(approval, []) == [0, 0, 0]
    assert vote_vector(stalls, ["games", "books"]) == [1, 0, 1]
    with pytest.raises(InputError, match="does not allow a blank vote"):
        vote_vector(stalls, None)
    with pytest.raises(InputError, match="distinct answers"):
        vote_vector(single, ["Sunday", "Sunday"])
    assert result_counts(yes_no, (1, 2, 3)) == {"yes": 2, "no": 3, "blank": 1}
    se = secret_election()
    assert result_counts(approval, se.result[2]) == {"oak": 2, "lime": 2, "cherry": 2}


def test_public_surface() -> None:
    import voting.secret as vs

    assert sorted(vs.__all__) == vs.__all__
    assert all(hasattr(vs, name) for name in vs.__all__)


@pytest.mark.parametrize("blob", [b"", b"not a tar", b"\0" * 1024])
def test_garbage_is_not_an_archive(blob: bytes) -> None:
    with pytest.raises(InputError):
        read_archive(blob)
