"""RFC 9162 Merkle tree hashing, proofs and their verification: pure, no I/O.

The tree over leaf hashes D[0:n] is the one of RFC 9162 §2.1.1: MTH({}) = SHA-256(),
MTH({d}) = SHA-256(0x00 || d), and for n > 1 with k the largest power of two < n,
MTH(D[0:n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])).

Storage keeps only *perfect* nodes: NodeId ``(level, index)`` names the perfect subtree over
leaves [index·2^level, (index+1)·2^level), whose hash never changes once the log has grown past
it. Every hash a proof needs is the MTH of a leaf range that decomposes into a few such nodes
(:func:`perfect_subtrees`), so serving a proof is: ``*_proof_ranges`` → :func:`nodes_needed`
→ one storage read → :func:`hash_of_range` per range. All of that is O(log n).

The ``*_from_leaves`` functions are slow O(n) references built a different way (level by level
over the whole list) for tests and audits.

Errors: :class:`~ledger.errors.InputError` for malformed arguments (negative sizes, index out
of range, hashes that are not 32 bytes, ranges that are not tree nodes);
:class:`~ledger.errors.ProofError` for every way a proof can fail in ``verify_*`` and
:func:`root_from_inclusion_proof`, including malformed proof hashes and an index beyond the size,
since those come from the untrusted party.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, TypeAlias

from ledger.errors import InputError, ProofError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

__all__ = [
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
]

HASH_SIZE: int = 32

NodeId: TypeAlias = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves [index·2^level, (index+1)·2^level)."""

_sha256 = hashlib.sha256
_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

# RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string.
EMPTY_ROOT: bytes = _sha256(b"").digest()


# --- hashing --------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 || data)."""
    return _sha256(_LEAF_PREFIX + data).digest()


def leaf_hashes(entries: Iterable[bytes]) -> list[bytes]:
    """:func:`leaf_hash` of each entry, in order (one pass, for batches)."""
    sha, prefix = _sha256, _LEAF_PREFIX
    return [sha(prefix + data).digest() for data in entries]


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 || left || right).

    Raises InputError unless both children are 32-byte hashes.
    """
    _require_hash(left, "left child hash")
    _require_hash(right, "right child hash")
    return _sha256(_NODE_PREFIX + left + right).digest()


def _hash_children(left: bytes, right: bytes) -> bytes:
    """:func:`node_hash` without the length checks, for loops over checked hashes."""
    return _sha256(_NODE_PREFIX + left + right).digest()


def _require_hash(h: bytes, what: str) -> None:
    if len(h) != HASH_SIZE:
        raise InputError(f"{what} must be {HASH_SIZE} bytes, got {len(h)}")


def _require_non_negative(**values: int) -> None:
    for name, v in values.items():
        if v < 0:
            raise InputError(f"{name} must not be negative, got {v}")


def _split(n: int) -> int:
    """RFC 9162 §2.1.1: the largest power of two smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# --- leaf ranges and perfect nodes ----------------------------------------------------------


def perfect_subtrees(lo: int, hi: int) -> list[NodeId]:
    """The maximal perfect subtrees covering leaves [lo, hi), left to right.

    MTH(D[lo:hi]) is the right fold of their hashes (:func:`hash_of_range`). That holds when
    [lo, hi) is a range of the RFC 9162 tree, i.e. ``lo`` is a multiple of the largest power
    of two smaller than ``hi - lo``; [0, n) gives the binary decomposition of n, largest
    first. Raises InputError for any other range. [lo, lo) gives [].
    """
    _require_non_negative(lo=lo, hi=hi)
    n = hi - lo
    if n < 0:
        raise InputError(f"leaf range [{lo}, {hi}) ends before it starts")
    if n == 0:
        return []
    if n == 1:
        return [(0, lo)]
    # RFC 9162 §2.1.1: the left part D[lo:lo+k] is a perfect tree; it must be a stored node.
    k = _split(n)
    if lo % k:
        raise InputError(
            f"leaf range [{lo}, {hi}) is not a range of the tree: {lo} is not a multiple of {k}"
        )
    if n == 2 * k and lo % n == 0:
        level = k.bit_length()
        return [(level, lo >> level)]
    level = k.bit_length() - 1
    out = [(level, lo >> level)]
    # The right part D[lo+k:hi] has fewer than k leaves: its binary decomposition, each
    # piece aligned because lo + k is a multiple of k.
    pos = lo + k
    rest = n - k
    while rest:
        level = rest.bit_length() - 1
        out.append((level, pos >> level))
        pos += 1 << level
        rest -= 1 << level
    return out


def hash_of_range(lo: int, hi: int, nodes: Mapping[NodeId, bytes]) -> bytes:
    """MTH(D[lo:hi]) from the hashes of ``perfect_subtrees(lo, hi)`` looked up in ``nodes``.

    Folds from the right: h = last; for each earlier p: h = node_hash(p, h). Returns
    EMPTY_ROOT when lo == hi. Raises InputError if a needed node is missing from ``nodes``
    or is not a 32-byte hash.
    """
    ids = perfect_subtrees(lo, hi)
    if not ids:
        return EMPTY_ROOT
    hashes = []
    for nid in ids:
        try:
            h = nodes[nid]
        except KeyError:
            raise InputError(
                f"hash of tree node {nid} is needed for leaf range [{lo}, {hi}) but missing"
            ) from None
        _require_hash(h, f"hash of tree node {nid}")
        hashes.append(h)
    h = hashes[-1]
    for i in range(len(hashes) - 2, -1, -1):
        h = _hash_children(hashes[i], h)
    return h


def root_ranges(size: int) -> list[NodeId]:
    """The perfect subtrees whose hashes fold into the root of a tree of ``size`` leaves.

    Equal to ``perfect_subtrees(0, size)``: one node per set bit of ``size``, largest first.
    """
    _require_non_negative(size=size)
    return perfect_subtrees(0, size)


def inclusion_proof_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The leaf ranges [lo, hi) whose MTH form the inclusion proof of leaf ``index``.

    RFC 9162 §2.1.3.1 PATH(index, D[0:size]), in proof order (the sibling next to the leaf
    first, the one next to the root last). Raises InputError unless 0 ≤ index < size.
    """
    _require_non_negative(index=index, size=size)
    if index >= size:
        raise InputError(f"leaf index {index} is not below tree size {size}")
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    # RFC 9162 §2.1.3.1: PATH(m, D[n]) = PATH(m, D[0:k]) : MTH(D[k:n]) if m < k,
    #                                 = PATH(m - k, D[k:n]) : MTH(D[0:k]) if m >= k.
    # Walk from the root down, collecting the siblings; the proof lists them bottom-up.
    while hi - lo > 1:
        mid = lo + _split(hi - lo)
        if index < mid:
            out.append((mid, hi))
            hi = mid
        else:
            out.append((lo, mid))
            lo = mid
    out.reverse()
    return out


def consistency_proof_ranges(size1: int, size2: int) -> list[tuple[int, int]]:
    """The leaf ranges [lo, hi) whose MTH form the consistency proof from size1 to size2.

    RFC 9162 §2.1.4.1 PROOF(size1, D[0:size2]), in proof order. Empty when size1 == size2 or
    size1 == 0 (nothing to prove). Raises InputError for negative sizes or size1 > size2.
    """
    _require_non_negative(size1=size1, size2=size2)
    if size1 > size2:
        raise InputError(f"first tree size {size1} is larger than second tree size {size2}")
    if size1 == 0 or size1 == size2:
        return []
    out: list[tuple[int, int]] = []
    lo, hi = 0, size2
    # RFC 9162 §2.1.4.1: SUBPROOF(m, D[m], true) = {}; SUBPROOF(m, D[m], false) = {MTH(D[m])};
    # for m < n: SUBPROOF(m, D[0:k], b) : MTH(D[k:n]) if m <= k,
    #            SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k]) if m > k.
    # Invariant: lo < size1 <= hi, so the loop ends with size1 == hi.
    complete = True  # the flag b: still on the path of the old tree's own root
    while size1 != hi:
        mid = lo + _split(hi - lo)
        if size1 <= mid:
            out.append((mid, hi))
            hi = mid
        else:
            out.append((lo, mid))
            lo = mid
            complete = False
    if not complete:
        out.append((lo, hi))
    out.reverse()
    return out


def nodes_needed(ranges: Iterable[tuple[int, int]]) -> set[NodeId]:
    """Every perfect node :func:`hash_of_range` needs for the given leaf ranges."""
    out: set[NodeId] = set()
    for lo, hi in ranges:
        out.update(perfect_subtrees(lo, hi))
    return out


# --- references over a full list of leaf hashes (O(n)) -------------------------------------


def _levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """All levels of the tree, bottom-up; an unpaired last node is promoted unchanged.

    Level L, position j holds MTH(D[j·2^L : min((j+1)·2^L, n)]), which is the RFC 9162 tree.
    """
    level = list(leaf_hashes)
    for i, h in enumerate(level):
        _require_hash(h, f"leaf hash {i}")
    levels = [level]
    while len(level) > 1:
        nxt = [_hash_children(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        levels.append(nxt)
        level = nxt
    return levels


def root_from_leaves(leaf_hashes: Sequence[bytes]) -> bytes:
    """Reference RFC 9162 §2.1.1 MTH over a whole list of leaf hashes, iterative, O(n)."""
    level = list(leaf_hashes)
    if not level:
        return EMPTY_ROOT
    for i, h in enumerate(level):
        _require_hash(h, f"leaf hash {i}")
    while len(level) > 1:
        nxt = [_hash_children(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


def inclusion_proof_from_leaves(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Reference RFC 9162 §2.1.3.1 inclusion proof of leaf ``index``, O(n).

    Built level by level (the sibling at each level, skipping levels where the node is an
    unpaired last node), independently of :func:`inclusion_proof_ranges`.
    """
    size = len(leaf_hashes)
    _require_non_negative(index=index)
    if index >= size:
        raise InputError(f"leaf index {index} is not below tree size {size}")
    proof = []
    for level in _levels(leaf_hashes)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            proof.append(level[sibling])
        index >>= 1
    return proof


def consistency_proof_from_leaves(size1: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Reference RFC 9162 §2.1.4.1 consistency proof from ``size1`` to ``len(leaf_hashes)``.

    Built level by level as in the CT reference implementation: the largest perfect node
    that ends the old tree (unless it is the old root), then its path to the new root.
    Empty when size1 is 0 or the full size; InputError when size1 is negative or too large.
    """
    size2 = len(leaf_hashes)
    _require_non_negative(size1=size1)
    if size1 > size2:
        raise InputError(f"first tree size {size1} is larger than second tree size {size2}")
    if size1 == 0 or size1 == size2:
        return []
    levels = _levels(leaf_hashes)
    node, level = size1 - 1, 0
    while node & 1:
        node >>= 1
        level += 1
    proof = []
    if node:
        proof.append(levels[level][node])
    for nodes in levels[level:-1]:
        sibling = node ^ 1
        if sibling < len(nodes):
            proof.append(nodes[sibling])
        node >>= 1
    return proof


# --- verification ---------------------------------------------------------------------------


def _check_proof_hash(h: bytes, what: str, name: str) -> None:
    if len(h) != HASH_SIZE:
        raise ProofError(f"{what}: {name} is {len(h)} bytes, not {HASH_SIZE}")


def _inclusion_proof_length(index: int, size: int) -> int:
    """Length of PATH(index, D[0:size]) (0 ≤ index < size), in O(1).

    ``inner`` levels below the point where the paths to ``index`` and ``size - 1`` part,
    one hash each; above it, a left sibling for each set bit of index (the right border).
    """
    inner = (index ^ (size - 1)).bit_length()
    return inner + (index >> inner).bit_count()


def root_from_inclusion_proof(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes]
) -> bytes:
    """The root that ``proof`` yields for ``leaf_hash`` at ``index`` in a tree of ``size``.

    RFC 9162 §2.1.3.2 steps 1-5 without the final root comparison. Raises ProofError if the
    proof cannot be a proof for this index and size (index ≥ size, wrong number of hashes,
    hashes that are not 32 bytes); InputError for negative index or size.
    """
    _require_non_negative(index=index, size=size)
    what = f"inclusion proof for leaf {index} in tree of size {size}"
    # RFC 9162 §2.1.3.2 step 1: compare leaf_index against tree_size.
    if index >= size:
        raise ProofError(f"{what}: leaf index is not below the tree size")
    _check_proof_hash(leaf_hash, what, "leaf hash")
    for i, p in enumerate(proof):
        _check_proof_hash(p, what, f"proof hash {i}")
    expected = _inclusion_proof_length(index, size)
    if len(proof) != expected:
        raise ProofError(f"{what}: proof has {len(proof)} hashes, expected {expected}")
    # Step 2: set fn to leaf_index and sn to tree_size - 1.
    fn, sn = index, size - 1
    # Step 3: set r to hash.
    r = leaf_hash
    # Step 4: for each value p in the inclusion_path array:
    for p in proof:
        # 4a. If sn is 0, stop the iteration and fail the proof verification.
        if sn == 0:
            raise ProofError(f"{what}: proof has more hashes than the path to the root")
        # 4b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            # 4b.i. Set r to HASH(0x01 || p || r).
            r = _hash_children(p, r)
            # 4b.ii. If LSB(fn) is not set, right-shift fn and sn equally until either
            # LSB(fn) is set or fn is 0.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            # Otherwise, 4b.i. set r to HASH(0x01 || r || p).
            r = _hash_children(r, p)
        # 4c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # Step 5: compare sn to 0 (the root comparison is left to the caller).
    if sn != 0:
        raise ProofError(f"{what}: proof has fewer hashes than the path to the root")
    return r


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check an RFC 9162 §2.1.3.2 inclusion proof; raise ProofError if it does not hold.

    Besides the RFC's steps, every hash (leaf, proof, root) must be 32 bytes and the index
    must be below the size. InputError only for a negative index or size.
    """
    what = f"inclusion proof for leaf {index} in tree of size {size}"
    computed = root_from_inclusion_proof(leaf_hash, index, size, proof)
    _check_proof_hash(root, what, "root hash")
    # RFC 9162 §2.1.3.2 step 5: compare r against the root_hash.
    if computed != root:
        raise ProofError(f"{what}: computed root does not match")


def _consistency_proof_length(size1: int, size2: int) -> int:
    """Length of PROOF(size1, D[0:size2]) for 0 < size1 < size2, in O(1).

    The inclusion path of leaf size1 - 1 in the new tree, less the levels below the perfect
    node that ends the old tree, plus that node itself unless it is the old root.
    """
    shift = (size1 & -size1).bit_length() - 1
    seed = 0 if size1 == 1 << shift else 1
    return seed + _inclusion_proof_length(size1 - 1, size2) - shift


def verify_consistency(
    size1: int, size2: int, proof: Sequence[bytes], root1: bytes, root2: bytes
) -> None:
    """Check an RFC 9162 §2.1.4.2 consistency proof; raise ProofError if it does not hold.

    Besides the RFC's steps (which assume 0 < size1 < size2): size1 > size2 fails; size1 == 0
    fails (a proof from the empty tree proves nothing; the transparency-dev vectors reject it
    even for two empty trees); size1 == size2 needs an empty proof and root1 == root2, compared
    as given (the vectors accept equal roots of any length there). Otherwise every hash must
    be 32 bytes. InputError only for negative sizes.
    """
    _require_non_negative(size1=size1, size2=size2)
    what = f"consistency proof from size {size1} to size {size2}"
    if size1 > size2:
        raise ProofError(f"{what}: the first size is larger than the second")
    if size1 == 0:
        raise ProofError(f"{what}: a proof from the empty tree is meaningless and not accepted")
    if size1 == size2:
        if proof:
            raise ProofError(f"{what}: sizes are equal but the proof is not empty")
        if root1 != root2:
            raise ProofError(f"{what}: sizes are equal but the roots differ")
        return
    _check_proof_hash(root1, what, "first root hash")
    _check_proof_hash(root2, what, "second root hash")
    for i, c in enumerate(proof):
        _check_proof_hash(c, what, f"proof hash {i}")
    # RFC 9162 §2.1.4.2 step 1: if consistency_path is empty, fail.
    if not proof:
        raise ProofError(f"{what}: proof is empty")
    expected = _consistency_proof_length(size1, size2)
    if len(proof) != expected:
        raise ProofError(f"{what}: proof has {len(proof)} hashes, expected {expected}")
    # Step 2: if first is an exact power of 2, prepend first_hash to consistency_path.
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    # Step 3: set fn to first - 1 and sn to second - 1.
    fn, sn = size1 - 1, size2 - 1
    # Step 4: if LSB(fn) is set, right-shift fn and sn equally until LSB(fn) is not set.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # Step 5: set both fr and sr to the first value in consistency_path.
    fr = sr = path[0]
    # Step 6: for each subsequent value c in consistency_path:
    for c in path[1:]:
        # 6a. If sn is 0, stop the iteration and fail the proof verification.
        if sn == 0:
            raise ProofError(f"{what}: proof has more hashes than the path to the root")
        # 6b. If LSB(fn) is set, or if fn is equal to sn, then:
        if fn & 1 or fn == sn:
            # 6b.i. Set fr to HASH(0x01 || c || fr); 6b.ii. set sr to HASH(0x01 || c || sr).
            fr = _hash_children(c, fr)
            sr = _hash_children(c, sr)
            # 6b.iii. If LSB(fn) is not set, right-shift fn and sn equally until either
            # LSB(fn) is set or fn is 0.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            # Otherwise, 6b.i. set sr to HASH(0x01 || sr || c).
            sr = _hash_children(sr, c)
        # 6c. Finally, right-shift both fn and sn one time.
        fn >>= 1
        sn >>= 1
    # Step 7: verify fr == first_hash, sr == second_hash and sn == 0.
    if sn != 0:
        raise ProofError(f"{what}: proof has fewer hashes than the path to the root")
    if fr != root1:
        raise ProofError(f"{what}: computed first root does not match")
    if sr != root2:
        raise ProofError(f"{what}: computed second root does not match")


# --- incremental appends --------------------------------------------------------------------


class CompactRange:
    """The frontier of a tree of ``size`` leaves: the hashes of ``root_ranges(size)``.

    Enough to append leaves and compute roots without reading the rest of the tree.
    ``hashes`` lists them left to right, i.e. largest subtree first.
    """

    __slots__ = ("hashes", "size")

    size: int
    hashes: list[bytes]

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Start from the hashes of ``root_ranges(size)``, left to right.

        Raises InputError if size is negative, the number of hashes is not the number of
        set bits of size, or a hash is not 32 bytes.
        """
        _require_non_negative(size=size)
        if len(hashes) != size.bit_count():
            raise InputError(
                f"a tree of size {size} has {size.bit_count()} frontier hashes, got {len(hashes)}"
            )
        for i, h in enumerate(hashes):
            _require_hash(h, f"frontier hash {i}")
        self.size = size
        self.hashes = list(hashes)

    def __repr__(self) -> str:
        return f"CompactRange(size={self.size}, hashes=[{', '.join(h.hex() for h in self.hashes)}])"

    def append(self, leaf: bytes) -> list[tuple[NodeId, bytes]]:
        """Add one leaf hash; return every perfect node it completes, with its hash.

        The leaf itself ``((0, old size), leaf)`` comes first, then its completed ancestors
        in increasing level. Amortised O(1). Raises InputError unless leaf is 32 bytes.
        """
        _require_hash(leaf, "leaf hash")
        index = self.size
        h = leaf
        level = 0
        out: list[tuple[NodeId, bytes]] = [((0, index), h)]
        hashes = self.hashes
        # A node at an odd index is a right child: merge it with its left sibling, the
        # last (smallest) frontier hash, and repeat one level up.
        while index & 1:
            h = _hash_children(hashes.pop(), h)
            index >>= 1
            level += 1
            out.append(((level, index), h))
        hashes.append(h)
        self.size += 1
        return out

    def extend(self, leaves: Sequence[bytes]) -> list[tuple[int, int, list[bytes]]]:
        """Add many leaf hashes; return the interior nodes they complete, level by level.

        Each item is a run ``(level, first index, hashes)`` of consecutive completed nodes
        at one level ≥ 1, in increasing level. The same nodes as :meth:`append` per leaf,
        but each level is hashed in one pass over a list, which is what makes a batch
        append cheap in CPython. Raises InputError unless every leaf is 32 bytes.
        """
        for i, h in enumerate(leaves):
            if len(h) != HASH_SIZE:
                _require_hash(h, f"leaf hash {i}")
        size = self.size
        # The old frontier by level: a set bit of size is a perfect subtree at that level.
        old = {
            lvl: h
            for lvl, h in zip(
                [lv for lv in range(size.bit_length() - 1, -1, -1) if size >> lv & 1],
                self.hashes,
                strict=True,
            )
        }
        runs: list[tuple[int, int, list[bytes]]] = []
        front: dict[int, bytes] = {}
        row, start, level = list(leaves), size, 0
        sha, prefix = _sha256, _NODE_PREFIX
        while row:
            if start & 1:
                # The row begins with a right child: its left sibling is the frontier's.
                row = [old.pop(level), *row]
                start -= 1
            n = len(row)
            if n & 1:
                front[level] = row[-1]
            row = [sha(prefix + row[i] + row[i + 1]).digest() for i in range(0, n - 1, 2)]
            start >>= 1
            level += 1
            if row:
                runs.append((level, start, row))
        # Frontier subtrees above the highest level the new leaves reached stay as they were.
        front.update(old)
        self.hashes = [front[lvl] for lvl in sorted(front, reverse=True)]
        self.size = size + len(leaves)
        return runs

    def root(self) -> bytes:
        """MTH of the whole tree: the frontier folded from the right; EMPTY_ROOT if empty."""
        hashes = self.hashes
        if not hashes:
            return EMPTY_ROOT
        h = hashes[-1]
        for i in range(len(hashes) - 2, -1, -1):
            h = _hash_children(hashes[i], h)
        return h
