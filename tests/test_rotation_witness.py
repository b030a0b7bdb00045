"""A witness follows a log-key rotation (in process, real storage and signatures): with the
old key compromised the hand-over is signed by the new key alone; a checkpoint signed by a
key no valid log.rotate names is refused; the old key past the rotation is refused."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.c2sp.checkpoint import Checkpoint, sign_checkpoint
from ledger.c2sp.note import parse_note, signer_from_seed
from ledger.errors import CivicError
from ledger.log_keys import key_history, rotate_envelope
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.config import load_log_key
from node.context import NodeContext, open_context
from node.log_keys import install_key
from node.witness import Witness, init_witness
from tests.factory import key
from tests.test_witness import (
    CHAIR,
    ORIGIN,
    SIGNERS,
    WITNESSES,
    add,
    cosign_all,
    enrol,
    open_witness,
)

NEW = signer_from_seed(ORIGIN, hashlib.sha256(b"witness-rotation-new").digest())
ROGUE = signer_from_seed(ORIGIN, hashlib.sha256(b"witness-rotation-rogue").digest())


@pytest.fixture
def net(tmp_path: Path) -> Iterator[tuple[NodeContext, NodeContext]]:
    d = tmp_path / "seq"
    init_community(d, ORIGIN, [CHAIR], WITNESSES, 2)
    seq = open_context(d, serve=True)
    wdir = tmp_path / "w0"
    init_witness(wdir, SIGNERS[0].name, log_vkey=seq.cfg.log_vkey, signer=SIGNERS[0])
    w = open_witness(wdir, seq)
    try:
        yield seq, w
    finally:
        w.close()
        seq.close()


def _witness(ctx: NodeContext) -> Witness:
    got: Witness = ctx.services["witness"]
    return got


def _submit(seq: NodeContext, env: dict[str, object]) -> int:
    (r,) = seq.services["sequencer"].submit([env])
    if isinstance(r, CivicError):
        raise r
    return int(r.index)


def test_witness_follows_a_rotation_with_the_old_key_compromised(
    net: tuple[NodeContext, NodeContext],
) -> None:
    seq, wctx = net
    w = _witness(wctx)
    enrol(seq, "a", "b")
    assert cosign_all(seq, w).status == 200
    install_key(seq.data_dir, NEW)
    genesis_vkey = seq.cfg.log_vkey
    assert genesis_vkey is not None
    env = rotate_envelope(ORIGIN, genesis_vkey, NEW, [CHAIR], "compromised", "leaked")
    at = _submit(seq, env)
    handover = seq.log.signed_checkpoint()
    # The old key is compromised: it does not sign the hand-over.
    assert [s.key_hash for s in parse_note(handover).signatures] == [NEW.key_hash]
    enrol(seq, "c")
    got = cosign_all(seq, w)
    assert got.status == 200, got.body
    assert w.latest() is not None and w.latest().size == seq.log.size  # type: ignore[union-attr]
    replica = wctx.services["replica"]
    assert key_history(replica.state).key_for(at + 1).vkey() == NEW.verifier().vkey()
    # The old key past the rotation: refused (403), and no evidence is made of it.
    old = load_log_key(seq.data_dir)
    assert old.key_hash != NEW.key_hash  # log.key was not swapped by this test
    forged = sign_checkpoint(Checkpoint(ORIGIN, seq.log.size + 1, b"\x05" * 32), old)
    r = add(w, seq.log.size, forged, [])
    assert r.status == 403, r.body
    assert wctx.evidence() is not None and wctx.evidence().count() == 0  # type: ignore[union-attr]


def test_witness_refuses_a_key_no_valid_rotation_names(
    net: tuple[NodeContext, NodeContext],
) -> None:
    seq, wctx = net
    w = _witness(wctx)
    enrol(seq, "a")
    assert cosign_all(seq, w).status == 200
    # A rogue sequencer signs its next checkpoint with a key of its own, and the only
    # "rotation" in the log is a member.enrol: the witness finds no log.rotate naming it.
    size = seq.log.size
    enrol(seq, "b")
    cp = Checkpoint(ORIGIN, seq.log.size, seq.log.root())
    rogue = sign_checkpoint(cp, ROGUE)
    r = add(w, size, rogue, seq.log.consistency_proof(size, seq.log.size))
    assert r.status == 403, r.body
    assert _witness(wctx).latest().size == size  # type: ignore[union-attr]


def test_a_rotation_without_the_committee_quorum_never_moves_the_key(tmp_path: Path) -> None:
    d = tmp_path / "seq"
    members = [CHAIR, key("wit-committee-1"), key("wit-committee-2")]
    init_community(d, ORIGIN, members, WITNESSES, 2)
    seq = open_context(d, serve=True)
    try:
        install_key(d, NEW)
        assert seq.cfg.log_vkey is not None
        env = rotate_envelope(
            ORIGIN, seq.cfg.log_vkey, NEW, members[:1], "held", "x", load_log_key(d)
        )
        with pytest.raises(CivicError, match="needs signatures of 2 committee members"):
            _submit(seq, env)
        st = make_statement(
            ORIGIN,
            "member.enrol",
            {"key": key("z").key_id, "unit_commitment": "0" * 64},
            CHAIR.key_id,
        )
        _submit(seq, sign_envelope(st, [CHAIR]))
        # Still the genesis key.
        assert [s.key_hash for s in parse_note(seq.log.signed_checkpoint()).signatures] == [
            load_log_key(d).key_hash
        ]
    finally:
        seq.close()
