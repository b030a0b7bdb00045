"""Signed committee requests: the client signs, the node verifies, one message between them."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest

from client.signing import authorization_header
from ledger.errors import ForbiddenError, InputError, SignatureError
from ledger.request_signing import request_message
from node.auth import verify_authorization
from tests.factory import key

NOW = datetime(2026, 11, 3, 12, 0, 0, tzinfo=UTC)
K = key("signing-0")


def test_header_signs_the_shared_message() -> None:
    hdr = authorization_header(K, "get", "/v1/documents/ab", now=NOW)
    assert hdr.startswith(f"Civic key={K.key_id}, created=2026-11-03T12:00:00Z, sig=")
    sig = base64.b64decode(hdr.rsplit("sig=", 1)[1])
    assert sig == K.sign(request_message("GET", "/v1/documents/ab", "2026-11-03T12:00:00Z"))
    assert verify_authorization(hdr, "GET", "/v1/documents/ab", NOW, 300) == K.key_id


def test_node_refuses_other_method_path_or_time() -> None:
    hdr = authorization_header(K, "GET", "/v1/documents/ab", now=NOW)
    with pytest.raises(SignatureError):
        verify_authorization(hdr, "DELETE", "/v1/documents/ab", NOW, 300)
    with pytest.raises(SignatureError):
        verify_authorization(hdr, "GET", "/v1/documents/cd", NOW, 300)
    with pytest.raises(SignatureError, match="too old"):
        verify_authorization(hdr, "GET", "/v1/documents/ab", NOW + timedelta(seconds=301), 300)
    with pytest.raises(InputError, match="malformed"):
        verify_authorization("Civic key=x", "GET", "/", NOW, 300)
    with pytest.raises(ForbiddenError):
        verify_authorization(None, "GET", "/", NOW, 300)
