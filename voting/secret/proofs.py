"""The zero-knowledge proofs of Belenios 2.0, built and checked (spec §4.5–4.18).

Every proof is a list of ``(challenge, response)`` pairs with ``response = w - x·challenge``
and commitments recomputed as ``g ** response · X ** challenge``. The Fiat–Shamir hashes are
``SHA256(prefix ‖ e1,e2,…) mod q`` (:meth:`Group.hash_to_zq`) with these prefixes:

=====================  ================================================  ===========
proof                  prefix                                            spec
=====================  ================================================  ===========
interval membership    ``prove|S|alpha,beta|``                           §4.12
blank, case m0 = 0     ``bproof0|S|``                                    §4.13
overall with blank     ``bproof1|S|``                                    §4.13
credential signature   ``sig|H|``                                        §4.14
decryption factor      ``decrypt|φ|X|``                                  §4.18
knowledge of a key     ``pok|G|X|``                                      §4.5
signed message         ``sigmsg|M|``                                     §4.6.1
=====================  ================================================  ===========
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from voting.secret.elgamal import Ciphertext
from voting.secret.encoding import get_list, get_num, get_obj, num
from voting.secret.group import Group

__all__ = [
    "Proof",
    "blank_prove",
    "blank_verify",
    "decryption_prove",
    "decryption_verify",
    "iprove",
    "iverify",
    "overall_blank_prove",
    "overall_blank_verify",
    "pok_prove",
    "pok_verify",
    "proof_from_json",
    "proofs_from_json",
    "schnorr_prove",
    "schnorr_verify",
]


@dataclass(frozen=True)
class Proof:
    """One ``proof`` (spec §4.3): a challenge and a response in ``Z_q``."""

    challenge: int
    response: int

    def to_json(self) -> dict[str, str]:
        return {"challenge": num(self.challenge), "response": num(self.response)}


def proof_from_json(value: Any, what: str) -> Proof:
    obj = get_obj(value, what)
    return Proof(
        challenge=get_num(obj.get("challenge"), f"{what}.challenge"),
        response=get_num(obj.get("response"), f"{what}.response"),
    )


def proofs_from_json(value: Any, what: str) -> tuple[Proof, ...]:
    return tuple(proof_from_json(p, f"{what}[{i}]") for i, p in enumerate(get_list(value, what)))


def _in_zq(group: Group, proofs: Sequence[Proof]) -> bool:
    return all(0 <= p.challenge < group.q and 0 <= p.response < group.q for p in proofs)


def _commit_g(group: Group, proof: Proof, x: int) -> int:
    """``g ** response · x ** challenge``."""
    return group.mul(group.g_pow(proof.response), group.pow(x, proof.challenge))


def _commit_pair(group: Group, y: int, ct: Ciphertext, m: int, proof: Proof) -> tuple[int, int]:
    """``(g**resp · alpha**chal, y**resp · (beta / g**m)**chal)`` (spec §4.12 step 1)."""
    a = _commit_g(group, proof, ct.alpha)
    shifted = ct.beta if m == 0 else group.div(ct.beta, group.g_pow(m))
    b = group.mul(group.pow(y, proof.response), group.pow(shifted, proof.challenge))
    return a, b


def _random_proof(group: Group) -> Proof:
    return Proof(group.random_zq(), group.random_zq())


# --- §4.12 interval membership ------------------------------------------------------------


def _iprove_prefix(s: str, ct: Ciphertext) -> str:
    return f"prove|{s}|{ct.alpha},{ct.beta}|"


def iprove(
    group: Group, y: int, s: str, ct: Ciphertext, r: int, index: int, values: Sequence[int]
) -> tuple[Proof, ...]:
    """Prove ``ct = (g**r, y**r g**values[index])`` hides a value of ``values`` (§4.12)."""
    simulated: dict[int, Proof] = {}
    commitments: list[int] = []
    w = group.random_zq()
    for j, m in enumerate(values):
        if j == index:
            commitments += [group.g_pow(w), group.pow(y, w)]
        else:
            simulated[j] = _random_proof(group)
            commitments += list(_commit_pair(group, y, ct, m, simulated[j]))
    total = group.hash_to_zq(_iprove_prefix(s, ct), commitments)
    challenge = (total - sum(p.challenge for p in simulated.values())) % group.q
    real = Proof(challenge, (w - r * challenge) % group.q)
    return tuple(real if j == index else simulated[j] for j in range(len(values)))


def iverify(
    group: Group, y: int, s: str, ct: Ciphertext, proofs: Sequence[Proof], values: Sequence[int]
) -> bool:
    """Check an interval proof made by :func:`iprove` (§4.12, verification)."""
    if len(proofs) != len(values) or not _in_zq(group, proofs):
        return False
    commitments: list[int] = []
    for proof, m in zip(proofs, values, strict=True):
        commitments += list(_commit_pair(group, y, ct, m, proof))
    total = group.hash_to_zq(_iprove_prefix(s, ct), commitments)
    return total == sum(p.challenge for p in proofs) % group.q


# --- §4.13 possibly-blank votes ---------------------------------------------------------------


def blank_prove(
    group: Group,
    y: int,
    s: str,
    ct0: Ciphertext,
    ct_sum: Ciphertext,
    r0: int,
    r_sum: int,
    blank: bool,
) -> tuple[Proof, Proof]:
    """``blank_proof``: ``m0 = 0 ∨ mΣ = 0`` as ``(π0, πΣ)`` (§4.13.1 and §4.13.2)."""
    # The true branch is m0 = 0 for a non-blank vote, mΣ = 0 for a blank one.
    fake = _random_proof(group)
    w = group.random_zq()
    if not blank:
        a_s, b_s = _commit_pair(group, y, ct_sum, 0, fake)
        a_0, b_0 = group.g_pow(w), group.pow(y, w)
    else:
        a_0, b_0 = _commit_pair(group, y, ct0, 0, fake)
        a_s, b_s = group.g_pow(w), group.pow(y, w)
    total = group.hash_to_zq(f"bproof0|{s}|", [a_0, b_0, a_s, b_s])
    challenge = (total - fake.challenge) % group.q
    real = Proof(challenge, (w - (r_sum if blank else r0) * challenge) % group.q)
    return (real, fake) if not blank else (fake, real)


def blank_verify(
    group: Group, y: int, s: str, ct0: Ciphertext, ct_sum: Ciphertext, proofs: Sequence[Proof]
) -> bool:
    """Check a ``blank_proof`` (§4.13.3)."""
    if len(proofs) != 2 or not _in_zq(group, proofs):
        return False
    a_0, b_0 = _commit_pair(group, y, ct0, 0, proofs[0])
    a_s, b_s = _commit_pair(group, y, ct_sum, 0, proofs[1])
    total = group.hash_to_zq(f"bproof0|{s}|", [a_0, b_0, a_s, b_s])
    return total == (proofs[0].challenge + proofs[1].challenge) % group.q


def overall_blank_prove(
    group: Group,
    y: int,
    s: str,
    ct0: Ciphertext,
    ct_sum: Ciphertext,
    r0: int,
    r_sum: int,
    m_sum: int,
    bounds: tuple[int, int],
    blank: bool,
) -> tuple[Proof, ...]:
    """``overall_proof`` with blank allowed: ``m0 = 1 ∨ mΣ ∈ [min…max]`` (§4.13)."""
    values = list(range(bounds[0], bounds[1] + 1))
    # Index 0 is the statement m0 = 1 on ct0; index j ≥ 1 is mΣ = values[j-1] on ctΣ.
    true_index = 0 if blank else 1 + values.index(m_sum)
    w = group.random_zq()
    proofs: dict[int, Proof] = {}
    commitments: list[int] = []
    for j in range(len(values) + 1):
        if j == true_index:
            commitments += [group.g_pow(w), group.pow(y, w)]
            continue
        proofs[j] = _random_proof(group)
        if j == 0:
            commitments += list(_commit_pair(group, y, ct0, 1, proofs[j]))
        else:
            commitments += list(_commit_pair(group, y, ct_sum, values[j - 1], proofs[j]))
    total = group.hash_to_zq(f"bproof1|{s}|", commitments)
    challenge = (total - sum(p.challenge for p in proofs.values())) % group.q
    secret = r0 if blank else r_sum
    proofs[true_index] = Proof(challenge, (w - secret * challenge) % group.q)
    return tuple(proofs[j] for j in range(len(values) + 1))


def overall_blank_verify(
    group: Group,
    y: int,
    s: str,
    ct0: Ciphertext,
    ct_sum: Ciphertext,
    proofs: Sequence[Proof],
    bounds: tuple[int, int],
) -> bool:
    """Check an ``overall_proof`` of a question that allows blank votes (§4.13.3)."""
    values = list(range(bounds[0], bounds[1] + 1))
    if len(proofs) != len(values) + 1 or not _in_zq(group, proofs):
        return False
    commitments = list(_commit_pair(group, y, ct0, 1, proofs[0]))
    for proof, m in zip(proofs[1:], values, strict=True):
        commitments += list(_commit_pair(group, y, ct_sum, m, proof))
    total = group.hash_to_zq(f"bproof1|{s}|", commitments)
    return total == sum(p.challenge for p in proofs) % group.q


# --- Schnorr-like proofs of knowledge: signatures (§4.14, §4.6.1), pok (§4.5), §4.18 -------


def schnorr_prove(group: Group, prefix: str, x: int) -> Proof:
    """Prove knowledge of ``x`` for ``g ** x`` with challenge ``H(prefix ‖ A) mod q``."""
    w = group.random_zq()
    challenge = group.hash_to_zq(prefix, [group.g_pow(w)])
    return Proof(challenge, (w - x * challenge) % group.q)


def schnorr_verify(group: Group, prefix: str, public: int, proof: Proof) -> bool:
    """``challenge = H(prefix ‖ g**response · public**challenge)``."""
    if not _in_zq(group, [proof]) or not group.is_element(public):
        return False
    return proof.challenge == group.hash_to_zq(prefix, [_commit_g(group, proof, public)])


def _pok_prefix(group: Group, public: int) -> str:
    return f"pok|{group.name}|{public}|"


def pok_prove(group: Group, x: int) -> Proof:
    """The proof of knowledge of a trustee's private key (§4.5)."""
    return schnorr_prove(group, _pok_prefix(group, group.g_pow(x)), x)


def pok_verify(group: Group, public: int, proof: Proof) -> bool:
    """Check a trustee's proof of knowledge (§4.5)."""
    return schnorr_verify(group, _pok_prefix(group, public), public, proof)


def _decrypt_prefix(election_hash: str, public: int) -> str:
    return f"decrypt|{election_hash}|{public}|"


def decryption_prove(group: Group, election_hash: str, x: int, alpha: int) -> tuple[int, Proof]:
    """The factor ``alpha ** x`` and its proof of correct decryption (§4.18)."""
    w = group.random_zq()
    a, b = group.g_pow(w), group.pow(alpha, w)
    challenge = group.hash_to_zq(_decrypt_prefix(election_hash, group.g_pow(x)), [a, b])
    return group.pow(alpha, x), Proof(challenge, (w - x * challenge) % group.q)


def decryption_verify(
    group: Group, election_hash: str, public: int, alpha: int, factor: int, proof: Proof
) -> bool:
    """Check one decryption factor against the trustee's public key (§4.18)."""
    if not _in_zq(group, [proof]) or not group.is_element(factor):
        return False
    a = _commit_g(group, proof, public)
    b = group.mul(group.pow(alpha, proof.response), group.pow(factor, proof.challenge))
    return proof.challenge == group.hash_to_zq(_decrypt_prefix(election_hash, public), [a, b])
