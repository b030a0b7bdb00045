"""The browser's Belenios module (node/web/js/belenios) against the Python side.

Headless Chromium builds ballots with the page's own JavaScript on fixed inputs (an
election, a credential, a plaintext vote made here with voting.secret); the Python
verifier that the sequencer and every witness run must accept them, and so must the real
belenios-tool. The sealed credential and BLAKE2b are checked against PyNaCl and hashlib,
the election the page rebuilds from records against the one the rules fix.
"""

from __future__ import annotations

import hashlib
import json
import statistics
from collections.abc import Iterator
from typing import Any

import pytest

from ledger.keys import generate_keypair
from tests.support.secret import GROUP, QUESTIONS, export, run_belenios, secret_election
from tests.support.web import browser, static_server
from voting.sealed import seal_credential
from voting.secret.ballot import check_ballot
from voting.secret.credentials import credential_secret
from voting.secret.encoding import dumps
from voting.secret.setup import run_local_ceremony
from voting.secret_rules import question_of

# The module is loaded into an empty page (no app): only the crypto runs.
LOAD = "async () => { window.B = await import('/js/belenios/index.js'); }"

BUILD = """async ([raw, credential, choices]) => {
  const e = await B.parseElection(raw);
  const c = B.normalizeCredential(credential);
  const s = await B.credentialSecret(e.group, e.uuid, c);
  const t0 = performance.now();
  const b = await B.buildBallot(e, s, choices);
  return { raw: b.raw, tracker: b.tracker, credential: b.credential.toString(), ms: performance.now() - t0 };
}"""


@pytest.fixture(scope="module")
def page() -> Iterator[Any]:
    with browser() as b, static_server() as url:
        ctx = b.new_context()
        pg = ctx.new_page()
        pg.goto(url + "/")
        pg.evaluate(LOAD)
        yield pg
        ctx.close()


def _build(page: Any, raw: str, credential: str, choices: list[list[int]]) -> dict[str, Any]:
    out: dict[str, Any] = page.evaluate(BUILD, [raw, credential, choices])
    return out


# Each a plaintext for QUESTIONS (blank flag first where allowed): blank votes, the
# approval question with none and all, the 1-to-2 question at both bounds.
VOTES = [
    [[0, 1, 0], [0, 0, 1, 0], [1, 0, 1], [0, 1, 1]],
    [[1, 0, 0], [1, 0, 0, 0], [0, 0, 0], [1, 0, 0]],
    [[0, 0, 1], [0, 0, 0, 1], [1, 1, 1], [0, 0, 1]],
]


def test_ballots_built_in_chromium_pass_the_python_verifier(page: Any) -> None:
    se = secret_election()
    cred = se.credentials[4]  # the voter who has not voted
    creds = {c.public for c in se.credentials}
    times = []
    for vote in VOTES:
        out = _build(page, se.election.raw, cred.private, vote)
        times.append(out["ms"])
        verdict = check_ballot(se.election, out["raw"], creds)
        assert verdict.ok, verdict.reason
        assert verdict.credential == cred.public == int(out["credential"])
        assert verdict.tracker == out["tracker"]
        # The ballot carries no plaintext and no credential in clear.
        assert cred.private not in out["raw"]
    # The figure for the notes (no threshold: the machine is shared).
    print(f"JS ballot for {len(QUESTIONS)} questions: median {statistics.median(times):.0f} ms")


def test_the_credential_exponent_is_the_python_one(page: Any) -> None:
    se = secret_election()
    for c in se.credentials[:3]:
        got = page.evaluate(
            "async ([u, c]) => (await B.credentialSecret(B.BELENIOS_2048, u, B.normalizeCredential(c))).toString()",
            [se.election.uuid, c.private.replace("-", "")],
        )
        assert int(got) == credential_secret(GROUP, se.election.uuid, c.private)
    bad = se.credentials[0].private[:-1] + ("2" if se.credentials[0].private[-1] != "2" else "3")
    err = page.evaluate(
        "(c) => { try { B.normalizeCredential(c); return null } catch (e) { return e.message } }",
        bad,
    )
    assert err is not None and "checksum" in err


def test_belenios_tool_verifies_an_election_with_browser_ballots(page: Any, tmp_path: Any) -> None:
    se = secret_election()
    raw = _build(page, se.election.raw, se.credentials[4].private, VOTES[0])["raw"]
    data = se.public_data(
        ballots=(*se.ballots, raw),
        tally=None,
        partial_decryptions=(),
        result=None,
        ballots_ended=False,
    )
    d = export(data, tmp_path / "browser")
    proc = run_belenios("election", "verify", "--dir", str(d), cwd=d)
    assert proc.returncode == 0 and "all checks passed" in proc.stderr, proc.stderr


def test_a_ballot_with_a_wrong_proof_is_refused_with_the_reason(page: Any) -> None:
    se = secret_election()
    raw = _build(page, se.election.raw, se.credentials[4].private, VOTES[0])["raw"]
    value = json.loads(raw)
    proof = value["answers"][1]["individual_proofs"][2][0]
    proof["response"] = str((int(proof["response"]) + 1) % GROUP.q)
    verdict = check_ballot(se.election, dumps(value))
    assert not verdict.ok
    assert verdict.reason == "question 1, choice 2: the individual proof does not verify"


@pytest.mark.parametrize("length", [0, 1, 64, 127, 128, 129, 300])
def test_blake2b_matches_hashlib(page: Any, length: int) -> None:
    data = bytes((7 * i + length) % 256 for i in range(length))
    for outlen in (24, 64):
        got = page.evaluate(
            "([d, n]) => Array.from(B.blake2b(new Uint8Array(d), n))", [list(data), outlen]
        )
        assert bytes(got) == hashlib.blake2b(data, digest_size=outlen).digest()


def test_the_sealed_credential_opens_with_the_residents_key_only(page: Any) -> None:
    se = secret_election()
    mine, other = generate_keypair(), generate_keypair()
    sealed = seal_credential(mine.key_id, se.credentials[0].private)
    js = """async ([sk, sealed]) => {
      const { loadNacl } = await import('/js/verify/ed25519.js');
      const nacl = await loadNacl();
      try { return { ok: B.openSealedCredential(nacl, new Uint8Array(sk), sealed) } }
      catch (e) { return { err: e.message } }
    }"""
    assert page.evaluate(js, [list(mine.seed + mine.public_key), sealed]) == {
        "ok": se.credentials[0].private
    }
    got = page.evaluate(js, [list(other.seed + other.public_key), sealed])
    assert "another resident" in got["err"]
    assert "base64" in page.evaluate(js, [list(mine.seed + mine.public_key), "AAAA"])["err"]


@pytest.mark.parametrize("kind", ["yes_no", "single", "approval"])
def test_the_election_rebuilt_from_records_is_the_rules_one(page: Any, kind: str) -> None:
    from voting.secret.setup import open_election

    ceremony = run_local_ceremony(GROUP, 3, 2)
    body: dict[str, Any] = {
        "kind": kind,
        "title": {"zh": "秘密投票", "en": 'Secret "ballot" / 投票'},
        "text": {"zh": "说明"},
        "mode": "secret",
        "secret": {"group": GROUP.name, "uuid": "Ab3dEfGh1JkLmN", "trustees": ["a", "b", "c"]},
    }
    if kind != "yes_no":
        body["options"] = [{"id": o, "label": {"en": o}} for o in ("oak", "lime", "cherry")]
    doc = {**body, "options": body.get("options") or [{"id": o} for o in ("yes", "no", "abstain")]}
    expected = open_election(
        GROUP, "Ab3dEfGh1JkLmN", 'Secret "ballot" / 投票', "说明", [question_of(doc)],
        ceremony.parameters,
    )  # fmt: skip
    polys = [dumps({"coefexps": c.to_json()}) for c in ceremony.parameters.coefexps]
    got = page.evaluate(
        "async ([b, p]) => { const e = await B.electionFromRecords(b, p); return [e.raw, e.fingerprint] }",
        [body, polys],
    )
    assert got == [expected.raw, expected.fingerprint]


def test_random_exponents_are_below_q(page: Any) -> None:
    xs = page.evaluate(
        "() => Array.from({length: 200}, () => B.randomZq(B.BELENIOS_2048).toString())"
    )
    values = [int(x) for x in xs]
    assert all(0 <= x < GROUP.q for x in values) and len(set(values)) == 200
    # A source that first offers values ≥ q must be redrawn, not reduced modulo q.
    got = page.evaluate(
        """() => { let n = 0; const src = (k) => { n += 1; return n === 1 ? new Uint8Array(k).fill(255) : new Uint8Array(k).fill(1) };
           return [B.randomZq(B.BELENIOS_2048, src).toString(), n] }"""
    )
    assert got == [str(int.from_bytes(b"\x01" * 32, "big")), 2]


def test_time_per_ballot_in_chromium(page: Any) -> None:
    """The figures for the notes: a one-question ballot like the demo's (three options and
    blank: four ciphertexts) and the four-question one, medians of seven; and one 2048-bit
    exponentiation with a 256-bit exponent. Printed, never asserted (shared machine)."""
    from voting.secret.election import make_election, question_for_kind

    se = secret_election()
    single = make_election(
        uuid=se.election.uuid,
        name="timing",
        description="",
        group=GROUP,
        public_key=se.election.public_key,
        questions=[question_for_kind("single", "Which?", ["a", "b", "c"])],
    )
    cred = se.credentials[0].private
    one = [_build(page, single.raw, cred, [[0, 1, 0, 0]])["ms"] for _ in range(7)]
    four = [_build(page, se.election.raw, cred, VOTES[0])["ms"] for _ in range(7)]
    assert check_ballot(single, _build(page, single.raw, cred, [[1, 0, 0, 0]])["raw"]).ok
    pow_ms = page.evaluate(
        """() => { const G = B.BELENIOS_2048; const y = G.gPow(12345n); const es = Array.from({length: 21}, () => B.randomZq(G));
           const t = es.map((e) => { const t0 = performance.now(); G.pow(y, e); return performance.now() - t0 }); t.sort((a, b) => a - b); return t[10] }"""
    )
    print(
        f"\nJS ballot, 1 question (4 ciphertexts): median {statistics.median(one):.0f} ms "
        f"(min {min(one):.0f}, max {max(one):.0f}); 4 questions (13 ciphertexts): median "
        f"{statistics.median(four):.0f} ms; one modexp: median {pow_ms:.2f} ms"
    )
