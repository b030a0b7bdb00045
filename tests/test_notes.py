"""Tests of ledger.notes: C2SP signed notes, checkpoints, cosignatures, policies, proofs."""

from __future__ import annotations

import base64
import hashlib
import struct
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.c2sp.checkpoint import Checkpoint, open_checkpoint, parse_checkpoint, sign_checkpoint
from ledger.c2sp.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
    cosigner_from_seed,
    generate_cosigner,
    parse_cosigner_private_key,
    parse_cosigner_vkey,
)
from ledger.c2sp.note import (
    MAX_NOTE_SIGNATURES,
    Note,
    NoteSignature,
    NoteSigner,
    NoteVerifier,
    add_signatures,
    format_note,
    generate_signer,
    is_valid_key_name,
    key_hash,
    parse_note,
    parse_private_key,
    parse_signature_lines,
    parse_vkey,
    sign_note,
    signer_from_seed,
    verify_note,
)
from ledger.c2sp.policy import (
    Policy,
    PolicyGroup,
    PolicyLog,
    PolicyWitness,
    format_policy,
    parse_policy,
    policy_satisfied,
)
from ledger.c2sp.proof import TlogProof, format_tlog_proof, parse_tlog_proof
from ledger.c2sp.trust import trusted_checkpoint
from ledger.errors import CivicError, InputError, SignatureError, TooLargeError

VECTORS = Path(__file__).parent / "vectors"
TESSERA = VECTORS / "tessera-log"
DASH = "\u2014"

# signed-note.md example (tests/vectors/README.md)
EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
EXAMPLE_NOTE = (
    "This is an example message.\n\n"
    f"{DASH} example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3m"
    "FXmRKuwHjG1Yu72IneyaQM=\n"
).encode()

# tessera testdata/log keys (tests/vectors/README.md)
LOG_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
LOG_SKEY = (
    "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
)
LOG_ORIGIN = "example.com/log/testdata"
ROOT_15 = "rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs="
EMPTY_ROOT = "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

TESSERA_CHECKPOINTS = sorted(TESSERA.glob("checkpoint*"), key=lambda p: p.name)

# tlog-checkpoint.md / tlog-cosignature.md example checkpoint
SOFA_BODY = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
SOFA_LOG_SIG = (
    "Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8="
)
SOFA_W1_SIG = (
    "jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIU"
    "BkBIfZ+qnA=="
)

# tlog-proof.md example (its signatures are elided with "[...]" in the spec)
PROOF_EXAMPLE = (
    "c2sp.org/tlog-proof@v1\n"
    "extra YWdlLXYxLjIuMS1kYXJ3aW4tYXJtNjQudGFyLmd6kYXJ3aW4tYXJ\n"
    "index 73894\n"
    "gSKyXoYZUgZ6jduWYrkDOARinOMGJveXjgMkBTcdPlQ=\n"
    "B95lDa8R83lS8n0eG+o0buTxRKQTYFi//1U8anccXmA=\n"
    "EKNzoDWG8LGC0Yp9o+sv3qllpMP9uHQ9B20KNL+Q1zs=\n"
    "RoopEkOdqkYqMB4MJXrbt/hMjOxsVn0IrWjpz1ZMMes=\n"
    "AHCioX9nLjsrse6YhjRRmk1WUEirVOLLRoOQ6vfO5vk=\n"
    "\n"
    "example.com/fancylog\n"
    "109482\n"
    "sFodV/vSp5O8n9a8QpW6PRY97tfOSW5bsc2Xl/EQi08=\n"
    "\n"
    f"{DASH} example.com/fancylog hI2DJw[...]1roloI=\n"
    f"{DASH} witness1.example mJirIklj[...]qY9v2B/5bg==\n"
    f"{DASH} witness2.example TnKKVHLX[...]xwYwrSjgow==\n"
    f"{DASH} witness3.example S4X82uH5[...]3oEcROGLFQ==\n"
).encode()

# Deterministic keys for the tests.
ALICE = signer_from_seed("example.org/alice", bytes(range(32)))
BOB = signer_from_seed("example.org/bob", bytes(range(1, 33)))
LOG = signer_from_seed("ledger.example/log", b"\x07" * 32)
WITNESSES = [cosigner_from_seed(f"witness.example/w{i}", bytes([0x40 + i]) * 32) for i in (1, 2, 3)]
TS = 1_700_000_000


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sig_line(name: str, payload: bytes) -> str:
    return f"{DASH} {name} {b64(payload)}\n"


def alice_note(text: str = "hello\n") -> bytes:
    return sign_note(text, [ALICE])


# --------------------------------------------------------------------------------------------
# Vectors
# --------------------------------------------------------------------------------------------


def test_signed_note_spec_example_verifies() -> None:
    verifier = parse_vkey(EXAMPLE_VKEY)
    note, verified = verify_note(EXAMPLE_NOTE, [verifier])
    assert note.text == "This is an example message.\n"
    assert verified == [verifier]
    assert verifier.vkey() == EXAMPLE_VKEY
    assert format_note(note) == EXAMPLE_NOTE


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


def test_tessera_private_key_matches_vkey() -> None:
    signer = parse_private_key(LOG_SKEY)
    assert signer.verifier().vkey() == LOG_VKEY
    assert signer.verifier() == parse_vkey(LOG_VKEY)
    assert signer.private_key_string() == LOG_SKEY
    assert signer.name == LOG_ORIGIN
    assert signer.key_hash.hex() == "33d7b496"
    assert LOG_SKEY.split("+")[-1] not in repr(signer)


def test_key_hash_is_spec_formula() -> None:
    verifier = parse_vkey(EXAMPLE_VKEY)
    expected = hashlib.sha256(b"example.com/foo\n\x01" + verifier.public_key).digest()[:4]
    assert key_hash("example.com/foo", b"\x01" + verifier.public_key) == expected
    assert verifier.key_hash == bytes.fromhex("530d903a")


def test_signed_note_spec_poem_keeps_inner_blank_line() -> None:
    # signed-note.md: the text is separated from the signatures by the *last* empty line.
    poem = (
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed è subito sera.\n"
    )
    data = (
        poem + "\n" + f"{DASH} quasimodo.example/salvatore NnugSzTjtVAewIS+Z/iJhUPeFDkO/5QQ2i5ddn"
        "GITLlC+EhfLW9oJKONrMouFSQU0xMcXxj99ihAQwaqP3ZekRwNtIc=\n"
    ).encode()
    note = parse_note(data)
    assert note.text == poem
    assert [s.name for s in note.signatures] == ["quasimodo.example/salvatore"]
    assert format_note(note) == data
    with pytest.raises(SignatureError, match="no known key"):
        verify_note(data, [ALICE.verifier()])


def test_checkpoint_spec_example_parses() -> None:
    cp = parse_checkpoint(SOFA_BODY)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert cp.body() == SOFA_BODY


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


def spec_example_policy_text() -> str:
    """tlog-policy.md's example with real keys in place of <vkey>."""
    keys = {
        n: cosigner_from_seed(f"w.example/{n}", hashlib.sha256(n.encode()).digest())
        for n in ("X1", "X2", "X3", "Y1", "Y2", "Y3")
    }
    lines = [f"log {LOG.verifier().vkey()}", ""]
    lines += [f"witness {n} {keys[n].verifier().vkey()}" for n in ("X1", "X2", "X3")]
    lines += ["group X-witnesses 2 X1 X2 X3", ""]
    lines += [f"witness {n} {keys[n].verifier().vkey()}" for n in ("Y1", "Y2", "Y3")]
    lines += ["group Y-witnesses any Y1 Y2 Y3", "", "group X-and-Y all X-witnesses Y-witnesses"]
    lines += ["quorum X-and-Y"]
    return "\n".join(lines) + "\n"


def test_policy_spec_example() -> None:
    policy = parse_policy(spec_example_policy_text())
    assert [w.name for w in policy.witnesses] == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert [(g.name, g.threshold) for g in policy.groups] == [
        ("X-witnesses", 2),
        ("Y-witnesses", 1),
        ("X-and-Y", 2),
    ]
    assert policy.quorum == "X-and-Y"
    assert policy_satisfied(policy, {"X1", "X3", "Y2"})
    assert not policy_satisfied(policy, {"X1", "Y1", "Y2", "Y3"})
    assert not policy_satisfied(policy, {"X1", "X2", "X3"})
    assert parse_policy(format_policy(policy)) == policy


# --------------------------------------------------------------------------------------------
# Round trips
# --------------------------------------------------------------------------------------------


def test_note_round_trip_multi_signature_with_duplicates_and_unknown() -> None:
    data = sign_note("line one\n\nline three\n", [ALICE, BOB])
    data += sig_line("someone.else", b"\x01\x02\x03\x04" + b"x" * 10).encode()
    data += sig_line("someone.else", b"\x01\x02\x03\x04" + b"x" * 10).encode()
    note = parse_note(data)
    assert len(note.signatures) == 4
    assert format_note(note) == data
    _, verified = verify_note(data, [BOB.verifier(), ALICE.verifier()])
    assert verified == [ALICE.verifier(), BOB.verifier()]


def test_sign_note_skips_repeated_signer() -> None:
    note = parse_note(sign_note("x\n", [ALICE, ALICE, BOB]))
    assert [s.name for s in note.signatures] == [ALICE.name, BOB.name]


def test_add_signatures_skips_duplicates() -> None:
    base = alice_note()
    text = parse_note(base).text
    bob_sig = NoteSignature(BOB.name, BOB.key_hash, BOB.sign(text.encode()))
    alice_again = NoteSignature(ALICE.name, ALICE.key_hash, b"\x00" * 64)
    merged = add_signatures(base, [bob_sig, alice_again, bob_sig])
    assert merged == sign_note(text, [ALICE, BOB])
    _, verified = verify_note(merged, [ALICE.verifier(), BOB.verifier()])
    assert len(verified) == 2


def test_checkpoint_round_trip_with_extensions() -> None:
    cp = Checkpoint("example.org/log", 12345, b"\xab" * 32, ("ext one", "— ext two"))
    assert cp.body().endswith("ext one\n— ext two\n")
    assert parse_checkpoint(cp.body()) == cp


def test_key_round_trips() -> None:
    for signer in (ALICE, BOB, generate_signer("example.net/random")):
        verifier = signer.verifier()
        assert parse_vkey(verifier.vkey()) == verifier
        assert parse_private_key(signer.private_key_string()) == signer
        assert parse_private_key(signer.private_key_string()).verifier() == verifier
    cosigner = generate_cosigner("witness.example/random")
    assert parse_cosigner_vkey(cosigner.verifier().vkey()) == cosigner.verifier()
    assert parse_cosigner_private_key(cosigner.private_key_string()) == cosigner


def test_tlog_proof_round_trip_without_extra() -> None:
    proof = TlogProof(None, 0, (), sign_checkpoint(Checkpoint(LOG.name, 1, b"\x01" * 32), LOG))
    data = format_tlog_proof(proof)
    assert data.startswith(b"c2sp.org/tlog-proof@v1\nindex 0\n\n")
    assert parse_tlog_proof(data) == proof


def test_tlog_proof_round_trip_empty_extra() -> None:
    proof = TlogProof(b"", 7, (b"\x02" * 32,), b"x\n\n" + sig_line("n", b"12345").encode())
    assert parse_tlog_proof(format_tlog_proof(proof)) == proof


def test_policy_round_trip_with_urls_comments_and_tabs() -> None:
    w = [c.verifier() for c in WITNESSES]
    text = (
        "# a comment\n"
        f"  log\t{LOG.verifier().vkey()}   https://log.example/\n"
        "\n"
        f"witness a {w[0].vkey()} https://a.example/\n"
        f"\twitness b\t{w[1].vkey()}\n"
        f"witness c {w[2].vkey()}\n"
        "   # indented comment\n"
        "group g 2 a b c\n"
        "quorum g"  # no final newline
    )
    policy = parse_policy(text)
    assert policy.logs == (PolicyLog(LOG.verifier(), "https://log.example/"),)
    assert policy.witnesses[0] == PolicyWitness("a", w[0], "https://a.example/")
    assert policy.groups == (PolicyGroup("g", 2, ("a", "b", "c")),)
    formatted = format_policy(policy)
    assert parse_policy(formatted) == policy
    assert format_policy(parse_policy(formatted)) == formatted


# --------------------------------------------------------------------------------------------
# Invalid notes, signatures and keys
# --------------------------------------------------------------------------------------------


def _flip_signature_bit(data: bytes) -> bytes:
    note = parse_note(data)
    sig = note.signatures[0]
    flipped = bytearray(sig.signature)
    flipped[10] ^= 0x01
    return format_note(Note(note.text, (NoteSignature(sig.name, sig.key_hash, bytes(flipped)),)))


def _with_key_hash(data: bytes, name: str, key_id: bytes) -> bytes:
    note = parse_note(data)
    sig = note.signatures[0]
    return format_note(Note(note.text, (NoteSignature(name, key_id, sig.signature),)))


def _bad_alice_plus_good_bob() -> bytes:
    good = sign_note("hello\n", [BOB])
    bad = parse_note(_flip_signature_bit(alice_note())).signatures[0]
    return add_signatures(good, [bad])


SIGNATURE_FAILURES = {
    "bad-signature-bit-flip": lambda: _flip_signature_bit(alice_note()),
    "text-altered": lambda: alice_note().replace(b"hello", b"jello"),
    "unknown-key-only": lambda: sign_note("hello\n", [BOB]),
    "right-name-wrong-key-hash": lambda: _with_key_hash(alice_note(), ALICE.name, b"\0\0\0\0"),
    "right-key-hash-wrong-name": lambda: _with_key_hash(alice_note(), "evil", ALICE.key_hash),
    "known-key-bad-next-to-valid": _bad_alice_plus_good_bob,
    "truncated-ed25519-signature": lambda: format_note(
        Note("hello\n", (NoteSignature(ALICE.name, ALICE.key_hash, b"\x01" * 63),))
    ),
}


@pytest.mark.parametrize("make", SIGNATURE_FAILURES.values(), ids=SIGNATURE_FAILURES.keys())
def test_note_signature_failures(make: Callable[[], bytes]) -> None:
    data = make()
    parse_note(data)  # well-formed: only the signature check may fail
    both = make is _bad_alice_plus_good_bob
    verifiers = [ALICE.verifier(), BOB.verifier()] if both else [ALICE.verifier()]
    with pytest.raises(SignatureError):
        verify_note(data, verifiers)


def test_unknown_key_message_names_signers() -> None:
    with pytest.raises(SignatureError, match="signed by no known key") as info:
        verify_note(sign_note("hello\n", [BOB]), [ALICE.verifier()])
    assert BOB.name in info.value.message


URL_SAFE = b64(b"\xfb\xff" * 6).replace("+", "-").replace("/", "_")
GOOD_SIG = b64(ALICE.key_hash + ALICE.sign(b"hello\n"))
MALFORMED_NOTES: dict[str, bytes] = {
    "empty": b"",
    "not-utf8": b"hello \xff\n\n" + f"{DASH} a {GOOD_SIG}\n".encode(),
    "control-character": f"hel\tlo\n\n{DASH} a {GOOD_SIG}\n".encode(),
    "carriage-return": f"hello\r\n\n{DASH} a {GOOD_SIG}\n".encode(),
    "missing-blank-line": f"hello\n{DASH} a {GOOD_SIG}\n".encode(),
    "text-without-newline": f"hello{DASH} a {GOOD_SIG}\n".encode(),
    "no-signatures": b"hello\n\n",
    "signature-not-newline-terminated": f"hello\n\n{DASH} a {GOOD_SIG}".encode(),
    "blank-line-inside-signatures": f"hello\n\n{DASH} a {GOOD_SIG}\n\n".encode(),
    "hyphen-instead-of-em-dash": f"hello\n\n- a {GOOD_SIG}\n".encode(),
    "en-dash-instead-of-em-dash": f"hello\n\n\u2013 a {GOOD_SIG}\n".encode(),
    "no-space-after-dash": f"hello\n\n{DASH}a {GOOD_SIG}\n".encode(),
    "missing-name": f"hello\n\n{DASH}  {GOOD_SIG}\n".encode(),
    "missing-signature": f"hello\n\n{DASH} a\n".encode(),
    "name-with-plus": f"hello\n\n{DASH} a+b {GOOD_SIG}\n".encode(),
    "two-spaces": f"hello\n\n{DASH} a  {GOOD_SIG}\n".encode(),
    "trailing-space": f"hello\n\n{DASH} a {GOOD_SIG} \n".encode(),
    "bad-base64-character": f"hello\n\n{DASH} a {GOOD_SIG[:-2]}*=\n".encode(),
    "truncated-base64": f"hello\n\n{DASH} a {GOOD_SIG[:-3]}\n".encode(),
    "base64-too-short": f"hello\n\n{DASH} a AAA=\n".encode(),
    "base64-exactly-4-bytes": f"hello\n\n{DASH} a AAAAAA==\n".encode(),
    "non-canonical-base64": f"hello\n\n{DASH} a AAAAAAB=\n".encode(),
    "url-safe-base64": f"hello\n\n{DASH} a {URL_SAFE}\n".encode(),
}


@pytest.mark.parametrize("data", MALFORMED_NOTES.values(), ids=MALFORMED_NOTES.keys())
def test_malformed_notes(data: bytes) -> None:
    with pytest.raises(InputError):
        parse_note(data)
    with pytest.raises(InputError):
        verify_note(data, [ALICE.verifier()])


def test_too_many_signatures() -> None:
    lines = "".join(sig_line(f"n{i}", b"\x00" * 8) for i in range(MAX_NOTE_SIGNATURES + 1))
    data = ("hello\n\n" + lines).encode()
    with pytest.raises(TooLargeError):
        parse_note(data)
    ok = ("hello\n\n" + "".join(sig_line(f"n{i}", b"\x00" * 8) for i in range(100))).encode()
    assert len(parse_note(ok).signatures) == MAX_NOTE_SIGNATURES


def test_sign_note_rejects_bad_text_and_no_signers() -> None:
    with pytest.raises(InputError):
        sign_note("no newline", [ALICE])
    with pytest.raises(InputError):
        sign_note("bell \x07\n", [ALICE])
    with pytest.raises(InputError):
        sign_note("hello\n", [])
    with pytest.raises(InputError):
        format_note(Note("hello\n", ()))


GOOD_PUB = ALICE.verifier().public_key
KEY_01 = b64(b"\x01" + GOOD_PUB)
KEY_02 = b64(b"\x02" + GOOD_PUB)
KEY_01_SHORT = b64(b"\x01" + GOOD_PUB[:31])
BAD_VKEYS = {
    "vkey-wrong-hash": f"{ALICE.name}+00000000+{KEY_01}",
    "vkey-hash-of-other-name": f"example.org/mallory+{ALICE.key_hash.hex()}+{KEY_01}",
    "vkey-uppercase-hash": LOG_VKEY.replace("33d7b496", "33D7B496"),
    "vkey-short-hash": f"{ALICE.name}+{ALICE.key_hash.hex()[:6]}+{KEY_01}",
    "vkey-missing-key": f"{ALICE.name}+{ALICE.key_hash.hex()}",
    "vkey-only-name": ALICE.name,
    "vkey-bad-base64": f"{ALICE.name}+{ALICE.key_hash.hex()}+not*base64",
    "vkey-short-key": f"{ALICE.name}+{ALICE.key_hash.hex()}+{KEY_01_SHORT}",
    "vkey-cosigner-type": WITNESSES[0].verifier().vkey(),
    "vkey-unknown-type": f"{ALICE.name}+{ALICE.key_hash.hex()}+{KEY_02}",
    "vkey-empty-name": f"+{ALICE.key_hash.hex()}+{KEY_01}",
    "vkey-name-with-space": f"a b+{ALICE.key_hash.hex()}+{KEY_01}",
    "vkey-trailing-newline": ALICE.verifier().vkey() + "\n",
}


@pytest.mark.parametrize("text", BAD_VKEYS.values(), ids=BAD_VKEYS.keys())
def test_bad_vkeys(text: str) -> None:
    with pytest.raises(InputError):
        parse_vkey(text)


def test_bad_cosigner_vkeys() -> None:
    with pytest.raises(InputError):
        parse_cosigner_vkey(ALICE.verifier().vkey())  # type 0x01, not 0x04
    good = WITNESSES[0].verifier()
    wrong = good.name + "+00000000+" + b64(b"\x04" + good.public_key)
    with pytest.raises(InputError):
        parse_cosigner_vkey(wrong)


BAD_PRIVATE_KEYS = {
    "private-missing-prefix": LOG_SKEY.removeprefix("PRIVATE+KEY+"),
    "private-wrong-hash": LOG_SKEY.replace("33d7b496", "33d7b497"),
    "private-other-name": LOG_SKEY.replace("testdata", "testdatb"),
    "private-short-seed": "PRIVATE+KEY+a+00000000+" + b64(b"\x01" + b"\x00" * 31),
    "private-cosigner-type": WITNESSES[0].private_key_string(),
    "private-public-key-instead": "PRIVATE+KEY+" + LOG_VKEY,
}


@pytest.mark.parametrize("text", BAD_PRIVATE_KEYS.values(), ids=BAD_PRIVATE_KEYS.keys())
def test_bad_private_keys(text: str) -> None:
    with pytest.raises(InputError):
        parse_private_key(text)


def test_cosigner_private_key_rejects_note_key() -> None:
    with pytest.raises(InputError):
        parse_cosigner_private_key(LOG_SKEY)


def test_verifier_constructor_checks_key_hash() -> None:
    v = ALICE.verifier()
    with pytest.raises(InputError):
        NoteVerifier(v.name, b"\x00" * 4, v.public_key)
    with pytest.raises(InputError):
        NoteVerifier(v.name, v.key_hash, v.public_key, alg=0x04)
    with pytest.raises(InputError):
        CosignatureVerifier(v.name, v.key_hash, v.public_key)  # hash is over 0x01, not 0x04


@pytest.mark.parametrize(
    ("name", "valid"),
    [
        ("example.com/foo", True),
        ("oid/1.3.6.1.4.1", True),
        ("ünïcode", True),
        ("", False),
        ("a+b", False),
        ("a b", False),
        ("a\u00a0b", False),
        ("a\u2003b", False),
        ("a\tb", False),
        ("a\x01b", False),
    ],
    ids=["url", "oid", "unicode", "empty", "plus", "space", "nbsp", "em-space", "tab", "ctrl"],
)
def test_is_valid_key_name(name: str, valid: bool) -> None:
    assert is_valid_key_name(name) is valid
    if not valid:
        with pytest.raises(InputError):
            generate_signer(name)


# --------------------------------------------------------------------------------------------
# Invalid checkpoints
# --------------------------------------------------------------------------------------------

ROOT = b64(b"\x11" * 32)
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


# --------------------------------------------------------------------------------------------
# Cosignatures and policies
# --------------------------------------------------------------------------------------------


def log_checkpoint(size: int = 42) -> tuple[Checkpoint, bytes]:
    cp = Checkpoint(LOG.name, size, hashlib.sha256(str(size).encode()).digest())
    return cp, sign_checkpoint(cp, LOG)


def cosigned(data: bytes, cosigners: list[CosignatureSigner], ts: int = TS) -> bytes:
    body = parse_note(data).text
    return add_signatures(data, [c.cosign(body, ts) for c in cosigners])


def quorum_policy(k: int = 2) -> Policy:
    witnesses = tuple(
        PolicyWitness(f"w{i}", c.verifier()) for i, c in enumerate(WITNESSES, start=1)
    )
    group = PolicyGroup("witnesses", k, tuple(w.name for w in witnesses))
    return Policy((PolicyLog(LOG.verifier()),), witnesses, (group,), "witnesses")


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


def _retimed(sig: NoteSignature, ts: int) -> NoteSignature:
    return NoteSignature(sig.name, sig.key_hash, struct.pack(">Q", ts) + sig.signature[8:])


def test_cosignature_wrong_timestamp_body_or_key_fails() -> None:
    cp, _ = log_checkpoint()
    body = cp.body()
    witness = WITNESSES[0].verifier()
    sig = WITNESSES[0].cosign(body, TS)
    assert witness.verify_cosignature(body, _retimed(sig, TS + 1)) is None
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


def test_two_of_three_cosignatures_satisfy_quorum_two() -> None:
    cp, data = log_checkpoint()
    note = cosigned(data, WITNESSES[:2])
    assert trusted_checkpoint(note, quorum_policy(2)) == cp


def test_one_of_three_cosignatures_does_not_satisfy_quorum_two() -> None:
    _, data = log_checkpoint()
    note = cosigned(data, WITNESSES[:1])
    with pytest.raises(SignatureError, match=r"1 valid witness cosignature.*at least 2"):
        trusted_checkpoint(note, quorum_policy(2))


def test_unknown_cosigners_do_not_count() -> None:
    _, data = log_checkpoint()
    strangers = [cosigner_from_seed(f"stranger/{i}", bytes([i]) * 32) for i in range(3)]
    note = cosigned(data, [WITNESSES[0], *strangers])
    with pytest.raises(SignatureError, match="1 valid"):
        trusted_checkpoint(note, quorum_policy(2))


def test_bad_cosignature_from_policy_witness_rejects() -> None:
    _, data = log_checkpoint()
    body = parse_note(data).text
    bad = _retimed(WITNESSES[2].cosign(body, TS), TS + 5)
    note = add_signatures(cosigned(data, WITNESSES[:2]), [bad])
    with pytest.raises(SignatureError, match="w3"):
        trusted_checkpoint(note, quorum_policy(2))


def test_cosignature_over_other_checkpoint_rejects() -> None:
    _, data = log_checkpoint(42)
    other, _ = log_checkpoint(43)
    sigs = [c.cosign(other.body(), TS) for c in WITNESSES]
    with pytest.raises(SignatureError):
        trusted_checkpoint(add_signatures(data, sigs), quorum_policy(2))


def test_quorum_none_needs_only_the_log() -> None:
    cp, data = log_checkpoint()
    policy = Policy((PolicyLog(LOG.verifier()),), (), (), "none")
    assert trusted_checkpoint(data, policy) == cp


def test_trusted_checkpoint_requires_policy_log() -> None:
    _, data = log_checkpoint()
    note = cosigned(data, WITNESSES)
    other_log = Policy((PolicyLog(ALICE.verifier()),), quorum_policy().witnesses, (), "w1")
    with pytest.raises(SignatureError, match="no known key"):
        trusted_checkpoint(note, other_log)
    no_logs = Policy((), quorum_policy().witnesses, (), "w1")
    with pytest.raises(SignatureError):
        trusted_checkpoint(note, no_logs)
    assert trusted_checkpoint(note, no_logs, log_verifiers=[LOG.verifier()]).size == 42


def test_trusted_checkpoint_log_name_must_be_origin() -> None:
    data = sign_note(f"other.example/log\n1\n{ROOT}\n", [LOG])
    with pytest.raises(SignatureError, match="origin"):
        trusted_checkpoint(data, Policy((PolicyLog(LOG.verifier()),), (), (), "none"))


def test_nested_group_quorum_through_trusted_checkpoint() -> None:
    policy = parse_policy(spec_example_policy_text().replace(LOG.verifier().vkey(), LOG_VKEY))
    assert policy.logs[0].verifier == parse_vkey(LOG_VKEY)
    keys = {
        n: cosigner_from_seed(f"w.example/{n}", hashlib.sha256(n.encode()).digest())
        for n in ("X1", "X2", "X3", "Y1", "Y2", "Y3")
    }
    tessera = (TESSERA / "checkpoint.15").read_bytes()
    ok = cosigned(tessera, [keys["X1"], keys["X3"], keys["Y2"]])
    assert trusted_checkpoint(ok, policy).size == 15
    short = cosigned(tessera, [keys["X1"], keys["Y1"], keys["Y2"]])
    with pytest.raises(SignatureError, match=r"3 valid .* at least 3"):
        trusted_checkpoint(short, policy)


def _policy_text(*lines: str) -> str:
    return "\n".join(lines) + "\n"


W = [c.verifier().vkey() for c in WITNESSES]
L = LOG.verifier().vkey()
INVALID_POLICIES = {
    "no-quorum": _policy_text(f"log {L}", f"witness a {W[0]}"),
    "two-quorums": _policy_text(f"witness a {W[0]}", "quorum a", "quorum none"),
    "quorum-undefined": _policy_text(f"witness a {W[0]}", "quorum b"),
    "quorum-forward-reference": _policy_text("quorum a", f"witness a {W[0]}"),
    "unknown-keyword": _policy_text("monitor x", "quorum none"),
    "log-extra-items": _policy_text(f"log {L} url extra", "quorum none"),
    "log-with-cosigner-key": _policy_text(f"log {W[0]}", "quorum none"),
    "witness-with-log-key": _policy_text(f"witness a {L}", "quorum none"),
    "witness-missing-key": _policy_text("witness a", "quorum none"),
    "witness-named-none": _policy_text(f"witness none {W[0]}", "quorum none"),
    "duplicate-witness-name": _policy_text(f"witness a {W[0]}", f"witness a {W[1]}", "quorum a"),
    "duplicate-witness-key": _policy_text(f"witness a {W[0]}", f"witness b {W[0]}", "quorum a"),
    "duplicate-log-key": _policy_text(f"log {L}", f"log {L} https://x/", "quorum none"),
    "group-name-clashes-witness": _policy_text(f"witness a {W[0]}", "group a any a", "quorum a"),
    "group-undefined-member": _policy_text(f"witness a {W[0]}", "group g any a b", "quorum g"),
    "group-forward-member": _policy_text("group g any a", f"witness a {W[0]}", "quorum g"),
    "group-member-none": _policy_text(f"witness a {W[0]}", "group g any a none", "quorum g"),
    "group-member-twice": _policy_text(f"witness a {W[0]}", "group g 1 a a", "quorum g"),
    "member-in-two-groups": _policy_text(
        f"witness a {W[0]}", f"witness b {W[1]}", "group g any a", "group h any a b", "quorum h"
    ),
    "group-threshold-zero": _policy_text(f"witness a {W[0]}", "group g 0 a", "quorum g"),
    "group-threshold-too-big": _policy_text(f"witness a {W[0]}", "group g 2 a", "quorum g"),
    "group-threshold-leading-zero": _policy_text(f"witness a {W[0]}", "group g 01 a", "quorum g"),
    "group-threshold-word": _policy_text(f"witness a {W[0]}", "group g some a", "quorum g"),
    "group-no-members": _policy_text(f"witness a {W[0]}", "group g any", "quorum a"),
    "control-character": _policy_text(f"witness a {W[0]}\r", "quorum a"),
    "trailing-comment": _policy_text(f"witness a {W[0]} # comment", "quorum a"),
}


@pytest.mark.parametrize("text", INVALID_POLICIES.values(), ids=INVALID_POLICIES.keys())
def test_invalid_policies(text: str) -> None:
    with pytest.raises(InputError):
        parse_policy(text)


def test_policy_error_names_line() -> None:
    with pytest.raises(InputError, match="policy line 3"):
        parse_policy(_policy_text(f"witness a {W[0]}", "", "group g any a b", "quorum g"))


def test_policy_constructor_validates() -> None:
    w = PolicyWitness("a", WITNESSES[0].verifier())
    with pytest.raises(InputError):
        Policy((), (w,), (), "b")
    with pytest.raises(InputError):
        Policy((), (w,), (PolicyGroup("g", 2, ("a",)),), "g")
    with pytest.raises(InputError):
        Policy((), (w, PolicyWitness("b", WITNESSES[0].verifier())), (), "a")


def test_policy_satisfied_single_witness_and_none() -> None:
    w = PolicyWitness("a", WITNESSES[0].verifier())
    assert policy_satisfied(Policy((), (w,), (), "a"), {"a"})
    assert not policy_satisfied(Policy((), (w,), (), "a"), set())
    assert policy_satisfied(Policy((), (w,), (), "none"), set())


# --------------------------------------------------------------------------------------------
# Invalid tlog proofs
# --------------------------------------------------------------------------------------------

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


def test_all_errors_are_civic_errors() -> None:
    assert issubclass(InputError, CivicError) and issubclass(SignatureError, CivicError)
    assert issubclass(TooLargeError, InputError)


# --------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------

key_names = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs", "Zs", "Zl", "Zp")),
    min_size=1,
    max_size=30,
).filter(is_valid_key_name)
line_text = st.text(
    alphabet=st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=40
)
roots = st.binary(min_size=32, max_size=32)
sizes = st.integers(min_value=0, max_value=2**64 - 1)
checkpoints = st.builds(
    Checkpoint, line_text, sizes, roots, st.lists(line_text, max_size=3).map(tuple)
)
note_signatures = st.builds(
    NoteSignature, key_names, st.binary(min_size=4, max_size=4), st.binary(min_size=1, max_size=80)
)
note_texts = st.lists(st.text(alphabet=st.characters(exclude_categories=("Cc", "Cs"))), min_size=1)


@given(checkpoints)
def test_property_checkpoint_round_trip(cp: Checkpoint) -> None:
    assert parse_checkpoint(cp.body()) == cp


@given(note_texts, st.lists(note_signatures, min_size=1, max_size=5))
def test_property_note_round_trip(lines: list[str], sigs: list[NoteSignature]) -> None:
    note = Note("\n".join(lines) + "\n", tuple(sigs))
    data = format_note(note)
    assert parse_note(data) == note
    assert format_note(parse_note(data)) == data


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


@settings(max_examples=40)
@given(checkpoints, st.integers(min_value=0, max_value=2**63 - 1))
def test_property_cosign_round_trip(cp: Checkpoint, ts: int) -> None:
    witness = WITNESSES[1]
    sig = witness.cosign(cp.body(), ts)
    assert witness.verifier().verify_cosignature(cp.body(), sig) == ts


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


@given(st.binary(max_size=300))
def test_property_parse_note_only_raises_input_error(data: bytes) -> None:
    try:
        note = parse_note(data)
    except InputError:
        return
    assert format_note(note) == data


@given(st.text(max_size=120))
def test_property_parse_checkpoint_only_raises_input_error(text: str) -> None:
    try:
        cp = parse_checkpoint(text)
    except InputError:
        return
    assert cp.body() == text


def test_signer_types() -> None:
    assert isinstance(ALICE, NoteSigner) and isinstance(WITNESSES[0], CosignatureSigner)
    assert ALICE != BOB and signer_from_seed(ALICE.name, bytes(range(32))) == ALICE
