"""Universal verification of a secret ballot's public data (Belenios spec 2.0 §3.5).

:func:`verify_public_data` runs every check an auditor makes and returns an
:class:`ElectionReport` listing each check, what it was about (a ballot's tracker, a
trustee's number) and why it failed; :func:`require_valid_public_data` raises instead.
Ballot proofs dominate the cost, so :func:`check_ballots` spreads them over a process pool.

Checks, in order (numbers kept in the code):

1. setup: every trustee key's proof, certificate and coefficient commitment; each threshold
   verification key matches the commitments; the election key is their product (§4.5–4.7);
   public credentials are distinct group elements (§4.8);
2. ballots: each one valid for this election, signed with a listed credential (§4.11–4.15);
3. encrypted tally: recomputed from the last ballot of each credential (§4.15, §4.16);
4. partial decryptions: each from a known trustee, once, with valid proofs (§4.18);
5. result: enough valid decryptions, and the published result is what they give (§4.19).
"""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

from ledger.errors import InputError, ProofError
from voting.secret.archive import PublicData, parse_credentials
from voting.secret.ballot import BallotVerdict, check_ballot, parse_ballot
from voting.secret.election import Election, parse_election
from voting.secret.encoding import dumps
from voting.secret.proofs import pok_verify
from voting.secret.tally import (
    PartialDecryption,
    check_partial_decryption,
    combine_result,
    encrypted_tally,
    parse_partial_decryption,
    trustee_public_keys,
)
from voting.secret.trustees import (
    SingleTrustee,
    TrusteeKind,
    cert_keys,
    check_cert,
    check_verification_key,
    coefexps_values,
    election_public_key,
    parse_trustees,
    verify_signed,
)

__all__ = [
    "Check",
    "ElectionReport",
    "check_ballots",
    "check_trustees",
    "require_valid_public_data",
    "verify_public_data",
]


@dataclass(frozen=True)
class Check:
    """One verification step: its number and name, its subject, and why it failed."""

    step: int
    name: str
    ok: bool
    subject: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class ElectionReport:
    """Every check made on an election's public data, and the result they support."""

    checks: tuple[Check, ...]
    result: tuple[tuple[int, ...], ...] | None

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    @property
    def failures(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if not c.ok)


# --- 2. ballots, over a process pool -----------------------------------------------------------

_worker_election: Election | None = None
_worker_credentials: frozenset[int] | None = None


def _init_worker(election_raw: str, credentials: frozenset[int] | None) -> None:
    global _worker_election, _worker_credentials
    _worker_election = parse_election(election_raw)
    _worker_credentials = credentials


def _check_chunk(raws: Sequence[str]) -> list[BallotVerdict]:
    assert _worker_election is not None
    return [check_ballot(_worker_election, raw, _worker_credentials) for raw in raws]


def check_ballots(
    election: Election,
    raws: Sequence[str],
    credentials: Collection[int] | None = None,
    workers: int | None = None,
) -> list[BallotVerdict]:
    """:func:`~voting.secret.ballot.check_ballot` on every ballot, in order.

    ``workers`` > 1 uses that many processes (default: every core); small batches and
    ``workers=1`` stay in this process.
    """
    creds = None if credentials is None else frozenset(credentials)
    count = workers if workers is not None else (os.cpu_count() or 1)
    if count <= 1 or len(raws) < 2 * count:
        return [check_ballot(election, raw, creds) for raw in raws]
    size = max(1, min(64, len(raws) // (count * 4)))
    chunks = [list(raws[i : i + size]) for i in range(0, len(raws), size)]
    with ProcessPoolExecutor(
        max_workers=count, initializer=_init_worker, initargs=(election.raw, creds)
    ) as pool:
        out: list[BallotVerdict] = []
        for verdicts in pool.map(_check_chunk, chunks):
            out.extend(verdicts)
        return out


# --- 1. setup ----------------------------------------------------------------------------------


def check_trustees(election: Election, kinds: Sequence[TrusteeKind]) -> list[Check]:
    """Step 1: trustee keys, certificates, commitments and the election key (§4.5–4.7)."""
    group = election.group
    out: list[Check] = []
    for item, kind in enumerate(kinds):
        subject = f"trustee group {item + 1}"
        if isinstance(kind, SingleTrustee):
            ok = pok_verify(group, kind.key.public_key, kind.key.pok)
            out.append(Check(1, "trustee key proof", ok, subject, None if ok else "bad pok"))
            continue
        n = len(kind.certs)
        shape_ok = (
            len(kind.coefexps) == n
            and len(kind.verification_keys) == n
            and 1 <= kind.threshold <= n
        )
        if not shape_ok:
            out.append(Check(1, "threshold parameters", False, subject, "inconsistent sizes"))
            continue
        commitments: list[list[int]] = []
        for i, (cert, coef) in enumerate(zip(kind.certs, kind.coefexps, strict=True)):
            who = f"{subject}, trustee {i + 1}"
            if not check_cert(group, cert):
                out.append(Check(1, "certificate", False, who, "the certificate does not verify"))
                commitments.append([])
                continue
            keys = cert_keys(group, cert)
            signed = verify_signed(group, keys.verification, coef)
            try:
                values = coefexps_values(group, coef, "coefexps")
            except InputError as exc:
                signed, values = False, []
                out.append(Check(1, "coefficient commitments", False, who, exc.message))
            ok = signed and len(values) == kind.threshold
            out.append(
                Check(
                    1, "coefficient commitments", ok, who, None if ok else "bad signature or size"
                )
            )
            commitments.append(values)
        if any(not c for c in commitments):
            continue
        for j, vk in enumerate(kind.verification_keys):
            ok = check_verification_key(group, commitments, j, vk)
            out.append(
                Check(
                    1,
                    "verification key",
                    ok,
                    f"{subject}, trustee {j + 1}",
                    None if ok else "does not match the commitments or its proof fails",
                )
            )
    if all(c.ok for c in out):
        ok = election_public_key(group, kinds) == election.public_key
        out.append(
            Check(1, "election public key", ok, None, None if ok else "not the trustees' product")
        )
    return out


# --- the whole ---------------------------------------------------------------------------------


def verify_public_data(data: PublicData, workers: int | None = None) -> ElectionReport:
    """Run steps 1–5 on ``data``; nothing raises for a failed check, it is reported."""
    election = data.election
    group = election.group
    checks: list[Check] = []
    # 1.
    try:
        kinds = parse_trustees(data.trustees)
        weights = parse_credentials(_credentials_text(data))
    except InputError as exc:
        return ElectionReport((Check(1, "setup", False, None, exc.message),), None)
    checks += check_trustees(election, kinds)
    bad_creds = [c for c in weights if not group.is_element(c)]
    checks.append(
        Check(
            1,
            "public credentials",
            not bad_creds,
            None,
            f"{len(bad_creds)} credentials are not group elements" if bad_creds else None,
        )
    )
    # 2.
    verdicts = check_ballots(election, data.ballots, weights.keys(), workers)
    for v in verdicts:
        checks.append(Check(2, "ballot", v.ok, f"ballot {v.tracker}", v.reason))
    if data.tally is None:
        return ElectionReport(tuple(checks), None)
    # 3.
    if not data.ballots_ended:
        checks.append(Check(3, "encrypted tally", False, None, "a tally before the end of ballots"))
    ballots = [parse_ballot(raw) for raw, v in zip(data.ballots, verdicts, strict=True) if v.ok]
    expected = encrypted_tally(election, ballots, weights)
    same = expected == data.tally
    if data.tally_text is not None:
        same = same and data.tally_text[0] == data.tally.ciphertexts_json()
    checks.append(
        Check(
            3,
            "encrypted tally",
            same,
            None,
            None if same else "not the product of the last valid ballot of each credential",
        )
    )
    # 4.
    keys = trustee_public_keys(kinds)
    valid: dict[int, PartialDecryption] = {}
    for owner, text in data.partial_decryptions:
        subject = f"trustee {owner}"
        if owner not in keys:
            checks.append(Check(4, "partial decryption", False, subject, "no such trustee"))
            continue
        if owner in valid:
            checks.append(Check(4, "partial decryption", False, subject, "a second one"))
            continue
        try:
            pd = parse_partial_decryption(text)
        except InputError as exc:
            checks.append(Check(4, "partial decryption", False, subject, exc.message))
            continue
        reason = check_partial_decryption(election, data.tally, pd, keys[owner])
        checks.append(Check(4, "partial decryption", reason is None, subject, reason))
        if reason is None:
            valid[owner] = pd
    if data.result is None:
        return ElectionReport(tuple(checks), None)
    # 5.
    try:
        computed = combine_result(election, kinds, data.tally, valid)
    except (InputError, ProofError) as exc:
        checks.append(Check(5, "result", False, None, exc.message))
        return ElectionReport(tuple(checks), None)
    ok = computed == data.result
    checks.append(Check(5, "result", ok, None, None if ok else f"the decryptions give {computed}"))
    return ElectionReport(tuple(checks), computed)


def _credentials_text(data: PublicData) -> str:
    return dumps(list(data.credentials))


def require_valid_public_data(data: PublicData, workers: int | None = None) -> ElectionReport:
    """:func:`verify_public_data`, raising on the first failure (:class:`ProofError` for a
    proof or a recomputation that does not hold)."""
    report = verify_public_data(data, workers)
    if not report.ok:
        first = report.failures[0]
        where = f" ({first.subject})" if first.subject else ""
        raise ProofError(f"step {first.step}, {first.name}{where}: {first.detail}")
    return report
