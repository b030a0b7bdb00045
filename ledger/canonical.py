"""RFC 8785 JSON Canonicalization Scheme (JCS) and strict JSON parsing.

The bytes that are hashed or signed are produced here and nowhere else.
"""

from __future__ import annotations

import array
import itertools
import json
import re
from typing import Any

import rfc8785

from ledger.errors import InputError

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_NUMBER_DIGITS",
    "canonical_json",
    "canonical_value",
    "check_json_limits",
    "is_canonical",
    "parse_json",
    "refuse_unreadable_floats",
]

# Limits on JSON from outside, checked before parsing: the C codec recurses once per
# nesting level (RecursionError near 1,000) and int() refuses literals over 4,300
# digits (CPython's int_max_str_digits), both as errors that are not input errors.
# Statements nest a handful of levels and hold I-JSON integers (RFC 7493 §2.2: at most
# 16 significant digits), so these bounds are generous.
MAX_JSON_DEPTH = 64
MAX_NUMBER_DIGITS = 100


def _plain(value: Any) -> bool:
    """True when JCS and sorted compact ``json.dumps`` agree on ``value``.

    They differ only for floats (RFC 8785 §3.2.2.3 number formatting) and for object
    keys outside the Basic Multilingual Plane's lower part, where sorting by UTF-16
    code units (§3.2.3) and by code points disagree. Statements hold integers and
    ordinary strings, so the fast path is the common one.
    """
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            for k, x in v.items():
                if not isinstance(k, str) or (not k.isascii() and max(k) >= "\ud800"):
                    return False
                stack.append(x)
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, float):
            return False
        elif isinstance(v, int) and not -(2**53) < v < 2**53:
            return False  # I-JSON range (RFC 8785 §3.2.2.3): let rfc8785 refuse it
        elif not (v is None or isinstance(v, (str, int))):
            return False
    return True


def refuse_unreadable_floats(value: Any) -> None:
    """InputError if ``value`` holds a float JCS writes as an integer beyond ±(2**53 - 1).

    RFC 8785 writes 2.0**53 as ``9007199254740992`` (Appendix B); parse_json reads that
    back as an integer outside the I-JSON range, which canonical_json (like rfc8785)
    refuses. A record holding one could never be checked again (a replay would stop at
    it), so statements are refused up front (ledger/statements.py).
    """
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, float) and v.is_integer() and _INT_MAX < abs(v) < 1e21:
            raise InputError(
                f"the number {v!r} is an integer beyond ±(2**53 - 1), which JSON readers do "
                "not keep exactly; send it as a string"
            )


def canonical_json(value: Any) -> bytes:
    """RFC 8785 canonical UTF-8 bytes of a JSON value."""
    try:
        if _plain(value):
            # json escapes exactly what JCS escapes (", \\, control characters, with
            # \\b \\f \\n \\r \\t short forms and lowercase \\u00xx otherwise).
            return _ENCODER.encode(value).encode("utf-8")
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, TypeError, ValueError, UnicodeEncodeError) as exc:
        raise InputError(f"value cannot be canonicalised as JSON: {exc}") from exc


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_INT_MAX = 2**53 - 1
_ASTRAL = re.compile(rb"[\xf0-\xf4]")


class _Undecided(Exception):
    """The bytes hold something the fast check leaves to the full path."""


def _undecided(_text: str) -> Any:
    raise _Undecided


def _small_int(text: str) -> int:
    n = int(text)
    if -_INT_MAX <= n <= _INT_MAX:
        return n
    raise _Undecided


_DECODER = json.JSONDecoder(
    parse_float=_undecided, parse_int=_small_int, parse_constant=_undecided, strict=True
)


def canonical_value(data: bytes) -> Any | None:
    """The parsed value if ``data`` is certainly JCS canonical; None if not, or undecided.

    A fast check for hot loops (the audit): it decides with the C JSON codec only where
    that codec and RFC 8785 agree (no floats, integers within ±(2**53 - 1), no character
    outside the BMP, whose UTF-8 lead bytes 0xF0-0xF4 are looked for in the bytes); a
    byte-for-byte equality with the re-encoding also rules out whitespace, duplicate keys
    and escapes JCS would not write. On None, fall back to :func:`parse_json` +
    :func:`is_canonical`.
    """
    if _ASTRAL.search(data):
        return None
    try:
        value = _DECODER.decode(data.decode("utf-8"))
        if _ENCODER.encode(value).encode("utf-8") != data:
            return None
    except (_Undecided, ValueError):  # UnicodeError and JSONDecodeError are ValueErrors
        return None
    return value


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise InputError(f"duplicate JSON object key {k!r}")
        out[k] = v
    return out


def _no_constant(name: str) -> Any:
    raise InputError(f"JSON constant {name} is not allowed")


# A JSON string (RFC 8259 §7), unrolled and allowed to run to the end of the input so
# that every match attempt succeeds at once: linear time on any bytes.
_STRING = re.compile(rb'"[^"\\]*(?:\\[\s\S]?[^"\\]*)*(?:"|\Z)')
_NINES = b"9" * (MAX_NUMBER_DIGITS + 1)
_DIGITS_TO_NINES = bytes.maketrans(b"012345678", b"999999999")
_DEPTH_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
_NOT_BRACKET = bytes(b for b in range(256) if b not in b"[]{}")


def _long_digit_run(data: bytes) -> bool:
    return _NINES in data.translate(_DIGITS_TO_NINES)


def check_json_limits(data: bytes) -> None:
    """Refuse JSON nested deeper than MAX_JSON_DEPTH or with a number over MAX_NUMBER_DIGITS.

    A scan of the bytes, done before any parser sees them: strings are cut out, then
    the longest digit run and the deepest bracket are measured. It never refuses valid
    JSON within the limits; on malformed JSON it may say nothing and leave the error to
    the parser.
    """
    if data.count(b"[") + data.count(b"{") <= MAX_JSON_DEPTH and not _long_digit_run(data):
        return  # the common case: nothing to cut out
    # Without escapes every quote opens or closes a string: bytes.split does it at C speed.
    escapes = b"\\" in data
    outside = _STRING.sub(b"", data) if escapes else b"".join(data.split(b'"')[0::2])
    if _long_digit_run(outside):
        raise InputError(f"a JSON number has more than {MAX_NUMBER_DIGITS} digits")
    brackets = outside.translate(_DEPTH_STEPS, _NOT_BRACKET)
    if len(brackets) > MAX_JSON_DEPTH:
        depth = max(itertools.accumulate(array.array("b", brackets)))
        if depth > MAX_JSON_DEPTH:
            raise InputError(f"JSON is nested more than {MAX_JSON_DEPTH} levels deep")


def parse_json(data: bytes | str) -> Any:
    """Parse JSON strictly: UTF-8, no duplicate keys, no NaN/Infinity, within the limits.

    InputError (never RecursionError or ValueError) for JSON nested deeper than
    MAX_JSON_DEPTH or holding a number longer than MAX_NUMBER_DIGITS digits.
    """
    check_json_limits(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except UnicodeDecodeError as exc:
        raise InputError("JSON is not valid UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise InputError(
            f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from exc


def is_canonical(data: bytes) -> bool:
    """True if ``data`` is exactly the JCS form of the JSON it holds."""
    try:
        return canonical_json(parse_json(data)) == data
    except InputError:
        return False
