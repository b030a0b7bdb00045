"""The bytes a signed committee request signs. Pure: both sides build them here.

A few node endpoints (private reads, document uploads, erasures) take a request signed with
a committee key: ``Authorization: Civic key=<key id>, created=<RFC 3339>, sig=<base64>``,
the signature being Ed25519 over :func:`request_message`. The client
(:mod:`client.signing`) signs these bytes and the node (``node/auth.py``) verifies them, so
the scheme is written once.
"""

from __future__ import annotations

__all__ = ["AUTH_SCHEME", "REQUEST_DOMAIN", "format_authorization", "request_message"]

REQUEST_DOMAIN = b"civic-ledger/request/v1\n"
AUTH_SCHEME = "Civic"


def request_message(method: str, path: str, created: str) -> bytes:
    """What the committee key signs: domain, ``METHOD``, path and the ``created`` time."""
    return REQUEST_DOMAIN + f"{method.upper()}\n{path}\n{created}".encode()


def format_authorization(key_id: str, created: str, sig_b64: str) -> str:
    """The ``Authorization`` header value carrying a request signature."""
    return f"{AUTH_SCHEME} key={key_id}, created={created}, sig={sig_b64}"
