"""Signed requests for the few private reads and erasures (committee keys only).

Header: ``Authorization: Civic key=<key id>, created=<RFC 3339>, sig=<base64>`` where the
signature is Ed25519 over ``b"civic-ledger/request/v1\\n" + METHOD + "\\n" + PATH + "\\n" +
created``. The node accepts it within the policy's statement window.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from ledger.errors import ForbiddenError, InputError, SignatureError
from ledger.keys import KeyPair, verify_signature
from ledger.records import format_time, parse_time

__all__ = ["REQUEST_DOMAIN", "authorization_header", "verify_authorization"]

REQUEST_DOMAIN = b"civic-ledger/request/v1\n"


def _message(method: str, path: str, created: str) -> bytes:
    return REQUEST_DOMAIN + f"{method.upper()}\n{path}\n{created}".encode()


def authorization_header(key: KeyPair, method: str, path: str, now: datetime | None = None) -> str:
    """The Authorization header value that signs ``METHOD path`` with ``key``."""
    created = format_time((now or datetime.now(UTC)).replace(microsecond=0))
    sig = base64.b64encode(key.sign(_message(method, path, created))).decode()
    return f"Civic key={key.key_id}, created={created}, sig={sig}"


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
    if not verify_signature(key, _message(method, path, created), sig):
        raise SignatureError(f"request signature by {key} does not verify")
    return key
