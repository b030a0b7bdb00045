"""Trustees and the threshold key ceremony of Belenios 2.0 (spec §3.1.1, §4.5–4.7).

The ceremony (the "Pedersen" protocol) among ``n`` trustees with threshold ``k`` (any ``k``
of them can decrypt; ``k`` is the spec's ``t + 1``):

====  =========  ================================================  ==========================
step  who        message                                           function
====  =========  ================================================  ==========================
1     trustee    certificate (signing and encryption keys)         :func:`make_cert`
2     server     check every certificate                           :func:`check_cert`
3     trustee    polynomial: its coefficients (to itself), one     :func:`make_polynomial`
                 share per trustee (encrypted to each), coefexps
4     server     route the shares: one vinput per trustee          :func:`make_vinputs`
5     trustee    check its shares; voutput: its decryption key     :func:`make_voutput`
                 (encrypted to itself) and its verification key
6     server     check voutputs, build the threshold parameters    :func:`make_threshold_parameters`
====  =========  ================================================  ==========================

A trustee's only secret is its 22-character seed (§4.6.1); every key derives from it.
Messages between trustees go through the server, signed and encrypted (§4.6.3: ElGamal for
a key, then AES-CCM as belenios-tool does it: 256-bit key, 13-byte nonce, 8-byte tag). Every
structure serialises byte for byte as belenios-tool, so either side of the ceremony can be
run by it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESCCM

from ledger.errors import InputError, ProofError
from voting.secret.credentials import BASE58, generate_token
from voting.secret.encoding import dumps, get_int_field, get_list, get_num, get_obj, get_str, loads
from voting.secret.group import Group
from voting.secret.proofs import (
    Proof,
    pok_prove,
    pok_verify,
    proof_from_json,
    schnorr_prove,
    schnorr_verify,
)

__all__ = [
    "SEED_LENGTH",
    "CertKeys",
    "EncryptedMsg",
    "Polynomial",
    "SignedMsg",
    "SingleTrustee",
    "ThresholdParameters",
    "TrusteeKind",
    "TrusteePublicKey",
    "Vinput",
    "Voutput",
    "cert_keys",
    "check_cert",
    "check_verification_key",
    "check_voutput",
    "coefexps_values",
    "election_public_key",
    "generate_seed",
    "make_cert",
    "make_polynomial",
    "make_single_trustee",
    "make_threshold_parameters",
    "make_vinputs",
    "make_voutput",
    "parse_polynomial",
    "parse_trustees",
    "parse_vinput",
    "parse_voutput",
    "signed_msg_from_json",
    "trustee_decryption_key",
    "trustee_owners",
    "trustee_public_key_from_json",
    "trustees_to_json",
    "verify_signed",
]

SEED_LENGTH = 22  # spec §4.6.1
_CCM_TAG = 8  # belenios-tool's AES-CCM: 64-bit tag
_CCM_TAG_BITS = _CCM_TAG * 8


# --- structures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrusteePublicKey:
    """``trustee_public_key`` (spec §4.5): a public key with a proof of knowledge."""

    public_key: int
    pok: Proof

    def to_json(self) -> dict[str, Any]:
        return {"pok": self.pok.to_json(), "public_key": str(self.public_key)}


@dataclass(frozen=True)
class SignedMsg:
    """``signed_msg`` (spec §4.6.1): a message string and a Schnorr signature on it."""

    message: str
    signature: Proof

    def to_json(self) -> dict[str, Any]:
        return {"message": self.message, "signature": self.signature.to_json()}


@dataclass(frozen=True)
class CertKeys:
    """``cert_keys`` (spec §4.6.2): a trustee's verification and encryption keys."""

    verification: int
    encryption: int


@dataclass(frozen=True)
class EncryptedMsg:
    """``encrypted_msg`` (spec §4.6.1): ElGamal-wrapped AES-CCM, ``data`` in hex."""

    alpha: int
    beta: int
    data: str

    def serialize(self) -> str:
        return dumps({"alpha": str(self.alpha), "beta": str(self.beta), "data": self.data})


@dataclass(frozen=True)
class Polynomial:
    """``polynomial`` (spec §4.6.4), what trustee ``i`` sends at step 3."""

    polynomial: str
    secrets: tuple[str, ...]
    coefexps: SignedMsg

    def to_json(self) -> str:
        return dumps(
            {
                "polynomial": self.polynomial,
                "secrets": list(self.secrets),
                "coefexps": self.coefexps.to_json(),
            }
        )


@dataclass(frozen=True)
class Vinput:
    """``vinput`` (spec §4.6.5), what the server routes to trustee ``j`` at step 4."""

    polynomial: str
    secrets: tuple[str, ...]
    coefexps: tuple[SignedMsg, ...]

    def to_json(self) -> str:
        return dumps(
            {
                "polynomial": self.polynomial,
                "secrets": list(self.secrets),
                "coefexps": [c.to_json() for c in self.coefexps],
            }
        )


@dataclass(frozen=True)
class Voutput:
    """``voutput`` (spec §4.6.6), what trustee ``j`` answers at step 5."""

    private_key: str
    public_key: TrusteePublicKey

    def to_json(self) -> str:
        return dumps({"private_key": self.private_key, "public_key": self.public_key.to_json()})


@dataclass(frozen=True)
class ThresholdParameters:
    """``threshold_parameters`` (spec §4.6.7); ``threshold`` is how many must decrypt."""

    threshold: int
    certs: tuple[SignedMsg, ...]
    coefexps: tuple[SignedMsg, ...]
    verification_keys: tuple[TrusteePublicKey, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "certs": [c.to_json() for c in self.certs],
            "coefexps": [c.to_json() for c in self.coefexps],
            "verification_keys": [k.to_json() for k in self.verification_keys],
        }


@dataclass(frozen=True)
class SingleTrustee:
    """A mandatory trustee (``["Single", trustee_public_key]``, spec §4.7)."""

    key: TrusteePublicKey


TrusteeKind = SingleTrustee | ThresholdParameters


def trustees_to_json(kinds: Sequence[TrusteeKind]) -> str:
    """The ``trustees`` structure (spec §4.7) as belenios-tool writes it."""
    out: list[Any] = []
    for kind in kinds:
        if isinstance(kind, SingleTrustee):
            out.append(["Single", kind.key.to_json()])
        else:
            out.append(["Pedersen", kind.to_json()])
    return dumps(out)


def trustee_public_key_from_json(value: Any, what: str) -> TrusteePublicKey:
    """Parse a ``trustee_public_key`` (spec §4.5)."""
    obj = get_obj(value, what)
    return TrusteePublicKey(
        public_key=get_num(obj.get("public_key"), f"{what}.public_key"),
        pok=proof_from_json(obj.get("pok"), f"{what}.pok"),
    )


def signed_msg_from_json(value: Any, what: str) -> SignedMsg:
    """Parse a ``signed_msg`` (spec §4.6.1)."""
    obj = get_obj(value, what)
    return SignedMsg(
        message=get_str(obj, "message", what),
        signature=proof_from_json(obj.get("signature"), f"{what}.signature"),
    )


def parse_trustees(raw: str) -> tuple[TrusteeKind, ...]:
    """Parse a ``trustees`` structure (spec §4.7)."""
    out: list[TrusteeKind] = []
    for i, item in enumerate(get_list(loads(raw, "the trustees"), "trustees")):
        what = f"trustees[{i}]"
        pair = get_list(item, what)
        if len(pair) != 2 or pair[0] not in ("Single", "Pedersen"):
            raise InputError(f'{what} must be ["Single", …] or ["Pedersen", …]')
        if pair[0] == "Single":
            out.append(SingleTrustee(trustee_public_key_from_json(pair[1], f"{what}[1]")))
            continue
        obj = get_obj(pair[1], f"{what}[1]")
        out.append(
            ThresholdParameters(
                threshold=get_int_field(obj, "threshold", what),
                certs=tuple(
                    signed_msg_from_json(c, f"{what}.certs[{j}]")
                    for j, c in enumerate(get_list(obj.get("certs"), f"{what}.certs"))
                ),
                coefexps=tuple(
                    signed_msg_from_json(c, f"{what}.coefexps[{j}]")
                    for j, c in enumerate(get_list(obj.get("coefexps"), f"{what}.coefexps"))
                ),
                verification_keys=tuple(
                    trustee_public_key_from_json(k, f"{what}.verification_keys[{j}]")
                    for j, k in enumerate(
                        get_list(obj.get("verification_keys"), f"{what}.verification_keys")
                    )
                ),
            )
        )
    return tuple(out)


def parse_polynomial(raw: str) -> Polynomial:
    """Parse a step-3 ``polynomial`` message (spec §4.6.4)."""
    obj = get_obj(loads(raw, "a polynomial"), "polynomial")
    secrets = get_list(obj.get("secrets"), "polynomial.secrets")
    if not all(isinstance(x, str) for x in secrets):
        raise InputError("polynomial.secrets must be strings")
    return Polynomial(
        polynomial=get_str(obj, "polynomial", "polynomial"),
        secrets=tuple(secrets),
        coefexps=signed_msg_from_json(obj.get("coefexps"), "polynomial.coefexps"),
    )


def parse_vinput(raw: str) -> Vinput:
    """Parse a step-4 ``vinput`` message (spec §4.6.5)."""
    obj = get_obj(loads(raw, "a vinput"), "vinput")
    secrets = get_list(obj.get("secrets"), "vinput.secrets")
    if not all(isinstance(x, str) for x in secrets):
        raise InputError("vinput.secrets must be strings")
    return Vinput(
        polynomial=get_str(obj, "polynomial", "vinput"),
        secrets=tuple(secrets),
        coefexps=tuple(
            signed_msg_from_json(c, f"vinput.coefexps[{i}]")
            for i, c in enumerate(get_list(obj.get("coefexps"), "vinput.coefexps"))
        ),
    )


def parse_voutput(raw: str) -> Voutput:
    """Parse a step-5 ``voutput`` message (spec §4.6.6)."""
    obj = get_obj(loads(raw, "a voutput"), "voutput")
    return Voutput(
        private_key=get_str(obj, "private_key", "voutput"),
        public_key=trustee_public_key_from_json(obj.get("public_key"), "voutput.public_key"),
    )


def trustee_owners(kinds: Sequence[TrusteeKind]) -> list[tuple[int, int, int]]:
    """``(owner, item, position)`` for every trustee: owners number them from 1 (§4.18).

    Single items have one trustee; a Pedersen item has one per certificate, in order.
    """
    out: list[tuple[int, int, int]] = []
    owner = 1
    for item, kind in enumerate(kinds):
        count = 1 if isinstance(kind, SingleTrustee) else len(kind.certs)
        for position in range(count):
            out.append((owner, item, position))
            owner += 1
    return out


# --- the PKI of §4.6.1 -------------------------------------------------------------------------


def generate_seed() -> str:
    """A trustee's secret seed: 22 random Base58 characters (spec §4.6.1)."""
    return generate_token(SEED_LENGTH)


def _derive(group: Group, label: str, seed: str) -> int:
    if len(seed) != SEED_LENGTH or any(ch not in BASE58 for ch in seed):
        raise InputError("a trustee seed is 22 Base58 characters")
    digest = hashlib.sha256(f"{label}|{seed}".encode()).digest()
    return int.from_bytes(digest, "big") % group.q


def _sign(group: Group, sk: int, message: str) -> SignedMsg:
    return SignedMsg(message, schnorr_prove(group, f"sigmsg|{message}|", sk))


def verify_signed(group: Group, vk: int, msg: SignedMsg) -> bool:
    """Check a ``signed_msg`` against a verification key (spec §4.6.1)."""
    return schnorr_verify(group, f"sigmsg|{msg.message}|", vk, msg.signature)


def _sym_key(label: str, x: int) -> bytes:
    return hashlib.sha256(f"{label}|{x}".encode()).digest()


def _ccm_nonce(iv: bytes, length: int) -> bytes:
    # belenios-tool's CCM: length field L = max(2, bytes needed for the length), nonce 15 - L.
    size = 2
    while size < 4 and length >> (8 * size) != 0:
        size += 1
    return iv[: 15 - size]


def _encrypt(group: Group, recipient: int, plaintext: str) -> EncryptedMsg:
    r, s = group.random_zq(), group.random_zq()
    alpha = group.g_pow(r)
    gs = group.g_pow(s)
    beta = group.mul(group.pow(recipient, r), gs)
    data = plaintext.encode("utf-8")
    key, iv = _sym_key("key", gs), _sym_key("iv", alpha)
    sealed = AESCCM(key, tag_length=_CCM_TAG).encrypt(_ccm_nonce(iv, len(data)), data, None)
    return EncryptedMsg(alpha, beta, sealed.hex())


def _decrypt(group: Group, dk: int, text: str, what: str) -> str:
    obj = get_obj(loads(text, what), what)
    alpha = get_num(obj.get("alpha"), f"{what}.alpha")
    beta = get_num(obj.get("beta"), f"{what}.beta")
    try:
        sealed = bytes.fromhex(get_str(obj, "data", what))
    except ValueError:
        raise InputError(f"{what}.data is not hexadecimal") from None
    if not (group.is_element(alpha) and group.is_element(beta)) or len(sealed) < _CCM_TAG:
        raise InputError(f"{what} is not an encrypted message")
    gs = group.div(beta, group.pow(alpha, dk))
    key, iv = _sym_key("key", gs), _sym_key("iv", alpha)
    nonce = _ccm_nonce(iv, len(sealed) - _CCM_TAG)
    try:
        return AESCCM(key, tag_length=_CCM_TAG).decrypt(nonce, sealed, None).decode("utf-8")
    except (InvalidTag, UnicodeDecodeError):
        raise ProofError(f"{what} does not decrypt with this trustee's key") from None


def _send(group: Group, sk: int, recipient: int, message: str) -> str:
    """``send(sk, recipient, message)`` (spec §4.6.3)."""
    channel = dumps({"recipient": str(recipient), "message": message})
    signed = _sign(group, sk, channel)
    return _encrypt(group, recipient, dumps(signed.to_json())).serialize()


def _recv(group: Group, dk: int, vk: int, text: str, what: str) -> str:
    """Open a channel message to us from the holder of ``vk``; check signature and recipient."""
    plain = _decrypt(group, dk, text, what)
    signed = signed_msg_from_json(loads(plain, what), what)
    if not verify_signed(group, vk, signed):
        raise ProofError(f"{what}: the sender's signature does not verify")
    channel = get_obj(loads(signed.message, what), what)
    if get_num(channel.get("recipient"), f"{what}.recipient") != group.g_pow(dk):
        raise ProofError(f"{what} was sent to another recipient")
    return get_str(channel, "message", what)


# --- the ceremony (spec §3.1.1 "Pedersen", §4.6.2–4.6.7) -------------------------------------


def make_cert(group: Group, seed: str) -> SignedMsg:
    """Step 1: the trustee's certificate, signed with its signing key (spec §4.6.2)."""
    sk, dk = _derive(group, "sk", seed), _derive(group, "dk", seed)
    keys = dumps({"verification": str(group.g_pow(sk)), "encryption": str(group.g_pow(dk))})
    return _sign(group, sk, keys)


def cert_keys(group: Group, cert: SignedMsg) -> CertKeys:
    """The keys a certificate carries (:class:`InputError` if malformed)."""
    obj = get_obj(loads(cert.message, "a certificate"), "certificate")
    keys = CertKeys(
        verification=get_num(obj.get("verification"), "certificate.verification"),
        encryption=get_num(obj.get("encryption"), "certificate.encryption"),
    )
    if not (group.is_element(keys.verification) and group.is_element(keys.encryption)):
        raise InputError("a certificate key is not a group element")
    return keys


def check_cert(group: Group, cert: SignedMsg) -> bool:
    """Step 2: the certificate is well formed and signed by its own verification key."""
    try:
        keys = cert_keys(group, cert)
    except InputError:
        return False
    return verify_signed(group, keys.verification, cert)


def _own_index(group: Group, seed: str, certs: Sequence[SignedMsg]) -> int:
    mine = make_cert(group, seed).message
    for i, cert in enumerate(certs):
        if cert.message == mine:
            return i
    raise InputError("this trustee's certificate is not among the certificates")


def _check_certs(group: Group, certs: Sequence[SignedMsg]) -> list[CertKeys]:
    for i, cert in enumerate(certs):
        if not check_cert(group, cert):
            raise ProofError(f"certificate {i + 1} does not verify")
    return [cert_keys(group, c) for c in certs]


def coefexps_values(group: Group, msg: SignedMsg, what: str) -> list[int]:
    """The commitments ``A_i0 … A_it`` a signed ``coefexps`` carries (spec §4.6.4)."""
    obj = get_obj(loads(msg.message, what), what)
    values = [
        get_num(v, f"{what}[{k}]")
        for k, v in enumerate(get_list(obj.get("coefexps"), f"{what}.coefexps"))
    ]
    if not values or not all(group.is_element(v) for v in values):
        raise InputError(f"{what}: coefficient commitments must be group elements")
    return values


def make_polynomial(
    group: Group, seed: str, certs: Sequence[SignedMsg], threshold: int
) -> Polynomial:
    """Step 3: a random polynomial of degree ``threshold - 1`` and its shares (spec §4.6.4)."""
    keys = _check_certs(group, certs)
    if not 1 <= threshold <= len(certs):
        raise InputError(f"threshold must be between 1 and {len(certs)}")
    i = _own_index(group, seed, certs)
    sk = _derive(group, "sk", seed)
    coefficients = [group.random_zq() for _ in range(threshold)]

    def f(x: int) -> int:
        acc = 0
        for a in reversed(coefficients):
            acc = (acc * x + a) % group.q
        return acc

    raw_polynomial = dumps({"polynomial": [str(a) for a in coefficients]})
    secrets = tuple(
        _send(group, sk, keys[j].encryption, dumps({"secret": str(f(j + 1))}))
        for j in range(len(certs))
    )
    coefexps = _sign(group, sk, dumps({"coefexps": [str(group.g_pow(a)) for a in coefficients]}))
    return Polynomial(
        polynomial=_send(group, sk, keys[i].encryption, raw_polynomial),
        secrets=secrets,
        coefexps=coefexps,
    )


def make_vinputs(
    group: Group, certs: Sequence[SignedMsg], polynomials: Sequence[Polynomial]
) -> tuple[Vinput, ...]:
    """Step 4 (server): route the shares; check every coefexps signature (spec §4.6.5)."""
    keys = _check_certs(group, certs)
    n = len(certs)
    if len(polynomials) != n or any(len(p.secrets) != n for p in polynomials):
        raise InputError(f"expected {n} polynomials with {n} shares each")
    for i, p in enumerate(polynomials):
        if not verify_signed(group, keys[i].verification, p.coefexps):
            raise ProofError(f"trustee {i + 1}'s coefficient commitments are not signed by it")
        coefexps_values(group, p.coefexps, f"trustee {i + 1}'s coefexps")
    coefexps = tuple(p.coefexps for p in polynomials)
    return tuple(
        Vinput(
            polynomial=polynomials[j].polynomial,
            secrets=tuple(p.secrets[j] for p in polynomials),
            coefexps=coefexps,
        )
        for j in range(n)
    )


def _eval_commitments(group: Group, coefexps: Sequence[int], x: int) -> int:
    """``Π_k A_k ** (x ** k)`` = ``g ** f(x)``."""
    acc = group.one
    power = 1
    for a in coefexps:
        acc = group.mul(acc, group.pow(a, power))
        power = power * x % group.q
    return acc


def make_voutput(group: Group, seed: str, certs: Sequence[SignedMsg], vinput: Vinput) -> Voutput:
    """Step 5 (trustee ``j``): check each share against its commitments (spec §4.6.5),
    then publish ``g ** S_j`` with a proof and keep ``S_j`` encrypted to itself (§4.6.6).

    The encrypted message is ``{"decryption_key": S_j}``, as belenios-tool 2.0 writes and
    reads it (the spec's text says only ``S_j``)."""
    keys = _check_certs(group, certs)
    j = _own_index(group, seed, certs)
    sk, dk = _derive(group, "sk", seed), _derive(group, "dk", seed)
    n = len(certs)
    if len(vinput.secrets) != n or len(vinput.coefexps) != n:
        raise InputError(f"the vinput must carry {n} shares and {n} coefexps")
    total = 0
    for i in range(n):
        if not verify_signed(group, keys[i].verification, vinput.coefexps[i]):
            raise ProofError(f"trustee {i + 1}'s coefficient commitments are not signed by it")
        coefexps = coefexps_values(group, vinput.coefexps[i], f"trustee {i + 1}'s coefexps")
        message = _recv(
            group, dk, keys[i].verification, vinput.secrets[i], f"the share from trustee {i + 1}"
        )
        share = get_num(get_obj(loads(message, "a share"), "share").get("secret"), "share")
        # Spec §4.6.5: g ** s_ij = Π_k (A_ik) ** (j ** k).
        if group.g_pow(share) != _eval_commitments(group, coefexps, j + 1):
            raise ProofError(f"the share from trustee {i + 1} does not match its commitments")
        total = (total + share) % group.q
    public = TrusteePublicKey(group.g_pow(total), pok_prove(group, total))
    return Voutput(
        private_key=_send(group, sk, keys[j].encryption, dumps({"decryption_key": str(total)})),
        public_key=public,
    )


def check_verification_key(
    group: Group, commitments: Sequence[Sequence[int]], j: int, key: TrusteePublicKey
) -> bool:
    """Trustee ``j`` (0-based)'s verification key is ``Π_i Π_k A_ik ** ((j+1) ** k)`` and
    its proof of knowledge holds (spec §4.6.6, the administrator's check)."""
    expected = group.prod(_eval_commitments(group, c, j + 1) for c in commitments)
    return key.public_key == expected and pok_verify(group, key.public_key, key.pok)


def check_voutput(
    group: Group, commitments: Sequence[Sequence[int]], j: int, voutput: Voutput
) -> bool:
    """Step 6 check of trustee ``j``'s (0-based) voutput against all commitments (§4.6.6)."""
    return check_verification_key(group, commitments, j, voutput.public_key)


def make_threshold_parameters(
    group: Group,
    certs: Sequence[SignedMsg],
    polynomials: Sequence[Polynomial],
    voutputs: Sequence[Voutput],
    threshold: int,
) -> ThresholdParameters:
    """Step 6 (server): check every voutput, assemble ``threshold_parameters`` (§4.6.7)."""
    keys = _check_certs(group, certs)
    if len(polynomials) != len(certs):
        raise InputError(f"expected {len(certs)} polynomials")
    for i, p in enumerate(polynomials):
        if not verify_signed(group, keys[i].verification, p.coefexps):
            raise ProofError(f"trustee {i + 1}'s coefficient commitments are not signed by it")
    coefexps = [
        coefexps_values(group, p.coefexps, f"trustee {i + 1}'s coefexps")
        for i, p in enumerate(polynomials)
    ]
    if any(len(c) != threshold for c in coefexps):
        raise InputError(f"every polynomial must have {threshold} coefficients")
    if len(voutputs) != len(certs):
        raise InputError(f"expected {len(certs)} voutputs")
    for j, vo in enumerate(voutputs):
        if not check_voutput(group, coefexps, j, vo):
            raise ProofError(f"trustee {j + 1}'s verification key does not match the shares")
    return ThresholdParameters(
        threshold=threshold,
        certs=tuple(certs),
        coefexps=tuple(p.coefexps for p in polynomials),
        verification_keys=tuple(vo.public_key for vo in voutputs),
    )


def trustee_decryption_key(
    group: Group, seed: str, certs: Sequence[SignedMsg], private_key: str
) -> int:
    """At the tally: a trustee recovers ``S_j`` from its voutput's ``private_key`` (§4.6.6)."""
    keys = _check_certs(group, certs)
    j = _own_index(group, seed, certs)
    dk = _derive(group, "dk", seed)
    message = _recv(group, dk, keys[j].verification, private_key, "the decryption key")
    obj = get_obj(loads(message, "the decryption key"), "the decryption key")
    return get_num(obj.get("decryption_key"), "the decryption key")


def make_single_trustee(group: Group) -> tuple[int, SingleTrustee]:
    """A mandatory trustee's fresh key pair (spec §3.1.1 "Single", §4.5)."""
    x = group.random_zq()
    return x, SingleTrustee(TrusteePublicKey(group.g_pow(x), pok_prove(group, x)))


def election_public_key(group: Group, kinds: Sequence[TrusteeKind]) -> int:
    """``y = Π y_τ``: Single sub-keys as is, Pedersen ones ``Π_z A_z0`` (§3.1.1, §4.6.4)."""
    factors: list[int] = []
    for kind in kinds:
        if isinstance(kind, SingleTrustee):
            factors.append(kind.key.public_key)
        else:
            factors += [coefexps_values(group, c, "coefexps")[0] for c in kind.coefexps]
    return group.prod(factors)
