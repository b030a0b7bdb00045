"""The trust policy a client reads from record 0, pinned by the log key it trusts."""

from __future__ import annotations

import pytest

from ledger.c2sp.checkpoint import Checkpoint, sign_checkpoint
from ledger.c2sp.cosignature import CosignatureSigner, cosigner_from_seed
from ledger.c2sp.note import add_signatures, generate_signer
from ledger.c2sp.trust import check_trust
from ledger.errors import InputError, SignatureError
from ledger.witness_policy import genesis_policy
from tests.factory import Community


def _witnesses() -> tuple[list[CosignatureSigner], list[dict[str, str]]]:
    ws = [cosigner_from_seed(f"witness.example/w{i}", bytes([i]) * 32) for i in range(3)]
    return ws, [
        {"name": w.name, "vkey": w.verifier().vkey(), "url": f"http://127.0.0.1:{9000 + i}"}
        for i, w in enumerate(ws)
    ]


def test_policy_from_record_0_and_quorum() -> None:
    ws, docs = _witnesses()
    com = Community(witnesses=docs, quorum=2)
    policy = genesis_policy(com.records[0], com.log_signer.verifier())
    cp = Checkpoint(com.origin, 1, b"\x01" * 32)
    note = sign_checkpoint(cp, com.log_signer)
    assert not check_trust(note, policy).quorum_met
    one = add_signatures(note, [ws[0].cosign(cp.body(), 1_700_000_000)])
    assert not check_trust(one, policy).quorum_met
    two = add_signatures(one, [ws[2].cosign(cp.body(), 1_700_000_001)])
    report = check_trust(two, policy)
    assert report.quorum_met and report.cosigned_by == ("witness.example/w0", "witness.example/w2")


def test_record_0_must_match_the_pinned_key() -> None:
    com = Community()
    with pytest.raises(SignatureError, match="another log key"):
        genesis_policy(com.records[0], generate_signer(com.origin).verifier())
    com.enrol("a")
    with pytest.raises(InputError, match="genesis is record 0"):
        genesis_policy(com.records[1], com.log_signer.verifier())
