"""Signing committee requests: the client's half of RFC 9421 HTTP Message Signatures.

The signature base comes from :mod:`ledger.request_signing`, the same module the node's
check (``node/auth.py``) uses, so the scheme lives in one place. Each request gets a fresh
random nonce and a ``created`` of now; the node refuses it once it has seen that nonce or
once ``created`` is older than :data:`~ledger.request_signing.MAX_AGE_SECONDS`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Mapping

import httpx

from ledger.keys import KeyPair
from ledger.request_signing import (
    MAX_AGE_SECONDS,
    REQUIRED_COMPONENTS,
    TAG,
    SignatureParams,
    component_values,
    content_digest,
    format_signature_headers,
    signature_base,
)

__all__ = ["sign_request", "signature_headers"]


def signature_headers(
    key: KeyPair,
    method: str,
    url: str,
    body: bytes = b"",
    headers: Mapping[str, str] | None = None,
    now: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """``Content-Digest``, ``Signature-Input`` and ``Signature`` for ``METHOD url`` + ``body``.

    ``url`` is absolute (its host is the ``@authority`` signed, as httpx sends it in Host);
    ``headers`` are the other headers to be sent: a ``Content-Type`` among them is covered.
    """
    u = httpx.URL(url)
    digest = content_digest(body)
    lower = {k.lower(): v for k, v in (headers or {}).items()}
    lower["content-digest"] = digest
    covered = list(REQUIRED_COMPONENTS)
    if "content-type" in lower:
        covered.append("content-type")
    created = int(time.time()) if now is None else now
    params = SignatureParams(
        tuple(covered),
        (
            ("created", created),
            ("expires", created + MAX_AGE_SECONDS),
            ("nonce", nonce or secrets.token_urlsafe(24)),
            ("keyid", key.key_id),
            ("alg", "ed25519"),  # RFC 9421 §3.3.6
            ("tag", TAG),
        ),
    )
    values = component_values(
        covered,
        method.upper(),
        u.netloc.decode("ascii"),
        u.raw_path.split(b"?", 1)[0].decode("ascii"),
        u.query.decode("ascii"),
        lower,
    )
    sig = key.sign(signature_base(values, params))
    return {"Content-Digest": digest, **format_signature_headers(params, sig)}


def sign_request(key: KeyPair, request: httpx.Request) -> httpx.Request:
    """Add the signature headers to a built httpx ``request`` (body read, Host as sent)."""
    body = request.read()
    extra = (
        {"Content-Type": request.headers["content-type"]}
        if "content-type" in request.headers
        else {}
    )
    request.headers.update(signature_headers(key, request.method, str(request.url), body, extra))
    return request
