"""Ballot reads under ``/v1/ballots``: ballots, votes, results, electorates and bundles.

Votes and ballot management are statements (``POST /v1/statements``); these routes only
read the node's state (``ctx.state()``) and log. Routes stay thin: the rules live in
:mod:`voting`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from ledger.errors import InputError, NotFoundError
from ledger.witness_policy import quorum_statement
from node import schemas as S
from node.context import NodeContext, get_ctx
from node.query import STRICT_QUERY
from voting.ballot_records import bundle_json
from voting.bundle import build_ballot_bundle
from voting.rules import BALLOT_ID, provisional_result

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["voting"])
Ctx = Annotated[NodeContext, Depends(get_ctx)]
# A ballot id is the index of its ballot.open record. The pattern is documented in the
# OpenAPI only: the route itself answers any other id with a 400 that says why.
Bid = Annotated[str, Path(json_schema_extra={"pattern": r"^(0|[1-9][0-9]{0,15})$"})]
MAX_LIMIT = 1000
MAX_PROOF_SIZES = 16


def _ballot(ctx: NodeContext, bid: str) -> dict[str, Any]:
    if not BALLOT_ID.match(bid):
        raise InputError(f"{bid!r} is not a ballot id (the index of its ballot.open record)")
    doc = ctx.state().peek("ballot", bid)
    if doc is None:
        raise NotFoundError(f"there is no ballot {bid}")
    out: dict[str, Any] = doc
    return out


def _summary(doc: dict[str, Any]) -> dict[str, Any]:
    result = doc["result"]
    return {
        "id": doc["id"],
        "kind": doc["kind"],
        "title": doc["title"],
        "status": doc["status"],
        "opens": doc["opens"],
        "closes": doc["closes"],
        "electorate_size": doc["electorate_size"],
        "turnout": doc["turnout"],
        "votes_cast": doc["votes_cast"],
        "passed": None if result is None else result["passed"],
    }


@router.get(
    "/ballots", dependencies=[STRICT_QUERY], response_model=S.Ballots, responses=S.problems(422)
)
def ballots(
    ctx: Ctx,
    status: Annotated[str | None, Query(pattern="^(open|closed|cancelled)$")] = None,
) -> dict[str, Any]:
    """Every ballot (newest first), optionally only those with ``status``."""
    docs = list(ctx.state().rows("ballot").values())
    rows = [_summary(d) for d in docs if status is None or d["status"] == status]
    rows.sort(key=lambda r: -int(r["id"]))
    return {"ballots": rows, "total": len(rows)}


@router.get("/ballots/{bid}", response_model=S.Open, responses=S.problems(400, 404))
def ballot(bid: Bid, ctx: Ctx) -> dict[str, Any]:
    """One ballot: texts, options, times, electorate hash and size, status and result."""
    return _ballot(ctx, bid)


@router.get(
    "/ballots/{bid}/votes",
    dependencies=[STRICT_QUERY],
    response_model=S.Votes,
    responses=S.problems(400, 404, 422),
)
def votes(
    bid: Bid,
    ctx: Ctx,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 100,
    key: str | None = None,
) -> dict[str, Any]:
    """The counted (last) vote of each resident, by record index: key, signer, choice.

    On an open ballot every vote is public in the log anyway. On a secret ballot ``choice``
    is null and ``tracker`` is the Belenios smart ballot tracker. ``key`` picks one
    electorate key.
    """
    _ballot(ctx, bid)
    st = ctx.state()
    keys: list[str] = st.peek("electorate", bid, [])
    if key is not None:
        keys = [key] if key in keys else []
    found = [v for k in keys if (v := st.peek("vote", f"{bid}/{k}")) is not None]
    found.sort(key=lambda v: v["index"])
    page = found[offset : offset + limit]
    return {
        "ballot": bid,
        "total": len(found),
        "offset": offset,
        "limit": limit,
        "votes": [
            {
                "key": v["key"],
                "signer": v["signer"],
                "index": v["index"],
                "choice": v["choice"],
                "tracker": v.get("tracker"),
                "time": v["time"],
                "n": v["n"],
            }
            for v in page
        ],
    }


@router.get("/ballots/{bid}/result", response_model=S.BallotResult, responses=S.problems(400, 404))
def result(bid: Bid, ctx: Ctx) -> dict[str, Any]:
    """The recorded result of a closed ballot; the running tally of an open one."""
    doc = _ballot(ctx, bid)
    provisional = provisional_result(ctx.state(), bid)
    return {
        "ballot": bid,
        "status": doc["status"],
        "closes": doc["closes"],
        "closed_at": doc["closed_at"],
        "electorate_hash": doc["electorate_hash"],
        "result": doc["result"],
        "provisional": provisional,
    }


@router.get(
    "/ballots/{bid}/electorate", response_model=S.Electorate, responses=S.problems(400, 404)
)
def electorate(bid: Bid, ctx: Ctx) -> dict[str, Any]:
    """The electorate snapshot: sorted key ids, whose SHA-256 of JCS is the ballot's hash."""
    doc = _ballot(ctx, bid)
    keys = ctx.state().peek("electorate", bid, [])
    return {
        "ballot": bid,
        "electorate_hash": doc["electorate_hash"],
        "size": len(keys),
        "keys": keys,
    }


@router.get(
    "/ballots/{bid}/bundle",
    response_model=S.BallotBundle,
    responses=S.problems(400, 404, 422),
)
def bundle(
    bid: Bid,
    ctx: Ctx,
    consistency_from: Annotated[list[int] | None, Query()] = None,
    witnessed: bool = False,
) -> dict[str, Any]:
    """A ``civic-ledger/ballot-bundle@v1``: the ballot's records proven against the current
    checkpoint (with ``witnessed=true``: the newest one with the witness quorum), with
    consistency proofs from each ``consistency_from`` size (see :mod:`voting.ballot_records`).
    ``witness_quorum`` says whether that checkpoint carries the quorum."""
    doc = _ballot(ctx, bid)
    log = ctx.log
    note = log.witnessed_checkpoint() if witnessed else log.checkpoint()
    if note is None:
        raise NotFoundError("no checkpoint has reached the witness quorum yet; retry")
    cp, _ = log.open_own(note)
    which = "newest witnessed" if witnessed else "current"
    if int(bid) >= cp.size:
        raise NotFoundError(f"ballot {bid} is not in the {which} checkpoint yet; retry")
    sizes = sorted(set(consistency_from or []))
    if len(sizes) > MAX_PROOF_SIZES:
        raise InputError(f"ask for at most {MAX_PROOF_SIZES} consistency proofs at once")
    for s in sizes:
        if s < 1:
            raise InputError("consistency_from sizes start at 1")
        if s > cp.size:
            raise InputError(f"consistency_from {s} is beyond the current tree size {cp.size}")

    b = build_ballot_bundle(
        bid,
        cp.origin,
        log.verifier.vkey(),
        note,
        cp.size,
        doc["closed_at"],
        entries=log.entries,
        nodes=log.tree_nodes,
        consistency=ctx.proofs().consistency,
        proof_sizes=sizes,
        ballot_doc=doc,
        electorate=ctx.state().peek("electorate", bid, []),
        witness_quorum=quorum_statement(note, ctx.policy()),
    )
    return bundle_json(b)
