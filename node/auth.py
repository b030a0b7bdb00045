"""The node's check of signed requests for the few private reads and erasures (committee keys).

Header: ``Authorization: Civic key=<key id>, created=<RFC 3339>, sig=<base64>``, the
signature being Ed25519 over :func:`ledger.request_signing.request_message` (clients sign
with :func:`client.signing.authorization_header`). The node accepts it within the policy's
statement window.
"""

from __future__ import annotations

import base64
import binascii
from datetime import datetime

from ledger.errors import ForbiddenError, InputError, SignatureError
from ledger.keys import verify_signature
from ledger.records import parse_time
from ledger.request_signing import request_message

__all__ = ["verify_authorization"]


def verify_authorization(
    header: str | None, method: str, path: str, now: datetime, window_seconds: int
) -> str:
    """The key id that signed this request; SignatureError or ForbiddenError otherwise."""
    if not header or not header.startswith("Civic "):
        raise ForbiddenError(
            "this endpoint needs a signed request: "
            "Authorization: Civic key=..., created=..., sig=..."
        )
    try:
        parts = dict(p.strip().split("=", 1) for p in header[len("Civic ") :].split(","))
        key, created, sig = (
            parts["key"],
            parts["created"],
            base64.b64decode(parts["sig"], validate=True),
        )
    except (ValueError, KeyError, binascii.Error) as exc:
        raise InputError("malformed Authorization header") from exc
    if abs((parse_time(created) - now).total_seconds()) > window_seconds:
        raise SignatureError("signed request is too old or from the future; sign it again")
    if not verify_signature(key, request_message(method, path, created), sig):
        raise SignatureError(f"request signature by {key} does not verify")
    return key
