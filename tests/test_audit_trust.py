"""Step 1, the trust root (audits/trust.py), on its own: which pins win, and what each
way of not matching them reports."""

from __future__ import annotations

import json

import pytest

from audits.fetch import MemoryFetcher
from audits.findings import Finding
from audits.state_file import AuditState
from audits.trust import TrustContext, establish_trust_root
from audits.verify import fresh_state
from ledger import merkle
from ledger.c2sp.note import parse_vkey, signer_from_seed
from ledger.errors import InputError
from ledger.tiles import decode_bundle, encode_bundle
from tests.support.audit import log_objects, make_community


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, bytes], str, str]:
    """A community of four records: its log objects, genesis hash and log key."""
    d = tmp_path_factory.mktemp("audit-trust") / "node"
    info = make_community(d, 3)
    objects = log_objects(d)
    zero = next(v for p, v in objects.items() if p.startswith("log/tile/entries/000"))
    vkey = json.loads(decode_bundle(zero)[0])["envelope"]["statement"]["body"]["log_vkey"]
    return objects, str(info["genesis_hash"]), vkey


def ctx(
    objects: dict[str, bytes],
    *fetchers: MemoryFetcher,
    down: frozenset[str] = frozenset(),
    notes: tuple[bytes, ...] | None = None,
    vkey: str | None = None,
    genesis: str | None = None,
    remembered: AuditState | None = None,
) -> TrustContext:
    """The context of the trust step, reading widths from the source's own checkpoint."""
    if notes is None:
        notes = (objects["log/checkpoint"],)
    return TrustContext(fetchers, down, notes, vkey, genesis, remembered)


def codes(found: tuple[Finding, ...]) -> list[str]:
    return [f.code for f in found]


def remembered(vkey: str, genesis: str) -> AuditState:
    return AuditState("o", vkey, genesis, b"", 0, merkle.EMPTY_ROOT, [], fresh_state())


def test_the_state_file_wins_and_pins_must_agree_with_it(
    small: tuple[dict[str, bytes], str, str],
) -> None:
    objects, genesis, vkey = small
    gone = MemoryFetcher("gone", objects, down=True)
    got = establish_trust_root(ctx(objects, gone, remembered=remembered(vkey, genesis)))
    assert got.ok and got.pinned_by == "state" and got.genesis_hash == genesis
    assert got.verifier is not None and got.verifier.vkey() == vkey
    assert got.found.findings == () and got.found.down == frozenset()  # nothing was fetched
    stranger = signer_from_seed(parse_vkey(vkey).name, bytes(32)).verifier().vkey()
    with pytest.raises(InputError, match="--vkey differs from the log key remembered"):
        establish_trust_root(
            ctx(objects, gone, vkey=stranger, remembered=remembered(vkey, genesis))
        )
    with pytest.raises(InputError, match="--genesis differs from the genesis remembered"):
        establish_trust_root(
            ctx(objects, gone, genesis="ab" * 32, remembered=remembered(vkey, genesis))
        )


def test_a_pinned_log_key_alone_reads_no_record(small: tuple[dict[str, bytes], str, str]) -> None:
    objects, _, vkey = small
    got = establish_trust_root(ctx(objects, MemoryFetcher("gone", objects, down=True), vkey=vkey))
    assert got.ok and got.pinned_by == "vkey" and got.genesis_hash is None
    assert got.found.findings == ()


def test_the_pinned_genesis_is_looked_for_node_by_node(
    small: tuple[dict[str, bytes], str, str],
) -> None:
    objects, genesis, vkey = small
    path = next(p for p in objects if p.startswith("log/tile/entries/000"))
    entries = decode_bundle(objects[path])
    entries[0] = entries[0].replace(b'"origin":"', b'"origin":"x', 1)
    other = MemoryFetcher("other", {**objects, path: encode_bundle(entries)}, offline=True)
    good = MemoryFetcher("good", objects, offline=True)
    got = establish_trust_root(ctx(objects, other, good, genesis=genesis.upper()))
    assert got.ok and got.pinned_by == "genesis" and got.genesis_hash == genesis
    assert got.verifier is not None and got.verifier.vkey() == vkey
    assert [(f.code, f.node, f.index) for f in got.found.findings] == [
        ("trust.genesis_mismatch", "other", 0)
    ]


def test_unpinned_takes_record_zero_of_the_first_node_that_answers(
    small: tuple[dict[str, bytes], str, str],
) -> None:
    objects, genesis, vkey = small
    gone, good = MemoryFetcher("gone", objects, down=True), MemoryFetcher("good", objects)
    got = establish_trust_root(ctx(objects, gone, good))
    assert got.ok and got.pinned_by == "unpinned" and got.genesis_hash == genesis
    assert codes(got.found.findings) == ["node.unreachable", "warn.trust_unpinned"]
    assert got.found.down == frozenset({"gone"})
    assert f"record 0 of good was taken as genesis {genesis}, log key {vkey}" in (
        got.found.findings[1].message
    )
    # A node already known to be down is neither asked nor reported again.
    again = establish_trust_root(ctx(objects, gone, good, down=frozenset({"gone"})))
    assert codes(again.found.findings) == ["warn.trust_unpinned"]
    assert again.found.down == frozenset()


def test_a_partial_bundle_zero_is_found_at_the_checkpoint_width(
    small: tuple[dict[str, bytes], str, str],
) -> None:
    # A static source serves entry bundle 0 only at the width of its checkpoint (4 here).
    objects, genesis, _ = small
    mem = MemoryFetcher("static", objects, offline=True)
    assert establish_trust_root(ctx(objects, mem, genesis=genesis)).ok
    blind = establish_trust_root(ctx(objects, mem, genesis=genesis, notes=()))
    assert not blind.ok and codes(blind.found.findings) == ["audit.stopped"]


def test_a_genesis_naming_another_log_key_stops_the_audit(
    small: tuple[dict[str, bytes], str, str],
) -> None:
    objects, genesis, vkey = small
    stranger = signer_from_seed(parse_vkey(vkey).name, bytes(32)).verifier()
    got = establish_trust_root(
        ctx(objects, MemoryFetcher("m", objects), vkey=stranger.vkey(), genesis=genesis)
    )
    assert not got.ok and got.pinned_by == "vkey" and got.genesis_hash is None
    assert got.verifier == stranger  # the report still names the pinned key
    assert codes(got.found.findings) == ["trust.vkey_mismatch", "audit.stopped"]
    assert f"not the pinned {stranger.vkey()}" in got.found.findings[0].message
