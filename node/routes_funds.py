"""HTTP routes of the funds layer: balances, budget against actual, expenses, transactions,
payees, and the document store.

Every figure is read from the state the sequencer keeps by replaying the log (see
:mod:`funds.views`); nothing here computes money on its own. Private data — openings of
private payees' commitments and private documents — is served only to signed requests
by committee keys (:mod:`node.auth`).
"""

from __future__ import annotations

import base64
import hashlib
import time
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from funds.ledger_math import check_invariants
from funds.model import funds_policy
from funds.views import (
    MAX_PAGE,
    accounts_view,
    budget_view,
    documents_view,
    expense_detail,
    expenses_view,
    payees_view,
    transactions_view,
    waiting_view,
)
from ledger.community import is_active_resident
from ledger.errors import ForbiddenError, InputError, NotFoundError, TooLargeError
from node import schemas as S
from node.auth import (
    authenticate,
    check_body,
    is_signed,
    nonces_of,
    request_body,
    verify_request,
)
from node.context import NodeContext, get_ctx
from node.documents import documents_of
from node.query import STRICT_QUERY

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["funds"])
Ctx = Annotated[NodeContext, Depends(get_ctx)]
ID = r"^(0|[1-9][0-9]{0,15})$"
LABEL = r"^p-[0-9a-f]{8,32}$"


Body = Annotated[bytes, Depends(request_body)]


def _committee_caller(request: Request, body: bytes, ctx: NodeContext, what: str) -> str:
    """The committee key that signed this request (RFC 9421, see :mod:`node.auth`)."""
    st = ctx.state()
    return authenticate(
        request,
        body,
        ctx,
        lambda key: key in st.rows("committee"),
        f"only committee members may {what}",
    )


# --- reads ------------------------------------------------------------------------------


@router.get(
    "/funds/accounts", dependencies=[STRICT_QUERY], response_model=S.Open, responses=S.problems(422)
)
def accounts(ctx: Ctx) -> dict[str, Any]:
    """Asset accounts with balances (integer minor units), nominal accounts, totals."""
    return accounts_view(ctx.state())


@router.get(
    "/funds/budget",
    dependencies=[STRICT_QUERY],
    response_model=S.Open,
    responses=S.problems(400, 422),
)
def budget(
    ctx: Ctx,
    period: Annotated[str | None, Query(pattern=r"^\d{4}(-Q[1-4]|-(0[1-9]|1[0-2]))?$")] = None,
) -> dict[str, Any]:
    """Budget against actual per line and period (a year includes its quarters and months)."""
    return budget_view(ctx.state(), period)


@router.get(
    "/funds/expenses",
    dependencies=[STRICT_QUERY],
    response_model=S.Open,
    responses=S.problems(400, 422),
)
def expenses(
    ctx: Ctx,
    status: Annotated[
        str | None,
        Query(pattern=r"^(requested|approved|paid|rejected|withdrawn|expired|reversed)$"),
    ] = None,
    category: str | None = None,
    period: str | None = None,
    payee: str | None = None,
) -> dict[str, Any]:
    """Expenses filtered by status, category, budget period and payee (name or label)."""
    return expenses_view(ctx.state(), status, category, period, payee)


@router.get("/funds/expenses/{expense_id}", response_model=S.Open, responses=S.problems(404, 422))
def expense(expense_id: Annotated[str, Path(pattern=ID)], ctx: Ctx) -> dict[str, Any]:
    """One expense and its whole history, each step with its record index and leaf hash."""
    return expense_detail(ctx.state(), expense_id)


@router.get(
    "/funds/next",
    dependencies=[STRICT_QUERY],
    response_model=S.Open,
    responses=S.problems(400, 404, 422),
)
def waiting(
    ctx: Ctx,
    key: Annotated[str | None, Query(max_length=200)] = None,
    expense: Annotated[str | None, Query(pattern=ID)] = None,
) -> dict[str, Any]:
    """Open expenses with who must act next (approve or pay), or why nobody can; with
    ``key``, only those waiting on that key."""
    return waiting_view(ctx.state(), key, expense)


@router.get(
    "/funds/transactions",
    dependencies=[STRICT_QUERY],
    response_model=S.Open,
    responses=S.problems(400, 422),
)
def transactions(
    ctx: Ctx,
    after: Annotated[int | None, Query(ge=-1, le=2**62)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 1000,
    account: str | None = None,
    kind: Annotated[str | None, Query(pattern=r"^(income|transfer|payment|reversal)$")] = None,
) -> dict[str, Any]:
    """Transactions in log order after record ``after``; follow ``next`` for the rest."""
    return transactions_view(ctx.state(), after, limit, account, kind)


@router.get(
    "/funds/documents",
    dependencies=[STRICT_QUERY],
    response_model=S.Open,
    responses=S.problems(422),
)
def documents(ctx: Ctx) -> dict[str, Any]:
    """Every document published in the log (hash, size, media type, public flag)."""
    return documents_view(ctx.state())


@router.get(
    "/funds/payees", dependencies=[STRICT_QUERY], response_model=S.Open, responses=S.problems(422)
)
def payees(ctx: Ctx) -> dict[str, Any]:
    """Payees by name (organisations) or pseudonymous label (private individuals)."""
    return payees_view(ctx.state())


@router.get("/funds/policy", response_model=S.Open)
def policy(ctx: Ctx) -> dict[str, Any]:
    """The funds policy in force, defaults filled in (see :mod:`funds.model`)."""
    p = funds_policy(ctx.state().peek("policy", "current"))
    return {
        "version": p.version,
        "currencies": list(p.currencies),
        "approval_bands": [{"up_to": b.up_to, "approvals": b.approvals} for b in p.bands],
        "ballot_threshold": p.ballot_threshold,
        "income_recorders": p.income_recorders,
        "transfer_signatures": p.transfer_signatures,
        "documents_required": sorted(p.documents_required),
        "requesters": p.requesters,
        "request_expiry_days": p.request_expiry_days,
        "treasurers": sorted(p.treasurers),
    }


@router.get("/funds/check", response_model=S.Open)
def check(ctx: Ctx) -> dict[str, Any]:
    """Recompute every balance and budget figure from the transactions and expenses."""
    st = ctx.state()
    problems = check_invariants(st)
    return {"ok": not problems, "problems": problems, "size": st.size}


# --- private payees ----------------------------------------------------------------------


class ResolveIn(BaseModel):
    name: str = Field(min_length=1, max_length=500)


@router.post(
    "/funds/payees/resolve",
    response_model=S.PayeeLabel,
    responses=S.problems(400, 401, 403, 413, 422),
)
def resolve_payee(body: ResolveIn, request: Request, raw: Body, ctx: Ctx) -> dict[str, Any]:
    """The label already used for this private payee, if any (signed committee request).

    Lets the committee keep one stable pseudonym per person: the name is compared with
    the openings this node holds; after an erasure the person gets a new label.
    """
    _committee_caller(request, raw, ctx, "look up private payees")
    return {"label": ctx.private().label_of("funds.expense.request", body.name)}


@router.get(
    "/funds/payees/{label}/private",
    response_model=S.Openings,
    responses=S.problems(400, 401, 403, 404, 422),
)
def read_payee(
    label: Annotated[str, Path(pattern=LABEL)], request: Request, body: Body, ctx: Ctx
) -> dict[str, Any]:
    """The openings (identity and salt) of a private payee's commitments (committee only)."""
    _committee_caller(request, body, ctx, "read private payee data")
    rows = [r for r in ctx.private().read(label) if r["kind"] == "funds.expense.request"]
    if not rows:
        raise NotFoundError(f"no private data is held for payee {label}")
    return {"label": label, "openings": rows}


@router.delete(
    "/funds/payees/{label}/private",
    response_model=S.Erased,
    responses=S.problems(400, 401, 403, 404, 422),
)
def erase_payee(
    label: Annotated[str, Path(pattern=LABEL)], request: Request, body: Body, ctx: Ctx
) -> dict[str, Any]:
    """Erase a private payee's identity; the log, its proofs and every total stay intact."""
    by = _committee_caller(request, body, ctx, "erase private payee data")
    n = ctx.private().erase(label)
    return {"label": label, "erased": n, "by": by}


# --- documents -------------------------------------------------------------------------------


@router.post(
    "/documents",
    status_code=201,
    response_model=S.DocumentStored,
    responses={
        201: {"description": "stored (or already held): its SHA-256, size and media type"},
        **S.problems(
            400,
            401,
            403,
            413,
            _400="empty, a malformed signed-request header, or a media type not allowed",
            _403="not signed by a committee member or an active resident",
            _413="larger than the node's document limit",
        ),
    },
    openapi_extra={"requestBody": S.DOCUMENT_BODY},
)
async def upload(request: Request, ctx: Ctx) -> dict[str, Any]:
    """Upload a document (raw body; Content-Type is its media type), signed by a committee
    member or an active resident. Publish its hash with ``funds.document.publish`` next."""
    import anyio

    # The signature and the key are checked before the body is read; the body against the
    # signed Content-Digest after (RFC 9530), and only then is the nonce spent.
    now = int(time.time())
    signed = verify_request(request, now)
    key = signed.key_id
    st = ctx.state()
    if key not in st.rows("committee") and not is_active_resident(st, key, datetime.now(UTC)):
        raise ForbiddenError("documents are uploaded by committee members or active residents")
    store = await anyio.to_thread.run_sync(documents_of, ctx)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > store.max_bytes:
        raise TooLargeError(f"documents are limited to {store.max_bytes} bytes")
    chunks: list[bytes] = []
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > store.max_bytes:
            raise TooLargeError(f"documents are limited to {store.max_bytes} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    check_body(signed, data)
    if not data:
        raise InputError("the document is empty")
    await anyio.to_thread.run_sync(nonces_of(ctx).consume, key, signed.nonce, signed.created, now)
    media = request.headers.get("content-type", "application/octet-stream").split(";")[0]
    info = await anyio.to_thread.run_sync(store.put, data, media.strip().lower(), key)
    published = st.peek("funds_document", info.sha256)
    return {**info.to_json(), "published": published is not None}


@router.get(
    "/documents/{sha256}",
    response_class=Response,
    responses={
        200: S.bytes_response("the document's bytes, in its published media type", "*/*"),
        **S.problems(
            400,
            401,
            403,
            404,
            _403="a private document: needs a signed committee request",
            _404="this node holds no such document",
        ),
    },
)
def download(
    sha256: Annotated[str, Path(json_schema_extra={"pattern": "^[0-9a-f]{64}$"})],
    request: Request,
    body: Body,
    ctx: Ctx,
) -> Response:
    """A document by its SHA-256. Public documents to anyone; private (or not yet
    published) ones only to a signed request by a committee member."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise InputError(f"{sha256!r} is not a SHA-256 in 64 lowercase hex digits")
    published = ctx.state().peek("funds_document", sha256)
    public = published is not None and published["public"] is True
    if not public:
        # Issue 10 item 9: an unsigned caller gets one answer whether the node holds a
        # private document of that hash or none, so existence does not leak; a signed
        # one is checked before the store is looked at, so its answer does not either.
        if not is_signed(request.headers):
            raise NotFoundError(
                f"no public document {sha256} here; private documents are served only "
                "to signed committee requests"
            )
        _committee_caller(request, body, ctx, "read private or unpublished documents")
    data, info = documents_of(ctx).read(sha256)
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return Response(
        content=data,
        media_type=published["media_type"] if published is not None else info.media_type,
        headers={
            # Served as a download, never rendered in the node's origin.
            "Content-Disposition": f'attachment; filename="{sha256}"',
            "X-Content-Type-Options": "nosniff",
            "Repr-Digest": f"sha-256=:{digest}:",  # RFC 9530
            "Cache-Control": "public, max-age=31536000, immutable"
            if public
            else "private, no-store",
        },
    )
