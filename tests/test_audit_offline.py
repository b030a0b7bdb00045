"""Whole audits without a network: in-memory sources, bundles, state files, the pool."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from audits.audit import AuditOptions, make_bundle, run_audit
from audits.bundle import Bundle
from audits.fetch import MemoryFetcher
from audits.report import REPORT_FORMAT, AuditReport
from audits.state_file import load_state_file
from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint
from ledger.c2sp.note import parse_vkey, signer_from_seed
from ledger.errors import NetworkError
from ledger.tiles import decode_bundle, encode_bundle
from node.config import load_log_key
from tests.factory import key
from tests.support.audit import enrol_env, log_objects, make_community, submit

RESIDENTS = 600  # 601 records: two full entry bundles and a partial one


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    d = tmp_path_factory.mktemp("audit-offline") / "node"
    info = make_community(d, RESIDENTS)
    return d, info


@pytest.fixture
def objects(base: tuple[Path, dict[str, str]]) -> dict[str, bytes]:
    return log_objects(base[0])


def audit(*fetchers: MemoryFetcher, **kw: object) -> AuditReport:
    opts = AuditOptions(fetchers=list(fetchers), workers=0, parallel=2)
    for k, v in kw.items():
        setattr(opts, k, v)
    return run_audit(opts)


def codes(report: AuditReport) -> list[str]:
    return [f.code for f in report.sorted_findings()]


def test_clean_log_is_clean(objects: dict[str, bytes], base: tuple[Path, dict[str, str]]) -> None:
    rep = audit(MemoryFetcher("mem", objects, offline=True), genesis=base[1]["genesis_hash"])
    assert rep.verdict == "clean", codes(rep)
    assert codes(rep) == []
    assert rep.verified_from == 0 and rep.verified_to == RESIDENTS + 1
    assert rep.genesis_hash == base[1]["genesis_hash"] and rep.pinned_by == "genesis"
    doc = rep.to_json()
    assert doc["format"] == REPORT_FORMAT and doc["verdict"] == "clean"
    assert set(doc) == {
        "format", "verdict", "started", "finished", "trust", "checkpoint", "verified",
        "nodes", "phases", "counts", "findings", "warnings",
    }  # fmt: skip
    assert doc["verified"] == {"from": 0, "to": RESIDENTS + 1, "records": RESIDENTS + 1}
    json.dumps(doc)
    assert "No problem found" in rep.to_markdown()


def test_the_pool_finds_the_same(
    objects: dict[str, bytes], base: tuple[Path, dict[str, str]]
) -> None:
    bad = dict(objects)
    tile = bytearray(bad["log/tile/0/001"])
    tile[40] ^= 1
    bad["log/tile/0/001"] = bytes(tile)
    mem = MemoryFetcher("mem", bad, offline=True)
    in_process = audit(mem, genesis=base[1]["genesis_hash"])
    pooled = audit(mem, genesis=base[1]["genesis_hash"], workers=2)
    assert codes(pooled) == codes(in_process) == ["tile.mismatch"]
    assert pooled.sorted_findings()[0].index == 257


def test_tampered_upper_tile(objects: dict[str, bytes]) -> None:
    bad = dict(objects)
    path = next(p for p in bad if p.startswith("log/tile/1/"))
    bad[path] = bytes(32) + bad[path][32:]
    rep = audit(MemoryFetcher("evil", bad, offline=True), vkey=_vkey(objects))
    assert codes(rep) == ["tile.mismatch"]
    assert rep.sorted_findings()[0].node == "evil"


def test_tampered_entry_is_located(objects: dict[str, bytes]) -> None:
    bad = dict(objects)
    entries = decode_bundle(bad["log/tile/entries/001"])
    entries[10] = _flip_commitment(entries[10])
    bad["log/tile/entries/001"] = encode_bundle(entries)
    rep = audit(MemoryFetcher("evil", bad, offline=True), vkey=_vkey(objects))
    found = rep.sorted_findings()
    assert rep.verdict == "evidence"
    mism = [f for f in found if f.code == "entries.mismatch"]
    assert [(f.index, f.node) for f in mism] == [(266, "evil")]
    assert {"statement.signature", "record.chain"} <= set(codes(rep))
    assert [f.index for f in found if f.code == "statement.signature"] == [266]


def _flip_commitment(entry: bytes) -> bytes:
    """The record with one hex digit of its unit commitment changed."""
    rec = bytearray(entry)
    pos = rec.index(b'"unit_commitment":"') + len(b'"unit_commitment":"')
    rec[pos] = ord("f") if rec[pos] != ord("f") else ord("e")
    return bytes(rec)


def test_fork_and_unreachable(objects: dict[str, bytes], base: tuple[Path, dict[str, str]]) -> None:
    signer = load_log_key(base[0])
    cp, _ = open_checkpoint(objects["log/checkpoint"], signer.verifier())
    forked = dict(objects)
    forked["log/checkpoint"] = sign_checkpoint(Checkpoint(cp.origin, cp.size, bytes(32)), signer)
    rep = audit(
        MemoryFetcher("a", objects, offline=True),
        MemoryFetcher("b", forked, offline=True),
        MemoryFetcher("gone", objects, down=True),
        genesis=base[1]["genesis_hash"],
    )
    assert rep.verdict == "evidence"
    assert codes(rep) == ["checkpoint.fork", "node.unreachable"]
    fork = rep.sorted_findings()[0]
    assert "a" in str(fork.node) and "b" in str(fork.node)
    assert {n.name: n.checkpoint for n in rep.nodes} == {"a": "ok", "b": "fork", "gone": "none"}
    only_down = audit(
        MemoryFetcher("a", objects, offline=True),
        MemoryFetcher("gone", objects, down=True),
        genesis=base[1]["genesis_hash"],
    )
    assert only_down.verdict == "incomplete" and codes(only_down) == ["node.unreachable"]


def test_older_checkpoints_must_be_the_same_tree(
    objects: dict[str, bytes], base: tuple[Path, dict[str, str]]
) -> None:
    signer = load_log_key(base[0])
    leaves = [merkle.leaf_hash(e) for i in range(3) for e in decode_bundle(
        objects[f"log/tile/entries/00{i}" + (".p/89" if i == 2 else "")])]  # fmt: skip
    good = sign_checkpoint(
        Checkpoint(signer.name, 300, merkle.root_from_leaves(leaves[:300])), signer
    )
    other = sign_checkpoint(
        Checkpoint(signer.name, 300, merkle.root_from_leaves(leaves[1:301])), signer
    )
    rep = audit(
        MemoryFetcher("new", objects, offline=True),
        MemoryFetcher("old", {**objects, "log/checkpoint": good}, offline=True),
        genesis=base[1]["genesis_hash"],
    )
    assert codes(rep) == ["node.behind"] and rep.verdict == "clean"
    rep2 = audit(
        MemoryFetcher("new", objects, offline=True),
        MemoryFetcher("old", {**objects, "log/checkpoint": other}, offline=True),
        genesis=base[1]["genesis_hash"],
    )
    assert codes(rep2) == ["checkpoint.inconsistent", "node.behind"]


def test_trust_root_pins(objects: dict[str, bytes]) -> None:
    mem = MemoryFetcher("mem", objects, offline=True)
    wrong = audit(mem, genesis="ab" * 32)
    assert wrong.verdict == "evidence"
    assert codes(wrong) == ["trust.genesis_mismatch", "audit.stopped"]
    stranger = signer_from_seed(parse_vkey(_vkey(objects)).name, bytes(32)).verifier().vkey()
    bad_vkey = audit(mem, vkey=stranger)
    assert bad_vkey.verdict == "evidence"
    assert codes(bad_vkey) == ["checkpoint.signature", "audit.stopped"]
    unpinned = audit(mem)
    assert unpinned.verdict == "clean" and unpinned.pinned_by == "unpinned"
    assert "warn.trust_unpinned" in [w.code for w in unpinned.warnings]


def _vkey(objects: dict[str, bytes]) -> str:
    rec = decode_bundle(objects["log/tile/entries/000"])[0]
    vkey: str = json.loads(rec)["envelope"]["statement"]["body"]["log_vkey"]
    parse_vkey(vkey)
    return vkey


def test_state_file_verifies_only_what_is_new(
    base: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    d = tmp_path / "node"
    shutil.copytree(base[0], d)
    state = tmp_path / "audit-state.json"
    first = audit(MemoryFetcher("m", log_objects(d), offline=True), state_file=state)
    assert first.verdict == "clean" and state.exists()
    remembered = load_state_file(state)
    assert remembered is not None and remembered.size == RESIDENTS + 1
    submit(d, [enrol_env(key(f"later{i}"), unit=f"L{i}") for i in range(300)])
    second = audit(MemoryFetcher("m", log_objects(d), offline=True), state_file=state)
    assert second.verdict == "clean", codes(second)
    assert second.pinned_by == "state"
    assert (second.verified_from, second.verified_to) == (RESIDENTS + 1, RESIDENTS + 301)
    assert codes(second) == ["audit.incremental"]
    again = load_state_file(state)
    assert again is not None and again.size == RESIDENTS + 301
    # The state carried over equals a full replay.
    full = audit(MemoryFetcher("m", log_objects(d), offline=True))
    assert full.verdict == "clean"
    # Another history signed with the same log key does not extend the remembered one.
    other = tmp_path / "other"
    make_community(other, RESIDENTS + 400, label="o", log_signer=load_log_key(d))
    rogue = audit(MemoryFetcher("m", log_objects(other), offline=True), state_file=state)
    assert rogue.verdict == "evidence"
    assert "checkpoint.rollback" in codes(rogue)
    with pytest.raises(Exception, match="state file"):
        audit(MemoryFetcher("m", log_objects(d), offline=True), state_file=state, genesis="cd" * 32)


def test_bundle_round_trip(
    objects: dict[str, bytes], base: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    out = tmp_path / "log.zip"
    made = make_bundle(AuditOptions(fetchers=[MemoryFetcher("m", objects, offline=True)]), out)
    assert made.size == RESIDENTS + 1 and made.genesis_hash == base[1]["genesis_hash"]
    rep = run_audit(AuditOptions(bundle=out, genesis=base[1]["genesis_hash"], workers=0))
    assert rep.verdict == "clean", codes(rep)
    with Bundle(out) as b:
        cp, _ = open_checkpoint(b.checkpoint, parse_vkey(_vkey(objects)))
        assert b.root_at(cp.size) == cp.root_hash
        leaf = merkle.leaf_hash(b.entry(300))
        merkle.verify_inclusion(leaf, 300, cp.size, b.inclusion_proof(300, cp.size), cp.root_hash)
        merkle.verify_consistency(100, cp.size, b.consistency_proof(100, cp.size),
                                  b.root_at(100), cp.root_hash)  # fmt: skip
    # Edit one record inside the bundle: the offline audit finds it.
    edited = tmp_path / "edited.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(edited, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "tile/entries/000":
                entries = decode_bundle(data)
                entries[7] = _flip_commitment(entries[7])
                data = encode_bundle(entries)
            dst.writestr(info, data)
    rep2 = run_audit(AuditOptions(bundle=edited, genesis=base[1]["genesis_hash"], workers=0))
    assert rep2.verdict == "evidence"
    assert ("entries.mismatch", 7) in [(f.code, f.index) for f in rep2.findings]


class Flaky(MemoryFetcher):
    """A source that goes away after serving ``budget`` tiles, counting what it served."""

    def __init__(self, name: str, objects: dict[str, bytes], budget: int) -> None:
        super().__init__(name, objects, offline=True)
        self.budget = budget
        self.served = 0

    def _fetch(self, path: str) -> bytes:
        if not path.startswith("log/tile/"):
            return super()._fetch(path)
        if self.served >= self.budget:
            raise NetworkError(f"{self.name} went away")
        data = super()._fetch(path)
        self.served += 1
        return data


def test_an_interrupted_download_resumes_from_the_cache(
    objects: dict[str, bytes], tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = Flaky("flaky", objects, budget=3)
    rep = audit(first, vkey=_vkey(objects), cache=cache, parallel=1)
    assert rep.verdict == "incomplete"
    assert {"node.unreachable", "node.incomplete", "audit.stopped"} <= set(codes(rep))
    second = Flaky("steady", objects, budget=10**6)
    rep2 = audit(second, vkey=_vkey(objects), cache=cache)
    assert rep2.verdict == "clean", codes(rep2)
    tiles = [p for p in objects if p.startswith("log/tile/")]
    assert first.served == 3 and second.served == len(tiles) - 3
