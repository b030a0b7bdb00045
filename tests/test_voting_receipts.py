"""Vote receipts (C2SP tlog-proof) and their verification, in memory and without I/O.

The "node" here is a list of records from the factory community, with checkpoints signed by
the community's log key and proofs from the O(n) reference functions of ledger.merkle.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import replace
from typing import Any

import pytest

from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.c2sp.cosignature import cosigner_from_seed
from ledger.c2sp.note import add_signatures, signer_from_seed
from ledger.c2sp.proof import TlogProof, format_tlog_proof, parse_tlog_proof
from ledger.canonical import canonical_json
from ledger.errors import InputError, NotFoundError, SignatureError, VerificationError
from ledger.records import build_record, format_time, parse_record
from ledger.statements import parse_envelope
from tests.factory import ORIGIN, Community
from voting.bundle import build_ballot_bundle
from voting.evidence import (
    BallotBundle,
    LogView,
    format_bundle,
    parse_bundle,
    tally_bundle,
)
from voting.receipts import ReceiptReport, build_receipt, verify_receipt
from voting.rules import close_body

BODY = {
    "kind": "yes_no",
    "title": {"en": "Install solar panels?", "zh": "安装太阳能板？"},
    "closes": "2026-11-28T11:00:00Z",
    "quorum": {"votes": 1},
    "passing": "simple_majority",
}


class Node:
    """Records with checkpoints and proofs, as a node would serve them."""

    def __init__(self, com: Community, records: list[bytes] | None = None) -> None:
        self.com = com
        self.records = list(com.records if records is None else records)
        self.leaves = [merkle.leaf_hash(r) for r in self.records]
        self.signer = com.log_signer
        self.verifier = com.log_signer.verifier()

    def checkpoint(self, size: int | None = None) -> bytes:
        n = len(self.records) if size is None else size
        root = merkle.root_from_leaves(self.leaves[:n])
        return sign_checkpoint(Checkpoint(ORIGIN, n, root), self.signer)

    def receipt(self, index: int, size: int | None = None) -> bytes:
        n = index + 1 if size is None else size
        proof = merkle.inclusion_proof_from_leaves(index, self.leaves[:n])
        return build_receipt(index, proof, self.checkpoint(n), self.records[index], self.verifier)

    def proof(self, first: int, size: int | None = None) -> tuple[bytes, ...]:
        n = len(self.records) if size is None else size
        return tuple(merkle.consistency_proof_from_leaves(first, self.leaves[:n]))

    def view(self, source: str = "node-2", sizes: tuple[int, ...] = ()) -> LogView:
        n = len(self.records)
        return LogView(source, self.checkpoint(), {s: self.proof(s) for s in sizes if s < n})

    def bundle(
        self, ballot: str, end: int | None = None, sizes: tuple[int, ...] = ()
    ) -> BallotBundle:
        n = len(self.records)
        first = int(ballot)
        end = n if end is None else end
        frontier = tuple(
            merkle.root_from_leaves(self.leaves[i << lvl : (i + 1) << lvl])
            for lvl, i in merkle.root_ranges(first)
        )
        doc = copy.deepcopy(self.com.state.peek("ballot", ballot))
        return BallotBundle(
            ballot=ballot,
            origin=ORIGIN,
            log_vkey=self.verifier.vkey(),
            checkpoint=self.checkpoint(),
            first=first,
            entries=tuple(self.records[first:end]),
            frontier=frontier,
            consistency={s: self.proof(s) for s in {end, *sizes} if s < n},
            ballot_doc=doc,
            electorate=tuple(self.com.state.peek("electorate", ballot)),
        )


def scenario() -> tuple[Community, str, list[Any]]:
    com = Community()
    people = [com.enrol(f"v{i}") for i in range(3)]
    bid = str(com.do("ballot.open", BODY, com.chair).index)
    return com, bid, people


def vote(com: Community, bid: str, who: Any, choice: str) -> int:
    return com.do("vote.cast", {"ballot": bid, "choice": choice}, who).index


def close(com: Community, bid: str) -> None:
    com.advance(3600)
    com.do("ballot.close", close_body(com.state, bid), com.chair)


def verify(node: Node, receipt: bytes, bid: str, **kw: Any) -> ReceiptReport:
    b = kw.pop("bundle", None) or node.bundle(bid, **kw.pop("bundle_kw", {}))
    return verify_receipt(receipt, node.verifier, kw.pop("views", ()), b, **kw)


def statuses(r: ReceiptReport) -> dict[int, str]:
    return {s.number: s.status for s in r.steps}


ALL_PASS = dict.fromkeys(range(1, 11), "pass") | {6: "skip", 10: "skip"}


# --- the format -------------------------------------------------------------------------------


def test_receipt_is_a_tlog_proof_with_the_record_in_extra() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    node = Node(com)
    data = node.receipt(idx)
    assert data.startswith(b"c2sp.org/tlog-proof@v1\nextra ")
    p = parse_tlog_proof(data)
    assert p.extra == com.records[idx] and p.index == idx
    assert p.checkpoint == node.checkpoint(idx + 1)
    assert format_tlog_proof(p) == data


def test_build_receipt_refuses_a_bad_proof() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    node = Node(com)
    proof = merkle.inclusion_proof_from_leaves(idx, node.leaves)
    with pytest.raises(VerificationError):
        build_receipt(idx, proof, node.checkpoint(), com.records[idx - 1], node.verifier)
    other = signer_from_seed(ORIGIN, b"x" * 32)
    with pytest.raises(SignatureError):
        build_receipt(idx, proof, node.checkpoint(), com.records[idx], other.verifier())


# --- verification that holds ------------------------------------------------------------------


def test_open_ballot_receipt_verifies_with_counted_skipped() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    receipt = Node(com).receipt(idx)
    vote(com, bid, people[1], "no")  # the log grows after the receipt
    r = verify(Node(com), receipt, bid, bundle_kw={"sizes": (idx + 1,)})
    assert r.ok, r.to_json()
    assert statuses(r) == ALL_PASS | {9: "skip"}
    assert r.vote is not None and r.vote.choice == "yes" and r.vote.ballot == bid
    r.raise_for_failure()


def test_closed_ballot_receipt_proves_the_vote_counted() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    receipt = Node(com).receipt(idx)
    vote(com, bid, people[1], "yes")
    close(com, bid)
    com.enrol("after-the-close")  # records after the close are outside the range
    node = Node(com)
    end = com.state.peek("ballot", bid)["closed_at"] + 1
    views = [node.view("node-2", sizes=(idx + 1,))]
    r = verify(node, receipt, bid, views=views, bundle_kw={"end": end, "sizes": (idx + 1,)})
    assert statuses(r) == ALL_PASS | {6: "pass"}, r.to_json()
    assert "includes your vote" in r.step(9).detail


def test_rotated_key_vote_is_counted_for_the_resident() -> None:
    from tests.factory import key

    com, bid, people = scenario()
    new = key("new-v0")
    com.do("member.rotate", {"old": people[0].key_id, "new": new.key_id}, people[0], also=[new])
    idx = vote(com, bid, new, "no")
    receipt = Node(com).receipt(idx)
    close(com, bid)
    r = verify(Node(com), receipt, bid, bundle_kw={"sizes": (idx + 1,)})
    assert r.ok, r.to_json()


# --- tampered receipts ------------------------------------------------------------------------


def tamper(receipt: bytes, how: str, node: Node) -> bytes:
    p = parse_tlog_proof(receipt)
    if how == "choice in record":
        rec = parse_record(p.extra or b"")
        env = copy.deepcopy(rec.envelope)
        env["statement"]["body"]["choice"] = "no"
        raw = build_record(rec.index, rec.prev, rec.time, env)
        return format_tlog_proof(replace(p, extra=raw))
    if how == "proof hash":
        hashes = list(p.hashes)
        hashes[0] = bytes(32)
        return format_tlog_proof(replace(p, hashes=tuple(hashes)))
    if how == "index line":
        return format_tlog_proof(replace(p, index=p.index - 1))
    if how == "checkpoint":
        forged = signer_from_seed(ORIGIN, b"m" * 32)
        cp = Checkpoint(ORIGIN, p.index + 1, bytes(32))
        return format_tlog_proof(replace(p, checkpoint=sign_checkpoint(cp, forged)))
    if how == "no extra":
        return format_tlog_proof(replace(p, extra=None))
    if how == "header":
        return receipt.replace(b"tlog-proof@v1", b"tlog-proof@v9", 1)
    if how == "not a vote":
        return format_tlog_proof(TlogProof(node.records[1], 1, (), p.checkpoint))
    raise AssertionError(how)


@pytest.mark.parametrize(
    ("how", "step", "match"),
    [
        ("choice in record", 2, "does not verify"),
        ("proof hash", 4, "computed root does not match"),
        ("index line", 2, "index line says"),
        ("checkpoint", 3, "signed by no known key"),
        ("no extra", 1, "no extra line"),
        ("header", 1, "must start with"),
        ("not a vote", 2, "not a vote.cast"),
    ],
)
def test_tampered_receipt_fails_at_the_right_step(how: str, step: int, match: str) -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    node = Node(com)
    r = verify(node, tamper(node.receipt(idx), how, node), bid)
    assert not r.ok
    failed = r.failed[0]
    assert failed.number == step and match in failed.detail, r.to_json()
    with pytest.raises(VerificationError, match=f"step {step}"):
        r.raise_for_failure()


# --- forks ------------------------------------------------------------------------------------


def test_forked_checkpoint_of_the_same_size_is_reported() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    node = Node(com)
    receipt = node.receipt(idx)
    # A second checkpoint of the same size, validly signed by the log key, another root.
    forked = sign_checkpoint(Checkpoint(ORIGIN, idx + 1, bytes(range(32))), node.signer)
    r = verify(node, receipt, bid, views=[LogView("mirror", forked)])
    assert (
        statuses(r)[5] == "fail"
        and "FORK" in r.step(5).detail
        and "equivocated" in r.step(5).detail
    )


def test_fork_at_a_larger_size_fails_consistency() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    node = Node(com)
    receipt = node.receipt(idx)
    bad = sign_checkpoint(Checkpoint(ORIGIN, idx + 3, bytes(32)), node.signer)
    proof = node.proof(idx + 1, idx + 1)  # empty: cannot prove anything
    r = verify(node, receipt, bid, views=[LogView("mirror", bad, {idx + 1: proof})])
    assert statuses(r)[5] == "fail" and "does not extend" in r.step(5).detail


def test_two_nodes_that_diverge_after_the_receipt_disagree() -> None:
    a, bid, people = scenario()
    idx = vote(a, bid, people[0], "yes")
    b = copy.deepcopy(a)  # the same history up to the receipt, then two branches
    vote(a, bid, people[1], "yes")
    vote(b, bid, people[1], "no")
    na, nb = Node(a), Node(b)
    receipt = na.receipt(idx)
    views = [nb.view("node-b", sizes=(idx + 1,))]
    r = verify(na, receipt, bid, views=views, bundle_kw={"sizes": (idx + 1,)})
    s = statuses(r)
    assert s[5] == "pass" and s[6] == "fail" and "different roots" in r.step(6).detail


def test_a_larger_node_that_does_not_extend_another_is_a_fork() -> None:
    a, bid, people = scenario()
    idx = vote(a, bid, people[0], "yes")
    b = copy.deepcopy(a)
    vote(a, bid, people[1], "yes")
    vote(b, bid, people[1], "no")
    vote(b, bid, people[2], "no")
    na, nb = Node(a), Node(b)
    small = len(a.records)
    # node-b proves consistency from the receipt (true) and from node-a's size (against
    # its own branch, so it cannot match node-a's root).
    view_b = nb.view("node-b", sizes=(idx + 1, small))
    r = verify(na, na.receipt(idx), bid, views=[view_b], bundle_kw={"sizes": (idx + 1,)})
    s = statuses(r)
    assert s[5] == "pass" and s[6] == "fail" and "disagree" in r.step(6).detail
    # Without that proof the pair cannot be compared: skipped, not passed.
    r = verify(na, na.receipt(idx), bid, views=[nb.view("node-b", sizes=(idx + 1,))],
               bundle_kw={"sizes": (idx + 1,)})  # fmt: skip
    assert statuses(r)[6] == "skip"


def test_no_current_checkpoint_and_no_records() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    r = verify_receipt(Node(com).receipt(idx), Node(com).verifier)
    s = statuses(r)
    assert s[4] == "pass" and s[5] == "fail" and s[7] == "fail" and s[8] == "skip"


# --- votes that are not counted ---------------------------------------------------------------


def test_superseded_vote_is_not_last_and_not_counted() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    receipt = Node(com).receipt(idx)
    later = vote(com, bid, people[0], "no")
    close(com, bid)
    r = verify(Node(com), receipt, bid, bundle_kw={"sizes": (idx + 1,)})
    s = statuses(r)
    assert s[8] == "fail" and f"record {later}" in r.step(8).detail
    assert s[9] == "fail" and "not the one counted" in r.step(9).detail


def forged_close(com: Community, bid: str, drop_vote: bool) -> list[bytes]:
    """Records where the sequencer appended a close whose result leaves out one vote."""
    com.advance(3600)
    body = close_body(com.state, bid)
    if drop_vote:
        body["result"]["counts"]["yes"] -= 1
        body["result"]["turnout"] -= 1
    env = parse_envelope(com.envelope("ballot.close", body, com.chair)).to_json()
    prev = merkle.leaf_hash(com.records[-1]).hex()
    return [*com.records, build_record(len(com.records), prev, format_time(com.now), env)]


def test_vote_left_out_of_a_forged_close_is_reported() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    vote(com, bid, people[1], "yes")
    receipt = Node(com).receipt(idx)
    node = Node(com, forged_close(com, bid, drop_vote=True))
    b = replace(node.bundle(bid, sizes=(idx + 1,)), ballot_doc=None)
    r = verify(node, receipt, bid, bundle=b)
    assert statuses(r)[9] == "fail"
    assert "counts.yes: claimed 1, tallied 2" in r.step(9).detail
    t = tally_bundle(b, lambda n: open_checkpoint(n, node.verifier)[0])
    assert not t.ok and "not the tally of the log" in t.problems[0]


def test_node_publishing_another_result_is_reported() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    receipt = Node(com).receipt(idx)
    close(com, bid)
    node = Node(com)
    published = copy.deepcopy(com.state.peek("ballot", bid)["result"])
    published["passed"] = False
    r = verify(node, receipt, bid, bundle_kw={"sizes": (idx + 1,)}, published=published)
    assert statuses(r)[9] == "fail" and "publishes a result different" in r.step(9).detail


def test_cancelled_ballot_counts_no_vote() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    receipt = Node(com).receipt(idx)
    com.do("ballot.cancel", {"ballot": bid, "reason": "typo in the question"}, com.chair)
    r = verify(Node(com), receipt, bid, bundle_kw={"sizes": (idx + 1,)})
    assert statuses(r)[8] == "pass" and statuses(r)[9] == "fail"
    assert "cancelled" in r.step(9).detail


def test_electorate_list_that_does_not_match_is_reported() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    receipt = Node(com).receipt(idx)
    close(com, bid)
    node = Node(com)
    b = replace(node.bundle(bid, sizes=(idx + 1,)), electorate=(people[0].key_id,))
    r = verify(node, receipt, bid, bundle=b)
    assert statuses(r)[9] == "fail" and "electorate" in r.step(9).detail


# --- bundles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["entry", "frontier", "other ballot", "no proof"])
def test_bad_bundle_fails_step_7(how: str) -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    vote(com, bid, people[1], "no")
    com.do("ballot.open", BODY, com.chair)
    node = Node(com)
    receipt = node.receipt(idx)
    b = node.bundle(bid, sizes=(idx + 1,))
    if how == "entry":
        entries = list(b.entries)
        entries[-1] = com.records[1]
        b = replace(b, entries=tuple(entries))
    elif how == "frontier":
        b = replace(b, frontier=tuple(bytes(32) for _ in b.frontier))
    elif how == "other ballot":
        b = node.bundle(str(len(com.records) - 1), sizes=(idx + 1,))
    else:
        b = replace(b, entries=b.entries[:-1])
    r = verify(node, receipt, bid, bundle=b)
    assert statuses(r)[7] == "fail", r.to_json()


def test_bundle_round_trip_and_invalid_bundles() -> None:
    com, bid, people = scenario()
    vote(com, bid, people[0], "yes")
    b = Node(com).bundle(bid, sizes=(2,))
    data = format_bundle(b)
    assert parse_bundle(data) == b
    good: dict[str, Any] = json.loads(data)
    changes: list[dict[str, Any]] = [
        {"format": "other"},
        {"first": -1},
        {"entries": []},
        {"entries": ["%%%"]},
        {"frontier": ["zz"]},
        {"frontier": ["00"]},
        {"consistency": {"x": []}},
        {"electorate": "all"},
        {"checkpoint": 5},
    ]
    for change in changes:
        with pytest.raises(InputError):
            parse_bundle(canonical_json({**good, **change}))


def test_report_json_lists_every_step() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    node = Node(com)
    j = verify(node, node.receipt(idx), bid).to_json()
    assert j["ok"] is True and [s["n"] for s in j["steps"]] == list(range(1, 11))
    assert j["vote"]["index"] == idx
    assert base64.b64encode(com.records[idx]).decode() in node.receipt(idx).decode()


# --- step 10: the witness quorum --------------------------------------------------------------


def _witnessed_scenario() -> tuple[Community, str, int, list[Any], Node]:
    ws = [cosigner_from_seed(f"witness.example/w{i}", bytes([0x70 + i]) * 32) for i in range(3)]
    docs = [{"name": w.name, "vkey": w.verifier().vkey(), "url": "http://127.0.0.1:9"} for w in ws]
    com = Community(witnesses=docs, quorum=2)
    voter = com.enrol("w-voter")
    bid = str(com.do("ballot.open", BODY, com.chair).index)
    idx = vote(com, bid, voter, "yes")
    return com, bid, idx, ws, Node(com)


def test_witness_quorum_passes_with_a_cosigned_checkpoint() -> None:
    com, bid, idx, ws, node = _witnessed_scenario()
    note = node.checkpoint()
    body = open_checkpoint(note, node.verifier)[0].body()
    two = add_signatures(note, [w.cosign(body, 1_700_000_000) for w in ws[:2]])
    r = verify(
        node,
        node.receipt(idx),
        bid,
        bundle_kw={"sizes": (idx + 1,)},
        genesis=com.records[0],
        witnessed=[LogView("node-1", note), LogView("node-2", two)],
    )
    assert statuses(r) == ALL_PASS | {9: "skip", 10: "pass"}, r.to_json()
    assert r.step(10).detail.startswith("node-2: ") and "quorum met" in r.step(10).detail


def test_witness_quorum_fails_without_enough_cosignatures() -> None:
    com, bid, idx, ws, node = _witnessed_scenario()
    note = node.checkpoint()
    body = open_checkpoint(note, node.verifier)[0].body()
    one = add_signatures(note, [ws[0].cosign(body, 1_700_000_000)])
    # By default the step checks the checkpoints of the views and the bundle (none cosigned).
    r = verify(
        node, node.receipt(idx), bid, bundle_kw={"sizes": (idx + 1,)}, genesis=com.records[0]
    )
    assert statuses(r) == ALL_PASS | {9: "skip", 10: "fail"}
    assert "no node serves a checkpoint trusted by the policy" in r.step(10).detail
    r = verify(
        node,
        node.receipt(idx),
        bid,
        genesis=com.records[0],
        witnessed=[LogView("node-1", one)],
    )
    assert not r.ok and [s.number for s in r.failed] == [10]
    assert "node-1: checkpoint of size" in r.step(10).detail and "NOT met" in r.step(10).detail


def test_witness_quorum_runs_when_the_receipt_is_unreadable() -> None:
    com, _, _, _, node = _witnessed_scenario()
    r = verify_receipt(b"not a receipt", node.verifier, genesis=com.records[0], witnessed=[])
    assert statuses(r)[1] == "fail" and statuses(r)[10] == "fail"
    assert all(statuses(r)[n] == "skip" for n in range(2, 10))
    # A genesis record that the log key did not sign states no policy.
    other = Community().records[0]
    r = verify_receipt(b"x", signer_from_seed(ORIGIN, b"y" * 32).verifier(), genesis=other)
    assert statuses(r)[10] == "fail" and "no usable witness policy" in r.step(10).detail


# --- the one ballot-bundle builder ------------------------------------------------------------


def test_bundle_builder_matches_the_range_proof_by_hand() -> None:
    com, bid, people = scenario()
    idx = vote(com, bid, people[0], "yes")
    close(com, bid)
    com.enrol("after-the-close")
    node = Node(com)
    n = len(node.records)
    closed_at = com.state.peek("ballot", bid)["closed_at"]

    def nodes(ids: Any) -> list[bytes]:
        return [merkle.root_from_leaves(node.leaves[i << lvl : (i + 1) << lvl]) for lvl, i in ids]

    built = build_ballot_bundle(
        bid,
        ORIGIN,
        node.verifier.vkey(),
        node.checkpoint(),
        n,
        closed_at,
        entries=lambda lo, hi: node.records[lo:hi],
        nodes=nodes,
        consistency=lambda m, size: node.proof(m, size),
        proof_sizes=[0, idx + 1, n],
        ballot_doc=copy.deepcopy(com.state.peek("ballot", bid)),
        electorate=com.state.peek("electorate", bid),
    )
    assert built == node.bundle(bid, end=closed_at + 1, sizes=(idx + 1,))
    assert built.end == closed_at + 1 and sorted(built.consistency) == [idx + 1, closed_at + 1]
    assert verify(node, node.receipt(idx), bid, bundle=built).ok
    with pytest.raises(NotFoundError):
        build_ballot_bundle(bid, ORIGIN, "", b"", int(bid), None, *(lambda *a: [],) * 3)
