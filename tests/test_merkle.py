"""ledger.merkle against published vectors, known roots, pymerkle, and properties."""

from __future__ import annotations

import base64
import json
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pymerkle
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import CivicError, InputError, ProofError

VECTORS = Path(__file__).parent / "vectors"
TD_MERKLE = VECTORS / "transparency-dev-merkle"
TESSERA = VECTORS / "tessera-log"


def _b64(s: str) -> bytes:
    return base64.b64decode(s, validate=True)


def _flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def _served(ranges: Iterable[tuple[int, int]], nodes: Mapping[merkle.NodeId, bytes]) -> list[bytes]:
    """A proof as the log serves it: only the nodes nodes_needed names, then hash_of_range."""
    ranges = list(ranges)
    wanted = merkle.nodes_needed(ranges)
    subset = {nid: nodes[nid] for nid in wanted}
    return [merkle.hash_of_range(lo, hi, subset) for lo, hi in ranges]


def _build(leaves: Sequence[bytes]) -> tuple[dict[merkle.NodeId, bytes], list[bytes]]:
    """Every perfect node CompactRange.append reports, and the root after each append."""
    cr = merkle.CompactRange()
    nodes: dict[merkle.NodeId, bytes] = {}
    roots = [cr.root()]
    for leaf in leaves:
        for nid, h in cr.append(leaf):
            assert nid not in nodes
            nodes[nid] = h
        roots.append(cr.root())
    return nodes, roots


def _accepts(verify: Callable[..., None], *args: Any) -> bool:
    try:
        verify(*args)
    except ProofError:
        return False
    return True


# --- transparency-dev/merkle test vectors ---------------------------------------------------

INCLUSION_FILES = sorted((TD_MERKLE / "inclusion").rglob("*.json"))
CONSISTENCY_FILES = sorted((TD_MERKLE / "consistency").rglob("*.json"))


def _vector_id(path: Path) -> str:
    return path.relative_to(TD_MERKLE).as_posix()


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_vector_files_are_present() -> None:
    assert len(INCLUSION_FILES) >= 98
    assert len(CONSISTENCY_FILES) >= 98
    wants = [_load(p)["wantErr"] for p in INCLUSION_FILES + CONSISTENCY_FILES]
    assert wants.count(False) >= 10 and wants.count(True) >= 150


@pytest.mark.parametrize("path", INCLUSION_FILES, ids=_vector_id)
def test_inclusion_vector(path: Path) -> None:
    v = _load(path)
    leaf, index, size = _b64(v["leafHash"]), v["leafIdx"], v["treeSize"]
    proof = [_b64(p) for p in v["proof"] or []]
    root = _b64(v["root"])
    if v["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf, index, size, proof, root)
    else:
        merkle.verify_inclusion(leaf, index, size, proof, root)
        assert merkle.root_from_inclusion_proof(leaf, index, size, proof) == root


@pytest.mark.parametrize("path", CONSISTENCY_FILES, ids=_vector_id)
def test_consistency_vector(path: Path) -> None:
    v = _load(path)
    size1, size2 = v["size1"], v["size2"]
    proof = [_b64(p) for p in v["proof"] or []]
    root1, root2 = _b64(v["root1"]), _b64(v["root2"])
    if v["wantErr"]:
        with pytest.raises(ProofError):
            merkle.verify_consistency(size1, size2, proof, root1, root2)
    else:
        merkle.verify_consistency(size1, size2, proof, root1, root2)


# --- the RFC 6962 / CT test tree (transparency-dev/merkle testonly/constants.go) ------------

CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]
CT_LEAF_HASHES = [merkle.leaf_hash(d) for d in CT_LEAVES]
CT_ROOTS = [
    bytes.fromhex(h)
    for h in (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    )
]
CT_NODES = {
    (level, index): bytes.fromhex(h)
    for level, row in enumerate(
        (
            (
                "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
                "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
                "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
                "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
                "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
                "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
                "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
                "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1",
            ),
            (
                "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
                "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
                "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            ),
            (
                "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
                "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
            ),
            ("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",),
        )
    )
    for index, h in enumerate(row)
}
# proof/verify_test.go: (index, size) -> proof; (size1, size2) -> proof.
CT_INCLUSION = {
    (0, 1): [],
    (0, 8): [CT_NODES[0, 1], CT_NODES[1, 1], CT_NODES[2, 1]],
    (5, 8): [CT_NODES[0, 4], CT_NODES[1, 3], CT_NODES[2, 0]],
    (2, 3): [CT_NODES[1, 0]],
    (1, 5): [CT_NODES[0, 0], CT_NODES[1, 1], CT_NODES[0, 4]],
}
CT_CONSISTENCY = {
    (1, 8): [CT_NODES[0, 1], CT_NODES[1, 1], CT_NODES[2, 1]],
    (6, 8): [CT_NODES[1, 2], CT_NODES[1, 3], CT_NODES[2, 0]],
    (2, 5): [CT_NODES[1, 1], CT_NODES[0, 4]],
    (6, 7): [CT_NODES[1, 2], CT_NODES[0, 6], CT_NODES[2, 0]],
}


def test_ct_tree_roots_and_nodes() -> None:
    nodes, roots = _build(CT_LEAF_HASHES)
    assert roots == CT_ROOTS
    assert nodes == CT_NODES
    for size in range(9):
        assert merkle.root_from_leaves(CT_LEAF_HASHES[:size]) == CT_ROOTS[size]
        assert merkle.hash_of_range(0, size, nodes) == CT_ROOTS[size]
    assert CT_ROOTS[0] == merkle.EMPTY_ROOT


@pytest.mark.parametrize(("index", "size"), sorted(CT_INCLUSION))
def test_ct_inclusion_proofs(index: int, size: int) -> None:
    want = CT_INCLUSION[index, size]
    assert _served(merkle.inclusion_proof_ranges(index, size), CT_NODES) == want
    assert merkle.inclusion_proof_from_leaves(index, CT_LEAF_HASHES[:size]) == want
    merkle.verify_inclusion(CT_LEAF_HASHES[index], index, size, want, CT_ROOTS[size])


@pytest.mark.parametrize(("size1", "size2"), sorted(CT_CONSISTENCY))
def test_ct_consistency_proofs(size1: int, size2: int) -> None:
    want = CT_CONSISTENCY[size1, size2]
    assert _served(merkle.consistency_proof_ranges(size1, size2), CT_NODES) == want
    assert merkle.consistency_proof_from_leaves(size1, CT_LEAF_HASHES[:size2]) == want
    merkle.verify_consistency(size1, size2, want, CT_ROOTS[size1], CT_ROOTS[size2])


def test_happy_vectors_are_our_proofs() -> None:
    """Each accepted vector over the CT tree carries exactly the proof we would serve."""
    checked = 0
    for path in INCLUSION_FILES:
        v = _load(path)
        index, size = v["leafIdx"], v["treeSize"]
        if v["wantErr"] or size > 8 or _b64(v["root"]) != CT_ROOTS[size]:
            continue
        proof = [_b64(p) for p in v["proof"] or []]
        assert proof == _served(merkle.inclusion_proof_ranges(index, size), CT_NODES), path
        checked += 1
    for path in CONSISTENCY_FILES:
        v = _load(path)
        size1, size2 = v["size1"], v["size2"]
        if v["wantErr"] or size2 > 8 or _b64(v["root2"]) != CT_ROOTS[size2]:
            continue
        proof = [_b64(p) for p in v["proof"] or []]
        assert proof == _served(merkle.consistency_proof_ranges(size1, size2), CT_NODES), path
        checked += 1
    assert checked >= 10


# --- the Tessera test log -------------------------------------------------------------------

TESSERA_TEXT = "one two three four five six seven eit nain ten ileven twelf threeten fourten fivten"
TESSERA_ENTRIES = [e.encode() for e in TESSERA_TEXT.split(" ")]


def test_tessera_root_and_empty_root() -> None:
    leaves = [merkle.leaf_hash(e) for e in TESSERA_ENTRIES]
    assert merkle.root_from_leaves(leaves) == _b64("rKbDipCvhuX1GZ7g5BBe8sA6BbJ7ja/1nk427v383cs=")
    empty = _b64("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=")
    assert empty == merkle.EMPTY_ROOT
    assert merkle.root_from_leaves([]) == merkle.EMPTY_ROOT
    assert merkle.CompactRange().root() == merkle.EMPTY_ROOT


def test_tessera_checkpoints_and_level0_tiles() -> None:
    leaves = [merkle.leaf_hash(e) for e in TESSERA_ENTRIES]
    _, roots = _build(leaves)
    for size in range(len(TESSERA_ENTRIES) + 1):
        lines = (TESSERA / f"checkpoint.{size}").read_text(encoding="utf-8").split("\n")
        assert lines[0] == "example.com/log/testdata"
        assert int(lines[1]) == size
        assert _b64(lines[2]) == roots[size], size
        if size:
            tile = (TESSERA / "tile" / "0" / "000.p" / str(size)).read_bytes()
            assert tile == b"".join(leaves[:size])


# --- pymerkle, an independent implementation ------------------------------------------------


def _entry(i: int) -> bytes:
    return b"entry %d" % i


def _pymerkle_inclusion(tree: Any, index: int, size: int) -> list[bytes]:
    """pymerkle's path is [leaf hash, siblings bottom-up] with 1-based indexes."""
    p = tree.prove_inclusion(index + 1, size)
    path = list(p.path)
    assert path[0] == tree.get_leaf(index + 1)
    return path[1:]


def _pymerkle_consistency(tree: Any, size1: int, size2: int) -> list[bytes]:
    """pymerkle's consistency path, rewritten into the RFC 9162 §2.1.4.1 proof.

    pymerkle (core._consistency_path_layout) descends like SUBPROOF but goes right when the old
    size equals the split k exactly. When that never happens its path is the RFC proof (its
    first element, subset mask 1, is the last old subtree). When it happens at [lo, hi), the
    RFC stops with MTH(D[lo:lo+k]) (omitted if it is the old root, i.e. size1 is a power of
    two) then MTH(D[lo+k:hi]); pymerkle instead lists the first new leaf (mask 0) and the
    right siblings down the left spine of D[lo+k:hi], then D[lo:lo+k] (the first mask 1).
    Folding that spine gives MTH(D[lo+k:hi]).
    """
    p = tree.prove_consistency(size1, size2)
    path, subset, rule = list(p.path), list(p.subset), list(p.rule)
    if subset[0] == 1:
        return path
    j = subset.index(1)
    h = path[0]
    for digest, bit in zip(path[1:j], rule[: j - 1], strict=True):
        assert bit == 0  # climbing the left spine: the running hash is a left child
        h = merkle.node_hash(h, digest)
    assert rule[j - 1] == 1  # and [lo+k, hi) is the right sibling of [lo, lo+k)
    head = [] if size1 & (size1 - 1) == 0 else [path[j]]
    return [*head, h, *path[j + 1 :]]


def test_pymerkle_hashing_is_rfc9162() -> None:
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    assert tree.security  # disable_security=False: 0x00 / 0x01 prefixes
    assert tree.hash_buff(b"abc") == merkle.leaf_hash(b"abc")
    a, b = merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")
    assert tree.hash_pair(a, b) == merkle.node_hash(a, b)
    assert tree.get_root() == merkle.EMPTY_ROOT


def test_pymerkle_root_every_size_to_1100() -> None:
    tree = pymerkle.InmemoryTree(algorithm="sha256", disable_security=False)
    cr = merkle.CompactRange()
    for i in range(1100):
        data = _entry(i)
        tree.append_entry(data)
        cr.append(merkle.leaf_hash(data))
        assert tree.get_leaf(i + 1) == merkle.leaf_hash(data)
        assert cr.root() == tree.get_root(), i + 1


@pytest.fixture(scope="module")
def pym_1100() -> tuple[Any, dict[merkle.NodeId, bytes]]:
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    tree.append_entries([_entry(i) for i in range(1100)])
    nodes, _ = _build([merkle.leaf_hash(_entry(i)) for i in range(1100)])
    return tree, nodes


def _inclusion_samples(max_size: int, count: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    out = [(i, n) for n in range(1, 34) for i in range(n)]
    for _ in range(count):
        n = rng.randint(1, max_size)
        out.append((rng.randrange(n), n))
    return out


def _consistency_samples(max_size: int, count: int, seed: int) -> list[tuple[int, int]]:
    rng = random.Random(seed)
    out = [(m, n) for n in range(2, 34) for m in range(1, n)]
    for _ in range(count):
        n = rng.randint(2, max_size)
        out.append((rng.randint(1, n - 1), n))
    return out


def test_pymerkle_inclusion_proofs(pym_1100: tuple[Any, dict[merkle.NodeId, bytes]]) -> None:
    tree, nodes = pym_1100
    for index, size in _inclusion_samples(1100, 400, seed=1):
        want = _pymerkle_inclusion(tree, index, size)
        assert _served(merkle.inclusion_proof_ranges(index, size), nodes) == want, (index, size)


def test_pymerkle_consistency_proofs(pym_1100: tuple[Any, dict[merkle.NodeId, bytes]]) -> None:
    tree, nodes = pym_1100
    for size1, size2 in _consistency_samples(1100, 400, seed=2):
        want = _pymerkle_consistency(tree, size1, size2)
        got = _served(merkle.consistency_proof_ranges(size1, size2), nodes)
        assert got == want, (size1, size2)


def test_pymerkle_large_sizes() -> None:
    n = 65537
    tree = pymerkle.InmemoryTree(algorithm="sha256")
    tree.append_entries([_entry(i) for i in range(n)])
    nodes, roots = _build([merkle.leaf_hash(_entry(i)) for i in range(n)])
    sizes = [4095, 4096, 4097, 32768, 32769, 65535, 65536, 65537]
    for size in sizes:
        assert roots[size] == tree.get_root(size) == merkle.hash_of_range(0, size, nodes)
    rng = random.Random(3)
    for size in (4097, 65536, 65537):
        indexes = [0, 1, 4095, 4096, size - 2, size - 1]
        indexes += [rng.randrange(size) for _ in range(20)]
        for index in indexes:
            proof = _served(merkle.inclusion_proof_ranges(index, size), nodes)
            assert proof == _pymerkle_inclusion(tree, index, size), (index, size)
            leaf = merkle.leaf_hash(_entry(index))
            merkle.verify_inclusion(leaf, index, size, proof, roots[size])
        sizes1 = [s for s in (1, 2, 3, 4096, 4097, size - 1) if s < size]
        sizes1 += [rng.randint(1, size - 1) for _ in range(20)]
        for size1 in sizes1:
            proof = _served(merkle.consistency_proof_ranges(size1, size), nodes)
            assert proof == _pymerkle_consistency(tree, size1, size), (size1, size)
            merkle.verify_consistency(size1, size, proof, roots[size1], roots[size])


# --- properties -----------------------------------------------------------------------------

N_MAX = 3000
LEAVES = [merkle.leaf_hash(b"leaf %d" % i) for i in range(2 * N_MAX + 2)]
NODES, ROOTS = _build(LEAVES)


def _inclusion_shape(index: int, size: int) -> list[bool]:
    """Which side each proof hash goes on: the only thing the size changes in a verification."""
    return [hi <= index for _, hi in merkle.inclusion_proof_ranges(index, size)]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, N_MAX).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))),
    st.integers(0, 8 * merkle.HASH_SIZE - 1),
)
def test_inclusion_property(case: tuple[int, int], bit: int) -> None:
    size, index = case
    leaf, root = LEAVES[index], ROOTS[size]
    assert merkle.root_from_leaves(LEAVES[:size]) == root
    assert merkle.hash_of_range(0, size, {k: NODES[k] for k in merkle.root_ranges(size)}) == root
    proof = _served(merkle.inclusion_proof_ranges(index, size), NODES)
    assert proof == merkle.inclusion_proof_from_leaves(index, LEAVES[:size])
    merkle.verify_inclusion(leaf, index, size, proof, root)
    assert merkle.root_from_inclusion_proof(leaf, index, size, proof) == root

    def rejects(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
        with pytest.raises(ProofError):
            merkle.verify_inclusion(leaf, index, size, proof, root)

    for i in range(len(proof)):
        rejects(leaf, index, size, [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]], root)
    for other in {index - 1, index + 1, index ^ 1, index ^ 2, size, 2 * size} - {index, -1}:
        rejects(leaf, other, size, proof, root)
    if proof:
        rejects(leaf, index, size, proof[:-1], root)
        rejects(leaf, index, size, proof[1:], root)
    for extra in (root, leaf, merkle.EMPTY_ROOT, b""):
        rejects(leaf, index, size, [*proof, extra], root)
        rejects(leaf, index, size, [extra, *proof], root)
    for wrong in (_flip(root, bit), merkle.EMPTY_ROOT, ROOTS[size - 1], ROOTS[size + 1], root[:31]):
        rejects(leaf, index, size, proof, wrong)
    for wrong in (_flip(leaf, bit), LEAVES[index + 1], merkle.leaf_hash(b""), leaf + b"\0"):
        rejects(wrong, index, size, proof, root)
    for other in {size - 1, size + 1, size * 2, size // 2} - {size}:
        # With the real root of the other size: accepted only if the proof is that one too.
        honest = index < other and proof == _served(
            merkle.inclusion_proof_ranges(index, other), NODES
        )
        assert _accepts(merkle.verify_inclusion, leaf, index, other, proof, ROOTS[other]) == honest
        # With this root: accepted only when every hash lands on the same side (the claimed
        # size is bound by the signed checkpoint, not by the proof).
        same = index < other and _inclusion_shape(index, other) == _inclusion_shape(index, size)
        assert _accepts(merkle.verify_inclusion, leaf, index, other, proof, root) == same


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, N_MAX).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))),
    st.integers(0, 8 * merkle.HASH_SIZE - 1),
)
def test_consistency_property(case: tuple[int, int], bit: int) -> None:
    size1, size2 = case
    root1, root2 = ROOTS[size1], ROOTS[size2]
    proof = _served(merkle.consistency_proof_ranges(size1, size2), NODES)
    assert proof == merkle.consistency_proof_from_leaves(size1, LEAVES[:size2])

    def rejects(s1: int, s2: int, proof: Sequence[bytes], r1: bytes, r2: bytes) -> None:
        with pytest.raises(ProofError):
            merkle.verify_consistency(s1, s2, proof, r1, r2)

    if size1 == 0:
        assert proof == []
        rejects(0, size2, [], root1, root2)
        return
    if size1 == size2:
        assert proof == []
        merkle.verify_consistency(size1, size2, [], root1, root2)
        rejects(size1, size2, [root1], root1, root2)
        rejects(size1, size2, [], root1, _flip(root2, bit))
        return
    merkle.verify_consistency(size1, size2, proof, root1, root2)
    for i in range(len(proof)):
        rejects(size1, size2, [*proof[:i], _flip(proof[i], bit), *proof[i + 1 :]], root1, root2)
    rejects(size1, size2, proof[:-1], root1, root2)
    rejects(size1, size2, proof[1:], root1, root2)
    rejects(size1, size2, [], root1, root2)
    for extra in (root1, root2, proof[0], merkle.EMPTY_ROOT, b""):
        rejects(size1, size2, [*proof, extra], root1, root2)
        rejects(size1, size2, [extra, *proof], root1, root2)
    rejects(size1, size2, proof, root2, root1)
    for wrong in (_flip(root1, bit), merkle.EMPTY_ROOT, ROOTS[size1 - 1], ROOTS[size1 + 1]):
        rejects(size1, size2, proof, wrong, root2)
    for wrong in (_flip(root2, bit), merkle.EMPTY_ROOT, ROOTS[size2 - 1], ROOTS[size2 + 1]):
        rejects(size1, size2, proof, root1, wrong)
    rejects(size1, size2, proof, root1[:31], root2)
    rejects(size1, size2, proof, root1, root2 + b"\0")
    rejects(size2, size1, proof, root2, root1)
    rejects(0, size2, proof, root1, root2)
    others = {(size1 - 1, size2), (size1 + 1, size2), (size1 ^ 2, size2)}
    others |= {(size1, size2 - 1), (size1, size2 + 1), (size1, size2 * 2), (size1, size2 // 2)}
    for s1, s2 in others - {(size1, size2)}:
        # With the real roots of the other sizes: accepted only if the proof is that one too.
        honest = 0 < s1 < s2 and proof == _served(merkle.consistency_proof_ranges(s1, s2), NODES)
        got = _accepts(merkle.verify_consistency, s1, s2, proof, ROOTS[s1], ROOTS[s2])
        assert got == honest, (s1, s2)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, N_MAX), st.integers(0, N_MAX))
def test_compact_range_restore_and_continue(size: int, more: int) -> None:
    ids = merkle.root_ranges(size)
    cr = merkle.CompactRange(size, [NODES[k] for k in ids])
    assert cr.root() == ROOTS[size]
    for i in range(size, size + min(more, 64)):
        new = cr.append(LEAVES[i])
        assert new[0] == ((0, i), LEAVES[i])
        assert [nid[0] for nid, _ in new] == list(range(len(new)))
        for nid, h in new:
            assert NODES[nid] == h
        assert cr.size == i + 1
        assert cr.root() == ROOTS[i + 1]
        assert cr.hashes == [NODES[k] for k in merkle.root_ranges(i + 1)]


def test_compact_range_roots_every_prefix() -> None:
    for size in range(700):
        assert ROOTS[size] == merkle.root_from_leaves(LEAVES[:size]), size


# --- ranges ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi", "want"),
    [
        (0, 0, []),
        (5, 5, []),
        (0, 1, [(0, 0)]),
        (7, 8, [(0, 7)]),
        (0, 6, [(2, 0), (1, 2)]),
        (0, 8, [(3, 0)]),
        (0, 13, [(3, 0), (2, 2), (0, 12)]),
        (4, 7, [(1, 2), (0, 6)]),
        (8, 13, [(2, 2), (0, 12)]),
        (4, 8, [(2, 1)]),
        (2, 6, [(1, 1), (1, 2)]),
        (1024, 1100, [(6, 16), (3, 136), (2, 274)]),
    ],
)
def test_perfect_subtrees_examples(lo: int, hi: int, want: list[merkle.NodeId]) -> None:
    assert merkle.perfect_subtrees(lo, hi) == want


@pytest.mark.parametrize(("lo", "hi"), [(1, 4), (3, 6), (2, 7), (6, 12), (5, 3), (-1, 2), (0, -1)])
def test_perfect_subtrees_rejects(lo: int, hi: int) -> None:
    with pytest.raises(InputError):
        merkle.perfect_subtrees(lo, hi)


def test_perfect_subtrees_exhaustive() -> None:
    for lo in range(80):
        for hi in range(lo, 81):
            n = hi - lo
            valid = n <= 1 or lo % (1 << ((n - 1).bit_length() - 1)) == 0
            if not valid:
                with pytest.raises(InputError):
                    merkle.perfect_subtrees(lo, hi)
                continue
            ids = merkle.perfect_subtrees(lo, hi)
            pos = lo
            for level, index in ids:
                assert index << level == pos
                pos += 1 << level
            assert pos == hi
            levels = [level for level, _ in ids]
            assert levels == sorted(levels, reverse=True)
            assert merkle.hash_of_range(lo, hi, NODES) == merkle.root_from_leaves(LEAVES[lo:hi])


def test_root_ranges_is_binary_decomposition() -> None:
    for size in range(2000):
        ids = merkle.root_ranges(size)
        assert ids == merkle.perfect_subtrees(0, size)
        assert [level for level, _ in ids] == [b for b in range(20, -1, -1) if size >> b & 1]
    assert merkle.root_ranges(2**64 + 5) == [(64, 0), (2, 2**62), (0, 2**64 + 4)]


def test_ranges_reject_bad_arguments() -> None:
    for index, size in [(0, 0), (5, 5), (6, 5), (-1, 5), (0, -1)]:
        with pytest.raises(InputError):
            merkle.inclusion_proof_ranges(index, size)
    for size1, size2 in [(6, 5), (-1, 5), (1, 0)]:
        with pytest.raises(InputError):
            merkle.consistency_proof_ranges(size1, size2)
    assert merkle.consistency_proof_ranges(0, 0) == []
    assert merkle.consistency_proof_ranges(0, 9) == []
    assert merkle.consistency_proof_ranges(9, 9) == []
    assert merkle.root_ranges(0) == []
    with pytest.raises(InputError):
        merkle.root_ranges(-1)


def test_ranges_are_logarithmic_at_huge_sizes() -> None:
    size = 2**62 + 12345
    incl = merkle.inclusion_proof_ranges(size // 3, size)
    cons = merkle.consistency_proof_ranges(size // 3, size)
    assert len(incl) <= 63 and len(cons) <= 2 * 63
    assert len(merkle.nodes_needed(incl)) <= 64 * 64
    for lo, hi in incl + cons:
        assert merkle.perfect_subtrees(lo, hi)


def test_nodes_needed_and_missing_nodes() -> None:
    ranges = [(0, 6), (6, 7), (4, 8)]
    assert merkle.nodes_needed(ranges) == {(2, 0), (1, 2), (0, 6), (2, 1)}
    assert merkle.nodes_needed([]) == set()
    with pytest.raises(InputError, match="missing"):
        merkle.hash_of_range(0, 6, {(2, 0): CT_NODES[2, 0]})
    with pytest.raises(InputError):
        merkle.hash_of_range(0, 4, {(2, 0): b"short"})
    assert merkle.hash_of_range(3, 3, {}) == merkle.EMPTY_ROOT


# --- hashing, CompactRange and argument checks ----------------------------------------------


def test_hashes() -> None:
    assert merkle.HASH_SIZE == 32
    assert merkle.leaf_hash(b"") == CT_ROOTS[1]
    assert merkle.node_hash(CT_NODES[0, 0], CT_NODES[0, 1]) == CT_NODES[1, 0]
    for left, right in [(b"", CT_ROOTS[1]), (CT_ROOTS[1], CT_ROOTS[1] + b"\0")]:
        with pytest.raises(InputError):
            merkle.node_hash(left, right)


def test_compact_range_checks_its_input() -> None:
    with pytest.raises(InputError):
        merkle.CompactRange(-1)
    with pytest.raises(InputError):
        merkle.CompactRange(3, [CT_NODES[1, 0]])
    with pytest.raises(InputError):
        merkle.CompactRange(1, [b"short"])
    cr = merkle.CompactRange(3, [CT_NODES[1, 0], CT_NODES[0, 2]])
    assert cr.root() == CT_ROOTS[3]
    with pytest.raises(InputError):
        cr.append(b"x" * 31)
    assert cr.size == 3 and len(cr.hashes) == 2
    new = cr.append(CT_LEAF_HASHES[3])
    assert new == [((0, 3), CT_NODES[0, 3]), ((1, 1), CT_NODES[1, 1]), ((2, 0), CT_NODES[2, 0])]
    assert cr.hashes == [CT_NODES[2, 0]] and cr.root() == CT_ROOTS[4]
    assert "size=4" in repr(cr)


def test_reference_functions_check_their_input() -> None:
    with pytest.raises(InputError):
        merkle.inclusion_proof_from_leaves(3, CT_LEAF_HASHES[:3])
    with pytest.raises(InputError):
        merkle.inclusion_proof_from_leaves(-1, CT_LEAF_HASHES[:3])
    with pytest.raises(InputError):
        merkle.consistency_proof_from_leaves(4, CT_LEAF_HASHES[:3])
    with pytest.raises(InputError):
        merkle.root_from_leaves([b"short"])
    assert merkle.consistency_proof_from_leaves(0, CT_LEAF_HASHES) == []
    assert merkle.consistency_proof_from_leaves(8, CT_LEAF_HASHES) == []


def test_verify_messages_and_error_classes() -> None:
    leaf, proof = CT_LEAF_HASHES[5], CT_INCLUSION[5, 8]
    with pytest.raises(ProofError) as exc:
        merkle.verify_inclusion(leaf, 5, 8, proof, CT_ROOTS[7])
    assert str(exc.value) == (
        "inclusion proof for leaf 5 in tree of size 8: computed root does not match"
    )
    with pytest.raises(ProofError, match="expected 3"):
        merkle.verify_inclusion(leaf, 5, 8, proof[:2], CT_ROOTS[8])
    with pytest.raises(ProofError, match="not below the tree size"):
        merkle.verify_inclusion(leaf, 8, 8, proof, CT_ROOTS[8])
    with pytest.raises(ProofError, match="proof hash 1 is 31 bytes"):
        merkle.verify_inclusion(leaf, 5, 8, [proof[0], proof[1][:31], proof[2]], CT_ROOTS[8])
    with pytest.raises(ProofError, match="leaf hash is 31 bytes"):
        merkle.verify_inclusion(leaf[:31], 5, 8, proof, CT_ROOTS[8])
    with pytest.raises(ProofError, match="root hash is 33 bytes"):
        merkle.verify_inclusion(leaf, 5, 8, proof, CT_ROOTS[8] + b"\0")
    cons = CT_CONSISTENCY[6, 8]
    with pytest.raises(ProofError, match="proof hash 2 is 0 bytes"):
        merkle.verify_consistency(6, 8, [*cons[:2], b""], CT_ROOTS[6], CT_ROOTS[8])
    with pytest.raises(ProofError, match="first root hash is 31 bytes"):
        merkle.verify_consistency(6, 8, cons, CT_ROOTS[6][:31], CT_ROOTS[8])
    with pytest.raises(ProofError, match="proof has 4 hashes, expected 3"):
        merkle.verify_consistency(6, 8, [*cons, cons[0]], CT_ROOTS[6], CT_ROOTS[8])
    with pytest.raises(ProofError, match="consistency proof from size 6 to size 8: computed first"):
        merkle.verify_consistency(6, 8, CT_CONSISTENCY[6, 8], CT_ROOTS[5], CT_ROOTS[8])
    with pytest.raises(ProofError, match="computed second root"):
        merkle.verify_consistency(6, 8, CT_CONSISTENCY[6, 8], CT_ROOTS[6], CT_ROOTS[7])
    with pytest.raises(ProofError, match="empty tree"):
        merkle.verify_consistency(0, 0, [], merkle.EMPTY_ROOT, merkle.EMPTY_ROOT)
    # Negative numbers are a caller's bug, not a failed proof; still a CivicError.
    with pytest.raises(InputError):
        merkle.verify_inclusion(leaf, -1, 8, proof, CT_ROOTS[8])
    with pytest.raises(InputError):
        merkle.verify_consistency(-1, 8, [], CT_ROOTS[1], CT_ROOTS[8])
    assert issubclass(ProofError, CivicError) and issubclass(InputError, CivicError)


def test_public_api() -> None:
    assert set(merkle.__all__) == {
        "EMPTY_ROOT",
        "HASH_SIZE",
        "CompactRange",
        "NodeId",
        "consistency_proof_from_leaves",
        "consistency_proof_ranges",
        "hash_of_range",
        "inclusion_proof_from_leaves",
        "inclusion_proof_ranges",
        "leaf_hash",
        "leaf_hashes",
        "node_hash",
        "nodes_needed",
        "perfect_subtrees",
        "root_from_inclusion_proof",
        "root_from_leaves",
        "root_ranges",
        "verify_consistency",
        "verify_inclusion",
    }
    for name in merkle.__all__:
        obj = getattr(merkle, name)
        if callable(obj) and name != "NodeId":
            assert obj.__doc__, name


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 600), st.lists(st.integers(0, 300), min_size=1, max_size=4))
def test_extend_equals_appending_one_by_one(size: int, batches: list[int]) -> None:
    one, many = merkle.CompactRange(), merkle.CompactRange()
    for i in range(size):
        lh = merkle.leaf_hash(b"%d" % i)
        one.append(lh)
        many.append(lh)
    for b in batches:
        new = [merkle.leaf_hash(b"n%d" % (one.size + i)) for i in range(b)]
        want = {}
        for lh in new:
            want.update({nid: h for nid, h in one.append(lh) if nid[0] > 0})
        got = {}
        runs = many.extend(new)
        assert [lvl for lvl, _, _ in runs] == sorted({lvl for lvl, _ in want})
        for lvl, lo, hashes in runs:
            got.update({(lvl, lo + k): h for k, h in enumerate(hashes)})
        assert got == want
        assert (many.size, many.hashes, many.root()) == (one.size, one.hashes, one.root())


def test_extend_refuses_a_bad_leaf_and_leaves_the_range_as_it_was() -> None:
    cr = merkle.CompactRange()
    cr.extend([merkle.leaf_hash(b"a")])
    with pytest.raises(InputError, match="leaf hash 1 must be 32 bytes"):
        cr.extend([merkle.leaf_hash(b"b"), b"short"])
    assert cr.size == 1 and cr.hashes == [merkle.leaf_hash(b"a")]
    assert merkle.leaf_hashes([b"a", b"b"]) == [merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")]
