"""Private credentials sealed to a resident's own key (libsodium sealed boxes).

The credential authority (the opener's client) seals each resident's Belenios private
credential to that resident's Ed25519 key converted to X25519 (RFC 7748; libsodium's
``crypto_sign_ed25519_pk_to_curve25519``). The sealed text travels in the ``ballot.open``
body and the state, but only the resident's key opens it: neither the operator nor anyone
reading the log learns a credential in clear.
"""

from __future__ import annotations

import base64
import binascii

import nacl.bindings
import nacl.exceptions
import nacl.public

from ledger.errors import InputError
from ledger.keys import KeyPair, public_key_of

__all__ = ["SEALED_BYTES", "check_sealed", "open_credential", "seal_credential"]

# A sealed box adds an ephemeral X25519 key (32 bytes) and a Poly1305 tag (16 bytes); a
# credential is 19 ASCII characters (XXX-XXX-XXX-XXX-XXX).
SEALED_BYTES = 32 + 16 + 19


def _curve_public(key_id: str) -> nacl.public.PublicKey:
    raw = nacl.bindings.crypto_sign_ed25519_pk_to_curve25519(public_key_of(key_id))
    return nacl.public.PublicKey(raw)


def seal_credential(key_id: str, credential: str) -> str:
    """``credential`` sealed to the holder of ``key_id``: standard base64 text."""
    box = nacl.public.SealedBox(_curve_public(key_id))
    return base64.b64encode(box.encrypt(credential.encode("ascii"))).decode("ascii")


def check_sealed(text: object) -> str:
    """The sealed text if it has the shape of a sealed credential, else InputError."""
    try:
        raw = base64.b64decode(text, validate=True) if isinstance(text, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != SEALED_BYTES:
        raise InputError(f"a sealed credential is the base64 of {SEALED_BYTES} bytes")
    assert isinstance(text, str)
    return text


def open_credential(keypair: KeyPair, sealed: str) -> str:
    """Open a credential sealed to ``keypair``; InputError if it was sealed to another key."""
    # libsodium converts the 64-byte seed||public form of the Ed25519 secret key.
    sk64 = keypair.seed + keypair.public_key
    curve_sk = nacl.bindings.crypto_sign_ed25519_sk_to_curve25519(sk64)
    box = nacl.public.SealedBox(nacl.public.PrivateKey(curve_sk))
    try:
        return box.decrypt(base64.b64decode(check_sealed(sealed))).decode("ascii")
    except (nacl.exceptions.CryptoError, UnicodeDecodeError):
        raise InputError(
            f"this sealed credential does not open with key {keypair.key_id}: it was sealed "
            "to another resident"
        ) from None
