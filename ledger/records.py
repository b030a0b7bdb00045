"""Log records: ``JCS({"index", "prev", "time", "envelope"})`` chained by ``prev``.

docs/design.md, "The two objects": the record bytes are the log entry; ``prev`` is the hex
leaf hash of the previous record (64 zeros for record 0), which makes the ledger
hash-chained on top of the Merkle tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.canonical import canonical_json, parse_json
from ledger.errors import InputError, TooLargeError
from ledger.tiles import MAX_ENTRY_SIZE

__all__ = [
    "GENESIS_PREV",
    "Record",
    "build_record",
    "format_time",
    "parse_record",
    "parse_time",
]

GENESIS_PREV = "0" * 64
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")


def format_time(when: datetime) -> str:
    """RFC 3339 UTC with a ``Z``, microseconds only when non-zero."""
    when = when.astimezone(UTC)
    if when.microsecond:
        return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> datetime:
    """Parse the RFC 3339 UTC form that :func:`format_time` writes."""
    if not isinstance(text, str) or not _TIME.match(text):
        raise InputError(f"time {text!r} is not RFC 3339 UTC like 2026-11-28T10:00:00Z")
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise InputError(f"time {text!r} is not a valid date: {exc}") from exc


@dataclass(frozen=True)
class Record:
    """A parsed record together with the exact bytes it was parsed from."""

    index: int
    prev: str
    time: str
    envelope: dict[str, Any]
    raw: bytes


def build_record(index: int, prev: str, time: str, envelope: dict[str, Any]) -> bytes:
    """The canonical bytes of a record; TooLargeError past the 65,535-byte entry limit."""
    data = canonical_json({"index": index, "prev": prev, "time": time, "envelope": envelope})
    if len(data) > MAX_ENTRY_SIZE:
        raise TooLargeError(
            f"record would be {len(data)} bytes, over the {MAX_ENTRY_SIZE}-byte limit; "
            "put large content in the document store and reference its SHA-256"
        )
    return data


def parse_record(data: bytes) -> Record:
    """Parse and check record bytes: canonical JCS, the four fields, well-formed values."""
    value = parse_json(data)
    if not isinstance(value, dict) or set(value) != {"index", "prev", "time", "envelope"}:
        raise InputError("record must be an object with exactly index, prev, time, envelope")
    index, prev, time, envelope = value["index"], value["prev"], value["time"], value["envelope"]
    if not isinstance(index, int) or isinstance(index, bool) or index < 0:
        raise InputError(f"record index must be a non-negative integer, got {index!r}")
    if not isinstance(prev, str) or not _HEX64.match(prev):
        raise InputError("record prev must be 64 lowercase hex digits")
    parse_time(time)
    if not isinstance(envelope, dict):
        raise InputError("record envelope must be a JSON object")
    if canonical_json(value) != data:
        raise InputError(f"record {index} is not in RFC 8785 canonical form")
    return Record(index, prev, time, envelope, bytes(data))
