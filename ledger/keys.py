"""Signing keys of people and nodes: key ids, Ed25519 signatures and encrypted key files.

A key id is self-certifying: ``ed25519:`` followed by the unpadded base64url (RFC 4648 §5)
encoding of the 32-byte Ed25519 public key, so a signature can be checked from the id alone.

A key file keeps the 32-byte seed encrypted under a passphrase (JSON, UTF-8)::

    {"format": "civic-ledger-key/v1", "key_id": "ed25519:...", "kdf": "argon2id",
     "opslimit": 2, "memlimit": 67108864, "salt": "<base64>", "box": "<base64>"}

``box`` is ``nacl.secret.SecretBox(argon2id(passphrase, salt)).encrypt(seed)`` (nonce,
then XSalsa20-Poly1305 ciphertext), ``salt`` and ``box`` are standard padded base64. The
key id is stored in clear so a file can be identified without its passphrase; it is checked
against the decrypted key on every load. Passphrases are NFC-normalised, then UTF-8 encoded.

The verification functions (:func:`key_id`, :func:`public_key_of`, :func:`is_key_id`,
:func:`verify_signature`) do no I/O; only the ``*_key_file`` functions and
:func:`passphrase_from_env` touch files or the environment.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import functools
import json
import os
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.pwhash.argon2id
import nacl.secret
import nacl.signing
import nacl.utils

from ledger.errors import InputError

__all__ = [
    "KEY_FILE_FORMAT",
    "KEY_ID_PREFIX",
    "STRENGTHS",
    "KeyPair",
    "decrypt_key",
    "encrypt_key",
    "generate_keypair",
    "is_key_id",
    "key_id",
    "keypair_from_seed",
    "load_key_file",
    "passphrase_from_env",
    "public_key_of",
    "read_key_id",
    "save_key_file",
    "verify_signature",
]

KEY_ID_PREFIX = "ed25519:"
KEY_FILE_FORMAT = "civic-ledger-key/v1"

_KEY_BYTES = 32
_SEED_BYTES = 32
_SIG_BYTES = 64
_B64URL_KEY_CHARS = 43  # ceil(32 * 4 / 3), no padding
_B64URL_RE = re.compile(r"[A-Za-z0-9_-]*")

_argon2id: Any = nacl.pwhash.argon2id
_SecretBox: Any = nacl.secret.SecretBox

#: Argon2id cost by name: (opslimit, memlimit). "min" is only for tests.
STRENGTHS: dict[str, tuple[int, int]] = {
    "interactive": (_argon2id.OPSLIMIT_INTERACTIVE, _argon2id.MEMLIMIT_INTERACTIVE),
    "moderate": (_argon2id.OPSLIMIT_MODERATE, _argon2id.MEMLIMIT_MODERATE),
    "min": (_argon2id.OPSLIMIT_MIN, _argon2id.MEMLIMIT_MIN),
}
# A file may ask for at most the "sensitive" cost: a hostile file must not make us allocate
# terabytes or spin forever before the passphrase is even checked.
_OPSLIMIT_RANGE = (int(_argon2id.OPSLIMIT_MIN), int(_argon2id.OPSLIMIT_SENSITIVE))
_MEMLIMIT_RANGE = (int(_argon2id.MEMLIMIT_MIN), int(_argon2id.MEMLIMIT_SENSITIVE))
_SALT_BYTES = int(_argon2id.SALTBYTES)
_BOX_BYTES = int(_SecretBox.NONCE_SIZE) + int(_SecretBox.MACBYTES) + _SEED_BYTES
_KEY_FILE_FIELDS = frozenset({"format", "key_id", "kdf", "opslimit", "memlimit", "salt", "box"})
_MAX_KEY_FILE_BYTES = 64 * 1024


# --- key ids and signatures (no I/O) -------------------------------------------------------


def key_id(public_key: bytes) -> str:
    """Return ``ed25519:`` + unpadded base64url of a 32-byte Ed25519 public key."""
    if not isinstance(public_key, bytes) or len(public_key) != _KEY_BYTES:
        raise InputError(f"an Ed25519 public key is {_KEY_BYTES} bytes")
    return KEY_ID_PREFIX + base64.urlsafe_b64encode(public_key).decode("ascii").rstrip("=")


def public_key_of(key_id: str) -> bytes:
    """Return the 32-byte public key inside ``key_id``; InputError naming the problem if not one.

    Only the canonical form is accepted: the exact prefix, 43 base64url characters, no
    padding, and zero unused bits in the last character (so each key has exactly one id).
    """
    if not isinstance(key_id, str):
        raise InputError(f"a key id must be a string, not {type(key_id).__name__}")
    # Memoised (a failure is not): the same keys sign most records, and each record checks
    # its key ids several times (shape, handler, signature) in the sequencer and the audit.
    return _public_key_of(key_id)


@functools.lru_cache(maxsize=1 << 16)
def _public_key_of(key_id: str) -> bytes:
    if not key_id.startswith(KEY_ID_PREFIX):
        raise InputError(f"key id must start with {KEY_ID_PREFIX!r}: {key_id!r}")
    text = key_id[len(KEY_ID_PREFIX) :]
    if "=" in text:
        raise InputError(f"key id must be unpadded base64url (no '='): {key_id!r}")
    if not _B64URL_RE.fullmatch(text):
        raise InputError(f"key id has characters outside base64url (A-Z a-z 0-9 - _): {key_id!r}")
    if len(text) != _B64URL_KEY_CHARS:
        raise InputError(
            f"key id must carry {_B64URL_KEY_CHARS} base64url characters "
            f"(a {_KEY_BYTES}-byte key), got {len(text)}: {key_id!r}"
        )
    raw = base64.urlsafe_b64decode(text + "=")
    if base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=") != text:
        raise InputError(f"key id is not canonical base64url (stray low bits): {key_id!r}")
    return raw


def is_key_id(s: object) -> bool:
    """True if ``s`` is a well-formed (canonical) key id."""
    if not isinstance(s, str):
        return False
    try:
        public_key_of(s)
    except InputError:
        return False
    return True


def verify_signature(key_id: str, message: bytes, signature: bytes) -> bool:
    """True if ``signature`` is a valid Ed25519 signature of ``message`` by ``key_id``.

    Returns False, never raises, for a bad signature and for malformed input (a bad key id,
    a signature that is not 64 bytes, non-bytes arguments).
    """
    if not isinstance(message, bytes) or not isinstance(signature, bytes):
        return False
    if len(signature) != _SIG_BYTES:
        return False
    try:
        verify_key = nacl.signing.VerifyKey(public_key_of(key_id))
        verify_key.verify(message, signature)
    except (InputError, nacl.exceptions.CryptoError, ValueError, TypeError):
        return False
    return True


@dataclass(frozen=True)
class KeyPair:
    """An Ed25519 key pair, held as its 32-byte seed (the repr does not show the seed)."""

    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, bytes) or len(self.seed) != _SEED_BYTES:
            raise InputError(f"an Ed25519 seed is {_SEED_BYTES} bytes")

    @property
    def public_key(self) -> bytes:
        """The 32-byte Ed25519 public key."""
        return bytes(nacl.signing.SigningKey(self.seed).verify_key)

    @property
    def key_id(self) -> str:
        """The key id, ``ed25519:<base64url public key>``."""
        return key_id(self.public_key)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of ``message``."""
        return bytes(nacl.signing.SigningKey(self.seed).sign(message).signature)

    def __repr__(self) -> str:
        return f"KeyPair(key_id={self.key_id!r})"


def generate_keypair() -> KeyPair:
    """A new key pair from the operating system's random source."""
    return KeyPair(bytes(nacl.utils.random(_SEED_BYTES)))


def keypair_from_seed(seed: bytes) -> KeyPair:
    """The key pair of a 32-byte seed; InputError if it is not 32 bytes."""
    return KeyPair(seed)


# --- encrypted key files -------------------------------------------------------------------


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str):
        raise InputError("a passphrase must be a string")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _kdf(passphrase: str, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return bytes(
        _argon2id.kdf(
            _SecretBox.KEY_SIZE,
            _passphrase_bytes(passphrase),
            salt,
            opslimit=opslimit,
            memlimit=memlimit,
        )
    )


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise InputError(f"key file field {what!r} must be a base64 string")
    try:
        raw = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise InputError(f"key file field {what!r} is not valid base64") from exc
    if _b64(raw) != value:
        raise InputError(f"key file field {what!r} is not canonical base64")
    return raw


def encrypt_key(kp: KeyPair, passphrase: str, strength: str = "interactive") -> bytes:
    """The key file bytes of ``kp``, its seed encrypted under ``passphrase``.

    ``strength`` picks the Argon2id cost: "interactive", "moderate", or "min" (tests only).
    InputError for an unknown strength or an empty passphrase.
    """
    if strength not in STRENGTHS:
        raise InputError(f"key strength must be one of {', '.join(STRENGTHS)}, not {strength!r}")
    if not _passphrase_bytes(passphrase):
        raise InputError("the passphrase is empty; choose a non-empty passphrase")
    opslimit, memlimit = STRENGTHS[strength]
    salt = bytes(nacl.utils.random(_SALT_BYTES))
    box = bytes(_SecretBox(_kdf(passphrase, salt, opslimit, memlimit)).encrypt(kp.seed))
    doc = {
        "format": KEY_FILE_FORMAT,
        "key_id": kp.key_id,
        "kdf": "argon2id",
        "opslimit": opslimit,
        "memlimit": memlimit,
        "salt": _b64(salt),
        "box": _b64(box),
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise InputError(f"key file repeats the field {k!r}")
        out[k] = v
    return out


def _limit(doc: dict[str, Any], name: str, bounds: tuple[int, int]) -> int:
    value = doc[name]
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(f"key file field {name!r} must be an integer")
    lo, hi = bounds
    if not lo <= value <= hi:
        raise InputError(f"key file field {name!r} is {value}, outside the range {lo}..{hi}")
    return value


@dataclass(frozen=True)
class _KeyFile:
    key_id: str
    opslimit: int
    memlimit: int
    salt: bytes
    box: bytes


def _parse_key_file(data: bytes) -> _KeyFile:
    """Check the structure of a key file (everything but the ciphertext) without decrypting."""
    if not isinstance(data, bytes):
        raise InputError("key file contents must be bytes")
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError as exc:
        raise InputError("not a civic-ledger key file: it is not UTF-8 text") from exc
    except ValueError as exc:  # json.JSONDecodeError, also on a truncated file
        raise InputError(f"not a civic-ledger key file: not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise InputError("not a civic-ledger key file: expected a JSON object")
    fmt = doc.get("format")
    if fmt != KEY_FILE_FORMAT:
        raise InputError(
            f"not a civic-ledger key file: format is {fmt!r}, expected {KEY_FILE_FORMAT!r}"
        )
    missing = sorted(_KEY_FILE_FIELDS - doc.keys())
    if missing:
        raise InputError(f"key file lacks the field(s) {', '.join(missing)}")
    extra = sorted(doc.keys() - _KEY_FILE_FIELDS)
    if extra:
        raise InputError(f"key file has unknown field(s) {', '.join(extra)}")
    if doc["kdf"] != "argon2id":
        raise InputError(f"key file kdf is {doc['kdf']!r}; only 'argon2id' is supported")
    kid = doc["key_id"]
    if not isinstance(kid, str):
        raise InputError("key file field 'key_id' must be a string")
    try:
        public_key_of(kid)
    except InputError as exc:
        raise InputError(f"key file has a malformed key_id: {exc.message}") from exc
    opslimit = _limit(doc, "opslimit", _OPSLIMIT_RANGE)
    memlimit = _limit(doc, "memlimit", _MEMLIMIT_RANGE)
    salt = _unb64(doc["salt"], "salt")
    if len(salt) != _SALT_BYTES:
        raise InputError(f"key file salt must be {_SALT_BYTES} bytes, got {len(salt)}")
    box = _unb64(doc["box"], "box")
    if len(box) != _BOX_BYTES:
        raise InputError(f"key file box must be {_BOX_BYTES} bytes, got {len(box)}")
    return _KeyFile(key_id=kid, opslimit=opslimit, memlimit=memlimit, salt=salt, box=box)


def decrypt_key(data: bytes, passphrase: str) -> KeyPair:
    """Open key file bytes with ``passphrase``.

    InputError("wrong passphrase for key file ...") if the passphrase does not open the box
    (an altered box is indistinguishable from a wrong passphrase), and InputError for a file
    that is truncated, not JSON, not a civic-ledger key file, or whose stored key_id is not
    the key inside.
    """
    kf = _parse_key_file(data)
    box_key = _kdf(passphrase, kf.salt, kf.opslimit, kf.memlimit)
    try:
        seed = bytes(_SecretBox(box_key).decrypt(kf.box))
    except nacl.exceptions.CryptoError as exc:
        raise InputError("wrong passphrase for key file (or the file was altered)") from exc
    kp = KeyPair(seed)
    if kp.key_id != kf.key_id:
        raise InputError(
            f"key file says it holds {kf.key_id} but the key inside is {kp.key_id}; "
            "the file was altered"
        )
    return kp


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(_MAX_KEY_FILE_BYTES + 1)
    except FileNotFoundError as exc:
        raise InputError(f"no key file at {path}") from exc
    except OSError as exc:
        raise InputError(f"cannot read key file {path}: {exc.strerror or exc}") from exc
    if len(data) > _MAX_KEY_FILE_BYTES:
        raise InputError(f"{path} is too large to be a key file")
    return data


def _at(path: Path, exc: InputError) -> InputError:
    return InputError(f"{path}: {exc.message}")


def save_key_file(path: Path, kp: KeyPair, passphrase: str, strength: str = "interactive") -> None:
    """Write ``kp`` encrypted under ``passphrase`` to a new file with mode 0600.

    InputError if the file already exists (it is never overwritten) or cannot be written.
    """
    data = encrypt_key(kp, passphrase, strength)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise InputError(f"{path} already exists; refusing to overwrite a key file") from exc
    except OSError as exc:
        raise InputError(f"cannot create key file {path}: {exc.strerror or exc}") from exc
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), 0o600)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            path.unlink()
        raise InputError(f"cannot write key file {path}: {exc.strerror or exc}") from exc


def load_key_file(path: Path, passphrase: str) -> KeyPair:
    """Read and decrypt the key file at ``path``; InputError naming the path on any failure."""
    data = _read(path)
    try:
        return decrypt_key(data, passphrase)
    except InputError as exc:
        raise _at(path, exc) from exc


def read_key_id(path: Path) -> str:
    """The key id stored in the key file at ``path``, without decrypting it.

    The whole file structure is checked, but not that the id matches the encrypted key:
    only :func:`load_key_file` can prove that.
    """
    data = _read(path)
    try:
        return _parse_key_file(data).key_id
    except InputError as exc:
        raise _at(path, exc) from exc


def passphrase_from_env(prompt_fn: Callable[[], str] | None = None) -> str:
    """The passphrase from, in order: $CIVIC_PASSPHRASE, the file named by
    $CIVIC_PASSPHRASE_FILE (one trailing newline stripped), ``prompt_fn()``.

    An empty variable counts as unset. InputError if no source gives one.
    """
    value = os.environ.get("CIVIC_PASSPHRASE")
    if value:
        return value
    file_name = os.environ.get("CIVIC_PASSPHRASE_FILE")
    if file_name:
        path = Path(file_name)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read CIVIC_PASSPHRASE_FILE {path}: {exc}") from exc
        if text.endswith("\r\n"):
            return text[:-2]
        if text.endswith("\n"):
            return text[:-1]
        return text
    if prompt_fn is not None:
        return prompt_fn()
    raise InputError("no passphrase: set CIVIC_PASSPHRASE or CIVIC_PASSPHRASE_FILE")
