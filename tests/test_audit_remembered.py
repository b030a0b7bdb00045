"""Step 5, the remembered audit (audits/remembered.py), on its own: the audited
checkpoint must extend the one verified before (RFC 9162 §2.1.4)."""

from __future__ import annotations

import json

from audits.checkpoints import Seen
from audits.download import Source
from audits.fetch import MemoryFetcher
from audits.remembered import RememberedContext, check_remembered
from audits.state_file import AuditState
from audits.verify import fresh_state
from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint

LEAVES = [merkle.leaf_hash(b"record %d" % i) for i in range(8)]
OTHER = [merkle.leaf_hash(b"other %d" % i) for i in range(8)]


def old(size: int, leaves: list[bytes] = LEAVES) -> AuditState:
    root = merkle.root_from_leaves(leaves[:size])
    return AuditState("o", "vkey", "g", b"", size, root, [], fresh_state())


def target(size: int) -> Seen:
    cp = Checkpoint("o", size, merkle.root_from_leaves(LEAVES[:size]))
    return Seen("t", b"", None, cp=cp)


def proving(name: str, first: int, second: int) -> MemoryFetcher:
    proof = merkle.consistency_proof_from_leaves(first, LEAVES[:second])
    doc = json.dumps({"hashes": [h.hex() for h in proof]}).encode()
    return MemoryFetcher(name, {f"v1/proofs/consistency?first={first}&second={second}": doc})


def codes(ctx: RememberedContext) -> tuple[bool, list[tuple[str, str | None]]]:
    got = check_remembered(ctx)
    return got.ok, [(f.code, f.node) for f in got.found.findings]


def test_the_audited_tree_must_extend_the_remembered_one() -> None:
    good = proving("good", 5, 8)
    assert codes(RememberedContext(old(5), target(8), (Source(good, 8),), frozenset())) == (
        True,
        [],
    )
    # Another history of 5 records cannot be extended to this tree.
    rogue = RememberedContext(old(5, OTHER), target(8), (Source(good, 8),), frozenset())
    ok, found = codes(rogue)
    assert not ok and found == [("checkpoint.rollback", "good")]
    # No source offers a proof (a silent one is reported): the tree step decides.
    gone = MemoryFetcher("gone", {}, down=True)
    ctx = RememberedContext(old(5, OTHER), target(8), (Source(gone, 8),), frozenset())
    assert codes(ctx) == (True, [("node.unreachable", "gone")])


def test_same_size_or_behind() -> None:
    assert codes(RememberedContext(old(8), target(8), (), frozenset())) == (True, [])
    assert codes(RememberedContext(old(8, OTHER), target(8), (), frozenset())) == (
        False,
        [("checkpoint.rollback", "t")],
    )
    ok, found = codes(RememberedContext(old(8), target(5), (), frozenset()))
    assert ok and found == [("node.behind", None)]
