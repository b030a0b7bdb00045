"""Step 1, the checkpoints (audits/checkpoints.py) and step 3 across sources
(audits/witnesses.py check_consistency), on their own: forks, nodes behind, bad
signatures, the checkpoint chosen, the sources of its tree, older checkpoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from audits.checkpoints import (
    CheckpointContext,
    FetchContext,
    NodeCheckpoint,
    Seen,
    data_sources,
    fetch_checkpoints,
    verify_checkpoints,
)
from audits.fetch import MemoryFetcher
from audits.progress import NullProgress
from audits.witnesses import ConsistencyContext, check_consistency
from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, sign_checkpoint
from ledger.c2sp.note import NoteSigner, signer_from_seed
from node.config import load_log_key
from tests.support.audit import make_community

LEAVES = [merkle.leaf_hash(b"record %d" % i) for i in range(8)]


@pytest.fixture(scope="module")
def signer(tmp_path_factory: pytest.TempPathFactory) -> NoteSigner:
    d: Path = tmp_path_factory.mktemp("audit-checkpoints") / "node"
    make_community(d, 0)
    return load_log_key(d)


def note(signer: NoteSigner, size: int, leaves: list[bytes] = LEAVES) -> bytes:
    return sign_checkpoint(
        Checkpoint(signer.name, size, merkle.root_from_leaves(leaves[:size])), signer
    )


def test_fetch_asks_every_source_and_reports_a_silent_one_once() -> None:
    a = MemoryFetcher("a", {"log/checkpoint": b"note a"}, offline=True)
    gone = MemoryFetcher("gone", {}, down=True)
    empty = MemoryFetcher("empty", {}, offline=True)
    got = fetch_checkpoints(FetchContext((a, gone, empty), NullProgress()))
    assert [(s.name, s.note, s.kind, s.fetcher is a) for s in got.seen] == [
        ("a", b"note a", "latest", True)
    ]
    assert [(f.code, f.node) for f in got.found.findings] == [
        ("node.unreachable", "gone"),
        ("node.incomplete", "empty"),
    ]
    assert got.found.down == frozenset({"gone"})
    assert [(p.name, p.items) for p in got.found.phases] == [("checkpoints", 3)]


def test_signatures_forks_and_nodes_behind(signer: NoteSigner) -> None:
    stranger = signer_from_seed(signer.name, bytes(32))
    other = [merkle.leaf_hash(b"other %d" % i) for i in range(8)]
    f = MemoryFetcher("f", {})
    seen = (
        Seen("carried", note(signer, 8), None, kind="carried"),
        Seen("a", note(signer, 8), f),
        Seen("b", note(signer, 8, other), MemoryFetcher("b", {})),
        Seen("old", note(signer, 5), MemoryFetcher("old", {})),
        Seen("old (witnessed)", note(signer, 3), MemoryFetcher("old", {}), kind="witnessed"),
        Seen("forged", note(stranger, 8), MemoryFetcher("forged", {})),
    )
    got = verify_checkpoints(CheckpointContext(seen, signer.verifier()))
    # The newest checkpoint held by a source that can serve its tree, not the carried one.
    assert got.target is not None and got.target.name == "a" and got.target.cp is not None
    assert got.target.cp.size == 8 and got.target.cp.root_hash == merkle.root_from_leaves(LEAVES)
    assert [s.cp is not None for s in got.seen] == [True, True, True, True, True, False]
    assert [(x.code, x.node) for x in got.found.findings] == [
        ("checkpoint.signature", "forged"),
        ("checkpoint.fork", "carried, a, b"),
        ("node.behind", "old"),  # a witnessed checkpoint may lag: not a node behind
    ]
    assert got.found.findings[1].detail["roots"][merkle.root_from_leaves(other).hex()] == ["b"]
    root = merkle.root_from_leaves(LEAVES).hex()
    assert got.marks[1] == NodeCheckpoint("a", "ok", 8, root)
    assert got.marks[5] == NodeCheckpoint("forged", "bad")
    assert got.marks[6:] == (NodeCheckpoint("b", "fork"), NodeCheckpoint("old", "behind"))
    none = verify_checkpoints(CheckpointContext(seen[5:], signer.verifier()))
    assert none.target is None and [x.code for x in none.found.findings] == [
        "checkpoint.signature",
        "audit.stopped",
    ]


def test_the_sources_of_the_audited_tree(signer: NoteSigner) -> None:
    other = [merkle.leaf_hash(b"other %d" % i) for i in range(8)]
    near, far, local = MemoryFetcher("near", {}), MemoryFetcher("far", {}), None
    bundle = MemoryFetcher("bundle", {}, offline=True)
    seen = verify_checkpoints(
        CheckpointContext(
            (
                Seen("far", note(signer, 6), far),
                Seen("near", note(signer, 8), near),
                Seen("near (witnessed)", note(signer, 7), near, kind="witnessed"),
                Seen("fork", note(signer, 8, other), MemoryFetcher("fork", {})),
                Seen("bundle", note(signer, 4), bundle),
                Seen("gone", note(signer, 8), MemoryFetcher("gone", {})),
                Seen("carried", note(signer, 8), local, kind="carried"),
            ),
            signer.verifier(),
        )
    )
    assert seen.target is not None and seen.target.cp is not None
    got = data_sources(seen.seen, seen.target.cp, frozenset({"gone"}))
    # Largest first, one per fetcher, a bundle (no network) before every node.
    assert [(s.fetcher.name, s.size) for s in got] == [("bundle", 4), ("near", 8), ("far", 6)]


def test_older_checkpoints_must_be_the_audited_tree(signer: NoteSigner) -> None:
    nodes = {
        (level, i): merkle.root_from_leaves(LEAVES[i << level : (i + 1) << level])
        for level in range(4)
        for i in range(8 >> level)
    }
    root = merkle.root_from_leaves(LEAVES)
    seen = verify_checkpoints(
        CheckpointContext(
            (
                Seen("new", note(signer, 8), MemoryFetcher("new", {})),
                Seen("same", note(signer, 5), MemoryFetcher("same", {})),
                Seen("rewritten", note(signer, 5, LEAVES[1:]), MemoryFetcher("rewritten", {})),
            ),
            signer.verifier(),
        )
    ).seen
    got = check_consistency(ConsistencyContext(seen, 8, root, nodes, ()))
    assert got.forked == frozenset({"rewritten"})
    assert [(f.code, f.node) for f in got.found.findings] == [
        ("checkpoint.inconsistent", "rewritten")
    ]
    # Sizes the run did not recompute (before a remembered audit) and no source to prove
    # them: the question stays open, which is not evidence.
    top_only = {(3, 0): root}
    assert check_consistency(ConsistencyContext(seen, 8, root, top_only, ())).forked == frozenset()
