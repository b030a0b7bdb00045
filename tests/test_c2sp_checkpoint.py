"""C2SP tlog-checkpoint (ledger.c2sp.checkpoint): the spec example, Tessera checkpoints byte for byte, failures."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.c2sp.checkpoint import (
    Checkpoint,
    log_signed_only,
    open_checkpoint,
    parse_checkpoint,
    read_checkpoint,
    sign_checkpoint,
)
from ledger.c2sp.note import (
    add_signatures,
    format_note,
    parse_note,
    parse_private_key,
    parse_vkey,
    sign_note,
    signer_from_seed,
)
from ledger.errors import InputError, SignatureError
from tests.support.c2sp_vectors import (
    ALICE,
    BOB,
    EMPTY_ROOT,
    LOG,
    LOG_ORIGIN,
    LOG_SKEY,
    LOG_VKEY,
    ROOT,
    ROOT_15,
    SOFA_BODY,
    TESSERA,
    TESSERA_CHECKPOINTS,
    TS,
    WITNESSES,
    b64,
    checkpoints,
    key_names,
    roots,
    sizes,
)


@pytest.mark.parametrize("path", TESSERA_CHECKPOINTS, ids=lambda p: p.name)
def test_tessera_checkpoint_verifies(path: Path) -> None:
    data = path.read_bytes()
    cp, note = open_checkpoint(data, parse_vkey(LOG_VKEY))
    assert cp.origin == LOG_ORIGIN
    expected_size = 15 if path.name == "checkpoint" else int(path.name.split(".")[1])
    assert cp.size == expected_size
    assert cp.body() == note.text
    assert format_note(note) == data


@pytest.mark.parametrize("path", TESSERA_CHECKPOINTS, ids=lambda p: p.name)
def test_tessera_checkpoint_resigned_byte_for_byte(path: Path) -> None:
    data = path.read_bytes()
    cp = parse_checkpoint(parse_note(data).text)
    assert sign_checkpoint(cp, parse_private_key(LOG_SKEY)) == data


def test_tessera_roots() -> None:
    log = parse_vkey(LOG_VKEY)
    cp15, _ = open_checkpoint((TESSERA / "checkpoint.15").read_bytes(), log)
    cp0, _ = open_checkpoint((TESSERA / "checkpoint.0").read_bytes(), log)
    assert b64(cp15.root_hash) == ROOT_15
    assert b64(cp0.root_hash) == EMPTY_ROOT
    assert cp0.root_hash == hashlib.sha256(b"").digest()


def test_checkpoint_spec_example_parses() -> None:
    cp = parse_checkpoint(SOFA_BODY)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert cp.body() == SOFA_BODY


def test_checkpoint_round_trip_with_extensions() -> None:
    cp = Checkpoint("example.org/log", 12345, b"\xab" * 32, ("ext one", "— ext two"))
    assert cp.body().endswith("ext one\n— ext two\n")
    assert parse_checkpoint(cp.body()) == cp


MALFORMED_CHECKPOINTS = {
    "size-leading-zero": f"o\n01\n{ROOT}\n",
    "size-negative": f"o\n-1\n{ROOT}\n",
    "size-exponent": f"o\n1e3\n{ROOT}\n",
    "size-plus-sign": f"o\n+1\n{ROOT}\n",
    "size-empty": f"o\n\n{ROOT}\n",
    "size-space": f"o\n 1\n{ROOT}\n",
    "size-underscore": f"o\n1_000\n{ROOT}\n",
    "size-non-ascii-digit": f"o\n\u0663\n{ROOT}\n",
    "size-2**64": f"o\n{2**64}\n{ROOT}\n",
    "root-31-bytes": "o\n1\n" + b64(b"\x11" * 31) + "\n",
    "root-33-bytes": "o\n1\n" + b64(b"\x11" * 33) + "\n",
    "root-not-base64": f"o\n1\n{'!' * 44}\n",
    "root-url-safe": "o\n1\n" + b64(b"\xfb" * 32).replace("+", "-").replace("/", "_") + "\n",
    "root-missing-padding": f"o\n1\n{ROOT.rstrip('=')}\n",
    "missing-root-line": "o\n1\n",
    "empty-origin": f"\n1\n{ROOT}\n",
    "no-trailing-newline": f"o\n1\n{ROOT}",
    "empty-extension-line": f"o\n1\n{ROOT}\n\n",
    "crlf-line-endings": f"o\r\n1\r\n{ROOT}\r\n",
    "empty-text": "",
}


@pytest.mark.parametrize("text", MALFORMED_CHECKPOINTS.values(), ids=MALFORMED_CHECKPOINTS.keys())
def test_malformed_checkpoint_bodies(text: str) -> None:
    with pytest.raises(InputError):
        parse_checkpoint(text)


@pytest.mark.parametrize(
    "body",
    [f"{LOG.name}\n01\n{ROOT}\n", f"{LOG.name}\n1\n{b64(b'x' * 31)}\n", f"{LOG.name}\n1\n"],
    ids=["signed-size-01", "signed-short-root", "signed-missing-root"],
)
def test_open_checkpoint_signed_but_malformed(body: str) -> None:
    with pytest.raises(InputError):
        open_checkpoint(sign_note(body, [LOG]), LOG.verifier())


def test_open_checkpoint_origin_must_match_key_name() -> None:
    data = sign_note(f"other.example/log\n1\n{ROOT}\n", [LOG])
    with pytest.raises(SignatureError, match="origin"):
        open_checkpoint(data, LOG.verifier())
    with pytest.raises(InputError):
        sign_checkpoint(Checkpoint("other.example/log", 1, b"\x11" * 32), LOG)


def test_open_checkpoint_wrong_log_key() -> None:
    data = (TESSERA / "checkpoint.3").read_bytes()
    with pytest.raises(SignatureError):
        open_checkpoint(data, LOG.verifier())


def test_checkpoint_constructor_checks() -> None:
    with pytest.raises(InputError):
        Checkpoint("o", -1, b"\x00" * 32)
    with pytest.raises(InputError):
        Checkpoint("o", 2**64, b"\x00" * 32)
    with pytest.raises(InputError):
        Checkpoint("o\nx", 1, b"\x00" * 32)
    with pytest.raises(InputError):
        Checkpoint("o", 1, b"\x00" * 31)
    with pytest.raises(InputError):
        Checkpoint("o", 1, b"\x00" * 32, ("",))


@given(checkpoints)
def test_property_checkpoint_round_trip(cp: Checkpoint) -> None:
    assert parse_checkpoint(cp.body()) == cp


@settings(max_examples=40)
@given(key_names, sizes, roots, st.binary(min_size=32, max_size=32))
def test_property_sign_open_round_trip(origin: str, size: int, root: bytes, seed: bytes) -> None:
    signer = signer_from_seed(origin, seed)
    cp = Checkpoint(origin, size, root)
    data = sign_checkpoint(cp, signer)
    opened, _ = open_checkpoint(data, signer.verifier())
    assert opened == cp
    assert parse_vkey(signer.verifier().vkey()) == signer.verifier()
    assert parse_private_key(signer.private_key_string()) == signer


@given(st.text(max_size=120))
def test_property_parse_checkpoint_only_raises_input_error(text: str) -> None:
    try:
        cp = parse_checkpoint(text)
    except InputError:
        return
    assert cp.body() == text


def test_read_checkpoint_reads_without_verifying() -> None:
    cp = Checkpoint("example.org/alice", 7, b"\x22" * 32, ("ext",))
    note = sign_checkpoint(cp, ALICE)
    assert read_checkpoint(note) == cp
    # Not verified: a note signed by any key reads the same (open_checkpoint refuses it).
    forged = sign_note(cp.body(), [BOB])
    assert read_checkpoint(forged) == cp
    with pytest.raises(SignatureError):
        open_checkpoint(forged, ALICE.verifier())
    with pytest.raises(InputError):
        read_checkpoint(sign_note("example.org/alice\n07\n" + ROOT + "\n", [ALICE]))


def test_log_signed_only_keeps_just_the_log_signature() -> None:
    cp = Checkpoint(LOG.name, 3, b"\x33" * 32)
    note = sign_checkpoint(cp, LOG)
    busy = add_signatures(
        note,
        [WITNESSES[0].cosign(cp.body(), TS), *parse_note(sign_note(cp.body(), [ALICE])).signatures],
    )
    got, only = log_signed_only(busy, LOG.verifier())
    assert got == cp and only == note
    with pytest.raises(SignatureError):
        log_signed_only(busy, BOB.verifier())
