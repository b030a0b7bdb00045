"""Property tests: group arithmetic, ElGamal and every proof of voting.secret (BELENIOS-2048).

A proof is only worth something if it fails for any other statement: each property builds a
valid proof and then moves one part of the statement.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from voting.secret.elgamal import decrypt_small, encrypt, multiply
from voting.secret.group import BELENIOS_2048 as G
from voting.secret.proofs import (
    blank_prove,
    blank_verify,
    decryption_prove,
    decryption_verify,
    iprove,
    iverify,
    overall_blank_prove,
    overall_blank_verify,
    pok_prove,
    pok_verify,
    schnorr_prove,
    schnorr_verify,
)
from voting.secret.tally import lagrange

FEW = settings(max_examples=12, deadline=None)
exps = st.integers(min_value=1, max_value=G.q - 1)
small = st.integers(min_value=0, max_value=30)
X = 0x1234567890ABCDEF1234567890ABCDEF  # a fixed election secret for the ElGamal tests
Y = G.g_pow(X)
S = "phi|cred"


@FEW
@given(exps, exps)
def test_group_laws(a: int, b: int) -> None:
    ga, gb = G.g_pow(a), G.g_pow(b)
    assert G.mul(ga, gb) == G.g_pow(a + b)
    assert G.div(G.mul(ga, gb), gb) == ga
    assert G.pow(ga, b) == G.pow(gb, a) == G.g_pow(a * b)
    assert G.is_element(ga) and G.pow(ga, G.q) == 1
    assert G.hash_to_zq("p|", [ga]) < G.q


def test_group_membership_refuses_outsiders() -> None:
    assert not G.is_element(0)
    assert not G.is_element(G.p)
    assert not G.is_element(G.p - 1)  # order 2, not in the order-q subgroup
    assert G.is_element(1) and G.is_element(G.g)


@FEW
@given(small, small, exps, exps)
def test_encrypt_decrypt_round_trip_and_homomorphism(m1: int, m2: int, r1: int, r2: int) -> None:
    c1, c2 = encrypt(G, Y, m1, r1), encrypt(G, Y, m2, r2)
    assert decrypt_small(G, X, c1, 30) == m1
    assert decrypt_small(G, X, multiply(G, [c1, c2]), 60) == m1 + m2


@FEW
@given(st.integers(min_value=0, max_value=3), st.integers(min_value=0, max_value=3), exps)
def test_interval_proofs(lo: int, width: int, r: int) -> None:
    values = tuple(range(lo, lo + width + 1))
    for index, m in enumerate(values):
        ct = encrypt(G, Y, m, r)
        proof = iprove(G, Y, S, ct, r, index, values)
        assert iverify(G, Y, S, ct, proof, values)
        # Another statement: other S, other ciphertext, other key, other set of values.
        assert not iverify(G, Y, S + "x", ct, proof, values)
        assert not iverify(G, Y, S, encrypt(G, Y, m, r + 1), proof, values)
        assert not iverify(G, G.g_pow(X + 1), S, ct, proof, values)
        assert not iverify(G, Y, S, ct, proof, tuple(v + 1 for v in values))


@FEW
@given(st.integers(min_value=0, max_value=4), exps)
def test_interval_proofs_reject_out_of_range_values(m: int, r: int) -> None:
    """Whatever branch a cheating prover claims, a value outside the set does not verify."""
    values = (0, 1) if m >= 2 else (2, 3)
    ct = encrypt(G, Y, m, r)
    for index in range(len(values)):
        assert not iverify(G, Y, S, ct, iprove(G, Y, S, ct, r, index, values), values)


@FEW
@given(st.booleans(), st.integers(min_value=1, max_value=2), exps, exps)
def test_blank_proofs(blank: bool, picked: int, r0: int, r_sum: int) -> None:
    m0, m_sum = (1, 0) if blank else (0, picked)
    ct0, cts = encrypt(G, Y, m0, r0), encrypt(G, Y, m_sum, r_sum)
    bp = blank_prove(G, Y, S, ct0, cts, r0, r_sum, blank)
    assert blank_verify(G, Y, S, ct0, cts, bp)
    op = overall_blank_prove(G, Y, S, ct0, cts, r0, r_sum, m_sum, (1, 2), blank)
    assert overall_blank_verify(G, Y, S, ct0, cts, op, (1, 2))
    # Other statements: the two ciphertexts swapped, another S, other bounds.
    assert not blank_verify(G, Y, S, cts, ct0, bp) or ct0 == cts
    assert not blank_verify(G, Y, S + "x", ct0, cts, bp)
    assert not overall_blank_verify(G, Y, S + "x", ct0, cts, op, (1, 2))
    assert not overall_blank_verify(G, Y, S, ct0, cts, op, (2, 3))


@FEW
@given(exps, exps)
def test_a_blank_flag_with_choices_has_no_valid_blank_proof(r0: int, r_sum: int) -> None:
    """m0 = 1 and mΣ = 1 together: neither branch of m0 = 0 ∨ mΣ = 0 holds."""
    ct0, cts = encrypt(G, Y, 1, r0), encrypt(G, Y, 1, r_sum)
    for claim in (False, True):
        assert not blank_verify(G, Y, S, ct0, cts, blank_prove(G, Y, S, ct0, cts, r0, r_sum, claim))


@FEW
@given(exps, st.text(max_size=20))
def test_signatures_and_pok(x: int, message: str) -> None:
    public = G.g_pow(x)
    proof = schnorr_prove(G, f"sig|{message}|", x)
    assert schnorr_verify(G, f"sig|{message}|", public, proof)
    assert not schnorr_verify(G, f"sig|{message}x|", public, proof)
    assert not schnorr_verify(G, f"sig|{message}|", G.mul(public, G.g), proof)
    pok = pok_prove(G, x)
    assert pok_verify(G, public, pok)
    assert not pok_verify(G, G.mul(public, G.g), pok)


@FEW
@given(exps, exps)
def test_decryption_proofs(x: int, r: int) -> None:
    alpha = G.g_pow(r)
    factor, proof = decryption_prove(G, "phi", x, alpha)
    assert factor == G.pow(alpha, x)
    assert decryption_verify(G, "phi", G.g_pow(x), alpha, factor, proof)
    assert not decryption_verify(G, "phi", G.g_pow(x), alpha, G.mul(factor, G.g), proof)
    assert not decryption_verify(G, "phi2", G.g_pow(x), alpha, factor, proof)
    assert not decryption_verify(G, "phi", G.g_pow(x + 1), alpha, factor, proof)


@settings(max_examples=30, deadline=None)
@given(exps, exps, st.sampled_from([(1, 2), (1, 3), (2, 3)]))
def test_lagrange_recovers_the_secret_from_any_threshold_set(
    a0: int, a1: int, pair: tuple[int, int]
) -> None:
    f = {k: (a0 + a1 * k) % G.q for k in (1, 2, 3)}
    assert sum(f[k] * lagrange(G.q, pair, k) for k in pair) % G.q == a0
