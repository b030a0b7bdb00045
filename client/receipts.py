"""Gathering, from live nodes, what the vote-receipt verifier needs. The verifier decides.

:func:`voting.receipts.verify_receipt` takes plain values; this module fetches them:
the ballot's bundle from the first node (with the consistency proofs a receipt needs), every
other node's current checkpoint and the proofs between them (steps 5-6), record 0 — whose
witness policy step 10 applies — and each node's newest, cosigned checkpoint.

It also gets a receipt its witnesses: :func:`wait_for_witnesses` asks for the inclusion
proof against the newest checkpoint with the genesis quorum
(``GET /v1/proofs/inclusion?witnessed=true``) until one covers the vote, and
:func:`complete_receipt` upgrades a receipt saved without it (``civic vote receipt
--complete``), keeping the node's original answer bound in by a consistency proof.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass

from client.http import NodeClient
from ledger.c2sp.checkpoint import open_checkpoint, read_checkpoint
from ledger.c2sp.note import NoteVerifier, parse_note
from ledger.c2sp.policy import Policy
from ledger.c2sp.proof import parse_tlog_proof
from ledger.c2sp.trust import check_trust_by_size
from ledger.errors import CivicError, NetworkError, NotFoundError, ProofError
from ledger.log_keys import KeyHistory, LogKeyEpoch, follow_key_history
from ledger.witness_policy import genesis_policy
from voting.ballot_records import BallotBundle, LogView, parse_bundle
from voting.receipts import (
    OriginalAnswer,
    build_receipt,
    format_original,
    parse_original,
    read_receipt,
    verify_receipt,
)

__all__ = [
    "WITNESS_WAIT",
    "CompletedReceipt",
    "ReceiptInputs",
    "cast_receipt",
    "community_policy",
    "complete_receipt",
    "fetch_ballot_bundle",
    "followed_log_keys",
    "gather_receipt_inputs",
    "wait_for_witnesses",
]

# Seconds `civic vote cast` waits for the witness quorum before it saves the receipt
# unwitnessed (witnesses cosign within tens of milliseconds when they are up).
WITNESS_WAIT = 10.0
# Between two asks for the witnessed proof: short, since the wait is usually this order.
_POLL = 0.01


@dataclass(frozen=True)
class ReceiptInputs:
    """What :func:`voting.receipts.verify_receipt` takes besides the receipt and log key."""

    views: tuple[LogView, ...]
    bundle: BallotBundle | None
    bundle_source: str
    genesis: bytes
    witnessed: tuple[LogView, ...]


def fetch_ballot_bundle(
    c: NodeClient, ballot: str, sizes: Sequence[int] | None = None, witnessed: bool = False
) -> BallotBundle:
    """GET the ballot bundle, with consistency proofs from each of ``sizes`` (0 is dropped);
    ``witnessed``: at the node's newest checkpoint with the witness quorum."""
    wanted = sorted({s for s in sizes or [] if s > 0})
    extra = {"witnessed": "true"} if witnessed else {}
    value = c.get_json(f"/v1/ballots/{ballot}/bundle", consistency_from=wanted or None, **extra)
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


def _witnessed_note(c: NodeClient) -> bytes | None:
    try:
        return c.get_bytes("/v1/checkpoints/witnessed")
    except CivicError:  # none yet (404), or the node refuses (503): optional here
        return None


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
        # The newest checkpoint with the quorum, where the newest one still lacks it: step
        # 10 then says how far the trusted part of the log reaches.
        witnessed += tuple(
            LogView(f"{c.url} (witnessed)", note)
            for c in clients
            if (note := _witnessed_note(c)) is not None
        )
        return ReceiptInputs(tuple(views), bundle, clients[0].url, genesis, witnessed)
    finally:
        for c in clients:
            c.close()


def community_policy(c: NodeClient, log_key: NoteVerifier) -> Policy:
    """The witness policy genesis (record 0, signed by ``log_key``) states."""
    return genesis_policy(base64.b64decode(c.record(0)["entry"]), log_key)


def followed_log_keys(c: NodeClient, log_key: NoteVerifier) -> KeyHistory:
    """The log's keys after any log-key rotation, learnt from the node's ``/v1/log-keys``
    and verified from ``log_key`` (the genesis key of the notice board) alone
    (:func:`ledger.log_keys.follow_key_history`). A node that serves no key history
    (404) has only the genesis key."""
    try:
        doc = c.get_json("/v1/log-keys")
        return follow_key_history(doc, log_key.vkey(), community_policy(c, log_key)).history
    except NotFoundError:
        # No key history served, or no witnessed checkpoint covers a rotation yet: only
        # the genesis key is verified so far.
        return KeyHistory.genesis_only(log_key.vkey())


def _key_at(c: NodeClient, log_key: NoteVerifier, note: bytes) -> NoteVerifier:
    """The log key that signs ``note``'s size (the genesis key before any rotation)."""
    size = read_checkpoint(note).size
    key = followed_log_keys(c, log_key).key_for(size)
    if any(s.key_hash == key.key_hash for s in parse_note(note).signatures):
        return key
    # A rotation not witnessed yet: the served key, unverified, only to build the file;
    # verifying the receipt (step 10, once witnessed) checks it from the genesis key.
    served = tuple(
        LogKeyEpoch(k["vkey"], k["first_size"], k["record"], k["old_key_status"])
        for k in c.get_json("/v1/log-keys")["keys"]
    )
    return KeyHistory(served).key_for(size)


def wait_for_witnesses(
    c: NodeClient,
    index: int,
    record: bytes,
    log_key: NoteVerifier,
    policy: Policy,
    timeout: float = WITNESS_WAIT,
) -> bytes | None:
    """The receipt of ``record`` (at ``index``) against a checkpoint at or beyond it that
    carries ``policy``'s witness quorum (C2SP tlog-policy, checked here with
    :func:`~ledger.c2sp.trust.check_trust`), or None if none arrives within ``timeout``
    seconds. The checkpoint's cosignatures are kept verbatim.
    """
    deadline = time.monotonic() + timeout
    history = followed_log_keys(c, log_key)
    while True:
        try:
            got = c.get_json("/v1/proofs/inclusion", index=index, witnessed="true")
        except (NotFoundError, NetworkError):
            # not witnessed yet, or the node is briefly away: ask again until the deadline
            got = None
        if got is not None:
            note = str(got["checkpoint"]).encode("utf-8")
            # The node judges the quorum by its current policy; the receipt's verifier by
            # genesis: keep only a checkpoint the resident's own check trusts.
            if check_trust_by_size(note, policy, history.key_for).trusted:
                hashes = [bytes.fromhex(h) for h in got["hashes"]]
                return build_receipt(index, hashes, note, record, history.key_for(_size_of(note)))
        if time.monotonic() >= deadline:
            return None
        time.sleep(_POLL)


def cast_receipt(
    c: NodeClient,
    answer: dict[str, object],
    record: bytes,
    log_key: NoteVerifier,
    timeout: float = WITNESS_WAIT,
) -> tuple[bytes, bool]:
    """The receipt to keep for a vote, from the node's 201 ``answer``, and whether its
    checkpoint carries the genesis witness quorum.

    The 201 checkpoint is sent before any witness has seen it; unless it already meets
    the policy (a community with quorum 0), wait up to ``timeout`` seconds for a witnessed
    one (:func:`wait_for_witnesses`); if none comes, the unwitnessed receipt is returned.
    """
    index = int(str(answer["index"]))
    proof = answer["inclusion_proof"]
    assert isinstance(proof, dict)
    note = str(answer["checkpoint"]).encode("utf-8")
    # After a log-key rotation the node signs with a newer key (docs/adr/0012).
    key = _key_at(c, log_key, note)
    first = build_receipt(index, [bytes.fromhex(h) for h in proof["hashes"]], note, record, key)
    try:
        policy = community_policy(c, log_key)
        if check_trust_by_size(note, policy, lambda _size: key).trusted:
            return first, True
        witnessed = wait_for_witnesses(c, index, record, log_key, policy, timeout)
    except CivicError:
        # The vote is in the log already: whatever goes wrong from here, keep its receipt.
        witnessed = None
    return (first, False) if witnessed is None else (witnessed, True)


@dataclass(frozen=True)
class CompletedReceipt:
    """A receipt proven against a witnessed checkpoint and its ``.original`` file."""

    receipt: bytes
    original: bytes
    size: int


def complete_receipt(
    c: NodeClient,
    receipt: bytes,
    log_key: NoteVerifier,
    original: bytes | None = None,
    timeout: float = WITNESS_WAIT,
) -> CompletedReceipt | None:
    """Upgrade ``receipt`` to a proof against the node's newest witnessed checkpoint.

    The node's original answer (``original``, the receipt's earlier ``.original`` file, or
    else the receipt's own checkpoint) is kept with an RFC 9162 §2.1.4 consistency proof
    from it to the new checkpoint, so it stays bound in. None if no witnessed checkpoint
    covers the vote within ``timeout``. CivicError if the receipt is unreadable, the node
    answers with proofs that do not verify, or the new checkpoint does not extend the
    original one.
    """
    proof, rec, _ = read_receipt(receipt)
    assert proof.extra is not None
    first = parse_original(original).checkpoint if original is not None else proof.checkpoint
    history = followed_log_keys(c, log_key)
    cp0, _ = open_checkpoint(first, history.key_for(_size_of(first)))
    policy = community_policy(c, log_key)
    new = wait_for_witnesses(c, rec.index, proof.extra, log_key, policy, timeout)
    if new is None:
        return None
    new_note = parse_tlog_proof(new).checkpoint
    cp1, _ = open_checkpoint(new_note, history.key_for(_size_of(new_note)))
    hashes: tuple[bytes, ...] = ()
    if cp0.size < cp1.size:
        got = c.consistency_proof(cp0.size, cp1.size)
        hashes = tuple(bytes.fromhex(h) for h in got["hashes"])
    done = OriginalAnswer(first, hashes)
    # Checked before anything is written: the same step 11 a verifier runs later.
    report = verify_receipt(new, log_key, original=format_original(done), key_for=history.key_for)
    step = report.step(11)
    if step.status != "pass":
        raise ProofError(
            f"the node's witnessed checkpoint does not extend your receipt's: {step.detail}"
        )
    return CompletedReceipt(new, format_original(done), cp1.size)
