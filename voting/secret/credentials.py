"""Voter credentials (Belenios spec 2.0 §4.8).

A private credential is 15 base-58 characters (14 random, one checksum), shown as
``XXX-XXX-XXX-XXX-XXX``. Its secret exponent is PBKDF2-HMAC-SHA256(password = credential,
salt = election uuid, 1000 iterations, one 32-byte block) read big-endian, modulo ``q``; the
public credential is ``g ** secret``. Only the public credentials are published.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from ledger.errors import InputError
from voting.secret.group import Group

__all__ = [
    "BASE58",
    "Credential",
    "credential_secret",
    "generate_credential",
    "generate_token",
    "normalize_credential",
    "public_credential",
]

# Spec §4.8 / §4.2: the Base58 alphabet (no 0, O, I, l).
BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_PBKDF2_ITERATIONS = 1000


@dataclass(frozen=True)
class Credential:
    """A voter's credential pair; ``private`` must only ever reach that voter."""

    private: str
    public: int


def generate_token(length: int) -> str:
    """A random Base58 string (election uuids are 14 characters, trustee seeds 22)."""
    return "".join(secrets.choice(BASE58) for _ in range(length))


def _checksum(body: str) -> str:
    value = 0
    for ch in body:
        value = value * 58 + BASE58.index(ch)
    return BASE58[(53 - value) % 53]


def normalize_credential(text: str) -> str:
    """Check a private credential (format and checksum) and return it as ``XXX-XXX-…``."""
    raw = text.strip().replace("-", "")
    if len(raw) != 15 or any(ch not in BASE58 for ch in raw):
        raise InputError("a credential is 15 Base58 characters, as XXX-XXX-XXX-XXX-XXX")
    if _checksum(raw[:14]) != raw[14]:
        raise InputError("the credential's checksum does not match (a typing error?)")
    return "-".join(raw[i : i + 3] for i in range(0, 15, 3))


def credential_secret(group: Group, uuid: str, private: str) -> int:
    """``secret(c)``: PBKDF2-HMAC-SHA256(c, uuid, 1000 iterations, 32 bytes) mod q (§4.8)."""
    digest = hashlib.pbkdf2_hmac(
        "sha256", private.encode("utf-8"), uuid.encode("utf-8"), _PBKDF2_ITERATIONS, 32
    )
    return int.from_bytes(digest, "big") % group.q


def public_credential(group: Group, uuid: str, private: str) -> int:
    """``public(c) = g ** secret(c)``, the value published in the credential list."""
    return group.g_pow(credential_secret(group, uuid, private))


def generate_credential(group: Group, uuid: str) -> Credential:
    """A fresh credential for the election ``uuid``: 14 random characters and a checksum."""
    body = generate_token(14)
    private = normalize_credential(body + _checksum(body))
    return Credential(private=private, public=public_credential(group, uuid, private))
