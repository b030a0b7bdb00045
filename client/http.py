"""A small httpx client for a node's API, used by the CLI, the audit, the demo and the tests.

Problem responses (RFC 9457) come back as the CivicError subclass of their status, with the
node's ``detail`` as the message; a node that cannot be reached is a NetworkError. Connecting
has its own, short timeout, so that a node that is down is reported quickly while a slow
answer (a large proof, a busy sequencer) still gets the longer read timeout.
"""

from __future__ import annotations

from typing import Any

import httpx

from client.signing import authorization_header
from ledger.errors import (
    CivicError,
    ConflictError,
    ForbiddenError,
    InputError,
    NetworkError,
    NotFoundError,
    SignatureError,
    TooLargeError,
)
from ledger.keys import KeyPair

__all__ = ["CONNECT_TIMEOUT", "TIMEOUT", "NodeClient", "error_for_status"]

TIMEOUT = 60.0
CONNECT_TIMEOUT = 5.0

_BY_STATUS: dict[int, type[CivicError]] = {
    400: InputError,
    401: SignatureError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: TooLargeError,
    422: InputError,
}


def error_for_status(status: int, detail: str) -> CivicError:
    """The CivicError a problem response of ``status`` stands for."""
    cls = _BY_STATUS.get(status, NetworkError)
    err = cls(detail)
    err.status = status
    return err


class NodeClient:
    """Talks to one node at ``url`` (e.g. ``http://127.0.0.1:8000``)."""

    def __init__(
        self,
        url: str,
        timeout: float = TIMEOUT,
        client: httpx.Client | None = None,
        connect_timeout: float = CONNECT_TIMEOUT,
    ) -> None:
        self.url = url.rstrip("/")
        self._http = client or httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout))
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            r = self._http.request(method, self.url + path, **kw)
        except httpx.HTTPError as exc:
            raise NetworkError(
                f"cannot reach node {self.url}: {exc or type(exc).__name__}"
            ) from exc
        if r.status_code >= 400:
            try:
                body = r.json()
                detail = body.get("detail") or body.get("title") or r.text
            except ValueError:
                detail = r.text[:200] or r.reason_phrase
            raise error_for_status(r.status_code, f"{self.url}{path}: {detail}")
        return r

    def get_json(self, path: str, **params: Any) -> Any:
        """GET ``path`` and decode its JSON."""
        clean = {k: v for k, v in params.items() if v is not None}
        return self._request("GET", path, params=clean).json()

    def get_bytes(self, path: str) -> bytes:
        """GET ``path`` as bytes (tiles, checkpoints)."""
        return self._request("GET", path).content

    # --- the API ----------------------------------------------------------------------

    def checkpoint(self) -> bytes:
        """The node's newest checkpoint note, verbatim."""
        return self.get_bytes("/log/checkpoint")

    def submit(self, envelope: dict[str, Any] | list[dict[str, Any]]) -> Any:
        """POST one envelope (→ the 201 body) or an array (→ the ``results`` list)."""
        r = self._request("POST", "/v1/statements", json=envelope)
        body = r.json()
        return body["results"] if isinstance(envelope, list) else body

    def community(self) -> Any:
        """The community document (origin, log key, committee, policy)."""
        return self.get_json("/v1/community")

    def members(self, status: str | None = None) -> Any:
        """The member list, optionally only those with ``status``."""
        return self.get_json("/v1/members", status=status)

    def member(self, key_id: str) -> Any:
        """One member by key id."""
        return self.get_json(f"/v1/members/{key_id}")

    def record(self, index: int) -> Any:
        """Record ``index`` as the node serves it (``entry`` is base64 of its bytes)."""
        return self.get_json(f"/v1/records/{index}")

    def inclusion_proof(self, index: int, tree_size: int) -> Any:
        """RFC 9162 §2.1.3 inclusion proof of ``index`` in the tree of ``tree_size``."""
        return self.get_json("/v1/proofs/inclusion", index=index, tree_size=tree_size)

    def consistency_proof(self, first: int, second: int) -> Any:
        """RFC 9162 §2.1.4 consistency proof from ``first`` to ``second``."""
        return self.get_json("/v1/proofs/consistency", first=first, second=second)

    def signed_request(self, method: str, path: str, key: KeyPair, **kw: Any) -> httpx.Response:
        """``METHOD path`` signed with the committee ``key`` (document uploads, private
        reads, erasures); ``kw`` goes to httpx (``content``, ``json``, ``headers``)."""
        headers = {
            **kw.pop("headers", {}),
            "Authorization": authorization_header(key, method, path),
        }
        return self._request(method, path, headers=headers, **kw)

    def signed(self, method: str, path: str, key: KeyPair) -> Any:
        """A signed request with no body, decoded as JSON."""
        return self.signed_request(method, path, key).json()
