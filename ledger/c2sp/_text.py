"""Strict text codecs shared by the C2SP formats (private to :mod:`ledger.c2sp`).

Every value has exactly one text form, so parse/format round trips are the identity.
"""

from __future__ import annotations

import base64

from ledger.errors import InputError

U64_MAX = 2**64 - 1
# RFC 6962 / RFC 9162 hashes (SHA-256) are 32 bytes.
HASH_SIZE = 32
_DEC_DIGITS = frozenset("0123456789")


def b64encode(data: bytes) -> str:
    """Standard, padded base64 (RFC 4648 section 4) as text."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, what: str) -> bytes:
    """Decode standard, padded, canonical base64 (RFC 4648 section 4) or raise InputError.

    Non-canonical encodings (stray bits in the last character) are refused so that every
    value has exactly one text form and parse/format round trips are the identity.
    """
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except ValueError as exc:  # binascii.Error and UnicodeEncodeError are ValueErrors
        raise InputError(f"{what} is not valid standard base64: {text!r}") from exc
    if b64encode(raw) != text:
        raise InputError(f"{what} is not canonical base64: {text!r}")
    return raw


def parse_decimal(text: str, what: str, maximum: int) -> int:
    """ASCII decimal with no leading zeroes (except ``0`` itself), at most ``maximum``."""
    if (
        not text
        or len(text) > 20
        or any(c not in _DEC_DIGITS for c in text)
        or (len(text) > 1 and text[0] == "0")
    ):
        raise InputError(f"{what} must be a decimal number without leading zeros, got {text!r}")
    value = int(text)
    if value > maximum:
        raise InputError(f"{what} {value} is larger than {maximum}")
    return value


def has_control(text: str) -> bool:
    """Whether ``text`` holds an ASCII control character other than newline."""
    # C2SP signed-note: no ASCII control characters (below U+0020) other than newline.
    return any(ord(c) < 0x20 and c != "\n" for c in text)


def check_u64(value: int, what: str) -> None:
    """InputError unless ``value`` is an int in [0, 2**64 - 1] (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= U64_MAX:
        raise InputError(f"{what} must be an integer between 0 and 2**64-1, got {value!r}")
