"""Gathering, from live nodes, what the vote-receipt verifier needs. The verifier decides.

:func:`voting.receipts.verify_receipt` takes plain values; this module fetches them:
the ballot's bundle from the first node (with the consistency proofs a receipt needs), every
other node's current checkpoint and the proofs between them (steps 5-6), record 0 — whose
witness policy step 10 applies — and each node's newest, cosigned checkpoint.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass

from client.http import NodeClient
from ledger.c2sp.checkpoint import read_checkpoint
from voting.evidence import BallotBundle, LogView, parse_bundle

__all__ = ["ReceiptInputs", "fetch_ballot_bundle", "gather_receipt_inputs"]


@dataclass(frozen=True)
class ReceiptInputs:
    """What :func:`voting.receipts.verify_receipt` takes besides the receipt and log key."""

    views: tuple[LogView, ...]
    bundle: BallotBundle | None
    bundle_source: str
    genesis: bytes
    witnessed: tuple[LogView, ...]


def fetch_ballot_bundle(
    c: NodeClient, ballot: str, sizes: Sequence[int] | None = None
) -> BallotBundle:
    """GET the ballot bundle, with consistency proofs from each of ``sizes`` (0 is dropped)."""
    wanted = sorted({s for s in sizes or [] if s > 0})
    value = c.get_json(f"/v1/ballots/{ballot}/bundle", consistency_from=wanted or None)
    return parse_bundle(json.dumps(value))


def _size_of(note: bytes) -> int:
    return read_checkpoint(note).size


def _views(
    clients: Sequence[NodeClient], ballot: str, receipt_size: int
) -> tuple[list[LogView], BallotBundle]:
    """The first node's bundle, every other node's checkpoint, and the proofs between them."""
    bundle = fetch_ballot_bundle(clients[0], ballot, [receipt_size])
    notes = [bundle.checkpoint] + [c.checkpoint() for c in clients[1:]]
    sizes = [_size_of(n) for n in notes]
    views = []
    for j, (c, note) in enumerate(zip(clients, notes, strict=True)):
        # RFC 9162 §2.1.4: from the receipt's size and from every smaller node's size.
        want = {receipt_size, *(s for s in sizes if s < sizes[j])} - {0}
        have = dict(bundle.consistency) if j == 0 else {}
        for s in want:
            if s < sizes[j] and s not in have:
                got = c.consistency_proof(s, sizes[j])
                have[s] = tuple(bytes.fromhex(h) for h in got["hashes"])
        if j:
            views.append(LogView(c.url, note, have))
        else:
            bundle = dataclasses.replace(bundle, consistency=have)
    return views, bundle


def gather_receipt_inputs(
    nodes: Sequence[str], ballot: str | None, receipt_size: int
) -> ReceiptInputs:
    """Fetch a receipt's inputs from ``nodes`` (URLs; the first serves the ballot bundle).

    With ``ballot`` None (a receipt too broken to name its ballot) only the witness
    inputs are fetched. NetworkError, or the CivicError of a problem answer, on failure.
    """
    clients = [NodeClient(u) for u in nodes]
    try:
        views: list[LogView] = []
        bundle: BallotBundle | None = None
        if ballot:
            views, bundle = _views(clients, ballot, receipt_size)
        genesis = base64.b64decode(clients[0].record(0)["entry"])
        witnessed = tuple(LogView(c.url, c.checkpoint()) for c in clients)
        return ReceiptInputs(tuple(views), bundle, clients[0].url, genesis, witnessed)
    finally:
        for c in clients:
            c.close()
