"""C2SP tlog-cosignature: Ed25519 witness cosignatures (signature type 0x04, ``cosignature/v1``).

A cosignature is a note signature line whose signature is an 8-byte big-endian timestamp
followed by an Ed25519 signature over ``cosignature/v1``, ``time <t>`` and the checkpoint
note text. Pure: no I/O.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass

from ledger.c2sp._ed25519 import SEED_SIZE, SIGNATURE_SIZE, verify
from ledger.c2sp._text import b64encode
from ledger.c2sp.note import (
    Ed25519Key,
    NoteSignature,
    check_public_key,
    split_private_key,
    split_vkey,
)
from ledger.errors import InputError

__all__ = [
    "COSIGNATURE_V1_HEADER",
    "SIG_TYPE_COSIGNATURE_V1",
    "CosignatureSigner",
    "CosignatureVerifier",
    "cosigner_from_seed",
    "generate_cosigner",
    "parse_cosigner_private_key",
    "parse_cosigner_vkey",
]

# C2SP signed-note / tlog-cosignature: signature type 0x04 is a timestamped Ed25519 cosignature.
SIG_TYPE_COSIGNATURE_V1 = 0x04
# C2SP tlog-cosignature: the header line of the Ed25519 signed message (domain separation).
COSIGNATURE_V1_HEADER = b"cosignature/v1\n"
# C2SP tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
_TIMESTAMP_MAX = 2**63 - 1


def _cosigned_message(checkpoint_body: str, timestamp: int) -> bytes:
    # C2SP tlog-cosignature: "cosignature/v1\n", "time <decimal>\n", then the whole note body.
    return (
        COSIGNATURE_V1_HEADER
        + b"time "
        + str(timestamp).encode("ascii")
        + b"\n"
        + checkpoint_body.encode("utf-8")
    )


@dataclass(frozen=True)
class CosignatureVerifier:
    """A witness's public Ed25519 cosigning key (vkey signature type 0x04)."""

    name: str
    key_hash: bytes
    public_key: bytes

    def __post_init__(self) -> None:
        # C2SP tlog-cosignature: key ID = SHA-256(name || "\n" || 0x04 || public key)[:4].
        check_public_key(self.name, self.key_hash, self.public_key, SIG_TYPE_COSIGNATURE_V1)

    def vkey(self) -> str:
        """The verifier key string ``<name>+<8 hex>+<base64(0x04 || public key)>``."""
        # C2SP tlog-cosignature: Ed25519 cosigner vkeys use signature type 0x04.
        encoded = b64encode(bytes([SIG_TYPE_COSIGNATURE_V1]) + self.public_key)
        return f"{self.name}+{self.key_hash.hex()}+{encoded}"

    def verify_cosignature(self, checkpoint_body: str, sig: NoteSignature) -> int | None:
        """The cosignature's timestamp if ``sig`` is this witness's valid cosignature, else None.

        ``checkpoint_body`` is the whole note text of the checkpoint (extension lines too).
        """
        if sig.name != self.name or sig.key_hash != self.key_hash:
            return None
        # C2SP tlog-cosignature: timestamped_signature = u64 big-endian timestamp || 64 bytes.
        if len(sig.signature) != 8 + SIGNATURE_SIZE:
            return None
        (timestamp,) = struct.unpack(">Q", sig.signature[:8])
        if timestamp > _TIMESTAMP_MAX:
            return None
        message = _cosigned_message(checkpoint_body, timestamp)
        if not verify(self.public_key, message, sig.signature[8:]):
            return None
        return int(timestamp)


class CosignatureSigner(Ed25519Key):
    """A witness's private Ed25519 cosigning key (signature type 0x04)."""

    __slots__ = ()
    _ALG = SIG_TYPE_COSIGNATURE_V1

    def cosign(self, checkpoint_body: str, timestamp: int) -> NoteSignature:
        """The cosignature of a checkpoint note text at ``timestamp`` (POSIX seconds)."""
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise InputError("cosignature timestamp must be an integer")
        # C2SP tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
        if not 0 <= timestamp <= _TIMESTAMP_MAX:
            raise InputError(f"cosignature timestamp {timestamp} is out of range")
        signature = self._private.sign(_cosigned_message(checkpoint_body, timestamp))
        return NoteSignature(self._name, self._key_hash, struct.pack(">Q", timestamp) + signature)

    def verifier(self) -> CosignatureVerifier:
        """The matching public :class:`CosignatureVerifier`."""
        return CosignatureVerifier(self._name, self._key_hash, self._public_key)


def generate_cosigner(name: str) -> CosignatureSigner:
    """A new witness cosigner with a random Ed25519 key."""
    return CosignatureSigner(name, secrets.token_bytes(SEED_SIZE))


def cosigner_from_seed(name: str, seed: bytes) -> CosignatureSigner:
    """The witness cosigner for a 32-byte Ed25519 seed (deterministic)."""
    return CosignatureSigner(name, seed)


def parse_cosigner_vkey(s: str) -> CosignatureVerifier:
    """Parse ``<name>+<8 hex>+<base64(0x04 || public key)>``; InputError if malformed."""
    name, key_id, public_key = split_vkey(s, SIG_TYPE_COSIGNATURE_V1)
    return CosignatureVerifier(name, key_id, public_key)


def parse_cosigner_private_key(s: str) -> CosignatureSigner:
    """Parse ``PRIVATE+KEY+<name>+<8 hex>+<base64(0x04 || seed)>``; InputError if malformed."""
    name, seed = split_private_key(s, SIG_TYPE_COSIGNATURE_V1)
    return CosignatureSigner(name, seed)
