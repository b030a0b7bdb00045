"""The threshold key ceremony and the trustees' decryptions, interleaved with belenios-tool's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ledger.errors import InputError, ProofError
from tests.support.secret import GROUP, expected_result, export, run_belenios, secret_election
from voting.secret.archive import PublicData, credentials_json
from voting.secret.ballot import build_ballot, parse_ballot
from voting.secret.election import make_election, question_for_kind
from voting.secret.encoding import dumps, hex_hash, loads
from voting.secret.setup import make_credentials, new_uuid, run_local_ceremony
from voting.secret.tally import (
    check_partial_decryption,
    combine_result,
    encrypted_tally,
    make_partial_decryption,
    parse_partial_decryption,
    trustee_public_keys,
)
from voting.secret.trustees import (
    check_cert,
    election_public_key,
    generate_seed,
    make_cert,
    make_polynomial,
    make_single_trustee,
    make_threshold_parameters,
    make_vinputs,
    make_voutput,
    parse_trustees,
    parse_voutput,
    trustees_to_json,
)
from voting.secret.verify import verify_public_data

_KEYGEN = ("setup", "generate-trustee-key-threshold", "--group", "BELENIOS-2048")


def test_ceremony_steps_interoperate_with_belenios_tool(tmp_path: Path) -> None:
    """belenios-tool runs steps 2, 4, 5 and 6 on our messages; its outputs match ours."""
    seeds = [generate_seed() for _ in range(3)]
    certs = [make_cert(GROUP, s) for s in seeds]
    assert all(check_cert(GROUP, c) for c in certs)
    (tmp_path / "certs.jsons").write_text("".join(dumps(c.to_json()) + "\n" for c in certs))
    proc = run_belenios(*_KEYGEN, "--certs", "certs.jsons", "--step", "2", cwd=tmp_path)
    assert proc.returncode == 0 and "certificates are valid" in proc.stderr, proc.stderr

    polys = [make_polynomial(GROUP, s, certs, 2) for s in seeds]
    (tmp_path / "polynomials.jsons").write_text("".join(p.to_json() + "\n" for p in polys))
    vinputs = make_vinputs(GROUP, certs, polys)
    proc = run_belenios(
        *_KEYGEN,
        "--certs",
        "certs.jsons",
        "--step",
        "4",
        "--polynomials",
        "polynomials.jsons",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    theirs = sorted(p.read_text().strip() for p in tmp_path.glob("*.vinput"))
    assert theirs == sorted(v.to_json() for v in vinputs)  # byte for byte

    # Step 5 by belenios-tool for trustee 2 (from our seed), by us for the others.
    (tmp_path / "t2.key").write_text(seeds[1] + "\n")
    proc = run_belenios(
        *_KEYGEN,
        "--certs",
        "certs.jsons",
        "--key",
        "t2.key",
        "--step",
        "5",
        cwd=tmp_path,
        stdin=vinputs[1].to_json() + "\n",
    )
    assert proc.returncode == 0, proc.stderr
    theirs_vo = parse_voutput(proc.stdout.strip())
    assert theirs_vo.public_key.public_key != 0
    voutputs = [
        make_voutput(GROUP, seeds[0], certs, vinputs[0]),
        theirs_vo,
        make_voutput(GROUP, seeds[2], certs, vinputs[2]),
    ]
    params = make_threshold_parameters(GROUP, certs, polys, voutputs, 2)
    proc = run_belenios(
        *_KEYGEN,
        "--certs",
        "certs.jsons",
        "--step",
        "6",
        "--polynomials",
        "polynomials.jsons",
        cwd=tmp_path,
        stdin="".join(v.to_json() + "\n" for v in voutputs),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == dumps(params.to_json())
    assert parse_trustees(trustees_to_json([params])) == (params,)


def test_a_share_that_does_not_match_its_commitments_is_refused() -> None:
    seeds = [generate_seed() for _ in range(3)]
    certs = [make_cert(GROUP, s) for s in seeds]
    polys = [make_polynomial(GROUP, s, certs, 2) for s in seeds]
    # Trustee 1 sends trustee 2 the share meant for trustee 3.
    bad = polys[0].__class__(
        polys[0].polynomial,
        (polys[0].secrets[0], polys[0].secrets[2], polys[0].secrets[2]),
        polys[0].coefexps,
    )
    vinputs = make_vinputs(GROUP, certs, [bad, *polys[1:]])
    with pytest.raises(ProofError, match="does not decrypt with this trustee"):
        make_voutput(GROUP, seeds[1], certs, vinputs[1])
    with pytest.raises(InputError, match="threshold"):
        make_polynomial(GROUP, seeds[0], certs, 4)


def test_belenios_tool_decrypts_as_one_of_our_trustees(tmp_path: Path) -> None:
    """Trustee 2 decrypts with belenios-tool from its seed and encrypted key; we accept it
    and combine it with trustee 1's to the expected result."""
    se = secret_election()
    d = export(se.public_data(partial_decryptions=(), result=None), tmp_path / "e")
    (d / "t2.key").write_text(se.ceremony.seeds[1] + "\n")
    (d / "t2.dkey").write_text(se.ceremony.voutputs[1].private_key + "\n")
    proc = run_belenios(
        "election",
        "decrypt-threshold",
        "--dir",
        str(d),
        "--key",
        "t2.key",
        "--decryption-key",
        "t2.dkey",
        "--trustee-id",
        "2",
        cwd=d,
    )
    assert proc.returncode == 0, proc.stderr
    # Its output: the partial decryption, then the owned_partial_decryption pointing at it.
    pd_text, owned_text = proc.stdout.splitlines()
    assert json.loads(owned_text) == {"owner": 2, "payload": hex_hash(pd_text)}
    theirs = parse_partial_decryption(pd_text)
    keys = trustee_public_keys([se.ceremony.parameters])
    assert check_partial_decryption(se.election, se.tally, theirs, keys[2]) is None
    assert check_partial_decryption(se.election, se.tally, theirs, keys[1]) is not None
    ours = parse_partial_decryption(se.partial_decryptions[0][1])
    kinds = [se.ceremony.parameters]
    assert combine_result(se.election, kinds, se.tally, {1: ours, 2: theirs}) == expected_result()


def test_no_result_from_fewer_than_threshold_decryptions() -> None:
    se = secret_election()
    pd = make_partial_decryption(se.election, se.tally, se.ceremony.decryption_key(GROUP, 1))
    with pytest.raises(InputError, match="1 partial decryptions, 2 needed"):
        combine_result(se.election, [se.ceremony.parameters], se.tally, {2: pd})


def test_single_and_threshold_trustees_with_weighted_voters(tmp_path: Path) -> None:
    """The other shapes of spec §4.7 and §4.8: a mandatory ("Single") trustee next to a
    threshold group, and voters with weights; belenios-tool and we agree on the result."""
    x_single, single = make_single_trustee(GROUP)
    ceremony = run_local_ceremony(GROUP, 3, 2)
    kinds = [single, ceremony.parameters]
    uuid = new_uuid()
    question = question_for_kind("yes_no", "Adopt the budget?", ["yes", "no"])
    election = make_election(
        uuid=uuid,
        name="Weighted",
        description="Single + Pedersen",
        group=GROUP,
        public_key=election_public_key(GROUP, kinds),
        questions=[question],
    )
    creds = make_credentials(GROUP, uuid, 3)
    weights = {creds[0].public: 3, creds[1].public: 1, creds[2].public: 2}
    votes = [[[0, 1, 0]], [[0, 0, 1]], [[1, 0, 0]]]  # yes ×3, no ×1, blank ×2
    ballots = tuple(build_ballot(election, c.private, v) for c, v in zip(creds, votes, strict=True))
    tally = encrypted_tally(election, [parse_ballot(b) for b in ballots], weights)
    assert (tally.num_tallied, tally.total_weight) == (3, 6)
    pds = {
        1: make_partial_decryption(election, tally, x_single),
        3: make_partial_decryption(election, tally, ceremony.decryption_key(GROUP, 1)),
        4: make_partial_decryption(election, tally, ceremony.decryption_key(GROUP, 2)),
    }
    result = combine_result(election, kinds, tally, pds)
    assert result == ((2, 3, 1),)
    with pytest.raises(InputError, match="trustee group 1 has 0"):
        combine_result(election, kinds, tally, {3: pds[3], 4: pds[4]})
    order = sorted(weights)
    data = PublicData(
        election=election,
        trustees=trustees_to_json(kinds),
        credentials=tuple(loads(credentials_json(order, [weights[c] for c in order]), "c")),
        ballots=ballots,
        ballots_ended=True,
        tally=tally,
        partial_decryptions=tuple((o, pd.to_json()) for o, pd in sorted(pds.items())),
        result=result,
        timestamp=1796000000,
    )
    report = verify_public_data(data, workers=1)
    assert report.ok, report.failures
    d = export(data, tmp_path / "w")
    proc = run_belenios("election", "verify", "--dir", str(d), cwd=d)
    assert proc.returncode == 0 and "all checks passed" in proc.stderr, proc.stderr
