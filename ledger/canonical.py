"""RFC 8785 JSON Canonicalization Scheme (JCS) and strict JSON parsing.

The bytes that are hashed or signed are produced here and nowhere else.
"""

from __future__ import annotations

import json
import re
from typing import Any

import rfc8785

from ledger.errors import InputError

__all__ = ["canonical_json", "canonical_value", "is_canonical", "parse_json"]


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


def parse_json(data: bytes | str) -> Any:
    """Parse JSON strictly: UTF-8, no duplicate keys, no NaN/Infinity."""
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
