"""``POST /v1/statements``: the committee's and residents' single write path."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from ledger.canonical import parse_json
from ledger.errors import CivicError, InputError, TooLargeError
from node import schemas as S
from node.context import NodeContext, get_ctx
from node.ingest import FrontEndUnavailable
from node.integrity import write_refusal
from node.metrics import observe_answers
from node.problems import problem, problem_type
from node.sequencer import MAX_BATCH, Accepted

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["statements"])
Ctx = Annotated[NodeContext, Depends(get_ctx)]


def _problem_body(exc: CivicError) -> dict[str, Any]:
    # For a submitted statement, bad input means the node cannot interpret it: malformed
    # fields, an unknown type, a bad private part. RFC 9110 calls that unprocessable.
    if type(exc) is InputError:
        return {
            "type": problem_type(422),
            "title": "Unprocessable statement",
            "status": 422,
            "detail": exc.message,
        }
    return {
        "type": problem_type(exc.status),
        "title": exc.title,
        "status": exc.status,
        "detail": exc.message,
    }


def accepted_body(a: Accepted) -> dict[str, Any]:
    """The 201 body: index, leaf hash, the checkpoint and an inclusion proof in it."""
    return {
        "index": a.index,
        "leaf_hash": a.leaf_hash,
        "checkpoint": a.checkpoint.decode(),
        # Issued at commit, before any witness saw it; the cosigned note of the same size
        # is served at /v1/checkpoints/<size> once the witnesses have answered.
        "cosignatures": 0,
        "cosigned_checkpoint": f"/v1/checkpoints/{a.size}",
        "inclusion_proof": {
            "leaf_index": a.index,
            "tree_size": a.size,
            "hashes": [h.hex() for h in a.inclusion_proof],
        },
    }


@router.post(
    "/statements",
    status_code=201,
    response_model=S.Receipt,
    responses={
        200: {"description": "an array, answered item by item", "model": S.BatchResults},
        201: {"description": "accepted, durable and in a checkpoint"},
        **S.problems(
            400,
            401,
            403,
            404,
            405,
            409,
            413,
            422,
            503,
            _400="a proof or a field fails verification",
            _403="the signer lacks the role",
            _404="the statement refers to something not in the log",
            _405="this node is not the sequencer",
            _409="a rule is broken (replay, stale, conflict)",
            _413=f"body too large, or an array of more than {MAX_BATCH} envelopes",
            _422="malformed JSON, JSON over the limits, or an unknown statement type",
            _503="the sequencer holds evidence against its own log, or was rolled back: "
            "halted; or it is a standby (or fenced) sequencer, and the problem names the writer",
        ),
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "description": "One signed envelope, or an array of 1 to "
                        f"{MAX_BATCH} envelopes answered item by item",
                        "anyOf": [
                            {"$ref": "#/components/schemas/Envelope"},
                            {
                                "type": "array",
                                "items": {"$ref": "#/components/schemas/Envelope"},
                                "minItems": 1,
                                "maxItems": MAX_BATCH,
                            },
                        ],
                    }
                }
            },
        }
    },
)
async def submit(request: Request, ctx: Ctx) -> JSONResponse:
    """Submit one signed envelope, or an array answered item by item (200 with ``results``)."""

    data = await request.body()
    standby = ctx.services.get("standby")  # node/standby.py: 503 naming the writer
    refused: JSONResponse | None = None if standby is None else standby.refusal()
    if refused is not None:
        return refused
    seq = ctx.services.get("sequencer")
    if seq is None:
        try:
            parse_json(data)
        except InputError as exc:
            return problem(422, "Malformed JSON", exc.message)
        return problem(
            405,
            "Not a sequencer",
            "this node does not accept statements; send them to the sequencer",
        )
    # Parsing and signature checks run in the front end's worker processes; only
    # verified envelopes reach the single writer (node/ingest.py).
    try:
        body = await seq.front.check(data, MAX_BATCH)
    except FrontEndUnavailable as exc:
        return problem(exc.status, exc.title, exc.message)
    except InputError as exc:
        return problem(422, "Malformed JSON", exc.message)
    halted = write_refusal(ctx.evidence())
    if halted is not None:
        return halted
    single = body.single
    if not body.items:
        big = TooLargeError(f"an array holds 1 to {MAX_BATCH} envelopes, got {body.count}")
        return problem(big.status, big.title, big.message)
    results = await seq.submit_checked_async(body.items)
    answers: list[dict[str, Any]] = [
        {"status": 201, **accepted_body(r)} if isinstance(r, Accepted) else _problem_body(r)
        for r in results
    ]
    observe_answers(ctx, answers)
    if single:
        a = answers[0]
        if a["status"] != 201:
            return problem(a["status"], a["title"], a["detail"])
        a.pop("status")
        return JSONResponse(a, status_code=201)
    return JSONResponse({"results": answers}, status_code=200)
