"""The homomorphic tally, partial decryptions and the result (Belenios spec 2.0 §4.15–4.19).

1. ``B̂ = last(B)``: the last ballot of each credential (§4.15, :func:`last_ballots`);
2. the encrypted tally: per question and answer, the product of those ballots' ciphertexts,
   each raised to its voter's weight (§4.16, :func:`encrypted_tally`);
3. each trustee's partial decryption: ``alpha ** x`` with a proof (§4.18);
4. the result: the factors combined (Lagrange coefficients within a threshold set), then
   ``log_g(beta / F)`` per answer (§4.19).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ledger.errors import InputError, ProofError
from voting.secret.ballot import Ballot
from voting.secret.election import Election
from voting.secret.elgamal import Ciphertext, ciphertext_from_json, discrete_log, multiply, power
from voting.secret.encoding import dumps, get_int_field, get_list, get_num, get_obj, loads
from voting.secret.group import Group
from voting.secret.proofs import Proof, decryption_prove, decryption_verify, proofs_from_json
from voting.secret.trustees import SingleTrustee, TrusteeKind, trustee_owners

__all__ = [
    "EncryptedTally",
    "PartialDecryption",
    "check_partial_decryption",
    "combine_result",
    "encrypted_tally",
    "encrypted_tally_from_json",
    "lagrange",
    "last_ballots",
    "make_partial_decryption",
    "parse_partial_decryption",
    "parse_result",
    "result_to_json",
    "trustee_public_keys",
]


@dataclass(frozen=True)
class EncryptedTally:
    """``sized_encrypted_tally`` with its ``encrypted_tally`` (§4.16)."""

    num_tallied: int
    total_weight: int
    ciphertexts: tuple[tuple[Ciphertext, ...], ...]

    def ciphertexts_json(self) -> str:
        """The ``encrypted_tally`` text (an array per question of ciphertexts)."""
        return dumps([[c.to_json() for c in row] for row in self.ciphertexts])

    def sized_json(self, tally_hash: str) -> str:
        """The ``sized_encrypted_tally`` text, referring to the tally by its hex hash."""
        return dumps(
            {
                "num_tallied": self.num_tallied,
                "total_weight": self.total_weight,
                "encrypted_tally": tally_hash,
            }
        )


def last_ballots(ballots: Sequence[Ballot]) -> list[Ballot]:
    """``last(B)`` (§4.15): each credential's last ballot, in the order they were last cast."""
    latest: dict[int, int] = {}
    for i, b in enumerate(ballots):
        latest[b.credential] = i
    return [ballots[i] for i in sorted(latest.values())]


def encrypted_tally(
    election: Election, ballots: Sequence[Ballot], weights: Mapping[int, int] | None = None
) -> EncryptedTally:
    """The encrypted tally of the *last* ballot of each credential (§4.15, §4.16).

    ``weights`` maps a public credential to its weight (1 when absent).
    """
    group = election.group
    counted = last_ballots(ballots)
    rows: list[tuple[Ciphertext, ...]] = []
    for qi, q in enumerate(election.questions):
        row = []
        for j in range(q.width):
            cts = []
            for b in counted:
                w = 1 if weights is None else weights.get(b.credential, 1)
                cts.append(power(group, b.answers[qi].choices[j], w))
            row.append(multiply(group, cts))
        rows.append(tuple(row))
    total = sum(1 if weights is None else weights.get(b.credential, 1) for b in counted)
    return EncryptedTally(len(counted), total, tuple(rows))


def encrypted_tally_from_json(sized: str, tally: str) -> EncryptedTally:
    """Parse ``sized_encrypted_tally`` and ``encrypted_tally`` texts (the hash is not checked)."""
    obj = get_obj(loads(sized, "the sized encrypted tally"), "sized_encrypted_tally")
    rows = get_list(loads(tally, "the encrypted tally"), "encrypted_tally")
    return EncryptedTally(
        num_tallied=get_int_field(obj, "num_tallied", "sized_encrypted_tally"),
        total_weight=get_int_field(obj, "total_weight", "sized_encrypted_tally"),
        ciphertexts=tuple(
            tuple(
                ciphertext_from_json(c, f"encrypted_tally[{i}][{j}]")
                for j, c in enumerate(get_list(row, f"encrypted_tally[{i}]"))
            )
            for i, row in enumerate(rows)
        ),
    )


@dataclass(frozen=True)
class PartialDecryption:
    """``partial_decryption`` (§4.18): one factor and one proof per tally ciphertext."""

    decryption_factors: tuple[tuple[int, ...], ...]
    decryption_proofs: tuple[tuple[Proof, ...], ...]

    def to_json(self) -> str:
        return dumps(
            {
                "decryption_factors": [[str(f) for f in row] for row in self.decryption_factors],
                "decryption_proofs": [[p.to_json() for p in row] for row in self.decryption_proofs],
            }
        )


def parse_partial_decryption(raw: str) -> PartialDecryption:
    obj = get_obj(loads(raw, "a partial decryption"), "partial_decryption")
    factors = get_list(obj.get("decryption_factors"), "decryption_factors")
    proofs = get_list(obj.get("decryption_proofs"), "decryption_proofs")
    return PartialDecryption(
        decryption_factors=tuple(
            tuple(
                get_num(f, f"decryption_factors[{i}][{j}]")
                for j, f in enumerate(get_list(row, f"decryption_factors[{i}]"))
            )
            for i, row in enumerate(factors)
        ),
        decryption_proofs=tuple(
            proofs_from_json(row, f"decryption_proofs[{i}]") for i, row in enumerate(proofs)
        ),
    )


def make_partial_decryption(election: Election, tally: EncryptedTally, x: int) -> PartialDecryption:
    """A trustee's partial decryption with its private key ``x`` (§4.18)."""
    factors: list[tuple[int, ...]] = []
    proofs: list[tuple[Proof, ...]] = []
    for row in tally.ciphertexts:
        pairs = [decryption_prove(election.group, election.fingerprint, x, c.alpha) for c in row]
        factors.append(tuple(f for f, _ in pairs))
        proofs.append(tuple(p for _, p in pairs))
    return PartialDecryption(tuple(factors), tuple(proofs))


def check_partial_decryption(
    election: Election, tally: EncryptedTally, pd: PartialDecryption, public_key: int
) -> str | None:
    """``None`` if every factor's proof verifies against ``public_key``, else the reason."""
    shape = [len(row) for row in tally.ciphertexts]
    if [len(r) for r in pd.decryption_factors] != shape or [
        len(r) for r in pd.decryption_proofs
    ] != shape:
        return "its shape does not match the encrypted tally"
    for i, row in enumerate(tally.ciphertexts):
        for j, ct in enumerate(row):
            if not decryption_verify(
                election.group,
                election.fingerprint,
                public_key,
                ct.alpha,
                pd.decryption_factors[i][j],
                pd.decryption_proofs[i][j],
            ):
                return f"the decryption proof of question {i}, answer {j} does not verify"
    return None


def trustee_public_keys(kinds: Sequence[TrusteeKind]) -> dict[int, int]:
    """Owner number (from 1, §4.18) -> the key its partial decryption is checked against."""
    out: dict[int, int] = {}
    for owner, item, position in trustee_owners(kinds):
        kind = kinds[item]
        if isinstance(kind, SingleTrustee):
            out[owner] = kind.key.public_key
        else:
            out[owner] = kind.verification_keys[position].public_key
    return out


def lagrange(q: int, indexes: Sequence[int], delta: int) -> int:
    """``λ_δ = Π_{k ∈ I∖{δ}} k / (k − δ) mod q`` (§4.19)."""
    num, den = 1, 1
    for k in indexes:
        if k != delta:
            num = num * k % q
            den = den * (k - delta) % q
    return num * pow(den, -1, q) % q


def _combine_factors(
    group: Group,
    kinds: Sequence[TrusteeKind],
    pds: Mapping[int, PartialDecryption],
    i: int,
    j: int,
) -> int:
    factors: list[int] = []
    owners = trustee_owners(kinds)
    for item, kind in enumerate(kinds):
        mine = [(owner, pos) for owner, it, pos in owners if it == item and owner in pds]
        if isinstance(kind, SingleTrustee):
            owner, _ = mine[0]
            factors.append(pds[owner].decryption_factors[i][j])
            continue
        chosen = mine[: kind.threshold]
        indexes = [pos + 1 for _, pos in chosen]
        for owner, pos in chosen:
            lam = lagrange(group.q, indexes, pos + 1)
            factors.append(group.pow(pds[owner].decryption_factors[i][j], lam))
    return group.prod(factors)


def combine_result(
    election: Election,
    kinds: Sequence[TrusteeKind],
    tally: EncryptedTally,
    pds: Mapping[int, PartialDecryption],
) -> tuple[tuple[int, ...], ...]:
    """The result (§4.19) from *verified* partial decryptions keyed by owner.

    Every Single trustee and at least ``threshold`` trustees of each Pedersen item must have
    decrypted, else :class:`InputError` (a result is never computed from fewer).
    """
    owners = trustee_owners(kinds)
    for item, kind in enumerate(kinds):
        have = sum(1 for owner, it, _ in owners if it == item and owner in pds)
        need = 1 if isinstance(kind, SingleTrustee) else kind.threshold
        if have < need:
            raise InputError(
                f"trustee group {item + 1} has {have} partial decryptions, {need} needed"
            )
    group = election.group
    result: list[tuple[int, ...]] = []
    for i, row in enumerate(tally.ciphertexts):
        values = []
        for j, ct in enumerate(row):
            f = _combine_factors(group, kinds, pds, i, j)
            try:
                values.append(discrete_log(group, group.div(ct.beta, f), tally.total_weight))
            except InputError:
                raise ProofError(
                    f"question {i}, answer {j}: the decryptions do not give a count "
                    f"between 0 and {tally.total_weight}"
                ) from None
        result.append(tuple(values))
    return tuple(result)


def result_to_json(result: Sequence[Sequence[int]]) -> str:
    """The ``result`` structure (§4.19)."""
    return dumps({"result": [list(row) for row in result]})


def parse_result(raw: str) -> tuple[tuple[int, ...], ...]:
    obj = get_obj(loads(raw, "the result"), "result")
    rows = get_list(obj.get("result"), "result.result")
    out: list[tuple[int, ...]] = []
    for i, row in enumerate(rows):
        values = get_list(row, f"result[{i}]")
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            raise InputError(f"result[{i}] must be integers")
        out.append(tuple(values))
    return tuple(out)
