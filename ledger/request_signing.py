"""Signed committee requests as RFC 9421 HTTP Message Signatures. Pure: both sides build here.

A few node endpoints (private reads, document uploads, erasures, the payee look-up) take a
request signed with a committee (or resident) key. The request carries three headers:

- ``Content-Digest: sha-256=:<base64>:`` (RFC 9530 §2), the SHA-256 of the body as sent
  (of no bytes for a request without a body);
- ``Signature-Input: civic=("@method" "@authority" "@path" "@query" "content-digest");
  created=…;expires=…;nonce="…";keyid="ed25519:…";alg="ed25519";tag="civic-ledger/request/v1"``
  (RFC 9421 §4.1);
- ``Signature: civic=:<base64 Ed25519 signature>:`` (RFC 9421 §4.2) over the signature base
  of :func:`signature_base` (RFC 9421 §2.5, with ``alg="ed25519"`` per §3.3.6).

The client (:mod:`client.signing`) signs and the node (``node/auth.py``) verifies with the
functions here, so the canonicalisation is written once. Only the subset of RFC 8941
structured fields these headers need is parsed (dictionaries, inner lists, parameters,
integers, strings, tokens, byte sequences, booleans); anything else is an InputError.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ledger.errors import InputError, SignatureError

__all__ = [
    "FUTURE_SKEW_SECONDS",
    "LABEL",
    "MAX_AGE_SECONDS",
    "REQUIRED_COMPONENTS",
    "TAG",
    "SignatureParams",
    "Token",
    "component_values",
    "content_digest",
    "format_signature_headers",
    "parse_content_digest",
    "parse_dictionary",
    "parse_signature_headers",
    "signature_base",
]

# The label of our member in Signature-Input / Signature (RFC 9421 §4.1: any key works).
LABEL = "civic"
# RFC 9421 §2.3 ``tag``: names the application, so a signature this key made for another
# protocol that also speaks RFC 9421 is never taken for a civic-ledger request.
TAG = "civic-ledger/request/v1"
# What every signed request must cover (RFC 9421 §7.2.1: the target and the body), plus
# ``content-type`` whenever the request has one (a document's media type is stored).
REQUIRED_COMPONENTS = ("@method", "@authority", "@path", "@query", "content-digest")
# ``created`` may be this old (RFC 9421 §7.2.4, replay): the nonce is remembered this long.
MAX_AGE_SECONDS = 60
# ``created`` may be this far in the future (clock skew between client and node).
FUTURE_SKEW_SECONDS = 5

_KEY = re.compile(r"[a-z*][a-z0-9_\-.*]*")
_TOKEN = re.compile(r"[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*")
_INT = re.compile(r"-?[0-9]{1,15}")
_B64 = re.compile(r"[A-Za-z0-9+/=]*")
_MAX_FIELD = 8192


class Token(str):
    """An RFC 8941 §3.3.4 token (kept apart from strings, which serialise with quotes)."""


BareItem = int | str | bytes | bool
Params = tuple[tuple[str, BareItem], ...]


@dataclass(frozen=True)
class Member:
    """One dictionary member: an item or an inner list, with its parameters."""

    value: BareItem | tuple[tuple[BareItem, Params], ...]
    params: Params


# --- RFC 8941 parsing (the subset above) --------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def fail(self, what: str) -> InputError:
        return InputError(f"malformed structured field at {self.i}: {what}")

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def skip_sp(self) -> None:
        while self.peek() == " ":
            self.i += 1

    def skip_ows(self) -> None:
        while self.peek() in (" ", "\t") and self.peek():
            self.i += 1

    def key(self) -> str:
        m = _KEY.match(self.s, self.i)
        if m is None:
            raise self.fail("expected a key")
        self.i = m.end()
        return m.group()

    def bare_item(self) -> BareItem:  # RFC 8941 §4.2.3.1
        c = self.peek()
        if c == '"':
            return self.string()
        if c == ":":
            end = self.s.find(":", self.i + 1)
            if end < 0 or not _B64.fullmatch(self.s, self.i + 1, end):
                raise self.fail("bad byte sequence")
            raw = self.s[self.i + 1 : end]
            self.i = end + 1
            try:
                return base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise self.fail("bad base64 in byte sequence") from exc
        if c == "?":
            if self.s[self.i + 1 : self.i + 2] not in ("0", "1"):
                raise self.fail("bad boolean")
            self.i += 2
            return self.s[self.i - 1] == "1"
        if c == "-" or c.isdigit():
            m = _INT.match(self.s, self.i)
            if m is None or self.s[m.end() : m.end() + 1] in (".", *"0123456789"):
                raise self.fail("only integers of up to 15 digits are accepted")
            self.i = m.end()
            return int(m.group())
        m = _TOKEN.match(self.s, self.i)
        if m is None:
            raise self.fail("expected an item")
        self.i = m.end()
        return Token(m.group())

    def string(self) -> str:  # RFC 8941 §4.2.5
        self.i += 1
        out: list[str] = []
        while self.i < len(self.s):
            c = self.s[self.i]
            self.i += 1
            if c == "\\":
                nxt = self.peek()
                if nxt not in ('"', "\\"):
                    raise self.fail("bad escape in string")
                out.append(nxt)
                self.i += 1
            elif c == '"':
                return "".join(out)
            elif not " " <= c <= "~":
                raise self.fail("non-printable character in string")
            else:
                out.append(c)
        raise self.fail("unterminated string")

    def params(self) -> Params:  # RFC 8941 §4.2.3.2
        out: list[tuple[str, BareItem]] = []
        while self.peek() == ";":
            self.i += 1
            self.skip_sp()
            name = self.key()
            value: BareItem = True
            if self.peek() == "=":
                self.i += 1
                value = self.bare_item()
            if any(n == name for n, _ in out):
                raise self.fail(f"parameter {name!r} given twice")
            out.append((name, value))
        return tuple(out)

    def member_value(self) -> Member:
        if self.peek() == "(":  # RFC 8941 §4.2.1.2 inner list
            self.i += 1
            items: list[tuple[BareItem, Params]] = []
            while True:
                self.skip_sp()
                if self.peek() == ")":
                    self.i += 1
                    break
                item = self.bare_item()
                items.append((item, self.params()))
                if self.peek() not in (" ", ")"):
                    raise self.fail("expected a space or ')' in an inner list")
            return Member(tuple(items), self.params())
        return Member(self.bare_item(), self.params())


def parse_dictionary(text: str) -> dict[str, Member]:
    """Parse an RFC 8941 §4.2.2 dictionary header value; InputError if it is not one."""
    if len(text) > _MAX_FIELD:
        raise InputError(f"structured header field longer than {_MAX_FIELD} characters")
    p = _Parser(text)
    p.skip_sp()
    out: dict[str, Member] = {}
    while p.i < len(p.s):
        name = p.key()
        if p.peek() == "=":
            p.i += 1
            out[name] = p.member_value()
        else:
            out[name] = Member(True, p.params())
        p.skip_ows()
        if p.i >= len(p.s):
            break
        if p.peek() != ",":
            raise p.fail("expected ',' between members")
        p.i += 1
        p.skip_ows()
        if p.i >= len(p.s):
            raise p.fail("trailing ','")
    return out


# --- RFC 8941 serialising -----------------------------------------------------------------


def _ser_item(v: BareItem) -> str:
    if isinstance(v, bool):
        return "?1" if v else "?0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, bytes):
        return ":" + base64.b64encode(v).decode() + ":"
    if isinstance(v, Token):
        return str(v)
    return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _ser_params(params: Params) -> str:
    return "".join(f";{k}" if v is True else f";{k}={_ser_item(v)}" for k, v in params)


# --- signature parameters and base ------------------------------------------------------


@dataclass(frozen=True)
class SignatureParams:
    """One signature's covered components and parameters, in the order they were given.

    The order matters: the ``@signature-params`` line of the base is their serialisation
    (RFC 9421 §2.3), so a verifier re-serialises what it parsed without reordering.
    """

    components: tuple[str, ...]
    params: Params

    def get(self, name: str) -> BareItem | None:
        """The parameter ``name`` (``created``, ``keyid``, …), or None if absent."""
        return next((v for k, v in self.params if k == name), None)

    def serialize(self) -> str:
        """The inner list with parameters, as in ``Signature-Input`` and the base."""
        inner = " ".join(_ser_item(c) for c in self.components)
        return f"({inner}){_ser_params(self.params)}"


def signature_base(values: Sequence[tuple[str, str]], params: SignatureParams) -> bytes:
    """The RFC 9421 §2.5 signature base: one ``"name": value`` line per covered component,
    in order, then the ``"@signature-params"`` line, with no trailing newline."""
    if [n for n, _ in values] != list(params.components):
        raise InputError("component values do not match the covered components")
    lines = []
    for name, value in values:
        if "\n" in value or "\r" in value:  # RFC 9421 §2.5: a value never spans lines
            raise InputError(f"component {name!r} has a line break")
        lines.append(f"{_ser_item(name)}: {value}")
    lines.append(f'"@signature-params": {params.serialize()}')
    try:
        return "\n".join(lines).encode("ascii")
    except UnicodeEncodeError as exc:
        raise InputError("a covered component is not ASCII") from exc


def component_values(
    components: Sequence[str],
    method: str,
    authority: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
) -> list[tuple[str, str]]:
    """The value of each covered component (RFC 9421 §2.1 fields, §2.2 derived ones).

    ``authority`` is the Host as sent, ``path`` the raw (still percent-encoded) path and
    ``query`` the raw query string without ``?``; ``headers`` are looked up by lowercase
    name. A covered field the request lacks is a SignatureError (RFC 9421 §3.2 step 6).
    """
    out: list[tuple[str, str]] = []
    for name in components:
        if name == "@method":
            value = method  # §2.2.1: as sent, case-sensitive
        elif name == "@authority":
            value = authority.lower()  # §2.2.3
        elif name == "@path":
            value = path or "/"  # §2.2.6: an empty path is "/"
        elif name == "@query":
            value = "?" + query  # §2.2.7: "?" even when there is no query
        elif name.startswith("@"):
            raise SignatureError(f"covered component {name!r} is not supported here")
        elif name in headers:
            value = headers[name].strip(" \t")  # §2.1: leading and trailing space trimmed
        else:
            raise SignatureError(f"the request lacks the covered field {name!r}")
        out.append((name, value))
    return out


def content_digest(body: bytes) -> str:
    """The RFC 9530 §2 ``Content-Digest`` value of ``body`` with sha-256."""
    return "sha-256=" + _ser_item(hashlib.sha256(body).digest())


def parse_content_digest(value: str) -> bytes:
    """The sha-256 digest in a ``Content-Digest`` value (others are ignored, RFC 9530 §2)."""
    member = parse_dictionary(value).get("sha-256")
    if member is None or not isinstance(member.value, bytes) or len(member.value) != 32:
        raise SignatureError("Content-Digest must carry a 32-byte sha-256 digest")
    return member.value


def format_signature_headers(params: SignatureParams, signature: bytes) -> dict[str, str]:
    """The ``Signature-Input`` and ``Signature`` headers of one signature under LABEL."""
    return {
        "Signature-Input": f"{LABEL}={params.serialize()}",
        "Signature": f"{LABEL}={_ser_item(signature)}",
    }


def parse_signature_headers(
    signature_input: str, signature: str, tag: str | None = TAG
) -> tuple[SignatureParams, bytes]:
    """The one signature with ``tag`` in these headers (RFC 9421 §3.2 steps 1–3).

    With ``tag=None`` the headers must hold exactly one signature (for the RFC's examples).
    InputError if a header is not a structured dictionary, SignatureError if no usable
    signature is in it.
    """
    inputs = parse_dictionary(signature_input)
    sigs = parse_dictionary(signature)
    chosen: list[tuple[str, SignatureParams]] = []
    for label, m in inputs.items():
        if not isinstance(m.value, tuple):
            raise InputError(f"Signature-Input member {label!r} is not an inner list")
        names: list[str] = []
        for item, item_params in m.value:
            if not isinstance(item, str) or isinstance(item, Token) or item_params:
                raise SignatureError("covered components must be plain strings, no parameters")
            if item in names:
                raise SignatureError(f"component {item!r} is covered twice")
            names.append(item)
        sp = SignatureParams(tuple(names), m.params)
        if tag is None or sp.get("tag") == tag:
            chosen.append((label, sp))
    if tag is None and len(inputs) != 1:
        raise SignatureError("expected exactly one signature")
    if not chosen:
        raise SignatureError(f'no signature with tag="{tag}" in Signature-Input')
    if len(chosen) > 1:
        raise SignatureError(f'more than one signature with tag="{tag}"')
    label, sp = chosen[0]
    sig = sigs.get(label)
    if sig is None or not isinstance(sig.value, bytes):
        raise SignatureError(f"Signature has no byte sequence for label {label!r}")
    return sp, sig.value
