"""The audit's pure verification functions: records, bundles, trees, tiles, replay."""

from __future__ import annotations

import hashlib
import json
import struct
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from audits.findings import CODES, Finding, Severity, finding, verdict
from audits.verify import (
    BundleResult,
    authenticate_tiles,
    canonical_record,
    check_cosignatures,
    check_entry,
    check_entry_exact,
    check_log_signature,
    expand_records,
    node_from_tiles,
    perfect_root,
    replay_checked,
    tile_refs,
    verify_bundle_compact,
    verify_bundle_data,
    witness_policy,
)
from ledger import merkle
from ledger.c2sp.checkpoint import sign_checkpoint
from ledger.c2sp.cosignature import cosigner_from_seed
from ledger.c2sp.note import add_signatures, signer_from_seed
from ledger.canonical import canonical_json, canonical_value
from ledger.records import build_record, parse_record
from ledger.state import State, replay
from ledger.statements import sign_envelope
from ledger.tiles import TILE_WIDTH, encode_bundle, tile_width
from rules import community_rules
from tests.factory import ORIGIN, Community, key

# --- the fast canonical check ----------------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)


def _jcs_or_none(value: Any) -> bytes | None:
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        return None


@settings(max_examples=400, deadline=None)
@given(json_values, st.sampled_from(["jcs", "compact", "ascii", "spaced"]))
def test_fast_canonical_check_never_accepts_what_rfc8785_refuses(value: Any, form: str) -> None:
    if form == "jcs":
        data = _jcs_or_none(value)
        if data is None:
            return
    else:
        kw: dict[str, Any] = {"sort_keys": True, "ensure_ascii": form == "ascii"}
        if form != "spaced":
            kw["separators"] = (",", ":")
        try:
            data = json.dumps(value, **kw).encode("utf-8")
        except UnicodeEncodeError:
            return
    got = canonical_value(data)
    if got is not None:
        assert _jcs_or_none(json.loads(data)) == data
        assert got == json.loads(data)
    # The audit's own faster check (the C codec called directly) answers the same.
    assert canonical_record(data) == got


@pytest.mark.parametrize(
    "text",
    [
        '{"a":1.0}',  # JCS writes 1
        '{"a":1e2}',
        '{"a":9007199254740993}',  # beyond the I-JSON range
        '{"\U0001f600":1,"\uffff":2}',  # UTF-16 order differs from code points
        '{"a":1,"a":1}',  # duplicate key
        '{"a": 1}',  # whitespace
        '{"a":"\\u0041"}',  # an escape JCS does not write
        '{"a":-0}',
        '{"a":NaN}',
    ],
)
def test_fast_canonical_check_defers_edge_cases(text: str) -> None:
    assert canonical_value(text.encode("utf-8")) is None
    assert canonical_record(text.encode("utf-8")) is None


@pytest.mark.parametrize("text", ['{"a":1} ', ' {"a":1}', '{"a":1}{', "", "[1,", '{"a":1,}'])
def test_audit_canonical_check_refuses_what_is_not_one_value(text: str) -> None:
    assert canonical_record(text.encode("utf-8")) is None


# --- records: the fast path agrees with the ledger's functions ------------------------------


def _community() -> Community:
    com = Community()
    for i in range(5):
        com.enrol(f"v{i}")
    com.do(
        "committee.add", {"key": key("newcomer").key_id}, com.committee[0], also=com.committee[1:2]
    )
    return com


COM = _community()


def _mutations() -> list[bytes]:
    rec = parse_record(COM.records[3])
    env = rec.envelope
    out = [bytes(r) for r in COM.records]
    text = COM.records[3].decode()
    out.append(text.replace(",", ", ", 1).encode())  # not canonical
    out.append(text.replace('{"envelope"', '{"index":3,"envelope"', 1).encode())  # dup key
    out.append(COM.records[3] + b" ")
    out.append(b"not json")
    out.append(b'{"index":0}')

    def with_env(e: dict[str, Any], **over: Any) -> bytes:
        fields = {"index": rec.index, "prev": rec.prev, "time": rec.time, "envelope": e, **over}
        return canonical_json(fields)

    forged = json.loads(json.dumps(env))
    forged["statement"]["body"]["unit_commitment"] = "cd" * 32
    out.append(with_env(forged))  # bad signature
    extra = json.loads(json.dumps(env))
    extra["statement"]["extra"] = 1
    out.append(with_env(extra))
    body_float = json.loads(json.dumps(env))
    body_float["statement"]["body"]["n"] = 1.5
    out.append(with_env(sign_envelope(body_float["statement"], [COM.chair])))
    astral = json.loads(json.dumps(env))
    astral["statement"]["body"]["\U0001f600"] = "x"
    out.append(with_env(sign_envelope(astral["statement"], [COM.chair])))
    nested = json.loads(json.dumps(env))
    nested["statement"]["body"]["z"] = {"a": {}, "index": 1}  # '},"index":' inside
    out.append(with_env(sign_envelope(nested["statement"], [COM.chair])))
    out.append(with_env(env, index=-1))
    out.append(with_env(env, index=True))
    out.append(with_env(env, prev="0" * 63))
    out.append(with_env(env, time="yesterday"))
    out.append(with_env([env]))  # type: ignore[arg-type]
    nosig = json.loads(json.dumps(env))
    nosig["signatures"] = []
    out.append(with_env(nosig))
    other = sign_envelope(env["statement"], [key("someone-else")])
    out.append(with_env(other))  # signer did not sign
    return out


@pytest.mark.parametrize("data", _mutations())
def test_fast_path_gives_the_exact_answer(data: bytes) -> None:
    fast, exact = check_entry(data, 3), check_entry_exact(data, 3)
    assert fast[:5] == exact[:5] and fast[6:] == exact[6:]
    if exact.envelope is None:
        assert fast.envelope is None
    else:
        assert fast.envelope is not None
        assert fast.envelope.statement == exact.envelope.statement
        assert fast.envelope.signatures == exact.envelope.signatures
        assert fast.envelope.hash == exact.envelope.hash
        assert fast.envelope.signers == exact.envelope.signers


def test_codes_of_bad_entries() -> None:
    muts = _mutations()
    assert check_entry(b"not json", 0).code == "record.malformed"
    bad_sig = [m for m in muts if check_entry(m, 3).code == "statement.signature"]
    assert bad_sig, "a forged body must fail its signature"
    assert check_entry(bad_sig[0], 3).rule


# --- bundles, trees, tiles ------------------------------------------------------------------


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _all_tiles(leaves: list[bytes]) -> dict[tuple[int, int], bytes]:
    """Reference tiles built level by level from the leaves (tree levels 0, 8, 16...)."""
    out: dict[tuple[int, int], bytes] = {}
    level_hashes = leaves
    t = 0
    while level_hashes:
        for n in range(0, len(level_hashes), TILE_WIDTH):
            out[(t, n // TILE_WIDTH)] = b"".join(level_hashes[n : n + TILE_WIDTH])
        nxt = []
        for n in range(0, len(level_hashes) - TILE_WIDTH + 1, TILE_WIDTH):
            nxt.append(perfect_root(level_hashes[n : n + TILE_WIDTH]))
        level_hashes, t = nxt, t + 1
    return out


def _check_tiles(size: int, pick: int, flip: int, probe: int) -> None:
    leaves = _leaves(size)
    tiles = _all_tiles(leaves)
    root = merkle.root_from_leaves(leaves)
    auth = authenticate_tiles(size, root, lambda t, n: tiles.get((t, n)))
    assert auth is not None and auth[1] == set() and auth[0] == set(tiles)
    # node_from_tiles agrees with the reference on the nodes of an inclusion proof
    for lo, hi in merkle.inclusion_proof_ranges(probe % size, size):
        for lvl, idx in merkle.perfect_subtrees(lo, hi):
            span = leaves[idx << lvl : (idx + 1) << lvl]
            got = node_from_tiles(lvl, idx, lambda t, n: tiles.get((t, n)))
            assert got == merkle.root_from_leaves(span)
    # flip one bit of one tile: it is proven bad, or (when the root fold needs it) nothing
    # can be authenticated any more
    bad_key = sorted(tiles)[pick % len(tiles)]
    broken = bytearray(tiles[bad_key])
    broken[flip % len(broken)] ^= 1
    tiles2 = {**tiles, bad_key: bytes(broken)}
    auth2 = authenticate_tiles(size, root, lambda t, n: tiles2.get((t, n)))
    assert auth2 is None or (bad_key in auth2[1] and bad_key not in auth2[0])


@settings(max_examples=60, deadline=None)
@given(
    st.integers(min_value=1, max_value=1500),
    st.integers(min_value=0),
    st.integers(min_value=0),
    st.integers(min_value=0),
)
def test_tiles_authenticate_and_locate_a_bad_tile(
    size: int, pick: int, flip: int, probe: int
) -> None:
    _check_tiles(size, pick, flip, probe)


@pytest.mark.parametrize("pick", [0, 1, 255, 256, 257])
def test_tiles_across_three_levels(pick: int) -> None:
    _check_tiles(65536 + 300, pick, 7, 65600)


def test_tile_refs_cover_every_tile() -> None:
    for size in (1, 255, 256, 257, 65537, 100000):
        refs = tile_refs(size)
        tiles = _all_tiles(_leaves(size)) if size < 1000 else None
        if tiles is not None:
            assert {(r.level, r.index) for r in refs if not r.is_entries} == set(tiles)
        for r in refs:
            assert r.width == tile_width(r.level, r.index, size)
    inc = tile_refs(1000, start=600)
    assert [r.index for r in inc if r.is_entries] == [2, 3]


def test_bundle_verification_hashes_and_compares() -> None:
    entries = [bytes(r) for r in COM.records]
    data = encode_bundle(entries)
    leaves = [merkle.leaf_hash(e) for e in entries]
    tile = b"".join(leaves)
    res = verify_bundle_data(data, 0, len(entries), tile)
    assert isinstance(res, BundleResult) and res.error is None and res.tile_mismatch == ()
    assert res.leaves == tile and res.nodes is not None
    assert res.nodes[(0, 0)] == leaves[0]
    assert merkle.hash_of_range(0, len(entries), res.nodes) == merkle.root_from_leaves(leaves)
    assert [r.code for r in res.records] == [None] * len(entries)
    bad_tile = tile[:32] + bytes(32) + tile[64:]
    assert verify_bundle_data(data, 0, len(entries), bad_tile).tile_mismatch == (1,)
    assert verify_bundle_data(data, 0, len(entries), tile[:-1]).tile_error
    assert verify_bundle_data(data[:-1], 0, len(entries)).error
    assert verify_bundle_data(data, 0, len(entries) + 1).error
    assert len(verify_bundle_data(data, 0, len(entries), skip_before=3).records) == len(entries) - 3
    full = encode_bundle([struct.pack(">I", i) for i in range(TILE_WIDTH)])
    res2 = verify_bundle_data(full, 1, TILE_WIDTH)
    lv = [merkle.leaf_hash(struct.pack(">I", i)) for i in range(TILE_WIDTH)]
    assert res2.top == merkle.root_from_leaves(lv) and res2.nodes is None
    assert all(r.code == "record.malformed" for r in res2.records)


@pytest.mark.parametrize("skip", [0, 3, 7])
def test_compact_pool_answer_expands_to_the_same_records(skip: int) -> None:
    # Good and bad records mixed, as the pool sees them; the same bundle both ways.
    entries = _mutations()
    data = encode_bundle(entries)
    full = verify_bundle_data(data, 0, len(entries), skip_before=skip)
    compact = verify_bundle_compact(data, 0, len(entries), skip_before=skip)
    assert compact.records == [] and compact.compact is not None
    assert any(isinstance(x, str) for x in compact.compact)
    assert any(not isinstance(x, str) for x in compact.compact)
    assert compact._replace(compact=None) == full._replace(records=[])
    got = expand_records(compact, data)
    assert len(got) == len(full.records) == len(entries) - skip
    for a, b in zip(got, full.records, strict=True):
        assert a[:5] == b[:5] and a[6:] == b[6:]
        assert (a.envelope is None) == (b.envelope is None)
        if a.envelope is not None and b.envelope is not None:
            assert a.envelope == b.envelope
    assert expand_records(full, data) == full.records


# --- replay ---------------------------------------------------------------------------------


def _replay_all(records: list[bytes]) -> tuple[State, list[Finding]]:
    state = State(community_rules())
    found: list[Finding] = []
    for i, data in enumerate(records):
        rec = check_entry(data, i)
        found += replay_checked(state, rec, merkle.leaf_hash(data).hex(), "test")
    return state, found


def test_replay_matches_the_ledger_and_finds_nothing_on_a_valid_log() -> None:
    state, found = _replay_all(COM.records)
    assert found == []
    assert (
        state.snapshot()
        == replay([parse_record(r) for r in COM.records], State(community_rules())).snapshot()
    )


def test_replay_reports_the_record_and_the_rule() -> None:
    com = Community()
    com.enrol("a")
    # A statement the sequencer would refuse, slipped in as a record: a non-member enrols.
    env = com.envelope("member.enrol", {"key": key("x").key_id, "unit_commitment": "ab" * 32},
                       key("outsider"))  # fmt: skip
    head = merkle.leaf_hash(com.records[-1]).hex()
    bad = build_record(len(com.records), head, "2026-11-28T10:00:00Z", env)
    records = [*com.records, bad]
    _, found = _replay_all(records)
    assert [(f.code, f.index) for f in found] == [("rule.violation", 2)]
    assert found[0].rule == "member.enrol: ForbiddenError"
    assert "committee" in found[0].message
    # a broken chain: prev of the record after it names something else
    broken = build_record(len(com.records), "ab" * 32, "2026-11-28T10:00:00Z", env)
    _, found2 = _replay_all([*com.records, broken])
    assert "record.chain" in [f.code for f in found2]


# --- checkpoints and witnesses --------------------------------------------------------------


def test_checkpoint_and_cosignature_checks() -> None:
    log = signer_from_seed(ORIGIN, hashlib.sha256(b"log").digest())
    w = cosigner_from_seed("w1", hashlib.sha256(b"w1").digest())
    cp = merkle.EMPTY_ROOT
    from ledger.c2sp.checkpoint import Checkpoint

    note = sign_checkpoint(Checkpoint(ORIGIN, 3, cp), log)
    assert not isinstance(check_log_signature(note, log.verifier(), "n"), Finding)
    other = signer_from_seed(ORIGIN, hashlib.sha256(b"other").digest())
    bad = check_log_signature(
        sign_checkpoint(Checkpoint(ORIGIN, 3, cp), other), log.verifier(), "n"
    )
    assert isinstance(bad, Finding) and bad.code == "checkpoint.signature"
    assert check_log_signature(b"junk", log.verifier(), "n").code == "checkpoint.malformed"  # type: ignore[union-attr]
    doc = {"witnesses": [{"name": "w1", "vkey": w.verifier().vkey(), "url": "http://w1"}],
           "quorum": 1}  # fmt: skip
    policy = witness_policy(doc, log.verifier())
    assert [f.code for f in check_cosignatures(note, policy, "n")] == ["checkpoint.unwitnessed"]
    text = Checkpoint(ORIGIN, 3, cp).body()
    cosigned = add_signatures(note, [w.cosign(text, 1_800_000_000)])
    assert check_cosignatures(cosigned, policy, "n") == []
    forged = w.cosign(text, 1_800_000_000)
    forged = type(forged)(forged.name, forged.key_hash, forged.signature[:-1] + b"\x00")
    codes = [f.code for f in check_cosignatures(add_signatures(note, [forged]), policy, "n")]
    assert codes == ["checkpoint.cosignature", "checkpoint.unwitnessed"]


# --- findings -------------------------------------------------------------------------------


def test_findings_have_stable_codes_and_a_verdict() -> None:
    with pytest.raises(ValueError, match="unknown finding code"):
        finding("no.such.code", "x")
    assert all(code.count(".") == 1 for code in CODES)
    e = finding("tile.mismatch", "x", index=3, node="n", tile="tile/0/000")
    assert e.to_json() == {
        "code": "tile.mismatch",
        "severity": "evidence",
        "title": CODES["tile.mismatch"][1],
        "message": "x",
        "index": 3,
        "rule": None,
        "node": "n",
        "detail": {"tile": "tile/0/000"},
    }
    warn = finding("warn.time_backwards", "y")
    inc = finding("node.unreachable", "z")
    assert verdict([warn]) is None
    assert verdict([warn, inc]) == Severity.INCOMPLETE
    assert verdict([inc, e, warn]) == Severity.EVIDENCE
