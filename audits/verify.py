"""The audit's pure verification steps: records, bundles, trees, tiles, checkpoints, replay.

Nothing here touches a socket, a file or a clock: everything takes bytes and values and
returns values (findings for what is wrong), so the same functions run in the process pool,
in the tests on hand-made inputs, and offline on a bundle.

Per entry (:func:`check_entry`), following docs/design.md "The two objects":

1. the entry is a record: RFC 8785 canonical JSON with exactly index, prev, time, envelope
   (``ledger.records.parse_record``);
2. the envelope is well formed and every signature is Ed25519 by its key over
   ``DOMAIN || JCS(statement)`` (``ledger.statements.parse_envelope``).

Both steps have a fast path (one C JSON parse, the statement's canonical bytes cut out of the
record's, cached verify keys) that only ever *accepts*: anything it does not accept is
re-checked by the ledger's own functions, which give the verdict and the exact message. The
tests hold the two paths to the same answers.

Per entry bundle (:func:`verify_bundle_data`): RFC 9162 §2.1.1 leaf hashes, the perfect
subtrees inside the bundle (levels 0-8), and the C2SP tlog-tiles level-0 tile compared with
the leaves.

Per log (:func:`replay_checked`): the ``prev`` chain and the rule engine
(``ledger.state.apply_envelope``, sequentially, on envelopes verified in the pool).
"""

from __future__ import annotations

import base64
import hashlib
import json
import json.encoder
import json.scanner
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, NamedTuple

import nacl.exceptions
import nacl.signing

from audits.findings import Finding, finding
from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, open_checkpoint, read_checkpoint
from ledger.c2sp.note import NoteVerifier
from ledger.c2sp.policy import Policy
from ledger.c2sp.trust import check_trust
from ledger.canonical import _ASTRAL, _DECODER, _Undecided, canonical_value
from ledger.errors import CivicError, InputError, SignatureError
from ledger.keys import public_key_of
from ledger.log_keys import KeyHistory
from ledger.merkle import NodeId
from ledger.records import parse_record, parse_time
from ledger.state import Context, State, apply_envelope
from ledger.statements import DOMAIN, Envelope, _check_shape, parse_envelope
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef, decode_bundle, tile_width
from ledger.witness_policy import policy_from_genesis
from rules import community_rules

__all__ = [
    "BundleResult",
    "CheckedRecord",
    "authenticate_tiles",
    "canonical_record",
    "check_cosignatures",
    "check_entry",
    "check_entry_exact",
    "check_log_signature",
    "expand_records",
    "fresh_state",
    "node_from_tiles",
    "perfect_root",
    "replay_checked",
    "tile_refs",
    "verify_bundle_compact",
    "verify_bundle_data",
    "witness_policy",
]

_RECORD_KEYS = frozenset({"index", "prev", "time", "envelope"})
# Same pattern as ledger.records: prev is 64 lowercase hex digits.
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_STATEMENT_AT = b',"statement":'
_ENVELOPE_END = b'},"index":'
_HASH = merkle.HASH_SIZE
_MAX_CACHED_KEYS = 1 << 16
_RECORD_RULE = "record format (docs/design.md: canonical JCS of index, prev, time, envelope)"
_ENVELOPE_RULE = "envelope format (docs/design.md)"
_SIGNATURE_RULE = "Ed25519 signature over DOMAIN || JCS(statement)"


class CheckedRecord(NamedTuple):
    """An entry after steps 1-2: its parsed parts, or the code and message of what failed."""

    position: int
    rec_index: int | None
    prev: str | None
    time: str | None
    type: str | None
    envelope: Envelope | None
    code: str | None = None
    rule: str | None = None
    message: str | None = None
    # ``time`` parsed, once, in the pool: the replay and the warnings need it as a datetime.
    when: datetime | None = None


# --- records -------------------------------------------------------------------------------

# ledger.canonical's decoder and encoder, called through their C parts directly: the Python
# wrappers (whitespace skipping, the encoder built anew per call) cost about 40% of the
# check. Same hooks, same settings, so the same answers (tests/test_audit_verify.py).
# (Typeshed does not declare the C parts: they are looked up by name.)
_c_scanner: Any = getattr(json.scanner, "c_make_scanner", None)
_c_encoder: Any = getattr(json.encoder, "c_make_encoder", None)
_SCAN: Any = _c_scanner(_DECODER) if _c_scanner else None
_C_ENCODE: Any = (
    _c_encoder(None, None, json.encoder.encode_basestring, None, ":", ",", True, False, True)
    if _c_encoder
    else None
)


def canonical_record(data: bytes) -> Any | None:
    """``ledger.canonical.canonical_value`` of ``data``, faster: the parsed value if ``data``
    is certainly JCS canonical, None if not or undecided (the caller then takes the exact
    path)."""
    if _SCAN is None or _C_ENCODE is None:  # pragma: no cover - CPython without _json
        return canonical_value(data)
    # Records are mostly ASCII, which isascii() tells at memory speed.
    if not data.isascii() and _ASTRAL.search(data):
        return None
    try:
        text = data.decode("utf-8")
        value, end = _SCAN(text, 0)
        if end != len(text) or "".join(_C_ENCODE(value, 0)) != text:
            return None
    except (_Undecided, StopIteration, ValueError):  # JSONDecodeError is a ValueError
        return None
    return value


_verify_keys: dict[str, nacl.signing.VerifyKey] = {}


def _verify(key: str, message: bytes, signature: bytes) -> bool:
    """``ledger.keys.verify_signature`` with the verify key cached per key id."""
    vk = _verify_keys.get(key)
    if vk is None:
        try:
            vk = nacl.signing.VerifyKey(public_key_of(key))
        except (InputError, nacl.exceptions.CryptoError, ValueError, TypeError):
            return False
        if len(_verify_keys) >= _MAX_CACHED_KEYS:
            _verify_keys.clear()
        _verify_keys[key] = vk
    try:
        vk.verify(message, signature)
    except (nacl.exceptions.CryptoError, ValueError, TypeError):
        return False
    return True


def check_entry_exact(data: bytes, position: int) -> CheckedRecord:
    """Steps 1-2 with the ledger's own functions; the reference for :func:`check_entry`."""
    try:
        rec = parse_record(data)
    except CivicError as exc:
        return CheckedRecord(
            position, None, None, None, None, None, "record.malformed", _RECORD_RULE, exc.message
        )
    st = rec.envelope.get("statement")
    type_ = st.get("type") if isinstance(st, dict) and isinstance(st.get("type"), str) else None
    try:
        env = parse_envelope(rec.envelope)
    except SignatureError as exc:
        code, rule = "statement.signature", _SIGNATURE_RULE
        return CheckedRecord(
            position, rec.index, rec.prev, rec.time, type_, None, code, rule, exc.message
        )
    except CivicError as exc:
        code, rule = "statement.malformed", _ENVELOPE_RULE
        return CheckedRecord(
            position, rec.index, rec.prev, rec.time, type_, None, code, rule, exc.message
        )
    return CheckedRecord(
        position, rec.index, rec.prev, rec.time, env.type, env, when=parse_time(rec.time)
    )


def check_entry(data: bytes, position: int) -> CheckedRecord:
    """Steps 1-2 for the entry at ``position``: the fast path, else the exact one."""
    value = canonical_record(data)
    if type(value) is not dict or value.keys() != _RECORD_KEYS:
        return check_entry_exact(data, position)
    index, prev, time, envelope = value["index"], value["prev"], value["time"], value["envelope"]
    # The checks of ledger.records.parse_record, in its order.
    if type(index) is not int or index < 0:
        return check_entry_exact(data, position)
    if type(prev) is not str or not _HEX64.match(prev) or type(envelope) is not dict:
        return check_entry_exact(data, position)
    try:
        when = parse_time(time)
        # parse_envelope's own first step (not a copy): one definition of a good envelope.
        st, sigs = _check_shape(envelope)
    except CivicError:
        return check_entry_exact(data, position)
    # The record is canonical and its keys sort as envelope, index, prev, time, and the
    # envelope's as signatures, statement; signatures hold only key ids and base64. So the
    # statement's JCS bytes are the slice between the two markers (the last '},"index":' is
    # the envelope's end: only index, prev and time follow it).
    start = data.find(_STATEMENT_AT) + len(_STATEMENT_AT)
    end = data.rfind(_ENVELOPE_END)
    statement = data[start:end]
    message = DOMAIN + statement
    for key, sig in sigs:
        if not _verify(key, message, sig):
            return check_entry_exact(data, position)
    env = Envelope(
        statement=st,
        signatures=tuple(sigs),
        hash=hashlib.sha256(statement).hexdigest(),
        signers=frozenset(k for k, _ in sigs),
    )
    return CheckedRecord(position, index, prev, time, st["type"], env, when=when)


# --- bundles and trees -----------------------------------------------------------------------


class BundleResult(NamedTuple):
    """What the pool returns for one entry bundle: the leaf hashes (joined), the level-8 node
    of a full bundle, the perfect nodes inside it (levels 0-8, for partial or requested
    bundles), the checked records, and what is wrong with the bundle or its level-0 tile."""

    bundle: int
    width: int
    leaves: bytes
    top: bytes | None
    nodes: dict[NodeId, bytes] | None
    records: list[CheckedRecord]
    error: str | None = None
    tile_mismatch: tuple[int, ...] = ()
    tile_error: str | None = None
    # From the pool (verify_bundle_compact): ``records`` is empty and each checked record is
    # here, a record that passed steps 1-2 as its statement hash only (see expand_records).
    compact: list[CheckedRecord | str] | None = None


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def perfect_root(hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 root of a perfect tree over ``hashes`` (a power of two of them)."""
    level = list(hashes)
    if not level or len(level) & (len(level) - 1):
        raise InputError(f"a perfect tree has a power-of-two number of leaves, not {len(level)}")
    while len(level) > 1:
        level = [_node(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def _bundle_nodes(leaves: list[bytes], first: int) -> tuple[dict[NodeId, bytes], bytes | None]:
    """Every perfect node of levels 0-8 inside the bundle starting at leaf ``first``."""
    out: dict[NodeId, bytes] = {(0, first + i): h for i, h in enumerate(leaves)}
    level, base = leaves, first
    for lvl in range(1, TILE_HEIGHT + 1):
        level = [_node(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        base >>= 1
        for j, h in enumerate(level):
            out[(lvl, base + j)] = h
    top = level[0] if len(leaves) == TILE_WIDTH else None
    return out, top


def verify_bundle_data(
    data: bytes,
    bundle: int,
    width: int,
    tile: bytes | None = None,
    skip_before: int = 0,
    keep_nodes: bool = False,
) -> BundleResult:
    """Check entry bundle ``bundle`` (``width`` entries) and its level-0 hash tile.

    Records before index ``skip_before`` are hashed but not checked (already verified in an
    earlier audit). ``tile`` is the served level-0 tile of the same width, if any.
    """
    first = bundle * TILE_WIDTH
    try:
        entries = decode_bundle(data)
    except InputError as exc:
        return BundleResult(bundle, width, b"", None, None, [], f"entry bundle {bundle}: {exc}")
    if len(entries) != width:
        msg = f"entry bundle {bundle} holds {len(entries)} entries, expected {width}"
        return BundleResult(bundle, width, b"", None, None, [], msg)
    sha = hashlib.sha256
    leaves = [sha(b"\x00" + e).digest() for e in entries]
    joined = b"".join(leaves)
    records = [check_entry(e, first + i) for i, e in enumerate(entries) if first + i >= skip_before]
    nodes, top = _bundle_nodes(leaves, first)
    mismatch: tuple[int, ...] = ()
    tile_error = None
    if tile is not None:
        if len(tile) != _HASH * width:
            tile_error = f"level-0 tile {bundle} is {len(tile)} bytes, expected {_HASH * width}"
        elif tile != joined:
            mismatch = tuple(
                first + i for i in range(width) if tile[i * _HASH : (i + 1) * _HASH] != leaves[i]
            )
    return BundleResult(
        bundle,
        width,
        joined,
        top,
        nodes if keep_nodes or width < TILE_WIDTH else None,
        records,
        None,
        mismatch,
        tile_error,
    )


def verify_bundle_compact(
    data: bytes,
    bundle: int,
    width: int,
    tile: bytes | None = None,
    skip_before: int = 0,
    keep_nodes: bool = False,
) -> BundleResult:
    """:func:`verify_bundle_data` for the process pool: the same checks, a smaller answer.

    Pickling a parsed statement to the parent and back costs about as much as parsing it
    again there, twice over; so a record that passed steps 1-2 travels as its statement
    hash, and :func:`expand_records` rebuilds it from the bundle's bytes the parent holds.
    """
    res = verify_bundle_data(data, bundle, width, tile, skip_before, keep_nodes)
    compact = [r if r.envelope is None else r.envelope.hash for r in res.records]
    return res._replace(records=[], compact=compact)


def expand_records(res: BundleResult, data: bytes) -> list[CheckedRecord]:
    """The checked records of ``res``, rebuilt from ``data`` (the bundle's bytes) where
    :func:`verify_bundle_compact` sent only a hash: equal to :func:`verify_bundle_data`'s."""
    if res.compact is None:
        return res.records
    entries = decode_bundle(data)
    first = res.bundle * TILE_WIDTH
    start = first + len(entries) - len(res.compact)
    out: list[CheckedRecord] = []
    for pos, item in enumerate(res.compact, start):
        out.append(_rebuild(entries[pos - first], pos, item) if isinstance(item, str) else item)
    return out


def _rebuild(entry: bytes, position: int, statement_hash: str) -> CheckedRecord:
    # The record passed every check in the pool: canonical JSON (so the stock parser reads
    # the same values), a well-formed envelope, valid base64 signatures, an RFC 3339 time.
    value = json.loads(entry)
    env = value["envelope"]
    st = env["statement"]
    sigs = tuple((s["key"], base64.b64decode(s["sig"])) for s in env["signatures"])
    time = value["time"]
    envelope = Envelope(st, sigs, statement_hash, frozenset(k for k, _ in sigs))
    when = datetime.fromisoformat(time.replace("Z", "+00:00"))  # as ledger.records.parse_time
    return CheckedRecord(
        position, value["index"], value["prev"], time, st["type"], envelope, when=when
    )


# --- tiles ---------------------------------------------------------------------------------


def tile_refs(size: int, start: int = 0) -> list[TileRef]:
    """Every entry bundle, then every hash tile, of a log of ``size`` from leaf ``start`` on.

    C2SP tlog-tiles: level L has a tile for every 256 nodes of tree level 8·L, the last one
    partial; levels go up while the tree has at least one node of level 8·L.
    """
    refs: list[TileRef] = []
    bundles = -(-size // TILE_WIDTH)
    for n in range(start // TILE_WIDTH, bundles):
        refs.append(TileRef(None, n, tile_width(None, n, size)))
    level = 0
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        first = (start >> (TILE_HEIGHT * level)) // TILE_WIDTH
        for n in range(first, -(-count // TILE_WIDTH)):
            refs.append(TileRef(level, n, tile_width(level, n, size)))
        level += 1
    return refs


TileGetter = Callable[[int, int], bytes | None]
"""``(tile level, tile index) -> tile bytes`` at the audited size, or None if absent."""


def node_from_tiles(level: int, index: int, get_tile: TileGetter) -> bytes | None:
    """The hash of perfect node ``(level, index)`` read from C2SP tlog-tiles, or None.

    C2SP tlog-tiles: tile level T holds the tree nodes of level 8·T; a node of level
    8·T + r (r < 8) is the perfect tree over 2^r consecutive entries of one tile of level T.
    """
    t, r = divmod(level, TILE_HEIGHT)
    lo = index << r
    data = get_tile(t, lo // TILE_WIDTH)
    off = lo % TILE_WIDTH
    n = 1 << r
    if data is None or len(data) < (off + n) * _HASH:
        return None
    hashes = [data[(off + i) * _HASH : (off + i + 1) * _HASH] for i in range(n)]
    return hashes[0] if n == 1 else perfect_root(hashes)


def authenticate_tiles(
    size: int, root: bytes, get_tile: TileGetter
) -> tuple[set[tuple[int, int]], set[tuple[int, int]]] | None:
    """Check served tiles top-down against ``root``: (proven good tiles, proven bad tiles).

    1. the nodes of ``root_ranges(size)``, read from the tiles, must fold into ``root``
       (RFC 9162 §2.1.1); they cover every partial tile entirely, which makes those good;
    2. each entry of a good tile of level T ≥ 1 is the root of a full child tile of level
       T - 1, which is good if it hashes to that entry and bad otherwise.

    None when step 1 fails: then no tile can be trusted (or one is missing).
    """
    ids = merkle.root_ranges(size)
    found: dict[NodeId, bytes] = {}
    for lvl, idx in ids:
        h = node_from_tiles(lvl, idx, get_tile)
        if h is None:
            return None
        found[(lvl, idx)] = h
    if merkle.hash_of_range(0, size, found) != root:
        return None
    good: set[tuple[int, int]] = set()
    bad: set[tuple[int, int]] = set()
    t = 0
    while size >> (TILE_HEIGHT * t):
        count = size >> (TILE_HEIGHT * t)
        if count % TILE_WIDTH:
            good.add((t, count // TILE_WIDTH))
        t += 1
    queue = sorted(good, reverse=True)
    while queue:
        tl, tn = queue.pop()
        if tl == 0:
            continue
        data = get_tile(tl, tn)
        assert data is not None
        for j in range(len(data) // _HASH):
            child = (tl - 1, tn * TILE_WIDTH + j)
            cdata = get_tile(*child)
            if cdata is None:
                continue
            ok = (
                len(cdata) == TILE_WIDTH * _HASH
                and perfect_root([cdata[i * _HASH : (i + 1) * _HASH] for i in range(TILE_WIDTH)])
                == data[j * _HASH : (j + 1) * _HASH]
            )
            if ok:
                good.add(child)
                queue.append(child)
            else:
                bad.add(child)
    return good, bad


# --- checkpoints and witnesses ---------------------------------------------------------------


def check_log_signature(
    note: bytes, verifier: NoteVerifier | KeyHistory, node: str
) -> Checkpoint | Finding:
    """The checkpoint if the log key signed it validly (C2SP signed-note), else a finding.

    With a :class:`~ledger.log_keys.KeyHistory` (a rotated log), the key is the one of the
    checkpoint's size (docs/adr/0012-log-key-rotation.md)."""
    try:
        if isinstance(verifier, KeyHistory):
            size = read_checkpoint(note).size
            key = verifier.key_for(size)
            try:
                cp, _ = open_checkpoint(note, key)
            except SignatureError as exc:
                raise SignatureError(
                    f"a checkpoint of size {size} must be signed by the log key {key.vkey()} "
                    f"(the log's key history): {exc.message}"
                ) from exc
            return cp
        cp, _ = open_checkpoint(note, verifier)
    except SignatureError as exc:
        return finding("checkpoint.signature", f"{node}: {exc.message}", node=node)
    except InputError as exc:
        return finding("checkpoint.malformed", f"{node}: {exc.message}", node=node)
    return cp


def witness_policy(
    witnesses: Mapping[str, Any] | None, log: NoteVerifier | KeyHistory, size: int | None = None
) -> Policy:
    """The C2SP tlog-policy of a ``witnesses/current`` document (k of the n witnesses), as
    ``ledger.witness_policy`` states a community's policy; for a rotated log, with the key
    of a checkpoint of ``size`` (the current key without one)."""
    if isinstance(log, KeyHistory):
        log = log.current.verifier if size is None else log.key_for(size)
    doc = witnesses or {"witnesses": [], "quorum": 0}
    body = {"log_vkey": log.vkey(), "witnesses": doc["witnesses"], "quorum": doc["quorum"]}
    return policy_from_genesis(body)


def check_cosignatures(note: bytes, policy: Policy, node: str) -> list[Finding]:
    """The witness part of :func:`ledger.c2sp.trust.check_trust` as findings: every
    cosignature by a policy witness must verify (C2SP tlog-cosignature), and the verified
    ones must satisfy the quorum (C2SP tlog-policy)."""
    trust = check_trust(note, policy)
    out = [
        finding(
            "checkpoint.cosignature",
            f"{node}: the cosignature of witness {c.witness!r} does not verify",
            node=node,
        )
        for c in trust.invalid
    ]
    if not trust.quorum_met:
        out.append(
            finding(
                "checkpoint.unwitnessed",
                f"{node}: checkpoint carries {len(trust.cosigned_by)} valid witness "
                f"cosignature(s); the policy needs {trust.quorum_needs}",
                node=node,
            )
        )
    return out


# --- replay --------------------------------------------------------------------------------


def fresh_state() -> State:
    """The empty state an audit replays a log into, under the community's rule set
    (:func:`rules.community_rules`: the same list the node's start-up builds)."""
    return State(community_rules())


def replay_checked(
    state: State, rec: CheckedRecord, leaf_hex: str, node: str | None = None
) -> list[Finding]:
    """Apply one checked record to ``state``: the ``prev`` chain, then the rule engine.

    The same checks as ``ledger.state.apply_record``, with the signatures already verified:
    the record's index is its position, its ``prev`` is the previous leaf hash, and its
    statement passes its type's handler. Whatever happens, the state then stands after
    this record (a rejected statement changes nothing else), so replay goes on.
    """
    out: list[Finding] = []
    pos = rec.position
    if rec.rec_index is None:
        # Not even a record: nothing to chain or apply.
        msg = f"record {pos}: {rec.message}"
        out.append(finding(str(rec.code), msg, index=pos, rule=rec.rule, node=node))
    else:
        if rec.rec_index != pos:
            msg = f"the record at position {pos} says it is record {rec.rec_index}"
            out.append(finding("record.index", msg, index=pos, rule="index = position", node=node))
        if rec.prev != state.head:
            msg = (
                f"record {pos}: prev {rec.prev} is not the leaf hash {state.head} "
                f"of record {pos - 1}"
            )
            rule = "prev = leaf hash of the previous record"
            out.append(finding("record.chain", msg, index=pos, rule=rule, node=node))
        if rec.envelope is None:
            msg = f"record {pos}: {rec.message}"
            out.append(finding(str(rec.code), msg, index=pos, rule=rec.rule, node=node))
        else:
            out.extend(_apply(state, rec, leaf_hex, node))
    state.size = pos + 1
    state.head = leaf_hex
    return out


def _apply(state: State, rec: CheckedRecord, leaf_hex: str, node: str | None) -> list[Finding]:
    assert rec.time is not None and rec.envelope is not None
    pos = rec.position
    when = rec.when if rec.when is not None else parse_time(rec.time)
    ctx = Context(pos, when, rec.time, leaf_hex)
    revoked = state.rows("revoked")
    used = sorted(rec.envelope.signers & revoked.keys())
    if used:
        # The sequencer accepted what the rules refuse from the incident record on.
        k = used[0]
        msg = (
            f"record {pos} ({rec.type}) is signed with {k}, which incident record "
            f"{revoked[k]['at']} revoked: the sequencer accepted a statement it had to refuse"
        )
        rule = "no signature by a revoked key (incident.report)"
        return [finding("record.revoked_key", msg, index=pos, rule=rule, node=node)]
    try:
        apply_envelope(state, rec.envelope, ctx)
    except CivicError as exc:
        msg = f"record {pos} ({rec.type}): {exc.message}"
        rule = f"{rec.type}: {type(exc).__name__}"
        return [finding("rule.violation", msg, index=pos, rule=rule, node=node)]
    except Exception as exc:  # a handler crashed on logged data: report it and go on
        msg = f"record {pos} ({rec.type}): the handler failed with {type(exc).__name__}: {exc}"
        rule = f"{rec.type}: handler error"
        return [finding("rule.violation", msg, index=pos, rule=rule, node=node)]
    return []
