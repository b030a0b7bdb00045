"""Signed statements and their envelopes (docs/design.md, "The two objects").

A statement is a JSON object canonicalised with RFC 8785; each signature is Ed25519
over ``b"civic-ledger/statement/v1\\n" + JCS(statement)``. An envelope carries the
statement and one or more signatures, so M-of-N approvals can travel together.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ledger.canonical import canonical_json, refuse_unreadable_floats
from ledger.errors import InputError, SignatureError
from ledger.keys import KeyPair, is_key_id, verify_signature
from ledger.records import format_time, parse_time

__all__ = [
    "DOMAIN",
    "Envelope",
    "add_signatures",
    "make_statement",
    "parse_envelope",
    "sign_envelope",
    "statement_hash",
]

DOMAIN = b"civic-ledger/statement/v1\n"
STATEMENT_FIELDS = {"v", "community", "type", "body", "signer", "nonce", "created"}
MAX_SIGNATURES = 64
_SIXTEEN_DIGITS = re.compile(rb"[0-9]{16}")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def make_statement(
    community: str,
    type_: str,
    body: dict[str, Any],
    signer: str,
    created: datetime | None = None,
    nonce: bytes | None = None,
) -> dict[str, Any]:
    """A new statement with a fresh 16-byte nonce and the current time."""
    return {
        "v": 1,
        "community": community,
        "type": type_,
        "body": body,
        "signer": signer,
        "nonce": _b64(nonce if nonce is not None else os.urandom(16)),
        "created": format_time((created or datetime.now(UTC)).replace(microsecond=0)),
    }


def signing_bytes(statement: dict[str, Any]) -> bytes:
    """The exact bytes every signature covers: the domain line and JCS(statement)."""
    return DOMAIN + canonical_json(statement)


def statement_hash(statement: dict[str, Any]) -> str:
    """Hex SHA-256 of JCS(statement): the statement's identity."""
    return hashlib.sha256(canonical_json(statement)).hexdigest()


def sign_envelope(statement: dict[str, Any], keys: Sequence[KeyPair]) -> dict[str, Any]:
    """An envelope of ``statement`` signed by each of ``keys``."""
    msg = signing_bytes(statement)
    return {
        "statement": statement,
        "signatures": [{"key": k.key_id, "sig": _b64(k.sign(msg))} for k in keys],
    }


def add_signatures(envelope: dict[str, Any], keys: Sequence[KeyPair]) -> dict[str, Any]:
    """A copy of ``envelope`` with signatures by ``keys`` added (M-of-N in one envelope)."""
    msg = signing_bytes(envelope["statement"])
    have = {s["key"] for s in envelope["signatures"]}
    extra = [{"key": k.key_id, "sig": _b64(k.sign(msg))} for k in keys if k.key_id not in have]
    return {"statement": envelope["statement"], "signatures": [*envelope["signatures"], *extra]}


@dataclass(frozen=True)
class Envelope:
    """A well-formed envelope; ``signers`` are the keys whose signatures verified."""

    statement: dict[str, Any]
    signatures: tuple[tuple[str, bytes], ...]
    hash: str
    signers: frozenset[str]
    # JCS(to_json()) when known (parse_envelope computes it beside the signing bytes), so
    # the writer builds a record without canonicalising the envelope again; b"" if not.
    jcs: bytes = field(default=b"", compare=False, repr=False)

    @property
    def type(self) -> str:
        t: str = self.statement["type"]
        return t

    @property
    def body(self) -> dict[str, Any]:
        b: dict[str, Any] = self.statement["body"]
        return b

    @property
    def signer(self) -> str:
        s: str = self.statement["signer"]
        return s

    @property
    def created(self) -> datetime:
        return parse_time(self.statement["created"])

    def to_json(self) -> dict[str, Any]:
        """The envelope as it enters a record."""
        return {
            "statement": self.statement,
            "signatures": [{"key": k, "sig": _b64(s)} for k, s in self.signatures],
        }


def _check_shape(env: Any) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    if not isinstance(env, dict) or set(env) - {"statement", "signatures"}:
        raise InputError("an envelope is an object with exactly 'statement' and 'signatures'")
    st, sigs = env.get("statement"), env.get("signatures")
    if not isinstance(st, dict) or set(st) != STATEMENT_FIELDS:
        missing = STATEMENT_FIELDS - set(st) if isinstance(st, dict) else STATEMENT_FIELDS
        extra = set(st) - STATEMENT_FIELDS if isinstance(st, dict) else set()
        raise InputError(
            "statement must have exactly the fields "
            f"{sorted(STATEMENT_FIELDS)} (missing {sorted(missing)}, unexpected {sorted(extra)})"
        )
    if st["v"] != 1 or isinstance(st["v"], bool):
        raise InputError(f"unsupported statement version {st['v']!r}; this node speaks v 1")
    for name in ("community", "type", "signer", "nonce", "created"):
        if not isinstance(st[name], str) or not st[name]:
            raise InputError(f"statement field {name!r} must be a non-empty string")
    if not isinstance(st["body"], dict):
        raise InputError("statement body must be a JSON object")
    if not is_key_id(st["signer"]):
        raise InputError(f"statement signer {st['signer']!r} is not a key id (ed25519:...)")
    try:
        nonce = base64.b64decode(st["nonce"], validate=True)
    except binascii.Error as exc:
        raise InputError("statement nonce is not base64") from exc
    if len(nonce) != 16:
        raise InputError(f"statement nonce must be 16 bytes, got {len(nonce)}")
    parse_time(st["created"])
    if not isinstance(sigs, list) or not 1 <= len(sigs) <= MAX_SIGNATURES:
        raise InputError(f"an envelope needs 1 to {MAX_SIGNATURES} signatures")
    out: list[tuple[str, bytes]] = []
    for s in sigs:
        if not isinstance(s, dict) or set(s) != {"key", "sig"}:
            raise InputError("each signature is an object with exactly 'key' and 'sig'")
        if not is_key_id(s["key"]) or not isinstance(s["sig"], str):
            raise InputError(f"signature key {s.get('key')!r} is not a key id")
        try:
            raw = base64.b64decode(s["sig"], validate=True)
        except binascii.Error as exc:
            raise InputError(f"signature by {s['key']} is not base64") from exc
        if len(raw) != 64:
            raise InputError(f"signature by {s['key']} must be 64 bytes, got {len(raw)}")
        out.append((s["key"], raw))
    keys = [k for k, _ in out]
    if len(set(keys)) != len(keys):
        raise InputError("an envelope carries at most one signature per key")
    if st["signer"] not in keys:
        raise InputError("the statement's signer must sign its envelope")
    return st, out


def parse_envelope(env: Any) -> Envelope:
    """Check an envelope's shape and every signature; raise InputError or SignatureError.

    1. the envelope and statement have exactly the fields of docs/design.md, well typed;
    2. every signature is Ed25519 by its key over DOMAIN ‖ JCS(statement);
    3. the statement's ``signer`` is among the signers.
    """
    st, sigs = _check_shape(env)
    msg = signing_bytes(st)
    if _SIXTEEN_DIGITS.search(msg):  # such a float is written with 16 to 21 digits
        refuse_unreadable_floats(st)
    for key, sig in sigs:
        if not verify_signature(key, msg, sig):
            raise SignatureError(f"signature by {key} does not verify over this statement")
    statement = msg[len(DOMAIN) :]
    # JCS of {"signatures": [...], "statement": ...}: keys in that order, the statement's
    # bytes as signed; the signatures re-encoded as to_json() writes them.
    signatures = canonical_json([{"key": k, "sig": _b64(s)} for k, s in sigs])
    return Envelope(
        statement=st,
        signatures=tuple(sigs),
        hash=hashlib.sha256(statement).hexdigest(),
        signers=frozenset(k for k, _ in sigs),
        jcs=b'{"signatures":' + signatures + b',"statement":' + statement + b"}",
    )
