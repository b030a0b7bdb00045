"""Secret ballots under the community's rules: the ceremony, casting, the tally and the
result through exactly the handlers the sequencer and witnesses run; every refusal changes
nothing; the export is verified by the real belenios-tool with the same result."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from audits.views import invariant_findings
from ledger.canonical import canonical_json
from ledger.errors import (
    CivicError,
    ConflictError,
    ForbiddenError,
    InputError,
    ProofError,
    RuleViolation,
)
from ledger.keys import KeyPair
from tests.factory import Community, key
from tests.support.secret import GROUP, run_belenios
from tests.test_secret_belenios import _tamper_ballot, _tamper_pd
from voting import secret_steps as steps
from voting.rules import close_body
from voting.secret.archive import write_archive
from voting.secret.credentials import generate_credential
from voting.secret_rules import public_data, result_body

OPTIONS = ["zebra-crossing", "yellow-benches", "quiet-garden"]
# Each resident's votes in order (resident 0 votes twice: the last counts; 3 never votes).
VOTES: list[list[str]] = [
    ["quiet-garden", "zebra-crossing"],
    ["yellow-benches"],
    ["zebra-crossing"],
    [],
]
EXPECTED = {"zebra-crossing": 2, "yellow-benches": 1, "quiet-garden": 0}


def base_body(closes: str = "2026-11-30T12:00:00Z") -> dict[str, Any]:
    return {
        "kind": "single",
        "title": {"en": "Which improvement first?"},
        "options": [{"id": o, "label": {"en": o}} for o in OPTIONS],
        "passing": "plurality",
        "quorum": {"votes": 1},
        "closes": closes,
    }


@dataclass
class World:
    c: Community
    residents: list[KeyPair]
    trustees: list[KeyPair]
    bid: str
    other: str  # a second secret ballot, for "a ballot for another election"


def _ceremony(c: Community, bid: str, trustees: list[KeyPair]) -> None:
    for type_, step in (
        ("trustee.cert", steps.cert_body),
        ("trustee.polynomial", steps.polynomial_body),
        ("trustee.voutput", steps.voutput_body),
    ):
        for t in trustees:
            c.do(type_, step(c.state, bid, t), t)


def _open(c: Community, residents: list[KeyPair], trustees: list[KeyPair], closes: str) -> str:
    del residents
    body = steps.open_body(base_body(closes), [t.key_id for t in trustees], 2)
    bid = str(c.do("ballot.open", body, c.chair).index)
    for chunk in steps.credential_bodies(c.state, bid):
        c.do("ballot.credentials", chunk, c.chair)
    return bid


@pytest.fixture(scope="module")
def world() -> World:
    c = Community()
    residents = [c.enrol(f"s{i}") for i in range(4)]
    trustees = [c.committee[1], c.committee[2], residents[3]]
    bid = _open(c, residents, trustees, "2026-11-28T12:00:00Z")
    assert c.state.peek("ballot", bid)["status"] == "setup"
    _ceremony(c, bid, trustees)
    other = _open(c, residents, trustees, "2026-11-30T12:00:00Z")
    _ceremony(c, other, trustees)
    return World(c, residents, trustees, bid, other)


def _snapshot(c: Community) -> bytes:
    return canonical_json({ns: copy.deepcopy(c.state.rows(ns)) for ns in c.state.namespaces()})


def refused(w: World, exc: type[CivicError], match: str, fn: Callable[[], object]) -> None:
    before, size = _snapshot(w.c), w.c.state.size
    with pytest.raises(exc, match=match):
        fn()
    assert w.c.state.size == size and _snapshot(w.c) == before


def _vote(w: World, i: int, choice: str, bid: str | None = None) -> dict[str, Any]:
    bid = bid or w.bid
    cred = steps.my_credential(w.c.state, bid, w.residents[i])
    body, _ = steps.vote_body(w.c.state, bid, cred, choice)
    return body


def test_ceremony_fixes_the_election(world: World) -> None:
    doc = world.c.state.peek("ballot", world.bid)
    assert doc["status"] == "open" and doc["mode"] == "secret" and doc["threshold"] == 2
    s = world.c.state.peek("secret", world.bid)
    assert s["phase"] == "done" and json.loads(s["election"])["group"] == GROUP.name
    creds = world.c.state.peek("credential", world.bid)
    assert sorted(creds) == sorted(r.key_id for r in world.residents)


def test_refusals_at_opening(world: World) -> None:
    w, c = world, world.c
    tk = [t.key_id for t in w.trustees]
    budget = {
        **base_body(),
        "kind": "budget",
        "budget": {"amount": 100, "currency": "EUR"},
        "options": [{"id": "a", "label": {"en": "a"}, "cost": {"amount": 1, "currency": "EUR"}}],
        "passing": "greedy",
    }
    body = steps.open_body(budget, tk, 2)
    refused(
        w, InputError, "budget ballots cannot be secret", lambda: c.do("ballot.open", body, c.chair)
    )
    bad_k = steps.open_body(base_body(), tk, 4)
    refused(w, InputError, "threshold", lambda: c.do("ballot.open", bad_k, c.chair))
    stranger = steps.open_body(base_body(), [*tk[:2], key("nobody").key_id], 2)
    refused(
        w, ForbiddenError, "neither a committee", lambda: c.do("ballot.open", stranger, c.chair)
    )


def test_refusals_in_the_setup(world: World) -> None:
    w, c = world, world.c
    body = steps.open_body(base_body(), [t.key_id for t in w.trustees], 2)
    bid = str(c.do("ballot.open", body, c.chair).index)
    (chunk,) = steps.credential_bodies(c.state, bid)
    first = sorted(chunk["credentials"])[0]
    refused(
        w,
        ForbiddenError,
        "only ballot .* opener",
        lambda: c.do("ballot.credentials", chunk, w.trustees[0]),
    )
    stray = {"ballot": bid, "credentials": {key("nobody").key_id: chunk["credentials"][first]}}
    refused(
        w,
        ConflictError,
        "not in ballot .* electorate",
        lambda: c.do("ballot.credentials", stray, c.chair),
    )
    twice = {
        "ballot": bid,
        "credentials": {k: chunk["credentials"][first] for k in sorted(chunk["credentials"])[:2]},
    }
    refused(
        w, InputError, "distinct group element", lambda: c.do("ballot.credentials", twice, c.chair)
    )
    c.do("ballot.credentials", chunk, c.chair)
    refused(w, ConflictError, "already frozen", lambda: c.do("ballot.credentials", chunk, c.chair))
    assert c.state.peek("ballot", bid)["status"] == "setup"  # the ceremony is still to come
    t0 = w.trustees[0]
    cert = steps.cert_body(c.state, bid, t0)
    outsider = w.residents[0]
    refused(w, ForbiddenError, "not a trustee", lambda: c.do("trustee.cert", cert, outsider))
    # Trustee 2 posting trustee 1's certificate: its own seed is not behind it, and the
    # message is another's; a certificate with a broken signature never verifies.
    forged = json.loads(cert["cert"])
    forged["signature"]["response"] = str(int(forged["signature"]["response"]) + 1)
    bad = {"ballot": bid, "cert": json.dumps(forged, separators=(",", ":"))}
    refused(w, ProofError, "does not verify", lambda: c.do("trustee.cert", bad, t0))
    early = {"ballot": bid, "polynomial": "{}"}
    refused(w, ConflictError, "step 'certs'", lambda: c.do("trustee.polynomial", early, t0))
    vote = {"ballot": bid, "belenios": "{}"}
    refused(
        w, ConflictError, "key ceremony is not complete", lambda: c.do("vote.cast", vote, outsider)
    )
    c.do("ballot.cancel", {"ballot": bid, "reason": "test over"}, c.chair)


def test_secret_ballot_life_and_its_refusals(world: World, tmp_path: Path) -> None:
    w, c = world, world.c
    for i, votes in enumerate(VOTES):
        for choice in votes:
            c.do("vote.cast", _vote(w, i, choice), w.residents[i])
    r0, r1 = w.residents[0], w.residents[1]
    doc = c.state.peek("vote", f"{w.bid}/{r0.key_id}")
    assert doc["choice"] is None and doc["n"] == 2 and doc["tracker"]
    # An invalid proof.
    good = _vote(w, 1, "quiet-garden")
    tampered = {**good, "belenios": _tamper_ballot(good["belenios"])}
    refused(w, ProofError, "does not verify", lambda: c.do("vote.cast", tampered, r1))
    # A credential not in the frozen list.
    stray = generate_credential(GROUP, c.state.peek("secret", w.bid)["uuid"])
    body, _ = steps.vote_body(c.state, w.bid, stray.private, "quiet-garden")
    refused(w, ForbiddenError, "not in ballot .* frozen list", lambda: c.do("vote.cast", body, r1))
    # A credential under another resident's envelope.
    refused(w, ForbiddenError, "another resident's credential", lambda: c.do("vote.cast", good, r0))
    # A ballot made for another election.
    foreign = _vote(w, 1, "quiet-garden", bid=w.other)
    moved = {"ballot": w.bid, "belenios": foreign["belenios"]}
    refused(w, ProofError, "is for election", lambda: c.do("vote.cast", moved, r1))
    # A sealed credential opens only with its own resident's key.
    with pytest.raises(InputError, match="sealed to another resident"):
        steps.my_credential(c.state, w.bid, w.residents[2], voter=r1.key_id)
    # Then the close, the decryptions, the result and the export.
    late = _vote(w, 1, "quiet-garden")
    c.advance(3 * 3600)
    refused(w, ConflictError, "closed at", lambda: c.do("vote.cast", late, w.residents[1]))
    wrong = {**close_body(c.state, w.bid), "encrypted_tally": "00" * 32}
    refused(w, RuleViolation, "encrypted tally", lambda: c.do("ballot.close", wrong, c.chair))
    c.do("ballot.close", close_body(c.state, w.bid), c.chair)
    assert c.state.peek("ballot", w.bid)["status"] == "tallying"
    t1, _t2, t3 = w.trustees
    # Fewer than k valid decryptions: no result.
    refused(w, ConflictError, "1 are needed|2 are needed", lambda: result_body(c.state, w.bid))
    pd = steps.decrypt_body(c.state, w.bid, t1)
    bad = {**pd, "partial_decryption": _tamper_pd(pd["partial_decryption"])}
    refused(w, ProofError, "does not verify", lambda: c.do("trustee.decrypt", bad, t1))
    c.do("trustee.decrypt", pd, t1)
    refused(w, ConflictError, "already decrypted", lambda: c.do("trustee.decrypt", pd, t1))
    forced = {"ballot": w.bid, "result": {"counts": EXPECTED}}
    refused(w, ConflictError, "2 are needed", lambda: c.do("ballot.result", forced, c.chair))
    c.do("trustee.decrypt", steps.decrypt_body(c.state, w.bid, t3), t3)
    body = result_body(c.state, w.bid)
    lie = copy.deepcopy(body)
    lie["result"]["counts"]["quiet-garden"] = 1
    refused(
        w,
        RuleViolation,
        "not what the partial decryptions give",
        lambda: c.do("ballot.result", lie, c.chair),
    )
    c.do("ballot.result", body, c.chair)
    result = c.state.peek("ballot", w.bid)["result"]
    assert (
        result["counts"] == EXPECTED
        and result["turnout"] == 3
        and result["chosen"] == ["zebra-crossing"]
    )
    # No choice in clear in any vote record or vote document.
    for rec in c.records:
        if b'"vote.cast"' in rec:
            assert not any(o.encode() in rec for o in OPTIONS)
    # The audit's independent pass (Belenios' universal verification on both cores) finds
    # nothing; a stored partial decryption altered behind the handlers' back is found.
    assert invariant_findings(c.state) == []
    s = c.state.get("secret", w.bid)
    good_pd = s["partial_decryptions"]["1"]
    s["partial_decryptions"]["1"] = _tamper_pd(good_pd)
    c.state.put("secret", w.bid, s)
    found = invariant_findings(c.state)
    assert [f.code for f in found][:1] == ["secret.verify"] and "trustee 1" in found[0].message
    s["partial_decryptions"]["1"] = good_pd
    c.state.put("secret", w.bid, s)
    # The export: belenios-tool verifies it and computes the same result.
    data = public_data(c.state, w.bid)
    write_archive(data, tmp_path)
    proc = run_belenios("election", "verify", "--dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0 and "all checks passed" in proc.stderr, proc.stderr
    proc = run_belenios("election", "compute-result", "--dir", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    row = json.loads(proc.stdout)["result"][0]
    assert row == [0, *EXPECTED.values()]  # blank first, then the options in order


def test_belenios_tool_ballot_accepted_by_the_rules(world: World, tmp_path: Path) -> None:
    """A ballot from ``belenios-tool election generate-ballot`` for our ballot ``other``,
    with the resident's private credential opened from its seal, in their envelope."""
    w, c = world, world.c
    data = public_data(c.state, w.other)
    write_archive(data, tmp_path)
    r2 = w.residents[2]
    (tmp_path / "cred.txt").write_text(steps.my_credential(c.state, w.other, r2) + "\n")
    (tmp_path / "vote.json").write_text(json.dumps([[0, 0, 1, 0]]))
    proc = run_belenios(
        "election",
        "generate-ballot",
        "--dir",
        str(tmp_path),
        "--privcred",
        "cred.txt",
        "--ballot",
        "vote.json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    raw = proc.stdout.strip()
    before = c.state.peek("ballot", w.other)["votes_cast"]
    refused(
        w,
        ForbiddenError,
        "another resident's credential",
        lambda: c.do("vote.cast", {"ballot": w.other, "belenios": raw}, w.residents[0]),
    )
    c.do("vote.cast", {"ballot": w.other, "belenios": raw}, r2)
    assert c.state.peek("ballot", w.other)["votes_cast"] == before + 1
    assert c.state.peek("vote", f"{w.other}/{r2.key_id}")["belenios"] == raw
