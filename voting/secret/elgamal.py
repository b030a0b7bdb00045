"""Exponential ElGamal over a :class:`~voting.secret.group.Group` (Belenios spec 2.0 §4.11.1).

``Enc(m; r) = (g ** r, y ** r * g ** m)``: the product of two ciphertexts encrypts the sum
of their plaintexts, which is what the homomorphic tally (§4.16) relies on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from ledger.errors import InputError
from voting.secret.encoding import get_num, get_obj, num
from voting.secret.group import Group

__all__ = [
    "Ciphertext",
    "ciphertext_from_json",
    "decrypt_small",
    "discrete_log",
    "encrypt",
    "multiply",
    "power",
]


@dataclass(frozen=True)
class Ciphertext:
    """An ElGamal pair ``(alpha, beta)`` (spec §4.3 ``ciphertext``)."""

    alpha: int
    beta: int

    def to_json(self) -> dict[str, str]:
        return {"alpha": num(self.alpha), "beta": num(self.beta)}


def ciphertext_from_json(value: Any, what: str) -> Ciphertext:
    obj = get_obj(value, what)
    return Ciphertext(
        alpha=get_num(obj.get("alpha"), f"{what}.alpha"),
        beta=get_num(obj.get("beta"), f"{what}.beta"),
    )


def encrypt(group: Group, y: int, m: int, r: int) -> Ciphertext:
    """``(g ** r, y ** r * g ** m)`` for the election key ``y``."""
    return Ciphertext(group.g_pow(r), group.mul(group.pow(y, r), group.g_pow(m)))


def multiply(group: Group, cts: Iterable[Ciphertext]) -> Ciphertext:
    """The pointwise product of ciphertexts; the neutral ``(1, 1)`` for none."""
    alphas: list[int] = []
    betas: list[int] = []
    for ct in cts:
        alphas.append(ct.alpha)
        betas.append(ct.beta)
    return Ciphertext(group.prod(alphas), group.prod(betas))


def power(group: Group, ct: Ciphertext, k: int) -> Ciphertext:
    """``ct ** k`` pointwise (a ballot weighted by its voter's weight, §4.16)."""
    if k == 1:
        return ct
    return Ciphertext(group.pow(ct.alpha, k), group.pow(ct.beta, k))


def discrete_log(group: Group, h: int, bound: int) -> int:
    """The ``m`` in ``[0, bound]`` with ``g ** m = h``; :class:`InputError` if there is none.

    Tallies are bounded by the sum of the weights (spec §4.19), so a linear search is enough.
    """
    acc = group.one
    for m in range(bound + 1):
        if acc == h:
            return m
        acc = group.mul(acc, group.g)
    raise InputError(f"no discrete logarithm in [0, {bound}]: the decryption is wrong")


def decrypt_small(group: Group, x: int, ct: Ciphertext, bound: int) -> int:
    """Decrypt with the whole secret ``x`` (tests and single-key use only)."""
    return discrete_log(group, group.div(ct.beta, group.pow(ct.alpha, x)), bound)
