"""Ed25519 (RFC 8032) for the C2SP formats, through PyNaCl (libsodium).

The project uses one Ed25519 library: the key files already need libsodium (Argon2id and
secretbox), so statements, notes and cosignatures all sign and verify with it too.
Private to :mod:`ledger.c2sp`.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.signing

SEED_SIZE = 32
PUBLIC_SIZE = 32
SIGNATURE_SIZE = 64


class PrivateKey:
    """An Ed25519 private key from its 32-byte seed (RFC 8032 §5.1.5)."""

    __slots__ = ("_key",)

    def __init__(self, seed: bytes) -> None:
        self._key = nacl.signing.SigningKey(seed)

    def public_key(self) -> bytes:
        """The 32-byte public key."""
        return bytes(self._key.verify_key.encode())

    def sign(self, message: bytes) -> bytes:
        """The 64-byte signature of ``message`` (deterministic, RFC 8032 §5.1.6)."""
        return bytes(self._key.sign(message).signature)


def verify(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key``."""
    if len(public_key) != PUBLIC_SIZE or len(signature) != SIGNATURE_SIZE:
        return False
    try:
        nacl.signing.VerifyKey(public_key).verify(message, signature)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return False
    return True
