"""RFC 9421 message signatures and RFC 9530 digests: the RFC's vectors and the node's check."""

from __future__ import annotations

import base64
import hashlib

import pytest

from client.signing import signature_headers
from ledger.errors import ForbiddenError, InputError, SignatureError
from ledger.keys import KeyPair, verify_signature
from ledger.request_signing import (
    TAG,
    SignatureParams,
    component_values,
    content_digest,
    format_signature_headers,
    parse_content_digest,
    parse_dictionary,
    parse_signature_headers,
    signature_base,
)
from node.auth import NonceBook, check_body, check_signature
from tests.factory import key

# RFC 9421 Appendix B.1.4, test-key-ed25519 (a published test key, never a real one).
RFC_ED25519_PEM = b"""-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF
-----END PRIVATE KEY-----
"""
# RFC 9421 Appendix B.2, the test request (the parts B.2.6 covers).
RFC_HEADERS = {
    "date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "content-type": "application/json",
    "content-length": "18",
}
RFC_B26_BASE = (
    '"date": Tue, 20 Apr 2021 02:07:55 GMT\n'
    '"@method": POST\n'
    '"@path": /foo\n'
    '"@authority": example.com\n'
    '"content-type": application/json\n'
    '"content-length": 18\n'
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" '
    '"content-length");created=1618884473;keyid="test-key-ed25519"'
)
RFC_B26_INPUT = (
    'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length")'
    ';created=1618884473;keyid="test-key-ed25519"'
)
RFC_B26_SIGNATURE = (
    "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw=="
)

K = key("signing-0")
NOW = 1_793_000_000
URL = "http://node.example:8000/v1/documents/ab"


def _rfc_key() -> KeyPair:
    # PKCS#8 for Ed25519 (RFC 8410 §7): a 16-byte prefix, then the 32-byte seed.
    der = base64.b64decode(b"".join(RFC_ED25519_PEM.splitlines()[1:-1]))
    assert len(der) == 48 and der[:16] == bytes.fromhex("302e020100300506032b657004220420")
    return KeyPair(der[16:])


def test_rfc9421_b26_ed25519_vector() -> None:
    # RFC 9421 §B.2.6: our base is byte for byte the RFC's, and Ed25519 (deterministic,
    # RFC 8032) over it gives the RFC's signature, which our parser and verifier accept.
    params, sig = parse_signature_headers(RFC_B26_INPUT, f"sig-b26=:{RFC_B26_SIGNATURE}:", None)
    values = component_values(
        params.components, "POST", "example.com", "/foo", "param=Value&Pet=dog", RFC_HEADERS
    )
    base = signature_base(values, params)
    assert base == RFC_B26_BASE.encode()
    assert params.get("keyid") == "test-key-ed25519" and params.get("created") == 1618884473
    rfc_key = _rfc_key()
    assert rfc_key.sign(base) == sig == base64.b64decode(RFC_B26_SIGNATURE)
    # The public key of RFC 9421 §B.1.4, MCowBQYDK2VwAyEA + its 32 bytes.
    assert rfc_key.public_key == base64.b64decode("JrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=")
    assert verify_signature(rfc_key.key_id, base, sig)
    assert not verify_signature(rfc_key.key_id, base.replace(b"/foo", b"/bar"), sig)
    assert (
        format_signature_headers(params, sig)["Signature-Input"].split("=", 1)[1]
        == (RFC_B26_INPUT.split("=", 1)[1])
    )


def test_rfc9530_content_digest() -> None:
    # RFC 9530 §2: the sha-256 Content-Digest of the example body {"hello": "world"}.
    body = b'{"hello": "world"}'
    assert content_digest(body) == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    assert parse_content_digest(content_digest(body)) == hashlib.sha256(body).digest()
    # Other algorithms may stand beside it and are ignored (RFC 9530 §2).
    both = "sha-512=:" + base64.b64encode(hashlib.sha512(body).digest()).decode() + ":, "
    assert parse_content_digest(both + content_digest(body)) == hashlib.sha256(body).digest()
    with pytest.raises(SignatureError):
        parse_content_digest("sha-512=:" + base64.b64encode(b"x" * 64).decode() + ":")


def test_structured_field_subset() -> None:
    d = parse_dictionary('a=("x" "y");n=1;s="q\\"\\\\";t=tok, b=:AAE=:, c, e=?0')
    assert d["a"].value == (("x", ()), ("y", ()))
    assert d["a"].params == (("n", 1), ("s", 'q"\\'), ("t", "tok"))
    assert d["b"].value == b"\x00\x01" and d["c"].value is True and d["e"].value is False
    sp = SignatureParams(("x", "y"), d["a"].params)
    assert sp.serialize() == '("x" "y");n=1;s="q\\"\\\\";t=tok'
    for bad in ('a=("x"', "a=1.5", 'a="\x01"', "A=1", "a=1,", "a=:@@:", 'a=("x");n=1;n=2'):
        with pytest.raises(InputError):
            parse_dictionary(bad)


def _signed(method: str = "GET", url: str = URL, body: bytes = b"", **kw: object) -> dict[str, str]:
    hdrs = signature_headers(K, method, url, body, now=NOW, **kw)  # type: ignore[arg-type]
    return {k.lower(): v for k, v in hdrs.items()}


def _check(
    headers: dict[str, str],
    method: str = "GET",
    authority: str = "node.example:8000",
    path: str = "/v1/documents/ab",
    query: str = "",
    now: int = NOW,
) -> str:
    return check_signature(method, authority, path, query, headers, now).key_id


def test_a_signed_request_verifies_and_covers_the_target_and_body() -> None:
    h = _signed()
    assert h["signature-input"].startswith(
        'civic=("@method" "@authority" "@path" "@query" "content-digest");created='
    )
    assert f'keyid="{K.key_id}";alg="ed25519";tag="{TAG}"' in h["signature-input"]
    assert _check(h) == K.key_id
    for wrong in (
        {"method": "DELETE"},
        {"path": "/v1/documents/cd"},
        {"query": "x=1"},  # issue 10, item 7: an extra query string
        {"authority": "other.example:8000"},  # another node
    ):
        with pytest.raises(SignatureError, match="does not verify"):
            _check(h, **wrong)  # type: ignore[arg-type]
    q = _signed(url=URL + "?after=3")
    assert _check(q, query="after=3") == K.key_id


def test_the_window_is_short_and_the_future_is_refused() -> None:
    h = _signed()
    assert _check(h, now=NOW + 60) == K.key_id
    with pytest.raises(SignatureError, match="old"):
        _check(h, now=NOW + 65)  # issue 10, item 7: 65 s later
    future = {k.lower(): v for k, v in signature_headers(K, "GET", URL, now=NOW + 850).items()}
    with pytest.raises(SignatureError, match="future"):
        _check(future)  # issue 10, item 7: 850 s ahead
    skewed = {k.lower(): v for k, v in signature_headers(K, "GET", URL, now=NOW + 5).items()}
    assert _check(skewed) == K.key_id


def test_missing_component_other_alg_or_tag_and_body_mismatch() -> None:
    def forge(components: tuple[str, ...], **params: object) -> dict[str, str]:
        p = {"created": NOW, "nonce": "n" * 22, "keyid": K.key_id, "alg": "ed25519", "tag": TAG}
        p.update(params)  # type: ignore[arg-type]
        sp = SignatureParams(components, tuple(p.items()))  # type: ignore[arg-type]
        headers = {"content-digest": content_digest(b"")}
        values = component_values(
            components, "GET", "node.example:8000", "/v1/documents/ab", "", headers
        )
        out = format_signature_headers(sp, K.sign(signature_base(values, sp)))
        return {**headers, **{k.lower(): v for k, v in out.items()}}

    with pytest.raises(SignatureError, match="does not cover @query, content-digest"):
        _check(forge(("@method", "@authority", "@path")))
    full = ("@method", "@authority", "@path", "@query", "content-digest")
    assert _check(forge(full)) == K.key_id
    with pytest.raises(SignatureError, match="alg"):
        _check(forge(full, alg="rsa-v1_5-sha256"))
    with pytest.raises(SignatureError, match="tag"):
        _check(forge(full, tag="someone-else"))
    with pytest.raises(SignatureError, match="nonce"):
        _check(forge(full, nonce="short"))
    with pytest.raises(SignatureError, match="expired"):
        _check(forge(full, expires=NOW - 1))
    # A Content-Type that is sent must be covered (it is the stored media type).
    with pytest.raises(SignatureError, match="content-type"):
        _check({**forge(full), "content-type": "text/html"})
    # RFC 9530: the body must be the one whose digest was signed.
    body = b"%PDF invoice"
    h = _signed("POST", URL, body, headers={"Content-Type": "application/pdf"})
    h["content-type"] = "application/pdf"
    signed = check_signature("POST", "node.example:8000", "/v1/documents/ab", "", h, NOW)
    check_body(signed, body)
    with pytest.raises(SignatureError, match="Content-Digest"):
        check_body(signed, b"%PDF other bytes")
    with pytest.raises(ForbiddenError):
        _check({})


def test_nonce_book_refuses_a_reuse_even_after_reopening(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "request-nonces"
    book = NonceBook(path, now=NOW)
    book.consume(K.key_id, "a" * 22, NOW, NOW)
    book.consume(K.key_id, "b" * 22, NOW, NOW)
    with pytest.raises(SignatureError, match="already used"):
        book.consume(K.key_id, "a" * 22, NOW, NOW + 10)
    # A restart: the file, fsynced at each use, is read back.
    again = NonceBook(path, now=NOW + 10)
    with pytest.raises(SignatureError, match="already used"):
        again.consume(K.key_id, "b" * 22, NOW, NOW + 10)
    # Another key's nonce of the same text is its own.
    again.consume(key("signing-1").key_id, "b" * 22, NOW, NOW)
