"""The JSON conventions of Belenios 2.0 (spec §4.1–4.3), byte for byte as belenios-tool writes.

- compact JSON, no spaces, object fields in the order the spec lists them (callers build
  ``dict`` in that order: Python keeps insertion order);
- big numbers (``N``, ``Z_q``, ``G``) as base-10 JSON strings; small integers as numbers;
- non-ASCII text as raw UTF-8 (no ``\\u`` escapes), ``/`` not escaped;
- ``H_JSON(J) = BASE64(SHA256(J))`` without padding (spec §4.15); archive names use the
  hexadecimal SHA256 (spec §4.4).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from ledger.errors import InputError

__all__ = [
    "b64_hash",
    "dumps",
    "get_int_field",
    "get_list",
    "get_num",
    "get_obj",
    "get_str",
    "hex_hash",
    "loads",
    "num",
]


def dumps(value: Any) -> str:
    """Compact JSON exactly as belenios-tool serialises (atdgen/yojson)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def loads(text: str | bytes, what: str) -> Any:
    """Parse JSON or raise :class:`InputError` naming ``what`` was being read."""
    try:
        return json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} is not valid JSON: {exc}") from None


def num(x: int) -> str:
    """A big number as Belenios writes it: base 10, in a JSON string."""
    return str(x)


def b64_hash(text: str | bytes) -> str:
    """``H_JSON``: unpadded standard Base64 of SHA256 (spec §4.15, the smart ballot tracker)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return base64.b64encode(hashlib.sha256(data).digest()).decode("ascii").rstrip("=")


def hex_hash(text: str | bytes) -> str:
    """Lower-case hexadecimal SHA256, as in archive file names and payload references."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()


def get_obj(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise InputError(f"{what} must be a JSON object")
    return value


def get_list(value: Any, what: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise InputError(f"{what} must be a JSON array")
    return value


def get_str(obj: Mapping[str, Any], key: str, what: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str):
        raise InputError(f"{what}.{key} must be a string")
    return value


def get_num(value: Any, what: str) -> int:
    """A big number written as a base-10 string (spec §4.2)."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit():
        raise InputError(f"{what} must be a non-negative base-10 number in a string")
    if len(value) > 1 and value[0] == "0":
        raise InputError(f"{what} must not have leading zeros")
    return int(value)


def get_int_field(obj: Mapping[str, Any], key: str, what: str) -> int:
    value = obj.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise InputError(f"{what}.{key} must be an integer")
    return value
