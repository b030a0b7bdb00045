"""C2SP tlog-cosignature (ledger.c2sp.cosignature): the spec example, sign/verify, bad keys and timestamps."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.c2sp.checkpoint import Checkpoint
from ledger.c2sp.cosignature import parse_cosigner_private_key, parse_cosigner_vkey
from ledger.c2sp.note import NoteSignature, format_note, key_hash, parse_note
from ledger.errors import InputError
from tests.support.c2sp_vectors import (
    ALICE,
    DASH,
    LOG_SKEY,
    SOFA_BODY,
    SOFA_LOG_SIG,
    SOFA_W1_SIG,
    TS,
    WITNESSES,
    b64,
    checkpoints,
    log_checkpoint,
    retimed,
)


def test_cosignature_spec_example_layout() -> None:
    data = (
        SOFA_BODY
        + "\n"
        + f"{DASH} example.com/behind-the-sofa {SOFA_LOG_SIG}\n"
        + f"{DASH} witness.example.com/w1 {SOFA_W1_SIG}\n"
    ).encode()
    note = parse_note(data)
    assert format_note(note) == data
    w1 = note.signatures[1]
    # tlog-cosignature.md: key ID (4) || u64 big-endian timestamp || Ed25519 signature (64).
    assert w1.key_hash.hex() == "8d66cf3f"
    assert len(w1.signature) == 8 + 64
    assert struct.unpack(">Q", w1.signature[:8])[0] == 1679315147


def test_cosignature_signed_message_matches_spec_example() -> None:
    # tlog-cosignature.md shows the message for time 1679315147 over the sofa checkpoint.
    expected_message = (
        b"cosignature/v1\ntime 1679315147\nexample.com/behind-the-sofa\n20852163\n"
        b"CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    )
    witness = WITNESSES[0]
    sig = witness.cosign(SOFA_BODY, 1679315147)
    Ed25519PublicKey.from_public_bytes(witness.verifier().public_key).verify(
        sig.signature[8:], expected_message
    )
    assert witness.verifier().verify_cosignature(SOFA_BODY, sig) == 1679315147


def test_bad_cosigner_vkeys() -> None:
    with pytest.raises(InputError):
        parse_cosigner_vkey(ALICE.verifier().vkey())  # type 0x01, not 0x04
    good = WITNESSES[0].verifier()
    wrong = good.name + "+00000000+" + b64(b"\x04" + good.public_key)
    with pytest.raises(InputError):
        parse_cosigner_vkey(wrong)


def test_cosigner_private_key_rejects_note_key() -> None:
    with pytest.raises(InputError):
        parse_cosigner_private_key(LOG_SKEY)


def test_cosign_verify_round_trip() -> None:
    cp, _ = log_checkpoint()
    witness = WITNESSES[0]
    sig = witness.cosign(cp.body(), TS)
    assert sig.name == witness.name and sig.key_hash == witness.key_hash
    assert len(sig.signature) == 72
    assert witness.verifier().verify_cosignature(cp.body(), sig) == TS
    assert witness.verifier().verify_cosignature(cp.body(), witness.cosign(cp.body(), 0)) == 0


def test_cosigner_key_hash_and_vkey_use_type_0x04() -> None:
    verifier = WITNESSES[0].verifier()
    assert verifier.key_hash == key_hash(verifier.name, b"\x04" + verifier.public_key)
    assert base64.b64decode(verifier.vkey().split("+", 2)[2])[0] == 0x04


def test_cosignature_wrong_timestamp_body_or_key_fails() -> None:
    cp, _ = log_checkpoint()
    body = cp.body()
    witness = WITNESSES[0].verifier()
    sig = WITNESSES[0].cosign(body, TS)
    assert witness.verify_cosignature(body, retimed(sig, TS + 1)) is None
    assert witness.verify_cosignature(body.replace("42", "43"), sig) is None
    assert witness.verify_cosignature(body + "extension\n", sig) is None
    assert WITNESSES[1].verifier().verify_cosignature(body, sig) is None
    truncated = NoteSignature(sig.name, sig.key_hash, sig.signature[:-1])
    assert witness.verify_cosignature(body, truncated) is None
    private = Ed25519PrivateKey.from_private_bytes(bytes([0x41]) * 32)
    huge = private.sign(b"cosignature/v1\ntime %d\n" % 2**63 + body.encode())
    big = NoteSignature(sig.name, sig.key_hash, struct.pack(">Q", 2**63) + huge)
    assert witness.verify_cosignature(body, big) is None


def test_cosign_rejects_out_of_range_timestamps() -> None:
    with pytest.raises(InputError):
        WITNESSES[0].cosign(SOFA_BODY, 2**63)
    with pytest.raises(InputError):
        WITNESSES[0].cosign(SOFA_BODY, -1)


@settings(max_examples=40)
@given(checkpoints, st.integers(min_value=0, max_value=2**63 - 1))
def test_property_cosign_round_trip(cp: Checkpoint, ts: int) -> None:
    witness = WITNESSES[1]
    sig = witness.cosign(cp.body(), ts)
    assert witness.verifier().verify_cosignature(cp.body(), sig) == ts
