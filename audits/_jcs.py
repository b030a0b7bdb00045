"""A fast *check* that bytes are RFC 8785 (JCS) canonical, for the audit's hot loop.

``ledger.canonical`` is the one place that produces canonical bytes; this module never
produces bytes that get signed. It only answers "are these bytes certainly canonical?" with
the C JSON codec of the standard library, and answers "don't know" (None) whenever that
codec and RFC 8785 could differ. Callers then fall back to ``ledger.canonical``.

``json.dumps(v, ensure_ascii=False, separators=(",", ":"), sort_keys=True)`` equals JCS(v)
for a value parsed from JSON unless (RFC 8785 §3.2.2):

1. it holds a number that is not an integer literal (JCS formats numbers as ECMAScript
   does; Python's ``repr`` of floats differs), or an integer outside ±(2**53 - 1), which
   JCS refuses — detected while parsing, through ``parse_float``/``parse_int``/
   ``parse_constant``;
2. an object key holds a character outside the Basic Multilingual Plane: JCS sorts keys by
   UTF-16 code units, Python by code points, and the two orders differ only there. If the
   bytes equal the dump, such a character appears raw, as a 4-byte UTF-8 sequence
   (lead byte 0xF0-0xF4), which is detected on the bytes.

String escaping is the same in both (§3.2.2.2: ``\\b \\t \\n \\f \\r \\" \\\\`` and
``\\u00xx`` in lower case for the other control characters, everything else raw), and a
byte-for-byte equality also rules out whitespace, duplicate keys, ``-0`` and escapes that
JCS would not write. ``tests/test_audit_verify.py`` checks the implication with hypothesis.
"""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["canonical_value", "dumps"]

_INT_MAX = 2**53 - 1
_ASTRAL = re.compile(rb"[\xf0-\xf4]")


class _NotSimple(Exception):
    """The value holds something the fast check does not decide."""


def _no_float(_text: str) -> Any:
    raise _NotSimple


def _small_int(text: str) -> int:
    n = int(text)
    if -_INT_MAX <= n <= _INT_MAX:
        return n
    raise _NotSimple


_decoder = json.JSONDecoder(
    parse_float=_no_float, parse_int=_small_int, parse_constant=_no_float, strict=True
)
_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def dumps(value: Any) -> bytes:
    """The C codec's compact, sorted dump (equal to JCS under :func:`canonical_value`'s terms)."""
    return _encoder.encode(value).encode("utf-8")


def canonical_value(data: bytes) -> Any | None:
    """The parsed value if ``data`` is certainly JCS canonical; None if not or undecided."""
    if _ASTRAL.search(data):
        return None
    try:
        value = _decoder.decode(data.decode("utf-8"))
        if dumps(value) != data:
            return None
    except (_NotSimple, ValueError):  # UnicodeError and JSONDecodeError are ValueErrors
        return None
    return value
