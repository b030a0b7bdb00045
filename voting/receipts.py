"""Vote receipts: C2SP ``tlog-proof`` files a resident can verify offline, years later. Pure.

**Format decision: the record bytes travel in the ``extra`` line.** A receipt is exactly a
``c2sp.org/tlog-proof@v1`` file (C2SP tlog-proof)::

    c2sp.org/tlog-proof@v1
    extra <base64 of the record bytes, JCS({"index", "prev", "time", "envelope"})>
    index <record index>
    <base64 inclusion proof hash>
    ...

    <a checkpoint note at or beyond the vote, verbatim, with the witness cosignatures
     that meet the genesis quorum (C2SP tlog-cosignature lines)>

The spec leaves ``extra`` to the application ("opaque extra data"); putting the record there
keeps the receipt one self-contained file that any tlog-proof parser reads, and the leaf
hash it proves is SHA-256(0x00 || extra) (RFC 9162 §2.1.1). A record is at most 65,535
bytes (docs/design.md), so the line stays reasonable.

**The checkpoint carries the witness quorum.** C2SP tlog-proof proves that the data was
logged *and* that witnesses observed it; C2SP tlog-policy calls a checkpoint valid only
with the policy's quorum. So ``civic vote cast`` waits for a checkpoint at or beyond the
vote that carries the genesis quorum and proves the vote against that one. A receipt saved
without it (the quorum did not arrive in time, or an old receipt) is completed later
(``civic vote receipt --complete``): the new file proves the vote against a witnessed
checkpoint, and the node's original answer is kept beside it, in ``<file>.original``
(:func:`format_original`): the original checkpoint, verbatim, with the RFC 9162 §2.1.4
consistency proof from it to the receipt's checkpoint, so the first answer stays bound in
(step 11). The receipt itself stays a plain tlog-proof any parser reads.

**Verification** (:func:`verify_receipt`) returns a :class:`ReceiptReport` listing each
numbered step as passed, failed or skipped (STYLE.md item 6); its inputs are plain values —
the receipt bytes, the log's verifier key, the current checkpoints of one or more nodes
(:class:`~voting.ballot_records.LogView`) and the ballot's records
(:class:`~voting.ballot_records.BallotBundle`) — so the CLI can fetch them online, or read them
from a saved bundle, and the same code decides. The steps:

1. receipt — the file is a tlog-proof with the record bytes in its ``extra`` line;
2. vote — the record is a ``vote.cast`` at the receipt's index, signed by its signer;
3. receipt checkpoint — signed by the log key, for the vote's community;
4. inclusion — RFC 9162 §2.1.3.2: the record is in the tree of the receipt's checkpoint;
5. consistency — RFC 9162 §2.1.4.2: each node's current checkpoint is signed and extends
   the receipt's (a different root at the same size, or no valid proof, is a fork);
6. agreement — the nodes' checkpoints are consistent with each other;
7. ballot records — the ballot's record range is proven against a current checkpoint and
   holds this exact record;
8. last vote — no later vote of this resident on this ballot in that range;
9. counted — once closed: the close record's result equals the tally recomputed from the
   range, the node publishes that same result, and this vote is the one counted for this
   resident (skipped while the ballot is open);
10. witness quorum — C2SP tlog-witness / tlog-policy: the receipt's own checkpoint carries
    the quorum of valid witness cosignatures that the policy requires (genesis, record 0,
    states it; offline it comes from the ballot bundle's genesis or a saved tlog-policy).
    This is what lets a receipt stand on its own, with no node. Online, a receipt without
    it still passes when a node's checkpoint passed step 5 and carries the quorum (one
    witnessed checkpoint that extends the receipt's covers the vote), and the step says to
    complete the receipt. Skipped only when no policy is given at all. It does not depend
    on steps 1-9, and runs even when they stop early;
11. original answer — for a completed receipt: the node's original checkpoint is signed by
    the log key and the receipt's checkpoint extends it (RFC 9162 §2.1.4.2). Skipped when
    no ``.original`` file is given (a receipt kept at cast time has none).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, open_checkpoint, read_checkpoint
from ledger.c2sp.note import NoteVerifier
from ledger.c2sp.policy import Policy
from ledger.c2sp.proof import (
    MAX_PROOF_HASHES,
    LineReader,
    TlogProof,
    format_tlog_proof,
    parse_tlog_proof,
)
from ledger.c2sp.trust import CheckpointTrust, KeyForSize, check_trust_by_size
from ledger.c2sp.trust import check_trust as _check_trust
from ledger.canonical import canonical_json
from ledger.errors import CivicError, InputError, ProofError, VerificationError
from ledger.records import Record, parse_record
from ledger.statements import Envelope, parse_envelope
from ledger.witness_policy import genesis_policy
from voting.ballot_records import BallotBundle, BallotHistory, LogView, scan_ballot, verify_range
from voting.tally import describe_difference, electorate_hash

__all__ = [
    "COMPLETE_HINT",
    "ORIGINAL_HEADER",
    "STEPS",
    "OriginalAnswer",
    "ReceiptReport",
    "Step",
    "VoteInfo",
    "build_receipt",
    "format_original",
    "parse_original",
    "read_receipt",
    "verify_receipt",
]

STEPS = {
    1: "receipt",
    2: "vote",
    3: "receipt checkpoint",
    4: "inclusion",
    5: "consistency",
    6: "agreement",
    7: "ballot records",
    8: "last vote",
    9: "counted",
    10: "witness quorum",
    11: "original answer",
}
_QUORUM_STEP = 10
_ORIGINAL_STEP = 11
# What a resident runs to add the witnesses' cosignatures to a receipt that lacks them.
COMPLETE_HINT = "civic vote receipt --complete FILE --node URL"
# The first line of a completed receipt's ``.original`` file (format_original).
ORIGINAL_HEADER = "civic-ledger/receipt-original@v1"
PASS, FAIL, SKIP = "pass", "fail", "skip"

CheckpointOpener = Callable[[bytes], Checkpoint]


@dataclass(frozen=True)
class Step:
    """One verification step: its number (see :data:`STEPS`), outcome and explanation."""

    number: int
    status: str
    detail: str

    @property
    def name(self) -> str:
        return STEPS[self.number]


@dataclass(frozen=True)
class VoteInfo:
    """What the receipt's record says."""

    index: int
    ballot: str
    signer: str
    choice: Any
    community: str
    time: str


@dataclass(frozen=True)
class ReceiptReport:
    """The outcome of every step; ``ok`` only if none failed."""

    steps: tuple[Step, ...]
    vote: VoteInfo | None = None

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.status != FAIL for s in self.steps)

    @property
    def failed(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.status == FAIL)

    def step(self, number: int) -> Step:
        return next(s for s in self.steps if s.number == number)

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "vote": None if self.vote is None else dict(self.vote.__dict__),
            "steps": [
                {"n": s.number, "name": s.name, "status": s.status, "detail": s.detail}
                for s in self.steps
            ],
        }

    def raise_for_failure(self) -> None:
        """VerificationError naming the failed steps; nothing if all held."""
        if self.failed:
            raise VerificationError(
                "receipt verification failed: "
                + "; ".join(f"step {s.number} ({s.name}): {s.detail}" for s in self.failed)
            )


def build_receipt(
    index: int,
    hashes: Sequence[bytes],
    checkpoint: bytes,
    record: bytes,
    log_verifier: NoteVerifier,
) -> bytes:
    """The receipt file for ``record`` at ``index``, checked before it is handed out.

    ``hashes`` and ``checkpoint`` are the inclusion proof and checkpoint of the 201 answer to
    POST /v1/statements. ProofError or SignatureError if they do not prove the record.
    """
    cp, _ = open_checkpoint(checkpoint, log_verifier)
    # RFC 9162 §2.1.3.2 against the checkpoint the node just signed
    merkle.verify_inclusion(merkle.leaf_hash(record), index, cp.size, list(hashes), cp.root_hash)
    if parse_record(record).index != index:
        raise ProofError(f"the record bytes are not those of record {index}")
    return format_tlog_proof(TlogProof(record, index, tuple(hashes), checkpoint))


@dataclass(frozen=True)
class OriginalAnswer:
    """A completed receipt's first checkpoint and the RFC 9162 proof from it to the new one."""

    checkpoint: bytes
    consistency: tuple[bytes, ...]


def format_original(original: OriginalAnswer) -> bytes:
    """The ``.original`` file kept beside a completed receipt (inverse of parse_original)::

        civic-ledger/receipt-original@v1
        <base64 hash of the RFC 9162 §2.1.4 proof from the original size to the receipt's>
        ...

        <the original checkpoint note, verbatim>

    The shape of C2SP tlog-proof and tlog-witness ``add-checkpoint``: header, hashes, an
    empty line, a note.
    """
    lines = [ORIGINAL_HEADER, *(base64.b64encode(h).decode() for h in original.consistency)]
    return ("\n".join(lines) + "\n\n").encode("ascii") + original.checkpoint


def parse_original(data: bytes) -> OriginalAnswer:
    """Parse a ``.original`` file (:func:`format_original`); InputError if malformed."""
    r = LineReader(data, "receipt original")
    if r.line() != ORIGINAL_HEADER:
        raise InputError(f"a receipt's original answer must start with {ORIGINAL_HEADER!r}")
    hashes = r.hashes(MAX_PROOF_HASHES)
    note = r.rest()
    if not note.endswith(b"\n"):
        raise InputError("the original checkpoint must be a note ending with a newline")
    return OriginalAnswer(note, tuple(hashes))


def _proof(data: bytes) -> TlogProof:
    proof = parse_tlog_proof(data)
    if proof.extra is None:
        raise InputError(
            "this tlog-proof has no extra line: a vote receipt carries its record there"
        )
    return proof


def _vote_record(proof: TlogProof) -> tuple[Record, Envelope]:
    assert proof.extra is not None
    rec = parse_record(proof.extra)
    if rec.index != proof.index:
        raise ProofError(
            f"the receipt's record is record {rec.index}, its index line says {proof.index}"
        )
    env = parse_envelope(rec.envelope)
    if env.type != "vote.cast":
        raise InputError(f"the receipt's record is a {env.type} statement, not a vote.cast")
    return rec, env


def read_receipt(data: bytes) -> tuple[TlogProof, Record, Envelope]:
    """Parse a receipt: the proof, its record and the vote envelope (signature checked)."""
    proof = _proof(data)
    rec, env = _vote_record(proof)
    return proof, rec, env


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON (JCS bytes); values that are not JSON are not equal to anything."""
    try:
        return canonical_json(a) == canonical_json(b)
    except InputError:
        return False


class _Run:
    """Collects steps; a step that raises a CivicError fails with its message."""

    def __init__(self) -> None:
        self.steps: list[Step] = []

    def add(self, n: int, status: str, detail: str) -> None:
        self.steps.append(Step(n, status, detail))

    def skip_rest(self, start: int, why: str) -> None:
        """Skip the chain steps from ``start`` to 9 (the witness quorum runs regardless)."""
        for n in range(start, _QUORUM_STEP):
            if not any(s.number == n for s in self.steps):
                self.add(n, SKIP, why)


def _views_step(
    run: _Run, cp0: Checkpoint, views: Sequence[LogView], opener: CheckpointOpener
) -> list[tuple[LogView, Checkpoint]]:
    """Step 5; returns the views whose checkpoint verified and extends the receipt's."""
    good: list[tuple[LogView, Checkpoint]] = []
    notes: list[str] = []
    failed = False
    for v in views:
        try:
            cp = opener(v.checkpoint)
        except CivicError as exc:
            notes.append(f"{v.source}: checkpoint does not verify ({exc.message})")
            failed = True
            continue
        if cp.size < cp0.size:
            notes.append(f"{v.source}: at size {cp.size}, behind your receipt's {cp0.size}")
            continue
        if cp.size == cp0.size:
            if cp.root_hash != cp0.root_hash:
                notes.append(
                    f"{v.source}: FORK — a validly signed checkpoint of the same size "
                    f"{cp.size} with a different root; the log equivocated (keep both as evidence)"
                )
                failed = True
                continue
        else:
            proof = v.consistency.get(cp0.size)
            if proof is None:
                notes.append(f"{v.source}: no consistency proof from size {cp0.size}")
                failed = True
                continue
            try:
                merkle.verify_consistency(
                    cp0.size, cp.size, list(proof), cp0.root_hash, cp.root_hash
                )
            except ProofError as exc:
                notes.append(
                    f"{v.source}: FORK — its checkpoint of size {cp.size} does not extend "
                    f"your receipt's ({exc.message})"
                )
                failed = True
                continue
        notes.append(f"{v.source}: size {cp.size} extends your receipt's size {cp0.size}")
        good.append((v, cp))
    if not views:
        run.add(5, FAIL, "no current checkpoint from any node was given")
    elif failed:
        run.add(5, FAIL, "; ".join(notes))
    elif not good:
        run.add(5, FAIL, "; ".join(notes) + ": no node has caught up with your receipt")
    else:
        run.add(5, PASS, "; ".join(notes))
    return good


def _agreement_step(run: _Run, good: list[tuple[LogView, Checkpoint]]) -> None:
    """Step 6: every pair of verified views is consistent (same size → same root)."""
    if len(good) < 2:
        run.add(6, SKIP, "one node: nothing to compare")
        return
    problems, unchecked = [], []
    for i, (va, a) in enumerate(good):
        for vb, b in good[i + 1 :]:
            (vs, s), (vl, big) = sorted([(va, a), (vb, b)], key=lambda p: p[1].size)
            if s.size == big.size:
                if s.root_hash != big.root_hash:
                    problems.append(
                        f"{vs.source} and {vl.source}: same size {s.size}, different roots (fork)"
                    )
                continue
            proof = vl.consistency.get(s.size)
            if proof is None:
                unchecked.append(f"{vs.source}→{vl.source}")
                continue
            try:
                merkle.verify_consistency(s.size, big.size, list(proof), s.root_hash, big.root_hash)
            except ProofError as exc:
                problems.append(f"{vs.source} and {vl.source} disagree (fork): {exc.message}")
    if problems:
        run.add(6, FAIL, "; ".join(problems))
    elif unchecked:
        run.add(6, SKIP, "no consistency proof for " + ", ".join(unchecked))
    else:
        run.add(6, PASS, f"{len(good)} nodes show one log")


def _range_step(
    run: _Run,
    bundle: BallotBundle | None,
    good: list[tuple[LogView, Checkpoint]],
    ballot: str,
    rec: Record,
    bundle_source: str,
) -> BallotHistory | None:
    """Step 7: the ballot's records, proven against a verified current checkpoint."""
    if bundle is None:
        run.add(7, FAIL, "the ballot's records were not given")
        return None
    cp = next((c for v, c in good if v.source == bundle_source), None)
    if cp is None:
        run.add(7, FAIL, "the ballot records' checkpoint did not pass step 5")
        return None
    if bundle.ballot != ballot:
        run.add(
            7, FAIL, f"the records given are for ballot {bundle.ballot}, the vote is on {ballot}"
        )
        return None
    try:
        records = verify_range(
            bundle.first, bundle.entries, bundle.frontier, cp, bundle.consistency
        )
        history = scan_ballot(ballot, records)
    except CivicError as exc:
        run.add(7, FAIL, exc.message)
        return None
    if (
        not bundle.first <= rec.index < bundle.end
        or records[rec.index - bundle.first].raw != rec.raw
    ):
        run.add(
            7,
            FAIL,
            f"record {rec.index} is not among ballot {ballot}'s records [{bundle.first}, {bundle.end})",
        )
        return None
    run.add(
        7,
        PASS,
        f"records [{bundle.first}, {bundle.end}) of ballot {ballot} are in the checkpoint of "
        f"size {cp.size}; {len(history.votes)} votes, ballot {history.status}",
    )
    return history


def _counted_step(
    run: _Run,
    history: BallotHistory,
    index: int,
    voter: str,
    bundle: BallotBundle,
    published: Mapping[str, Any] | None,
) -> None:
    """Step 9: the close record's result is the recomputed tally and counts this vote."""
    if history.status == "open":
        closes = history.open_body.get("closes")
        run.add(
            9,
            SKIP,
            f"ballot {history.ballot} is still open (closes {closes}): verify again after it closes",
        )
        return
    if history.status == "cancelled":
        run.add(
            9,
            FAIL,
            f"ballot {history.ballot} was cancelled at record {history.cancel_index}; no vote counts",
        )
        return
    assert history.close_body is not None
    claimed = history.close_body.get("result")
    if not isinstance(claimed, dict) or not isinstance(claimed.get("electorate_size"), int):
        run.add(9, FAIL, f"the close record {history.close_index} carries no valid result")
        return
    problems = []
    computed = history.recompute(claimed["electorate_size"])
    if not _same(claimed, computed):
        problems.append(
            f"the result in close record {history.close_index} is not the tally of the "
            f"ballot's records ({describe_difference(claimed, computed)})"
        )
    counted = history.counted().get(voter)
    if counted is None or counted.index != index:
        problems.append(f"your vote at record {index} is not the one counted")
    if bundle.electorate is not None:
        keys = list(bundle.electorate)
        if electorate_hash(keys) != history.close_body.get("electorate_hash"):
            problems.append(
                "the node's electorate list does not hash to the close record's electorate_hash"
            )
        elif len(keys) != claimed["electorate_size"]:
            problems.append("the close record's electorate_size is not the electorate's size")
        elif voter not in keys:
            problems.append(f"{voter} is not in the ballot's electorate")
    pub = published if published is not None else (bundle.ballot_doc or {}).get("result")
    if pub is None:
        problems.append("the node publishes no result for this closed ballot")
    elif not _same(pub, claimed):
        problems.append(
            "the node publishes a result different from its close record "
            f"({describe_difference(pub, claimed)})"
        )
    if problems:
        run.add(9, FAIL, "; ".join(problems))
        return
    verdict = "passed" if claimed["passed"] else "did not pass"
    run.add(
        9,
        PASS,
        f"counted: the close record {history.close_index} result ({claimed['turnout']} "
        f"votes, {verdict}) is the tally of the log and includes your vote",
    )


def _quorum_step(
    run: _Run,
    receipt: bytes,
    policy: Policy | None,
    witnessed: Sequence[LogView],
    vote_index: int | None = None,
    key_for: KeyForSize | None = None,
) -> None:
    """Step 10: the receipt's checkpoint (else, online, a node's) meets the witness policy;
    with ``key_for`` (a rotated log's key history), under the log key of each size."""

    def check_trust(note: bytes, policy: Policy) -> CheckpointTrust:
        if key_for is None:
            return _check_trust(note, policy)
        return check_trust_by_size(note, policy, key_for)

    if policy is None:
        run.add(
            _QUORUM_STEP,
            SKIP,
            "no witness policy given (genesis, a ballot bundle with genesis, or a tlog-policy "
            "file): the witness quorum was not checked",
        )
        return
    try:
        own: CheckpointTrust | CivicError = check_trust(
            parse_tlog_proof(receipt).checkpoint, policy
        )
    except CivicError as exc:
        own = exc
    if not isinstance(own, CivicError) and own.trusted:
        run.add(_QUORUM_STEP, PASS, f"your receipt's {own.summary()}")
        return
    mine = own.message if isinstance(own, CivicError) else f"your receipt's {own.summary()}"
    fix = f"complete it with `{COMPLETE_HINT}` while a node is reachable"
    reports: list[tuple[str, CheckpointTrust | CivicError]] = []
    for v in witnessed:
        try:
            reports.append((v.source, check_trust(v.checkpoint, policy)))
        except CivicError as exc:
            reports.append((v.source, exc))
    trusted = [
        (r.checkpoint.size, u, r)
        for u, r in reports
        if not isinstance(r, CivicError) and r.trusted and r.checkpoint is not None
    ]
    need = 0 if vote_index is None else vote_index + 1
    good = [t for t in trusted if t[0] >= need]
    if good:
        _, u, r = max(good, key=lambda t: t[0])
        run.add(
            _QUORUM_STEP,
            PASS,
            f"{u}: {r.summary()}, and it extends your receipt (step 5); but {mine}, so "
            f"it does not stand on its own offline: {fix}",
        )
        return
    if not witnessed:
        run.add(_QUORUM_STEP, FAIL, f"{mine}; {fix}")
        return
    detail = "; ".join(
        f"{u}: {r.message if isinstance(r, CivicError) else r.summary()}" for u, r in reports
    )
    # A checkpoint beyond the last cosigned size is never reported as cosigned: say how far
    # the trusted part reaches.
    if trusted:
        size, u, _ = max(trusted, key=lambda t: t[0])
        reach = f"the trusted part of the log reaches {size} records ({u})"
        if vote_index is not None:
            reach += f"; your vote, record {vote_index}, is beyond it: not yet witnessed"
    else:
        reach = "no record of the log is witnessed yet"
    run.add(
        _QUORUM_STEP,
        FAIL,
        f"{mine}, and no node serves a checkpoint trusted by the policy that covers the "
        f"vote: {reach} ({detail}); {fix}",
    )


def _original_step(
    run: _Run, receipt: bytes, original: bytes | None, opener: CheckpointOpener
) -> None:
    """Step 11: the node's original answer is consistent with the completed receipt's."""
    if original is None:
        run.add(_ORIGINAL_STEP, SKIP, "no original answer kept (not a completed receipt)")
        return
    try:
        orig = parse_original(original)
        cp0 = opener(orig.checkpoint)
        cp1 = opener(parse_tlog_proof(receipt).checkpoint)
        if cp0.origin != cp1.origin:
            raise VerificationError(
                f"the original checkpoint is for {cp0.origin!r}, the receipt's for {cp1.origin!r}"
            )
        if cp0.size > cp1.size:
            raise ProofError(
                f"the original checkpoint (size {cp0.size}) is beyond the receipt's ({cp1.size})"
            )
        if cp0.size == cp1.size:
            if cp0.root_hash != cp1.root_hash:
                raise ProofError(f"FORK: two roots for size {cp0.size}")
        else:
            # RFC 9162 §2.1.4.2
            merkle.verify_consistency(
                cp0.size, cp1.size, list(orig.consistency), cp0.root_hash, cp1.root_hash
            )
    except CivicError as exc:
        run.add(_ORIGINAL_STEP, FAIL, f"the original answer is not bound in: {exc.message}")
        return
    run.add(
        _ORIGINAL_STEP,
        PASS,
        f"the node's original checkpoint of size {cp0.size} is signed by the log key and "
        f"your receipt's checkpoint of size {cp1.size} extends it",
    )


def verify_receipt(
    receipt: bytes,
    log_verifier: NoteVerifier,
    views: Sequence[LogView] = (),
    bundle: BallotBundle | None = None,
    published: Mapping[str, Any] | None = None,
    open_cp: CheckpointOpener | None = None,
    bundle_source: str = "bundle",
    genesis: bytes | None = None,
    witnessed: Sequence[LogView] = (),
    policy: Policy | None = None,
    original: bytes | None = None,
    standalone: bool = False,
    key_for: KeyForSize | None = None,
) -> ReceiptReport:
    """Run the eleven steps of the module docstring; never raises for a bad receipt.

    ``views`` are the nodes' current checkpoints; ``bundle`` the ballot's records (its
    checkpoint is added to the views as ``bundle_source``); ``published`` the result a node
    publishes (default: the bundle's ``ballot_doc``). ``open_cp`` verifies a checkpoint note
    and returns it; by default the log key's signature is enough. Step 10's witness policy
    is ``policy`` or the one ``genesis`` (record 0's bytes) states; it is checked against
    the receipt's own checkpoint, and, online, ``witnessed``: each node's newest
    checkpoint with its cosignatures (leave it empty offline: then only the receipt
    counts). ``original`` is a completed receipt's ``.original`` file (step 11).
    ``standalone``: the receipt alone, with no node and no ballot records (steps 5-9 are
    skipped, and the witnessed checkpoint of step 10 stands for the log). ``key_for``: the
    log key of each checkpoint size after log-key rotations (docs/adr/0012), from
    :func:`ledger.log_keys.follow_key_history`; ``log_verifier`` stays the genesis key.
    """

    def by_size(note: bytes) -> Checkpoint:
        key = log_verifier if key_for is None else key_for(read_checkpoint(note).size)
        return open_checkpoint(note, key)[0]

    opener: CheckpointOpener = open_cp or by_size
    alone = standalone and not views and bundle is None
    chain = _chain_steps(
        receipt, log_verifier, views, bundle, published, opener, bundle_source, alone
    )
    run = _Run()
    run.steps.extend(chain.steps)
    if policy is None and genesis is not None:
        try:
            policy = genesis_policy(genesis, log_verifier)
        except CivicError as exc:
            run.add(_QUORUM_STEP, FAIL, f"genesis states no usable witness policy: {exc.message}")
    if not any(s.number == _QUORUM_STEP for s in run.steps):
        index = None if chain.vote is None else chain.vote.index
        _quorum_step(run, receipt, policy, witnessed, index, key_for)
    _original_step(run, receipt, original, opener)
    return ReceiptReport(tuple(run.steps), chain.vote)


def _chain_steps(
    receipt: bytes,
    log_verifier: NoteVerifier,
    views: Sequence[LogView],
    bundle: BallotBundle | None,
    published: Mapping[str, Any] | None,
    opener: CheckpointOpener,
    bundle_source: str,
    alone: bool = False,
) -> ReceiptReport:
    """Steps 1 to 9: the receipt, the log's checkpoints and the ballot's records."""
    run = _Run()
    # 1-2. the receipt and its record
    try:
        proof = _proof(receipt)
    except CivicError as exc:
        run.add(1, FAIL, exc.message)
        run.skip_rest(2, "step 1 failed")
        return ReceiptReport(tuple(run.steps))
    assert proof.extra is not None
    run.add(
        1,
        PASS,
        f"a c2sp.org/tlog-proof@v1 file with the {len(proof.extra)}-byte record in its extra line",
    )
    try:
        rec, env = _vote_record(proof)
    except CivicError as exc:
        run.add(2, FAIL, exc.message)
        run.skip_rest(3, "step 2 failed")
        return ReceiptReport(tuple(run.steps))
    ballot = env.body.get("ballot")
    vote = VoteInfo(
        rec.index,
        str(ballot),
        env.signer,
        env.body.get("choice"),
        env.statement["community"],
        rec.time,
    )
    run.add(2, PASS, f"record {rec.index}: vote.cast on ballot {ballot} signed by {env.signer}")
    # 3. the receipt's checkpoint
    try:
        cp0 = opener(proof.checkpoint)
        if cp0.origin != vote.community:
            raise VerificationError(
                f"the checkpoint is for {cp0.origin!r}, the vote for {vote.community!r}"
            )
        run.add(3, PASS, f"signed by the log key of {cp0.origin} at size {cp0.size}")
    except CivicError as exc:
        run.add(3, FAIL, exc.message)
        run.skip_rest(4, "step 3 failed")
        return ReceiptReport(tuple(run.steps), vote)
    # 4. inclusion at that checkpoint (RFC 9162 §2.1.3.2)
    try:
        merkle.verify_inclusion(
            merkle.leaf_hash(proof.extra), proof.index, cp0.size, list(proof.hashes), cp0.root_hash
        )
        run.add(4, PASS, f"record {rec.index} is in the tree of size {cp0.size}")
    except CivicError as exc:
        run.add(4, FAIL, exc.message)
    if alone:
        run.skip_rest(
            5,
            "standalone: no node and no ballot records given; the receipt's witnessed "
            "checkpoint (step 10) stands for the log. Give --node or --bundle to check "
            "that this is your last vote and that it was counted",
        )
        return ReceiptReport(tuple(run.steps), vote)
    # 5-6. the nodes' current checkpoints
    all_views = list(views)
    if bundle is not None:
        all_views.insert(0, bundle.view(bundle_source))
    good = _views_step(run, cp0, all_views, opener)
    _agreement_step(run, good)
    # 7. the ballot's records
    history = _range_step(run, bundle, good, str(ballot), rec, bundle_source)
    if history is None or bundle is None:
        run.skip_rest(8, "step 7 failed")
        return ReceiptReport(tuple(run.steps), vote)
    # 8. the last vote of this resident
    mine = next((v for v in history.votes if v.index == rec.index), None)
    if mine is None:
        run.add(8, FAIL, f"record {rec.index} is not a vote on ballot {ballot} in its records")
        run.skip_rest(9, "step 8 failed")
        return ReceiptReport(tuple(run.steps), vote)
    last = history.counted()[mine.voter]
    if last.index != rec.index:
        run.add(
            8,
            FAIL,
            f"superseded: you voted again at record {last.index} (choice {last.choice!r}); "
            "only your last vote counts",
        )
    else:
        later = "" if history.status == "open" else " before the close"
        run.add(8, PASS, f"no later vote by {mine.voter} on ballot {ballot}{later}")
    # 9. counted in the published result
    _counted_step(run, history, rec.index, mine.voter, bundle, published)
    return ReceiptReport(tuple(run.steps), vote)
