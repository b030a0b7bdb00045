"""C2SP signed-note (ledger.c2sp.note): the spec and Go x/mod note vectors, keys, round trips, failures."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.c2sp.cosignature import (
    CosignatureSigner,
    CosignatureVerifier,
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
    parse_vkey,
    sign_note,
    signer_from_seed,
    verify_note,
)
from ledger.errors import CivicError, InputError, SignatureError, TooLargeError
from tests.support.c2sp_vectors import (
    ALICE,
    BOB,
    DASH,
    EXAMPLE_NOTE,
    EXAMPLE_VKEY,
    LOG_ORIGIN,
    LOG_SKEY,
    LOG_VKEY,
    WITNESSES,
    alice_note,
    b64,
    note_signatures,
    note_texts,
    sig_line,
)


def test_signed_note_spec_example_verifies() -> None:
    verifier = parse_vkey(EXAMPLE_VKEY)
    note, verified = verify_note(EXAMPLE_NOTE, [verifier])
    assert note.text == "This is an example message.\n"
    assert verified == [verifier]
    assert verifier.vkey() == EXAMPLE_VKEY
    assert format_note(note) == EXAMPLE_NOTE


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


def test_key_round_trips() -> None:
    for signer in (ALICE, BOB, generate_signer("example.net/random")):
        verifier = signer.verifier()
        assert parse_vkey(verifier.vkey()) == verifier
        assert parse_private_key(signer.private_key_string()) == signer
        assert parse_private_key(signer.private_key_string()).verifier() == verifier
    cosigner = generate_cosigner("witness.example/random")
    assert parse_cosigner_vkey(cosigner.verifier().vkey()) == cosigner.verifier()
    assert parse_cosigner_private_key(cosigner.private_key_string()) == cosigner


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


def test_all_errors_are_civic_errors() -> None:
    assert issubclass(InputError, CivicError) and issubclass(SignatureError, CivicError)
    assert issubclass(TooLargeError, InputError)


@given(note_texts, st.lists(note_signatures, min_size=1, max_size=5))
def test_property_note_round_trip(lines: list[str], sigs: list[NoteSignature]) -> None:
    note = Note("\n".join(lines) + "\n", tuple(sigs))
    data = format_note(note)
    assert parse_note(data) == note
    assert format_note(parse_note(data)) == data


@given(st.binary(max_size=300))
def test_property_parse_note_only_raises_input_error(data: bytes) -> None:
    try:
        note = parse_note(data)
    except InputError:
        return
    assert format_note(note) == data


def test_signer_types() -> None:
    assert isinstance(ALICE, NoteSigner) and isinstance(WITNESSES[0], CosignatureSigner)
    assert ALICE != BOB and signer_from_seed(ALICE.name, bytes(range(32))) == ALICE
