"""Key ids, Ed25519 signatures, encrypted key files and ``civic key``."""

from __future__ import annotations

import base64
import json
import re
import stat
from pathlib import Path

import nacl.signing
import pytest
import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from typer.testing import CliRunner

from cli import key_cmds
from cli.output import EXIT_USAGE, fail
from ledger.errors import CivicError, InputError
from ledger.keys import (
    KEY_ID_PREFIX,
    STRENGTHS,
    decrypt_key,
    encrypt_key,
    generate_keypair,
    is_key_id,
    key_id,
    keypair_from_seed,
    load_key_file,
    passphrase_from_env,
    public_key_of,
    read_key_id,
    save_key_file,
    verify_signature,
)

SEED = bytes(range(32))
PASS = "correct horse battery staple"

# RFC 8032 §7.1, TEST 1: secret key, public key, signature of the empty message.
RFC8032_SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
RFC8032_PUB = bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
RFC8032_SIG = bytes.fromhex(
    "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065"
    "224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)


@pytest.fixture(autouse=True)
def _no_passphrase_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CIVIC_PASSPHRASE", raising=False)
    monkeypatch.delenv("CIVIC_PASSPHRASE_FILE", raising=False)


# --- key ids --------------------------------------------------------------------------------


def test_key_id_known_vector() -> None:
    kp = keypair_from_seed(SEED)
    nacl_pub = bytes(nacl.signing.SigningKey(SEED).verify_key)
    # An independent Ed25519 implementation must agree on the public key.
    other_pub = (
        Ed25519PrivateKey.from_private_bytes(SEED)
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    assert kp.public_key == nacl_pub == other_pub
    expected = "ed25519:" + base64.urlsafe_b64encode(nacl_pub).decode().rstrip("=")
    assert kp.key_id == key_id(nacl_pub) == expected
    assert kp.key_id == "ed25519:A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg"
    assert "=" not in kp.key_id and len(kp.key_id) == len(KEY_ID_PREFIX) + 43


def test_key_id_round_trip() -> None:
    for _ in range(20):
        kp = generate_keypair()
        assert public_key_of(kp.key_id) == kp.public_key
        assert is_key_id(kp.key_id)
        assert key_id(public_key_of(kp.key_id)) == kp.key_id


@pytest.mark.parametrize("bad", [b"", bytes(31), bytes(33), "x" * 32])
def test_key_id_of_wrong_length_key(bad: object) -> None:
    with pytest.raises(InputError, match="32 bytes"):
        key_id(bad)  # type: ignore[arg-type]


_GOOD_ID = keypair_from_seed(SEED).key_id
_GOOD_B64 = _GOOD_ID[len(KEY_ID_PREFIX) :]

MALFORMED_IDS = {
    "empty": ("", "start with"),
    "no_prefix": (_GOOD_B64, "start with"),
    "wrong_prefix": ("ed448:" + _GOOD_B64, "start with"),
    "upper_prefix": ("ED25519:" + _GOOD_B64, "start with"),
    "prefix_only": (KEY_ID_PREFIX, "43"),
    "padded": (_GOOD_ID + "=", "unpadded"),
    "standard_b64_chars": (KEY_ID_PREFIX + "+" + _GOOD_B64[1:], "base64url"),
    "slash": (KEY_ID_PREFIX + "/" + _GOOD_B64[1:], "base64url"),
    "space": (KEY_ID_PREFIX + " " + _GOOD_B64[1:], "base64url"),
    "trailing_newline": (_GOOD_ID + "\n", "base64url"),
    "non_ascii": (KEY_ID_PREFIX + "é" + _GOOD_B64[1:], "base64url"),
    "too_short": (_GOOD_ID[:-1], "43"),
    "too_long": (_GOOD_ID + "A", "43"),
    "31_bytes": (key_id(bytes(32))[:-2], "43"),
    "stray_low_bits": (_GOOD_ID[:-1] + "h", "canonical"),  # 'g'..'h' differ only in unused bits
}


@pytest.mark.parametrize(
    ("text", "problem"), list(MALFORMED_IDS.values()), ids=list(MALFORMED_IDS.keys())
)
def test_malformed_key_ids(text: str, problem: str) -> None:
    with pytest.raises(InputError, match=problem):
        public_key_of(text)
    assert not is_key_id(text)
    sig = keypair_from_seed(SEED).sign(b"m")
    assert verify_signature(text, b"m", sig) is False


@pytest.mark.parametrize("value", [None, 42, b"ed25519:" + _GOOD_B64.encode(), [_GOOD_ID]])
def test_non_string_key_ids(value: object) -> None:
    assert not is_key_id(value)
    with pytest.raises(InputError):
        public_key_of(value)  # type: ignore[arg-type]
    assert verify_signature(value, b"m", bytes(64)) is False  # type: ignore[arg-type]


# --- signatures -----------------------------------------------------------------------------


def test_rfc8032_vector() -> None:
    kp = keypair_from_seed(RFC8032_SEED)
    assert kp.public_key == RFC8032_PUB
    assert kp.sign(b"") == RFC8032_SIG
    assert verify_signature(kp.key_id, b"", RFC8032_SIG)


def test_sign_verify() -> None:
    kp = generate_keypair()
    sig = kp.sign(b"hello")
    assert len(sig) == 64
    assert verify_signature(kp.key_id, b"hello", sig) is True
    assert verify_signature(kp.key_id, b"hello!", sig) is False


def test_wrong_key() -> None:
    a, b = generate_keypair(), generate_keypair()
    assert verify_signature(b.key_id, b"hello", a.sign(b"hello")) is False


@pytest.mark.parametrize("bit", [0, 7, 255, 256, 511])
def test_flipped_signature_bit(bit: int) -> None:
    kp = keypair_from_seed(SEED)
    sig = bytearray(kp.sign(b"message"))
    sig[bit // 8] ^= 1 << (bit % 8)
    assert verify_signature(kp.key_id, b"message", bytes(sig)) is False


@pytest.mark.parametrize("bit", [0, 100, 255])
def test_flipped_message_bit(bit: int) -> None:
    kp = keypair_from_seed(SEED)
    msg = bytearray(32)
    sig = kp.sign(bytes(msg))
    msg[bit // 8] ^= 1 << (bit % 8)
    assert verify_signature(kp.key_id, bytes(msg), sig) is False


BAD_SIGNATURES = {
    "empty": b"",
    "short": bytes(63),
    "long": bytes(65),
    "zeros": bytes(64),
    "not_bytes": "00" * 64,
}


@pytest.mark.parametrize("sig", list(BAD_SIGNATURES.values()), ids=list(BAD_SIGNATURES.keys()))
def test_malformed_signatures(sig: object) -> None:
    kp = keypair_from_seed(SEED)
    assert verify_signature(kp.key_id, b"m", sig) is False  # type: ignore[arg-type]


def test_non_bytes_message() -> None:
    kp = keypair_from_seed(SEED)
    assert verify_signature(kp.key_id, "m", kp.sign(b"m")) is False  # type: ignore[arg-type]


def test_small_order_public_key_rejected() -> None:
    # The identity point with the all-zero-ish "signature" is a classic forgery attempt.
    identity = bytes([1]) + bytes(31)
    sig = identity + bytes(32)
    assert verify_signature(key_id(identity), b"anything", sig) is False


@pytest.mark.parametrize("seed", [b"", bytes(31), bytes(33)])
def test_bad_seed(seed: bytes) -> None:
    with pytest.raises(InputError, match="32 bytes"):
        keypair_from_seed(seed)


def test_keypair_repr_hides_seed() -> None:
    kp = keypair_from_seed(SEED)
    assert SEED.hex() not in repr(kp) and repr(SEED) not in repr(kp)
    assert kp.key_id in repr(kp)


# --- key files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def key_blob() -> bytes:
    return encrypt_key(keypair_from_seed(SEED), PASS, "min")


def _doc(blob: bytes) -> dict[str, object]:
    doc = json.loads(blob)
    assert isinstance(doc, dict)
    return doc


def _enc(doc: dict[str, object]) -> bytes:
    return json.dumps(doc).encode()


def test_encrypt_decrypt_round_trip(key_blob: bytes) -> None:
    doc = _doc(key_blob)
    assert doc["format"] == "civic-ledger-key/v1"
    assert doc["kdf"] == "argon2id"
    assert doc["key_id"] == keypair_from_seed(SEED).key_id
    assert set(doc) == {"format", "key_id", "kdf", "opslimit", "memlimit", "salt", "box"}
    assert SEED.hex() not in key_blob.decode()
    assert decrypt_key(key_blob, PASS) == keypair_from_seed(SEED)


def test_encryption_is_salted() -> None:
    kp = keypair_from_seed(SEED)
    a, b = _doc(encrypt_key(kp, PASS, "min")), _doc(encrypt_key(kp, PASS, "min"))
    assert a["salt"] != b["salt"] and a["box"] != b["box"]


def test_default_strength_is_interactive() -> None:
    import nacl.pwhash.argon2id as argon2id

    kp = generate_keypair()
    blob = encrypt_key(kp, PASS)
    doc = _doc(blob)
    assert doc["opslimit"] == argon2id.OPSLIMIT_INTERACTIVE
    assert doc["memlimit"] == argon2id.MEMLIMIT_INTERACTIVE
    assert decrypt_key(blob, PASS) == kp


def test_unicode_passphrase_is_normalised() -> None:
    kp = keypair_from_seed(SEED)
    blob = encrypt_key(kp, "caf\u00e9", "min")  # precomposed é
    assert decrypt_key(blob, "cafe\u0301") == kp  # e + combining acute


@pytest.mark.parametrize("strength", ["sensitive", "", "MIN"])
def test_unknown_strength(strength: str) -> None:
    with pytest.raises(InputError, match="strength"):
        encrypt_key(keypair_from_seed(SEED), PASS, strength)


def test_empty_passphrase_refused() -> None:
    with pytest.raises(InputError, match="empty"):
        encrypt_key(keypair_from_seed(SEED), "", "min")


def test_wrong_passphrase(key_blob: bytes) -> None:
    with pytest.raises(InputError, match="passphrase"):
        decrypt_key(key_blob, PASS + "!")


def test_tampered_box(key_blob: bytes) -> None:
    doc = _doc(key_blob)
    box = bytearray(base64.b64decode(str(doc["box"])))
    box[-1] ^= 1
    doc["box"] = base64.b64encode(bytes(box)).decode()
    with pytest.raises(InputError, match="passphrase"):
        decrypt_key(_enc(doc), PASS)


def test_key_id_swapped(key_blob: bytes) -> None:
    doc = _doc(key_blob)
    doc["key_id"] = generate_keypair().key_id
    with pytest.raises(InputError, match="altered"):
        decrypt_key(_enc(doc), PASS)


def test_truncated_file(key_blob: bytes) -> None:
    for n in (0, 1, len(key_blob) // 2, len(key_blob) - 3):
        with pytest.raises(InputError, match="not valid JSON"):
            decrypt_key(key_blob[:n], PASS)


def _with(blob: bytes, **changes: object) -> bytes:
    doc = _doc(blob)
    for k, v in changes.items():
        if v is _DROP:
            del doc[k]
        else:
            doc[k] = v
    return _enc(doc)


_DROP = object()

BAD_FILES: dict[str, tuple[object, str]] = {
    "not_json": (b"PRIVATE KEY\n", "not valid JSON"),
    "not_utf8": (b"\xff\xfe{}", "UTF-8"),
    "json_list": (b"[1, 2]", "JSON object"),
    "json_string": (b'"civic-ledger-key/v1"', "JSON object"),
    "foreign_json": (b'{"name": "my wallet", "version": 3}', "format"),
    "format_v2": ({"format": "civic-ledger-key/v2"}, "format"),
    "format_missing": ({"format": _DROP}, "format"),
    "salt_missing": ({"salt": _DROP}, "lacks"),
    "unknown_field": ({"comment": "hi"}, "unknown"),
    "kdf_scrypt": ({"kdf": "scrypt"}, "kdf"),
    "key_id_malformed": ({"key_id": "ed25519:nope"}, "malformed key_id"),
    "key_id_number": ({"key_id": 7}, "key_id"),
    "opslimit_string": ({"opslimit": "2"}, "opslimit"),
    "opslimit_bool": ({"opslimit": True}, "opslimit"),
    "opslimit_huge": ({"opslimit": 10**6}, "opslimit"),
    "memlimit_huge": ({"memlimit": 2**42}, "memlimit"),
    "memlimit_tiny": ({"memlimit": 1}, "memlimit"),
    "salt_not_b64": ({"salt": "!!!!"}, "salt"),
    "salt_short": ({"salt": base64.b64encode(bytes(8)).decode()}, "salt"),
    "box_short": ({"box": base64.b64encode(bytes(40)).decode()}, "box"),
    "box_unpadded": ({"box": "QUJD"[:-1]}, "box"),
}


@pytest.mark.parametrize(
    ("change", "problem"), list(BAD_FILES.values()), ids=list(BAD_FILES.keys())
)
def test_malformed_key_files(key_blob: bytes, change: object, problem: str) -> None:
    data = change if isinstance(change, bytes) else _with(key_blob, **change)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=problem):
        decrypt_key(data, PASS)


def test_duplicate_field(key_blob: bytes) -> None:
    text = key_blob.decode()
    dup = text.replace('"kdf"', '"key_id": "x", "kdf"', 1)
    with pytest.raises(InputError, match="repeats"):
        decrypt_key(dup.encode(), PASS)


def test_save_load_round_trip(tmp_path: Path) -> None:
    kp = generate_keypair()
    path = tmp_path / "me.key"
    save_key_file(path, kp, PASS, "min")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_file(path, PASS) == kp
    assert read_key_id(path) == kp.key_id


def test_save_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "me.key"
    path.write_bytes(b"precious")
    with pytest.raises(InputError, match="already exists"):
        save_key_file(path, generate_keypair(), PASS, "min")
    assert path.read_bytes() == b"precious"


def test_save_into_missing_folder(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "me.key"
    with pytest.raises(InputError, match=re.escape(str(path))):
        save_key_file(path, generate_keypair(), PASS, "min")


def test_load_errors_name_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    for fn in (lambda: load_key_file(missing, PASS), lambda: read_key_id(missing)):
        with pytest.raises(InputError, match=r"missing\.key"):
            fn()
    folder = tmp_path / "dir.key"
    folder.mkdir()
    with pytest.raises(InputError, match=r"dir\.key"):
        load_key_file(folder, PASS)
    path = tmp_path / "me.key"
    save_key_file(path, generate_keypair(), PASS, "min")
    with pytest.raises(InputError, match=r"me\.key.*passphrase"):
        load_key_file(path, "wrong")
    junk = tmp_path / "junk.key"
    junk.write_bytes(b"{")
    with pytest.raises(InputError, match=r"junk\.key"):
        read_key_id(junk)


def test_huge_file_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.key"
    path.write_bytes(b" " * (1 << 20))
    with pytest.raises(InputError, match="too large"):
        read_key_id(path)


def test_read_key_id_does_not_decrypt(tmp_path: Path, key_blob: bytes) -> None:
    path = tmp_path / "k.key"
    path.write_bytes(_with(key_blob, box=base64.b64encode(bytes(72)).decode()))
    assert read_key_id(path) == keypair_from_seed(SEED).key_id


# --- passphrase sources ---------------------------------------------------------------------


def test_passphrase_env_first(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    f = tmp_path / "pass"
    f.write_text("from file\n")
    monkeypatch.setenv("CIVIC_PASSPHRASE", "from env")
    monkeypatch.setenv("CIVIC_PASSPHRASE_FILE", str(f))
    assert passphrase_from_env(lambda: "from prompt") == "from env"


@pytest.mark.parametrize(
    ("content", "expected"),
    [("pw\n", "pw"), ("pw", "pw"), ("pw\n\n", "pw\n"), ("pw\r\n", "pw"), (" pw \n", " pw ")],
)
def test_passphrase_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, content: str, expected: str
) -> None:
    f = tmp_path / "pass"
    f.write_bytes(content.encode())
    monkeypatch.setenv("CIVIC_PASSPHRASE_FILE", str(f))
    assert passphrase_from_env(lambda: "from prompt") == expected


def test_passphrase_file_missing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CIVIC_PASSPHRASE_FILE", str(tmp_path / "nope"))
    with pytest.raises(InputError, match="CIVIC_PASSPHRASE_FILE"):
        passphrase_from_env()


def test_passphrase_prompt_then_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CIVIC_PASSPHRASE", "")  # empty counts as unset
    assert passphrase_from_env(lambda: "typed") == "typed"
    with pytest.raises(InputError, match="no passphrase: set CIVIC_PASSPHRASE"):
        passphrase_from_env()


# --- civic key ------------------------------------------------------------------------------

runner = CliRunner()


@pytest.fixture
def min_strength(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make `civic key new` use the test-only Argon2id cost whatever --strength says."""
    for name in ("interactive", "moderate"):
        monkeypatch.setitem(STRENGTHS, name, STRENGTHS["min"])


def civic_key(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run `civic key ARGS` the way cli.main.main does: civic errors become one line."""
    command = typer.main.get_command(key_cmds.app)
    code = 0
    try:
        try:
            command.main(args, prog_name="civic key", standalone_mode=True)
        except CivicError as exc:
            fail(exc)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.usefixtures("min_strength")
def test_cli_new_and_show(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CIVIC_PASSPHRASE", PASS)
    path = tmp_path / "alice.key"
    result = runner.invoke(key_cmds.app, ["new", "--out", str(path)])
    assert result.exit_code == 0, result.output
    kid = result.stdout.strip()
    assert result.stdout == kid + "\n" and is_key_id(kid)
    assert load_key_file(path, PASS).key_id == kid
    assert stat.S_IMODE(path.stat().st_mode) == 0o600

    monkeypatch.delenv("CIVIC_PASSPHRASE")
    result = runner.invoke(key_cmds.app, ["show", str(path)])  # no passphrase needed
    assert result.exit_code == 0, result.output
    assert kid in result.stdout
    assert public_key_of(kid).hex() in result.stdout

    result = runner.invoke(key_cmds.app, ["show", str(path), "--json"])
    assert json.loads(result.stdout) == {
        "key_id": kid,
        "public_key": public_key_of(kid).hex(),
        "file": str(path),
    }


@pytest.mark.usefixtures("min_strength")
def test_cli_new_json_and_strength(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    f = tmp_path / "pass"
    f.write_text(PASS + "\n")
    monkeypatch.setenv("CIVIC_PASSPHRASE_FILE", str(f))
    path = tmp_path / "bob.key"
    result = runner.invoke(
        key_cmds.app, ["new", "--out", str(path), "--json", "--strength", "moderate"]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["file"] == str(path)
    assert load_key_file(path, PASS).key_id == doc["key_id"]

    result = runner.invoke(key_cmds.app, ["new", "--out", str(tmp_path / "x"), "--strength", "min"])
    assert result.exit_code == 2  # not offered on the command line
    assert not (tmp_path / "x").exists()


@pytest.mark.usefixtures("min_strength")
def test_cli_new_prompts_with_confirmation(tmp_path: Path) -> None:
    path = tmp_path / "carol.key"
    result = runner.invoke(key_cmds.app, ["new", "--out", str(path)], input=f"{PASS}\n{PASS}\n")
    assert result.exit_code == 0, result.output
    kid = result.stdout.strip().splitlines()[-1]
    assert load_key_file(path, PASS).key_id == kid
    assert PASS not in result.stdout  # hidden input is not echoed


@pytest.mark.usefixtures("min_strength")
def test_cli_new_refuses_to_overwrite(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("CIVIC_PASSPHRASE", PASS)
    path = tmp_path / "k.key"
    path.write_text("keep me")
    code, out, err = civic_key(["new", "--out", str(path)], capsys)
    assert code == EXIT_USAGE and out == ""
    assert err.startswith("error: ") and "already exists" in err
    assert path.read_text() == "keep me"


def test_cli_show_check(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "k.key"
    kp = keypair_from_seed(SEED)
    save_key_file(path, kp, PASS, "min")

    monkeypatch.setenv("CIVIC_PASSPHRASE", PASS)
    result = runner.invoke(key_cmds.app, ["show", str(path), "--check", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["passphrase_ok"] is True

    monkeypatch.setenv("CIVIC_PASSPHRASE", "not it")
    result = runner.invoke(key_cmds.app, ["show", str(path), "--check"])
    assert result.exit_code != 0
    assert isinstance(result.exception, InputError)
    assert "passphrase" in str(result.exception)

    code, out, err = civic_key(["show", str(path), "--check"], capsys)
    assert code == EXIT_USAGE and out == ""
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "wrong passphrase" in err and str(path) in err
    assert "Traceback" not in err


def test_cli_show_check_prompts(tmp_path: Path) -> None:
    path = tmp_path / "k.key"
    save_key_file(path, keypair_from_seed(SEED), PASS, "min")
    result = runner.invoke(key_cmds.app, ["show", str(path), "--check"], input=PASS + "\n")
    assert result.exit_code == 0, result.output
    assert "ok:" in result.stdout


def test_cli_show_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    code, out, err = civic_key(["show", str(path)], capsys)
    assert code == EXIT_USAGE and out == ""
    assert err.count("\n") == 1 and "notes.txt" in err and "key file" in err


def test_cli_docstrings_have_examples() -> None:
    group = typer.main.get_command(key_cmds.app)
    commands = group.commands  # type: ignore[attr-defined]
    assert set(commands) == {"new", "show"}
    for cmd in commands.values():
        assert (cmd.help or "").strip().splitlines()[-1].startswith("Example: civic key ")
