"""Assembling a ballot bundle (``civic-ledger/ballot-bundle@v1``) from plain values. Pure.

The node's ``GET /v1/ballots/{id}/bundle`` and the offline log bundle
(``audits/bundle.py``) both build a :class:`~voting.evidence.BallotBundle` here, so its
range, frontier and proofs are chosen one way. The caller hands over what it holds: the
checkpoint (and its size), and three readers over the tree at that size — entries, node
hashes and RFC 9162 consistency proofs — from a database or from tiles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ledger import merkle
from ledger.errors import NotFoundError
from voting.evidence import BallotBundle

__all__ = ["ballot_range", "build_ballot_bundle"]

EntriesReader = Callable[[int, int], Sequence[bytes]]
NodesReader = Callable[[Sequence[merkle.NodeId]], Sequence[bytes]]
ProofReader = Callable[[int, int], Sequence[bytes]]


def ballot_range(ballot: str, size: int, closed_at: int | None) -> tuple[int, int]:
    """The ballot's records ``[first, end)`` in a tree of ``size``: from its ``ballot.open``
    record (index = ballot id) to its close or cancel record ``closed_at``, or to the end.

    NotFoundError if the open record is not in the tree yet.
    """
    first = int(ballot)
    if not 0 <= first < size:
        raise NotFoundError(f"ballot {ballot} is not in the tree of size {size}")
    end = closed_at + 1 if closed_at is not None and closed_at < size else size
    return first, end


def build_ballot_bundle(
    ballot: str,
    origin: str,
    log_vkey: str,
    checkpoint: bytes,
    size: int,
    closed_at: int | None,
    entries: EntriesReader,
    nodes: NodesReader,
    consistency: ProofReader,
    proof_sizes: Iterable[int] = (),
    ballot_doc: dict[str, Any] | None = None,
    electorate: Sequence[str] | None = None,
) -> BallotBundle:
    """The ballot's records proven against ``checkpoint`` (of tree ``size``).

    ``entries(lo, hi)`` gives records [lo, hi); ``nodes(ids)`` the hashes of RFC 9162
    subtrees (level, index); ``consistency(m, n)`` the RFC 9162 §2.1.4 proof from m to n.
    The bundle carries the frontier of the tree of size ``first`` (its ``root_ranges``,
    voting.evidence's range proof step 1), the proof from the range's end and from each of
    ``proof_sizes`` (a receipt's checkpoint size) to ``size``, and the node's claims
    (``ballot_doc``, ``electorate``) if given.
    """
    first, end = ballot_range(ballot, size, closed_at)
    ids = merkle.root_ranges(first)
    frontier = tuple(nodes(ids))
    wanted = {end, *proof_sizes}
    proofs = {s: tuple(consistency(s, size)) for s in sorted(wanted) if 0 < s < size}
    return BallotBundle(
        ballot=ballot,
        origin=origin,
        log_vkey=log_vkey,
        checkpoint=checkpoint,
        first=first,
        entries=tuple(entries(first, end)),
        frontier=frontier,
        consistency=proofs,
        ballot_doc=ballot_doc,
        electorate=None if electorate is None else tuple(electorate),
    )
