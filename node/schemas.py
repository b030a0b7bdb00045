"""Request and response models of the node's HTTP API, and the problem+json answers.

Pydantic lives here, at the HTTP edge only: the domain packages hand the routes plain
values, and these models say in the OpenAPI what each route takes and gives. Models of
views built by the domain (``funds.views``, ``ledger.community``, ``voting``) declare the
members a client relies on and allow the rest (``extra="allow"``), so that a new member
in a view never turns into a 500 here.

:func:`problems` builds a route's ``responses=`` argument: every status it really
returns, each with the one RFC 9457 :class:`Problem` schema under
``application/problem+json``. A route that lists 422 there no longer gets FastAPI's own
validation schema: the 422 it really sends is a problem (node.problems).
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, ConfigDict, Field

from ledger.statements import MAX_SIGNATURES
from node.problems import PROBLEM, PROBLEM_TYPES, problem_type

__all__ = [
    "DOCUMENT_BODY",
    "NOTE",
    "Problem",
    "bytes_response",
    "install_openapi",
    "problem_page",
    "problems",
    "text_response",
]

NOTE = "text/plain; charset=utf-8"


class Problem(BaseModel):
    """RFC 9457 problem details, as every error of the node is answered."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(
        description="URI reference of the problem type: /problems/<name>, served by the node",
        examples=["/problems/not-found"],
    )
    title: str = Field(description="Short summary of the problem type")
    status: int = Field(ge=400, le=599, description="The HTTP status code")
    detail: str = Field(description="What went wrong with this request")


_DEFAULT = {
    400: "malformed request",
    401: "a signature does not verify",
    403: "not allowed: the signer lacks the role, or a signed request is missing",
    404: "not held by this node",
    405: "this node's role does not serve this",
    409: "a rule is broken",
    413: "too large",
    422: "a parameter or body outside its schema or limits",
    431: "request head too large",
    503: "unavailable now",
}


def problems(*codes: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status code with the problem+json schema.

    ``described`` gives a status its own description (``_404="no such ballot"``).
    """
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        text = described.get(f"_{code}", _DEFAULT.get(code, "error"))
        out[code] = {
            "description": text,
            "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
    return out


def text_response(description: str) -> dict[str, Any]:
    """A 200 answer of text (a signed note, a policy): its OpenAPI description."""
    return {"description": description, "content": {NOTE: {"schema": {"type": "string"}}}}


def bytes_response(description: str, media: str = "application/octet-stream") -> dict[str, Any]:
    """A 200 answer of raw bytes: its OpenAPI description."""
    return {
        "description": description,
        "content": {media: {"schema": {"type": "string", "format": "binary"}}},
    }


# POST /v1/documents: the body is the document itself, stored as given; its Content-Type
# is the media type recorded (lowercase type/subtype, no parameters; default
# application/octet-stream). Invoices and receipts are mostly PDFs and images.
DOCUMENT_BODY: dict[str, Any] = {
    "required": True,
    "description": "The document's bytes, as given; Content-Type is its media type. "
    "Signed by a committee member or an active resident (Authorization: Civic …).",
    "content": {
        media: {"schema": {"type": "string", "format": "binary", "minLength": 1}}
        for media in (
            "application/pdf",
            "image/png",
            "image/jpeg",
            "text/plain",
            "text/csv",
            "application/json",
            "application/octet-stream",
        )
    },
}


class Open(BaseModel):
    """A view built by a domain package: the members listed, and possibly more."""

    model_config = ConfigDict(extra="allow")


# --- operations ----------------------------------------------------------------------------


class Health(Open):
    ok: bool
    origin: str
    role: str
    size: int = Field(ge=0)
    reasons: list[str] | None = None
    evidence: str | None = None


# --- statements ----------------------------------------------------------------------------


class Signature(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: str = Field(pattern="^ed25519:", description="Signer key id (ed25519:…)")
    sig: str = Field(
        pattern="^[A-Za-z0-9+/]{86}==$",
        description="Ed25519 signature over the statement's JCS, base64 (64 bytes)",
    )


class Statement(BaseModel):
    """What is signed (docs/design.md, Statements): exactly these fields."""

    model_config = ConfigDict(extra="forbid")

    v: Literal[1]
    community: str = Field(min_length=1, description="The community's genesis hash")
    type: str = Field(min_length=1, description="A statement type the rule set knows")
    signer: str = Field(pattern="^ed25519:", description="Key id of the main signer")
    nonce: str = Field(pattern="^[A-Za-z0-9+/]{22}==$", description="16 random bytes, base64")
    created: str = Field(min_length=1, description="RFC 3339 time, within the window")
    body: dict[str, Any] = Field(description="The type's fields")


class Opening(BaseModel):
    """The private opening of a commitment: kept by the node, never logged."""

    model_config = ConfigDict(extra="forbid")

    value: str
    salt: str = Field(description="base64, at least 16 random bytes")


class Envelope(BaseModel):
    """A signed statement and its signatures (the signer's among them); ``private``
    carries the opening of the statement's commitment, kept by the node off the log."""

    model_config = ConfigDict(extra="forbid")

    statement: Statement
    signatures: list[Signature] = Field(min_length=1, max_length=MAX_SIGNATURES)
    private: Opening | None = None


class InclusionProof(BaseModel):
    leaf_index: int = Field(ge=0)
    tree_size: int = Field(ge=1)
    hashes: list[str]


class Receipt(BaseModel):
    """201: the statement is durable and in the checkpoint given."""

    index: int = Field(ge=0)
    leaf_hash: str
    checkpoint: str = Field(description="C2SP signed note, issued at commit")
    cosignatures: int = Field(ge=0)
    cosigned_checkpoint: str = Field(description="where the cosigned note of this size is")
    inclusion_proof: InclusionProof


class ItemResult(Open):
    """One answer of a batch: a receipt with ``status`` 201, or a problem."""

    status: int


class BatchResults(BaseModel):
    results: list[ItemResult]


# --- records and proofs --------------------------------------------------------------------


class ConsistencyProof(BaseModel):
    first: int = Field(ge=0)
    second: int = Field(ge=0)
    hashes: list[str]


# --- community -----------------------------------------------------------------------------


class Community(Open):
    origin: str
    log_vkey: str
    genesis_hash: str
    committee: list[str]
    checkpoint: str
    statement_types: list[str]


class Members(Open):
    members: list[dict[str, Any]]
    committee: list[str]


class Member(BaseModel):
    key: str
    resident: dict[str, Any] | None
    committee: bool


class Openings(Open):
    openings: list[dict[str, str]]


class Erased(Open):
    erased: int = Field(ge=1)
    by: str


# --- voting --------------------------------------------------------------------------------


class Ballots(BaseModel):
    ballots: list[dict[str, Any]]
    total: int = Field(ge=0)


class Votes(Open):
    ballot: str
    total: int = Field(ge=0)
    offset: int = Field(ge=0)
    limit: int = Field(ge=1)
    votes: list[dict[str, Any]]


class BallotResult(Open):
    ballot: str
    status: str
    result: dict[str, Any] | None
    provisional: dict[str, Any] | None


class Electorate(Open):
    ballot: str
    electorate_hash: str
    size: int = Field(ge=0)
    keys: list[str]


class BallotBundle(Open):
    format: str
    origin: str
    log_vkey: str
    ballot: str
    checkpoint: str
    entries: list[str]


# --- funds ---------------------------------------------------------------------------------


class PayeeLabel(BaseModel):
    label: str | None


class DocumentStored(Open):
    sha256: str
    size: int = Field(ge=1)
    media_type: str
    uploaded_by: str
    uploaded_at: str
    published: bool


# --- witnessing and gossip -----------------------------------------------------------------


class Peers(BaseModel):
    peers: list[dict[str, Any]]
    interval: float | None


class EvidenceList(BaseModel):
    count: int = Field(ge=0)
    evidence: list[dict[str, Any]]


class Witnesses(Open):
    role: str
    witnesses: list[dict[str, Any]] | None = None
    witness: dict[str, Any] | None = None


# --- problem types -------------------------------------------------------------------------


def problem_page(name: str) -> str | None:
    """The text page of problem type ``name`` (``/problems/<name>``), None if unknown."""
    for status, (slug, text) in sorted(PROBLEM_TYPES.items()):
        if slug == name:
            return f"{problem_type(status)}\nHTTP {status}\n\n{text}\n"
    return None


# --- the OpenAPI document --------------------------------------------------------------------

_VALIDATION = "#/components/schemas/HTTPValidationError"
_PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}


def install_openapi(app: FastAPI) -> None:
    """Serve an OpenAPI whose errors are all problem+json and whose statement body is typed.

    FastAPI documents a 422 with its own validation schema on every route with parameters
    that does not list 422; the node never answers that shape (node.problems turns it into
    a problem), so any such 422 left is rewritten here, and the unused schemas dropped.
    """

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
            tags=app.openapi_tags,
        )
        schemas = spec.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, Envelope):
            got = model.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas.update(got.pop("$defs", {}))
            schemas[model.__name__] = got
        for item in spec.get("paths", {}).values():
            for op in item.values():
                answer = op.get("responses", {}).get("422")
                if answer is not None and _VALIDATION in str(answer):
                    op["responses"]["422"] = {
                        "description": _DEFAULT[422],
                        "content": {PROBLEM: {"schema": _PROBLEM_REF}},
                    }
        schemas.pop("HTTPValidationError", None)
        schemas.pop("ValidationError", None)
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]
