"""Ballots: built on the voter's machine, checked by anyone (Belenios spec 2.0 §4.11–4.15).

A plaintext vote is, per question, a list of 0/1: one per answer, with a leading blank flag
when the question allows blank votes (the format ``belenios-tool election generate-ballot
--ballot`` reads). :func:`build_ballot` encrypts it and proves it well formed;
:func:`check_ballot` re-checks everything a server must check before accepting it (§3.2
step 3) and names the first thing that failed. The ballot travels as its exact JSON text;
its hash is the *smart ballot tracker* the voter keeps (§4.15).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.errors import InputError, ProofError
from voting.secret.credentials import credential_secret, normalize_credential
from voting.secret.election import Election, Question
from voting.secret.elgamal import Ciphertext, ciphertext_from_json, encrypt, multiply
from voting.secret.encoding import b64_hash, dumps, get_list, get_num, get_obj, get_str, loads
from voting.secret.proofs import (
    Proof,
    blank_prove,
    blank_verify,
    iprove,
    iverify,
    overall_blank_prove,
    overall_blank_verify,
    proof_from_json,
    proofs_from_json,
    schnorr_prove,
    schnorr_verify,
)

__all__ = [
    "Answer",
    "Ballot",
    "BallotVerdict",
    "Signature",
    "ballot_tracker",
    "build_ballot",
    "check_ballot",
    "parse_ballot",
    "require_valid_ballot",
    "validate_choices",
]


@dataclass(frozen=True)
class Answer:
    """``answer_h`` (spec §4.11): ciphertexts and their proofs for one question."""

    choices: tuple[Ciphertext, ...]
    individual_proofs: tuple[tuple[Proof, ...], ...]
    overall_proof: tuple[Proof, ...]
    blank_proof: tuple[Proof, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "choices": [c.to_json() for c in self.choices],
            "individual_proofs": [[p.to_json() for p in ps] for ps in self.individual_proofs],
            "overall_proof": [p.to_json() for p in self.overall_proof],
        }
        if self.blank_proof is not None:
            out["blank_proof"] = [p.to_json() for p in self.blank_proof]
        return out


@dataclass(frozen=True)
class Signature:
    """``signature`` (spec §4.14): the hash of the unsigned ballot and a Schnorr proof."""

    hash: str
    proof: Proof


@dataclass(frozen=True)
class Ballot:
    """``ballot`` (spec §4.15)."""

    election_uuid: str
    election_hash: str
    credential: int
    answers: tuple[Answer, ...]
    signature: Signature | None

    def unsigned_json(self) -> str:
        """The serialisation whose ``H_JSON`` is signed (spec §4.15: without ``signature``)."""
        return dumps(self._value(signed=False))

    def to_json(self) -> str:
        """The ballot's canonical text (what is published and hashed for the tracker)."""
        return dumps(self._value(signed=True))

    def _value(self, *, signed: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "election_uuid": self.election_uuid,
            "election_hash": self.election_hash,
            "credential": str(self.credential),
            "answers": [a.to_json() for a in self.answers],
        }
        if signed and self.signature is not None:
            out["signature"] = {
                "hash": self.signature.hash,
                "proof": self.signature.proof.to_json(),
            }
        return out


def ballot_tracker(raw: str) -> str:
    """The smart ballot tracker: ``H_JSON`` of the whole ballot text (spec §4.15)."""
    return b64_hash(raw)


def _answer_from_json(value: Any, what: str) -> Answer:
    obj = get_obj(value, what)
    choices = tuple(
        ciphertext_from_json(c, f"{what}.choices[{i}]")
        for i, c in enumerate(get_list(obj.get("choices"), f"{what}.choices"))
    )
    individual = tuple(
        proofs_from_json(p, f"{what}.individual_proofs[{i}]")
        for i, p in enumerate(get_list(obj.get("individual_proofs"), f"{what}.individual_proofs"))
    )
    blank = obj.get("blank_proof")
    return Answer(
        choices=choices,
        individual_proofs=individual,
        overall_proof=proofs_from_json(obj.get("overall_proof"), f"{what}.overall_proof"),
        blank_proof=None if blank is None else proofs_from_json(blank, f"{what}.blank_proof"),
    )


def parse_ballot(raw: str | bytes) -> Ballot:
    """Parse a ballot's JSON text; :class:`InputError` if it is not shaped as §4.15 says."""
    obj = get_obj(loads(raw, "the ballot"), "the ballot")
    sig = obj.get("signature")
    signature = None
    if sig is not None:
        sig_obj = get_obj(sig, "ballot.signature")
        signature = Signature(
            hash=get_str(sig_obj, "hash", "ballot.signature"),
            proof=proof_from_json(sig_obj.get("proof"), "ballot.signature.proof"),
        )
    return Ballot(
        election_uuid=get_str(obj, "election_uuid", "ballot"),
        election_hash=get_str(obj, "election_hash", "ballot"),
        credential=get_num(obj.get("credential"), "ballot.credential"),
        answers=tuple(
            _answer_from_json(a, f"ballot.answers[{i}]")
            for i, a in enumerate(get_list(obj.get("answers"), "ballot.answers"))
        ),
        signature=signature,
    )


def validate_choices(election: Election, choices: Sequence[Sequence[int]]) -> None:
    """Check a plaintext vote against the questions' shapes and bounds (§4.9.1, §4.11.1)."""
    if len(choices) != len(election.questions):
        raise InputError(
            f"the vote has {len(choices)} answers for {len(election.questions)} questions"
        )
    for i, (q, vote) in enumerate(zip(election.questions, choices, strict=True)):
        if len(vote) != q.width:
            raise InputError(f"question {i}: expected {q.width} values, got {len(vote)}")
        if any(v not in (0, 1) or isinstance(v, bool) for v in vote):
            raise InputError(f"question {i}: every value must be 0 or 1")
        picked = sum(vote[1:]) if q.blank else sum(vote)
        if q.blank and vote[0] == 1:
            if picked != 0:
                raise InputError(f"question {i}: a blank vote selects no answer")
        elif not q.min <= picked <= q.max:
            raise InputError(f"question {i}: select between {q.min} and {q.max} answers")


def _s_string(s0: str, choices: Sequence[Ciphertext]) -> str:
    # Spec §4.11.1: S = S0 | alpha1,beta1,alpha2,beta2,...
    return s0 + "|" + ",".join(f"{c.alpha},{c.beta}" for c in choices)


def _encrypt_answer(election: Election, q: Question, vote: Sequence[int], s0: str) -> Answer:
    group, y = election.group, election.public_key
    rs = [group.random_zq() for _ in vote]
    cts = tuple(encrypt(group, y, m, r) for m, r in zip(vote, rs, strict=True))
    individual = tuple(
        iprove(group, y, s0, ct, r, m, (0, 1)) for ct, r, m in zip(cts, rs, vote, strict=True)
    )
    s = _s_string(s0, cts)
    if not q.blank:
        r_sum = sum(rs) % group.q
        overall = iprove(
            group,
            y,
            s,
            multiply(group, cts),
            r_sum,
            sum(vote) - q.min,
            tuple(range(q.min, q.max + 1)),
        )
        return Answer(choices=cts, individual_proofs=individual, overall_proof=overall)
    # Spec §4.13: (alpha0, beta0) is the blank flag, (alphaΣ, betaΣ) the product of the rest.
    ct_sum = multiply(group, cts[1:])
    r_sum = sum(rs[1:]) % group.q
    is_blank = vote[0] == 1
    blank = blank_prove(group, y, s, cts[0], ct_sum, rs[0], r_sum, is_blank)
    overall = overall_blank_prove(
        group, y, s, cts[0], ct_sum, rs[0], r_sum, sum(vote[1:]), (q.min, q.max), is_blank
    )
    return Answer(
        choices=cts, individual_proofs=individual, overall_proof=overall, blank_proof=blank
    )


def build_ballot(
    election: Election, private_credential: str, choices: Sequence[Sequence[int]]
) -> str:
    """Encrypt ``choices`` and sign with the credential: the ballot's JSON text (§4.11–4.15).

    Runs on the voter's machine: the private credential and the plaintext never leave it.
    """
    validate_choices(election, choices)
    group = election.group
    group.precompute(election.public_key)
    secret = credential_secret(group, election.uuid, normalize_credential(private_credential))
    credential = group.g_pow(secret)
    # Spec §4.11: S0 = φ | g^s.
    s0 = f"{election.fingerprint}|{credential}"
    answers = tuple(
        _encrypt_answer(election, q, vote, s0)
        for q, vote in zip(election.questions, choices, strict=True)
    )
    unsigned = Ballot(
        election_uuid=election.uuid,
        election_hash=election.fingerprint,
        credential=credential,
        answers=answers,
        signature=None,
    )
    h = b64_hash(unsigned.unsigned_json())
    proof = schnorr_prove(group, f"sig|{h}|", secret)  # spec §4.14
    signed = Ballot(
        election_uuid=unsigned.election_uuid,
        election_hash=unsigned.election_hash,
        credential=credential,
        answers=answers,
        signature=Signature(hash=h, proof=proof),
    )
    return signed.to_json()


@dataclass(frozen=True)
class BallotVerdict:
    """The outcome of :func:`check_ballot`: the tracker, whether it holds, and why not."""

    tracker: str
    ok: bool
    credential: int | None
    reason: str | None = None
    kind: str | None = None  # "input" (malformed) or "proof" (a check failed)


def _check_answer(election: Election, q: Question, a: Answer, s0: str, index: int) -> str | None:
    group, y = election.group, election.public_key
    where = f"question {index}"
    if len(a.choices) != q.width or len(a.individual_proofs) != q.width:
        return f"{where}: expected {q.width} ciphertexts and individual proofs"
    for j, ct in enumerate(a.choices):
        if not (group.is_element(ct.alpha) and group.is_element(ct.beta)):
            return f"{where}, choice {j}: the ciphertext is not made of group elements"
    # Spec §4.11.1: each value is 0 or 1, proven with S0.
    for j, (ct, proofs) in enumerate(zip(a.choices, a.individual_proofs, strict=True)):
        if not iverify(group, y, s0, ct, proofs, (0, 1)):
            return f"{where}, choice {j}: the individual proof does not verify"
    s = _s_string(s0, a.choices)
    if not q.blank:
        if a.blank_proof is not None:
            return f"{where}: a blank proof on a question without blank votes"
        if not iverify(
            group, y, s, multiply(group, a.choices), a.overall_proof, range(q.min, q.max + 1)
        ):
            return f"{where}: the overall proof (min {q.min}, max {q.max}) does not verify"
        return None
    if a.blank_proof is None:
        return f"{where}: the blank proof is missing"
    ct_sum = multiply(group, a.choices[1:])
    if not blank_verify(group, y, s, a.choices[0], ct_sum, a.blank_proof):
        return f"{where}: the blank proof does not verify"
    if not overall_blank_verify(group, y, s, a.choices[0], ct_sum, a.overall_proof, (q.min, q.max)):
        return f"{where}: the overall proof (min {q.min}, max {q.max}) does not verify"
    return None


def check_ballot(
    election: Election, raw: str, credentials: Collection[int] | None = None
) -> BallotVerdict:
    """Every check of spec §3.2 step 3 and §4.11–4.15 on one ballot text.

    1. it parses, and is in canonical form (so its tracker is unique);
    2. it is for this election (uuid and fingerprint ``φ``);
    3. its credential is a group element and, if ``credentials`` is given, in that list;
    4. every answer has the right shape and its proofs verify (§4.12, §4.13);
    5. the signature covers the unsigned ballot and verifies with the credential (§4.14).
    """
    tracker = ballot_tracker(raw)
    try:
        ballot = parse_ballot(raw)
    except InputError as exc:
        return BallotVerdict(tracker, False, None, exc.message, "input")
    group = election.group
    group.precompute(election.public_key)
    cred = ballot.credential

    def bad(reason: str, kind: str = "proof") -> BallotVerdict:
        return BallotVerdict(tracker, False, cred, reason, kind)

    # 1.
    if ballot.to_json() != raw:
        return bad("the ballot is not in Belenios' canonical JSON form", "input")
    # 2.
    if ballot.election_uuid != election.uuid:
        return bad(f"the ballot is for election {ballot.election_uuid}, not {election.uuid}")
    if ballot.election_hash != election.fingerprint:
        return bad("the ballot's election_hash is not this election's fingerprint")
    # 3.
    if not group.is_element(cred):
        return bad("the credential is not a group element")
    if credentials is not None and cred not in credentials:
        return bad("the credential is not in the election's list of public credentials")
    # 4.
    if len(ballot.answers) != len(election.questions):
        return bad(f"{len(ballot.answers)} answers for {len(election.questions)} questions")
    s0 = f"{election.fingerprint}|{cred}"
    for i, (q, a) in enumerate(zip(election.questions, ballot.answers, strict=True)):
        reason = _check_answer(election, q, a, s0, i)
        if reason is not None:
            return bad(reason)
    # 5.
    if ballot.signature is None:
        return bad("the ballot is not signed")
    if ballot.signature.hash != b64_hash(ballot.unsigned_json()):
        return bad("the signature does not cover this ballot (hash mismatch)")
    if not schnorr_verify(group, f"sig|{ballot.signature.hash}|", cred, ballot.signature.proof):
        return bad("the credential signature does not verify")
    return BallotVerdict(tracker, True, cred)


def require_valid_ballot(
    election: Election, raw: str, credentials: Collection[int] | None = None
) -> BallotVerdict:
    """:func:`check_ballot`, raising :class:`InputError` or :class:`ProofError` on failure."""
    verdict = check_ballot(election, raw, credentials)
    if not verdict.ok:
        message = f"ballot {verdict.tracker}: {verdict.reason}"
        if verdict.kind == "input":
            raise InputError(message)
        raise ProofError(message)
    return verdict
