"""A ballot's records, proven against a checkpoint, and what they say. Pure, no I/O.

A ballot lives in one contiguous range of the log: from its ``ballot.open`` record (index =
ballot id) to its ``ballot.close`` (or ``ballot.cancel``) record, or to the end of the log
while it is open. Whoever holds that range and a signed checkpoint can recompute, without
trusting a node, every resident's last vote and the tally.

**Range proof.** The entries [first, end) are proven against a checkpoint of size N ≥ end by

1. the hashes of the perfect subtrees covering [0, first) — the RFC 9162 tree's
   ``root_ranges(first)``, the "frontier" of the tree of size first;
2. appending the entries' leaf hashes to that frontier, which yields MTH(D[0:end]);
3. an RFC 9162 §2.1.4 consistency proof from size end to size N against the checkpoint root
   (or equality when end = N). A wrong frontier hash or entry changes MTH(D[0:end]) and the
   proof fails.

**Ballot bundle** (``civic-ledger/ballot-bundle@v1``), the JSON that
``GET /v1/ballots/{id}/bundle`` returns and ``civic vote verify --bundle`` reads::

    {"format": "civic-ledger/ballot-bundle@v1",
     "origin": "<log origin>", "log_vkey": "<note verifier key, informational>",
     "ballot": "12",
     "checkpoint": "<signed checkpoint note, verbatim>",
     "first": 12,                                   # index of the ballot.open record
     "entries": ["<base64 record bytes>", ...],     # records [first, first + len)
     "frontier": ["<hex hash>", ...],               # root_ranges(first), left to right
     "consistency": {"<size>": ["<hex hash>", ...]},  # proofs from <size> to the checkpoint
     "ballot_doc": {...} | null,                    # the node's ballot document (claims)
     "electorate": ["<key id>", ...] | null}        # the node's electorate snapshot (claims)

``consistency`` always holds the proof from ``first + len(entries)`` (unless that is the
checkpoint's size) and, for receipt verification, from each receipt's checkpoint size.
The log key in the bundle is only a hint: verify against the key your community posted.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint
from ledger.canonical import canonical_json, parse_json
from ledger.errors import CivicError, InputError, ProofError, RuleViolation
from ledger.records import Record, parse_record
from ledger.statements import parse_envelope
from voting.spec import BallotSpec, check_choice, parse_open_body
from voting.tally import VoteEvent, describe_difference, electorate_hash, last_votes, tally

__all__ = [
    "BUNDLE_FORMAT",
    "BallotBundle",
    "BallotHistory",
    "BundleTally",
    "LogView",
    "bundle_json",
    "format_bundle",
    "parse_bundle",
    "scan_ballot",
    "tally_bundle",
    "verify_range",
]

BUNDLE_FORMAT = "civic-ledger/ballot-bundle@v1"
_MAX_CHAIN = 64


@dataclass(frozen=True)
class LogView:
    """One node's view of the log: its signed checkpoint and consistency proofs into it.

    ``consistency`` maps an older tree size to the RFC 9162 proof from that size to this
    checkpoint's size.
    """

    source: str
    checkpoint: bytes
    consistency: Mapping[int, tuple[bytes, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class BallotBundle:
    """A ballot's record range with its proof, and the node's claims about the ballot."""

    ballot: str
    origin: str
    log_vkey: str
    checkpoint: bytes
    first: int
    entries: tuple[bytes, ...]
    frontier: tuple[bytes, ...]
    consistency: Mapping[int, tuple[bytes, ...]]
    ballot_doc: dict[str, Any] | None = None
    electorate: tuple[str, ...] | None = None

    @property
    def end(self) -> int:
        """One past the last record of the range."""
        return self.first + len(self.entries)

    def view(self, source: str) -> LogView:
        """The bundle's checkpoint as a log view."""
        return LogView(source, self.checkpoint, self.consistency)


@dataclass(frozen=True)
class BallotHistory:
    """What a ballot's records say: its spec, every vote, and how it ended (if it did)."""

    ballot: str
    spec: BallotSpec
    open_body: dict[str, Any]
    votes: tuple[VoteEvent, ...]
    end: int
    close_index: int | None = None
    close_body: dict[str, Any] | None = None
    cancel_index: int | None = None

    @property
    def status(self) -> str:
        if self.close_index is not None:
            return "closed"
        return "cancelled" if self.cancel_index is not None else "open"

    def counted(self) -> dict[str, VoteEvent]:
        """Each voter's last vote."""
        return last_votes(self.votes)

    def recompute(self, electorate_size: int) -> dict[str, Any]:
        """The tally of the counted votes."""
        return tally(self.spec, [v.choice for v in self.counted().values()], electorate_size)


def _hex_hashes(v: Any, what: str) -> tuple[bytes, ...]:
    if not isinstance(v, list) or not all(isinstance(h, str) for h in v):
        raise InputError(f"{what} must be a list of hex hashes")
    try:
        out = tuple(bytes.fromhex(h) for h in v)
    except ValueError as exc:
        raise InputError(f"{what} holds a hash that is not hex") from exc
    if any(len(h) != merkle.HASH_SIZE for h in out):
        raise InputError(f"{what} holds a hash that is not {merkle.HASH_SIZE} bytes")
    return out


def parse_bundle(data: bytes | str) -> BallotBundle:
    """Parse a ``civic-ledger/ballot-bundle@v1`` JSON; InputError if malformed."""
    v = parse_json(data)
    if not isinstance(v, dict) or v.get("format") != BUNDLE_FORMAT:
        raise InputError(f"not a ballot bundle: the format must be {BUNDLE_FORMAT!r}")
    for name in ("ballot", "origin", "log_vkey", "checkpoint"):
        if not isinstance(v.get(name), str):
            raise InputError(f"ballot bundle: {name} must be a string")
    first = v.get("first")
    if not isinstance(first, int) or isinstance(first, bool) or first < 0:
        raise InputError("ballot bundle: first must be a record index")
    raw = v.get("entries")
    if not isinstance(raw, list) or not raw or not all(isinstance(e, str) for e in raw):
        raise InputError("ballot bundle: entries must be a non-empty list of base64 records")
    try:
        entries = tuple(base64.b64decode(e, validate=True) for e in raw)
    except binascii.Error as exc:
        raise InputError("ballot bundle: an entry is not base64") from exc
    cons = v.get("consistency", {})
    if not isinstance(cons, dict) or not all(k.isdigit() for k in cons):
        raise InputError("ballot bundle: consistency maps tree sizes to proofs")
    doc = v.get("ballot_doc")
    electorate = v.get("electorate")
    if doc is not None and not isinstance(doc, dict):
        raise InputError("ballot bundle: ballot_doc must be an object or null")
    if electorate is not None and (
        not isinstance(electorate, list) or not all(isinstance(k, str) for k in electorate)
    ):
        raise InputError("ballot bundle: electorate must be a list of key ids or null")
    return BallotBundle(
        ballot=v["ballot"],
        origin=v["origin"],
        log_vkey=v["log_vkey"],
        checkpoint=v["checkpoint"].encode("utf-8"),
        first=first,
        entries=entries,
        frontier=_hex_hashes(v.get("frontier"), "ballot bundle frontier"),
        consistency={
            int(k): _hex_hashes(p, f"ballot bundle consistency[{k}]") for k, p in cons.items()
        },
        ballot_doc=doc,
        electorate=tuple(electorate) if electorate is not None else None,
    )


def bundle_json(b: BallotBundle) -> dict[str, Any]:
    """The bundle as a JSON value (what the node serves)."""
    return {
        "format": BUNDLE_FORMAT,
        "origin": b.origin,
        "log_vkey": b.log_vkey,
        "ballot": b.ballot,
        "checkpoint": b.checkpoint.decode("utf-8"),
        "first": b.first,
        "entries": [base64.b64encode(e).decode() for e in b.entries],
        "frontier": [h.hex() for h in b.frontier],
        "consistency": {str(k): [h.hex() for h in p] for k, p in sorted(b.consistency.items())},
        "ballot_doc": b.ballot_doc,
        "electorate": list(b.electorate) if b.electorate is not None else None,
    }


def format_bundle(b: BallotBundle) -> bytes:
    """The bundle file's bytes (inverse of :func:`parse_bundle`)."""
    return (json.dumps(bundle_json(b), ensure_ascii=False, indent=1) + "\n").encode("utf-8")


def verify_range(
    first: int,
    entries: Sequence[bytes],
    frontier: Sequence[bytes],
    cp: Checkpoint,
    consistency: Mapping[int, Sequence[bytes]],
) -> list[Record]:
    """Prove records [first, first + len(entries)) against checkpoint ``cp``; parse them.

    ProofError if the range does not belong to the checkpoint's tree or the records do not
    chain; InputError if a record is malformed.
    """
    end = first + len(entries)
    if not entries:
        raise ProofError("the range holds no records")
    if end > cp.size:
        raise ProofError(f"records up to {end} cannot be in a checkpoint of size {cp.size}")
    # 1. the frontier of the tree of size first (RFC 9162 §2.1.1 perfect subtrees)
    try:
        tree = merkle.CompactRange(first, list(frontier))
    except InputError as exc:
        raise ProofError(f"range proof: {exc.message}") from exc
    # 2. append the leaves: MTH(D[0:end])
    leaves = []
    for e in entries:
        lh = merkle.leaf_hash(e)
        leaves.append(lh)
        tree.append(lh)
    root = tree.root()
    # 3. RFC 9162 §2.1.4.2: consistency from end to the checkpoint's size
    if end == cp.size:
        if root != cp.root_hash:
            raise ProofError(f"records [{first}, {end}) do not hash to the checkpoint's root")
    else:
        proof = consistency.get(end)
        if proof is None:
            raise ProofError(f"no consistency proof from size {end} to {cp.size} was given")
        try:
            merkle.verify_consistency(end, cp.size, list(proof), root, cp.root_hash)
        except ProofError as exc:
            raise ProofError(f"records [{first}, {end}) are not in the checkpoint: {exc}") from exc
    # 4. the records themselves: their index and prev link
    records = []
    for i, e in enumerate(entries):
        rec = parse_record(e)
        if rec.index != first + i:
            raise ProofError(f"entry {first + i} is a record with index {rec.index}")
        if i and rec.prev != leaves[i - 1].hex():
            raise ProofError(f"record {rec.index}: prev does not link to record {rec.index - 1}")
        records.append(rec)
    return records


def _statement(rec: Record) -> dict[str, Any]:
    env = rec.envelope
    st = env.get("statement") if isinstance(env, dict) else None
    return st if isinstance(st, dict) else {}


def _body_ballot(st: dict[str, Any]) -> Any:
    body = st.get("body")
    return body.get("ballot") if isinstance(body, dict) else None


def scan_ballot(ballot: str, records: Sequence[Record]) -> BallotHistory:
    """Read ballot ``ballot``'s history from its records, which start at its ``ballot.open``.

    Checks the signature of every statement it uses. A record the rules should have refused
    (a vote with an unknown option, say) is a RuleViolation: evidence against the sequencer.
    """
    if not records or str(records[0].index) != ballot:
        raise ProofError(f"ballot {ballot}'s records must start at record {ballot}")
    head = records[0]
    env = parse_envelope(head.envelope)
    if env.type != "ballot.open":
        raise ProofError(f"record {ballot} is a {env.type}, not a ballot.open")
    spec = parse_open_body(env.body).spec
    rotated: dict[str, str] = {}  # new key → old key, for rotations after the opening
    votes: list[VoteEvent] = []
    close_index = cancel_index = None
    close: dict[str, Any] | None = None
    end = head.index + 1
    for rec in records[1:]:
        end = rec.index + 1
        st = _statement(rec)
        kind = st.get("type")
        if kind not in ("vote.cast", "member.rotate", "ballot.close", "ballot.cancel"):
            continue
        if kind != "member.rotate" and _body_ballot(st) != ballot:
            continue
        try:
            e = parse_envelope(rec.envelope)
            if kind == "member.rotate":
                rotated[e.body["new"]] = e.body["old"]
            elif kind == "vote.cast":
                voter = e.signer
                for _ in range(_MAX_CHAIN):
                    if voter not in rotated:
                        break
                    voter = rotated[voter]
                choice = check_choice(spec, e.body["choice"])
                votes.append(VoteEvent(voter, rec.index, choice, e.signer))
            elif kind == "ballot.close":
                close_index, close = rec.index, e.body
                break
            else:
                cancel_index = rec.index
                break
        except (CivicError, KeyError, TypeError) as exc:
            why = exc.message if isinstance(exc, CivicError) else f"malformed body ({exc})"
            raise RuleViolation(
                f"record {rec.index} ({kind}) should never have been accepted: {why}; "
                "this is evidence against the sequencer"
            ) from exc
    return BallotHistory(
        ballot=ballot,
        spec=spec,
        open_body=env.body,
        votes=tuple(votes),
        end=end,
        close_index=close_index,
        close_body=close,
        cancel_index=cancel_index,
    )


@dataclass(frozen=True)
class BundleTally:
    """A ballot's tally recomputed from a bundle, and how it compares with the claims."""

    checkpoint: Checkpoint
    history: BallotHistory
    electorate_size: int
    electorate_source: str
    computed: dict[str, Any]
    recorded: dict[str, Any] | None
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def _same(a: Any, b: Any) -> bool:
    try:
        return canonical_json(a) == canonical_json(b)
    except InputError:
        return False


def tally_bundle(
    bundle: BallotBundle,
    open_cp: Callable[[bytes], Checkpoint],
    published: Mapping[str, Any] | None = None,
) -> BundleTally:
    """Prove the bundle's records, recompute the tally, compare it with every claim.

    ``open_cp`` verifies the checkpoint note (the log key's signature at least).
    ``published`` is the node's ``/result`` answer. The electorate size comes from the
    close record when there is one, else from the electorate list if it hashes to the
    ballot's electorate hash, else from the node's ballot document (a claim, said so).
    Raises VerificationError if the records themselves cannot be proven.
    """
    cp = open_cp(bundle.checkpoint)
    if cp.origin != bundle.origin:
        raise ProofError(f"the bundle is for {bundle.origin!r}, its checkpoint for {cp.origin!r}")
    records = verify_range(bundle.first, bundle.entries, bundle.frontier, cp, bundle.consistency)
    history = scan_ballot(bundle.ballot, records)
    problems: list[str] = []
    doc = bundle.ballot_doc or {}
    keys = list(bundle.electorate) if bundle.electorate is not None else None
    recorded = None
    if history.close_body is not None:
        recorded = history.close_body.get("result")
        if not isinstance(recorded, dict) or not isinstance(recorded.get("electorate_size"), int):
            raise RuleViolation(
                f"close record {history.close_index} carries no valid result: "
                "evidence against the sequencer"
            )
        size, source = recorded["electorate_size"], f"close record {history.close_index}"
        if keys is not None and electorate_hash(keys) != history.close_body.get("electorate_hash"):
            problems.append("the electorate list does not hash to the close record's hash")
    elif keys is not None and electorate_hash(keys) == doc.get("electorate_hash"):
        size, source = len(keys), "electorate list (hash matches the node's ballot)"
    else:
        size = int(doc.get("electorate_size", 0))
        source = "the node's claim (no verified electorate list)"
    computed = history.recompute(size)
    if recorded is not None and not _same(recorded, computed):
        problems.append(
            f"the result in close record {history.close_index} is not the tally of the log "
            f"({describe_difference(recorded, computed)})"
        )
    if published is not None:
        claim = published.get("result") if recorded is not None else published.get("provisional")
        want = recorded if recorded is not None else computed
        if claim is None:
            problems.append("the node publishes no result to compare with")
        elif not _same(claim, want):
            problems.append(
                f"the node publishes a different result ({describe_difference(claim, want)})"
            )
    closed_at = doc.get("closed_at")
    ahead = isinstance(closed_at, int) and closed_at >= cp.size  # the state runs ahead
    if history.status != doc.get("status", history.status) and not ahead:
        problems.append(
            f"the node says the ballot is {doc.get('status')}, its records say {history.status}"
        )
    return BundleTally(cp, history, size, source, computed, recorded, tuple(problems))
