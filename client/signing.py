"""Signing committee requests: the client's half of ``Authorization: Civic ...``.

The bytes signed come from :func:`ledger.request_signing.request_message`, the same function
the node's check (``node/auth.py``) uses, so the scheme lives in one place.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from ledger.keys import KeyPair
from ledger.records import format_time
from ledger.request_signing import format_authorization, request_message

__all__ = ["authorization_header"]


def authorization_header(key: KeyPair, method: str, path: str, now: datetime | None = None) -> str:
    """The Authorization header value that signs ``METHOD path`` with ``key`` at ``now``."""
    created = format_time((now or datetime.now(UTC)).replace(microsecond=0))
    sig = base64.b64encode(key.sign(request_message(method, path, created))).decode()
    return format_authorization(key.key_id, created, sig)
