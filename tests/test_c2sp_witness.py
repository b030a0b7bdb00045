"""C2SP tlog-witness wire format (ledger.c2sp.witness): add-checkpoint bodies and responses."""

from __future__ import annotations

import base64

import pytest

from ledger.c2sp.checkpoint import Checkpoint, sign_checkpoint
from ledger.c2sp.note import parse_signature_lines, signer_from_seed
from ledger.c2sp.witness import format_add_checkpoint, parse_add_checkpoint
from ledger.errors import InputError
from tests.support.c2sp_vectors import DASH


def test_witness_response_example_parses() -> None:
    # tlog-witness.md add-checkpoint example response body.
    body = (
        f"{DASH} witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39Qs"
        "ZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n"
        f"{DASH} witness.example/w1 I7rEps0pvK2UqkS2gSpVUDhrhVtQV9lgF6pRrWAvjJHjyWpW7VcE3SiOlVlbQ"
        "Nt64vWhO+DlkL0+UfzuOBMh9ChdMkP1vi/lCAsmlw==\n"
        f"{DASH} witness.example/w2 AWui8Sk55XjYLOijihBjhqEH6nS1ndDymE0a+6idX7pLcnoB+dhnz0854aLZg"
        "rrKbYKA7nC3HNJhm/kWl7oJlqU3rXXvpysAdyP3wQ==\n"
    ).encode()
    sigs = parse_signature_lines(body)
    assert [s.name for s in sigs] == ["witness.example/w1"] * 2 + ["witness.example/w2"]
    assert all(len(s.signature) == 72 for s in sigs)
    assert "".join(s.line() for s in sigs).encode() == body


ORIGIN = "civic.example/witness-garden"


def test_add_checkpoint_body_round_trips() -> None:
    note = sign_checkpoint(Checkpoint(ORIGIN, 5, b"\x01" * 32), signer_from_seed(ORIGIN, b"k" * 32))
    proof = [bytes([i]) * 32 for i in range(3)]
    body = format_add_checkpoint(2, proof, note)
    assert body.startswith(b"old 2\n" + base64.b64encode(proof[0]) + b"\n")
    req = parse_add_checkpoint(body)
    assert (req.old, list(req.proof), req.note) == (2, proof, note)
    assert format_add_checkpoint(req.old, req.proof, req.note) == body


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"old 1\n",  # no empty line
        b"old 01\n\ncp\n",  # leading zero
        b"old -1\n\ncp\n",
        b"new 1\n\ncp\n",
        b"old 1\nnot base64!\n\ncp\n",
        b"old 1\n" + base64.b64encode(b"short") + b"\n\ncp\n",
        b"old 1\n\n",  # no checkpoint
        b"old 1\n" + (base64.b64encode(b"\0" * 32) + b"\n") * 64 + b"\ncp\n",  # 64 > 63 lines
    ],
)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(InputError):
        parse_add_checkpoint(body)
