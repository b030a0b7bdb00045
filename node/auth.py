"""The node's check of signed requests (RFC 9421 HTTP Message Signatures, Ed25519).

The few private reads, erasures, the payee look-up and document uploads need a request
signed with a committee (or, for uploads, a resident) key; clients sign with
:func:`client.signing.signature_headers`, and the canonicalisation both sides use is
:mod:`ledger.request_signing`. The node refuses, in this order:

- no ``Signature-Input`` at all: 403 (ForbiddenError), as any other unauthorised caller;
- a malformed header: 400; no signature with our ``tag``, a missing covered component
  (``@method @authority @path @query content-digest``, and ``content-type`` when sent), a
  ``created`` older than MAX_AGE_SECONDS or more than FUTURE_SKEW_SECONDS ahead, a past
  ``expires``, an ``alg`` other than ed25519, a bad signature: 401 (SignatureError);
- a key not allowed to do this: 403;
- a body whose SHA-256 differs from the signed ``Content-Digest`` (RFC 9530): 401;
- a nonce already seen from that key within the window: 401.

Nonces are kept by :class:`NonceBook` in ``DIR/request-nonces``, an append-only file
fsynced before the request is answered, so a replay within the window after a restart
(or a crash) is refused too.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import Request

from ledger.errors import ForbiddenError, InputError, SignatureError
from ledger.files import write_atomic
from ledger.keys import is_key_id, verify_signature
from ledger.request_signing import (
    FUTURE_SKEW_SECONDS,
    MAX_AGE_SECONDS,
    REQUIRED_COMPONENTS,
    component_values,
    parse_content_digest,
    parse_signature_headers,
    signature_base,
)

__all__ = [
    "NonceBook",
    "SignedRequest",
    "authenticate",
    "check_body",
    "check_signature",
    "is_signed",
    "nonces_of",
    "request_body",
    "verify_request",
]

_NONCE = re.compile(r"[A-Za-z0-9_\-]{16,128}")
_LOCK = threading.Lock()


@dataclass(frozen=True)
class SignedRequest:
    """A request whose signature verified: who signed it, its nonce and the signed digest."""

    key_id: str
    nonce: str
    created: int
    digest: bytes


def is_signed(headers: Mapping[str, str]) -> bool:
    """Whether the request carries an RFC 9421 signature at all (verified or not)."""
    return "signature-input" in headers or "signature" in headers


def check_signature(
    method: str,
    authority: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    now: int,
) -> SignedRequest:
    """Verify the request's RFC 9421 signature (RFC 9421 §3.2), not yet its body or nonce.

    ``headers`` are looked up by lowercase name (Starlette's Headers are); ``path`` and
    ``query`` are raw as sent. Raises ForbiddenError, InputError or SignatureError.
    """
    sig_input, sig = headers.get("signature-input"), headers.get("signature")
    if not sig_input or not sig:
        raise ForbiddenError(
            "this endpoint needs a signed request: RFC 9421 Signature-Input and Signature "
            "headers with a committee key (see the README, Signed requests)"
        )
    params, signature = parse_signature_headers(sig_input, sig)
    required = [*REQUIRED_COMPONENTS, *(["content-type"] if "content-type" in headers else [])]
    missing = [c for c in required if c not in params.components]
    if missing:
        raise SignatureError(f"the signature does not cover {', '.join(missing)}")
    key, created, expires = params.get("keyid"), params.get("created"), params.get("expires")
    nonce, alg = params.get("nonce"), params.get("alg")
    if not isinstance(key, str) or not is_key_id(key):
        raise SignatureError("keyid must be a civic-ledger key id (ed25519:…)")
    if alg is not None and alg != "ed25519":
        raise SignatureError(f"alg {alg!r} is not accepted; sign with ed25519")
    if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
        raise SignatureError("nonce must be 16–128 base64url characters")
    if not isinstance(created, int) or isinstance(created, bool):
        raise SignatureError("created must be an integer (seconds since 1970)")
    # RFC 9421 §7.2.4: a short validity window bounds how long a nonce is remembered.
    if created < now - MAX_AGE_SECONDS:
        raise SignatureError(
            f"signed request is {now - created} s old (at most {MAX_AGE_SECONDS} s); sign it again"
        )
    if created > now + FUTURE_SKEW_SECONDS:
        raise SignatureError(
            f"signed request is dated {created - now} s in the future "
            f"(at most {FUTURE_SKEW_SECONDS} s of clock skew); check the clock"
        )
    if expires is not None and (not isinstance(expires, int) or expires < now):
        raise SignatureError("signed request has expired; sign it again")
    values = component_values(params.components, method, authority, path, query, headers)
    if not verify_signature(key, signature_base(values, params), signature):
        raise SignatureError(f"request signature by {key} does not verify")
    return SignedRequest(key, nonce, created, parse_content_digest(headers["content-digest"]))


def check_body(signed: SignedRequest, body: bytes) -> None:
    """SignatureError unless ``body`` has the SHA-256 the request signed (RFC 9530)."""
    if not hmac.compare_digest(hashlib.sha256(body).digest(), signed.digest):
        raise SignatureError("the body does not match the signed Content-Digest")


class NonceBook:
    """Nonces seen from each key, kept until their ``created`` is out of the window.

    The file holds one line per nonce, ``<forget-at> <key id> <nonce>``, appended and
    fsynced before the request is answered; at open, lines already past are dropped, and
    the file is rewritten atomically when most of its lines are stale. One node process
    owns its data folder, so a lock in the process is enough.
    """

    def __init__(self, path: Path, now: int | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], int] = {}
        self._lines = 0
        now = int(time.time()) if now is None else now
        try:
            text = path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            text = ""
        for line in text.splitlines():
            parts = line.split(" ")
            if len(parts) == 3 and parts[0].isdigit() and int(parts[0]) >= now:
                self._seen[(parts[1], parts[2])] = int(parts[0])
        self._compact(now)

    def _compact(self, now: int) -> None:
        self._seen = {k: t for k, t in self._seen.items() if t >= now}
        data = "".join(f"{t} {k} {n}\n" for (k, n), t in self._seen.items()).encode()
        write_atomic(self.path, data)
        self._lines = len(self._seen)

    def consume(self, key_id: str, nonce: str, created: int, now: int) -> None:
        """Remember ``nonce`` of ``key_id``; SignatureError if it was already used."""
        forget_at = created + MAX_AGE_SECONDS + FUTURE_SKEW_SECONDS
        with self._lock:
            seen = self._seen.get((key_id, nonce))
            if seen is not None and seen >= now:
                raise SignatureError("this signed request was already used (nonce replayed)")
            self._seen[(key_id, nonce)] = forget_at
            with open(self.path, "a", encoding="ascii") as f:
                f.write(f"{forget_at} {key_id} {nonce}\n")
                f.flush()
                os.fsync(f.fileno())
            self._lines += 1
            if self._lines > 1000 and self._lines > 2 * len(self._seen):
                self._compact(now)


def nonces_of(ctx: Any) -> NonceBook:
    """The nonce book of a node context (opened on first use, kept in its services)."""
    with _LOCK:
        book = ctx.services.get("nonces")
        if book is None:
            book = NonceBook(Path(ctx.data_dir) / "request-nonces")
            ctx.services["nonces"] = book
    assert isinstance(book, NonceBook)
    return book


async def request_body(request: Request) -> bytes:
    """FastAPI dependency: the request's body (cached, so a JSON body parameter still works)."""
    return await request.body()


def verify_request(request: Request, now: int) -> SignedRequest:
    """:func:`check_signature` of a Starlette request, as the client sent it."""
    scope = request.scope
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode()
    try:
        path = raw_path.split(b"?", 1)[0].decode("ascii")
        query = bytes(scope.get("query_string", b"")).decode("ascii")
    except UnicodeDecodeError as exc:
        raise InputError("the request target is not ASCII") from exc
    # RFC 9421 §2.1: a field sent on several lines is signed as its values joined by ", ",
    # so a second Content-Type line added to a captured request breaks the signature.
    headers = {k: ", ".join(request.headers.getlist(k)) for k in request.headers}
    authority = headers.get("host", "")
    return check_signature(request.method, authority, path, query, headers, now)


def authenticate(
    request: Request,
    body: bytes,
    ctx: Any,
    allowed: Callable[[str], bool],
    refusal: str,
) -> str:
    """The key id that signed this request, if ``allowed``; ForbiddenError(``refusal``) if
    not, SignatureError if the signature, body digest or nonce is wrong."""
    now = int(time.time())
    signed = verify_request(request, now)
    if not allowed(signed.key_id):
        raise ForbiddenError(refusal)
    check_body(signed, body)
    nonces_of(ctx).consume(signed.key_id, signed.nonce, signed.created, now)
    return signed.key_id
