"""C2SP tlog-proof (ledger.c2sp.proof): the spec example, round trips, malformed proofs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.c2sp.checkpoint import Checkpoint, sign_checkpoint
from ledger.c2sp.note import parse_note
from ledger.c2sp.proof import TlogProof, format_tlog_proof, parse_tlog_proof
from ledger.errors import InputError
from tests.support.c2sp_vectors import LOG, PROOF_EXAMPLE, ROOT, b64, roots, sig_line, sizes


def test_tlog_proof_spec_example() -> None:
    proof = parse_tlog_proof(PROOF_EXAMPLE)
    assert proof.extra is not None and proof.extra.startswith(b"age-v1.2.1-darwin-arm64.tar.gz")
    assert proof.index == 73894
    assert len(proof.hashes) == 5
    assert b64(proof.hashes[0]) == "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ="
    assert proof.checkpoint.startswith(b"example.com/fancylog\n109482\n")
    assert format_tlog_proof(proof) == PROOF_EXAMPLE
    # The spec elides the signatures, so the embedded note itself is not well-formed.
    with pytest.raises(InputError):
        parse_note(proof.checkpoint)


def test_tlog_proof_round_trip_without_extra() -> None:
    proof = TlogProof(None, 0, (), sign_checkpoint(Checkpoint(LOG.name, 1, b"\x01" * 32), LOG))
    data = format_tlog_proof(proof)
    assert data.startswith(b"c2sp.org/tlog-proof@v1\nindex 0\n\n")
    assert parse_tlog_proof(data) == proof


def test_tlog_proof_round_trip_empty_extra() -> None:
    proof = TlogProof(b"", 7, (b"\x02" * 32,), b"x\n\n" + sig_line("n", b"12345").encode())
    assert parse_tlog_proof(format_tlog_proof(proof)) == proof


CP_NOTE = b"o\n1\n" + ROOT.encode() + b"\n\n" + sig_line("o", b"12345").encode()


H = ROOT.encode()


MALFORMED_PROOFS = {
    "wrong-header": b"c2sp.org/tlog-proof@v2\nindex 0\n\n" + CP_NOTE,
    "missing-index": b"c2sp.org/tlog-proof@v1\n" + H + b"\n\n" + CP_NOTE,
    "index-leading-zero": b"c2sp.org/tlog-proof@v1\nindex 01\n\n" + CP_NOTE,
    "index-negative": b"c2sp.org/tlog-proof@v1\nindex -1\n\n" + CP_NOTE,
    "index-too-large": b"c2sp.org/tlog-proof@v1\nindex %d\n\n" % 2**64 + CP_NOTE,
    "extra-after-index": b"c2sp.org/tlog-proof@v1\nindex 0\nextra AA==\n\n" + CP_NOTE,
    "extra-bad-base64": b"c2sp.org/tlog-proof@v1\nextra A\nindex 0\n\n" + CP_NOTE,
    "hash-31-bytes": b"c2sp.org/tlog-proof@v1\nindex 0\n"
    + b64(b"x" * 31).encode()
    + b"\n\n"
    + CP_NOTE,
    "hash-not-base64": b"c2sp.org/tlog-proof@v1\nindex 0\nnot a hash\n\n" + CP_NOTE,
    "no-empty-line": b"c2sp.org/tlog-proof@v1\nindex 0\n" + H + b"\n",
    "no-checkpoint": b"c2sp.org/tlog-proof@v1\nindex 0\n\n",
    "checkpoint-without-newline": b"c2sp.org/tlog-proof@v1\nindex 0\n\nabc",
    "too-many-hashes": b"c2sp.org/tlog-proof@v1\nindex 0\n" + (H + b"\n") * 65 + b"\n" + CP_NOTE,
    "non-ascii-header": "c2sp.org/tlog-proof@v1\nindex ٣\n\n".encode() + CP_NOTE,
}


@pytest.mark.parametrize("data", MALFORMED_PROOFS.values(), ids=MALFORMED_PROOFS.keys())
def test_malformed_tlog_proofs(data: bytes) -> None:
    with pytest.raises(InputError):
        parse_tlog_proof(data)


@given(
    st.one_of(st.none(), st.binary(max_size=64)),
    sizes,
    st.lists(roots, max_size=64).map(tuple),
    st.binary(min_size=1).map(lambda b: b + b"\n"),
)
def test_property_tlog_proof_round_trip(
    extra: bytes | None, index: int, hashes: tuple[bytes, ...], checkpoint: bytes
) -> None:
    proof = TlogProof(extra, index, hashes, checkpoint)
    assert parse_tlog_proof(format_tlog_proof(proof)) == proof
