"""Witness, replica, policy and evidence, in-process: C2SP tlog-witness step by step.

The witness's replica reads the sequencer's log through an in-memory twin of the HTTP
fetcher; the multi-process behaviour is in ``test_network.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, sign_checkpoint
from ledger.c2sp.cosignature import CosignatureSigner, cosigner_from_seed
from ledger.c2sp.note import (
    add_signatures,
    parse_note,
    parse_signature_lines,
    parse_vkey,
    signer_from_seed,
)
from ledger.c2sp.policy import format_policy, parse_policy
from ledger.c2sp.trust import check_trust, trusted_checkpoint
from ledger.c2sp.witness import SIZE_MEDIA_TYPE, format_add_checkpoint
from ledger.community import commitment
from ledger.errors import InputError, NotFoundError, SignatureError, VerificationError
from ledger.evidence import (
    equivocation,
    evidence_from_json,
    invalid_record,
    verify_evidence,
)
from ledger.log import Log
from ledger.records import build_record, format_time
from ledger.sql import SqlStore
from ledger.statements import make_statement, sign_envelope
from ledger.storage import StateChange
from ledger.tiles import decode_bundle, encode_bundle
from ledger.witness_policy import policy_from_genesis
from node.app import create_app
from node.bootstrap import init_community
from node.config import load_log_key
from node.context import NodeContext, open_context
from node.cosigning import CheckpointCollector, _WitnessWorker
from node.witness import Witness, init_witness
from rules import community_rules
from tests.factory import key

ORIGIN = "civic.example/witness-garden"
CHAIR = key("wit-committee-0")
SIGNERS = [
    cosigner_from_seed(f"witness-{i}.test", hashlib.sha256(f"w{i}".encode()).digest())
    for i in range(3)
]
WITNESSES = [
    {"name": s.name, "vkey": s.verifier().vkey(), "url": f"http://127.0.0.1:{9 + i}"}
    for i, s in enumerate(SIGNERS)
]


class LogSource:
    """In-memory twin of :class:`node.replica.HttpSource`, reading a Log directly."""

    def __init__(self, log: Log) -> None:
        self.log = log
        self.url = "memory://sequencer"
        self.altered: dict[int, bytes] = {}

    def get(self, path: str) -> bytes:
        if path == "/log/checkpoint":
            return self.log.checkpoint()
        raise NotFoundError(path)

    def checkpoint(self) -> bytes:
        return self.log.checkpoint()

    def bundle(self, index: int, width: int) -> list[bytes]:
        got = decode_bundle(self.log.entry_bundle(index, width))
        return [self.altered.get(index * 256 + i, e) for i, e in enumerate(got)]

    def close(self) -> None:
        pass


def enrol_env(label: str, signer: Any = CHAIR) -> dict[str, Any]:
    salt = os.urandom(16)
    body = {"key": key(label).key_id, "unit_commitment": commitment(label, salt)}
    return sign_envelope(make_statement(ORIGIN, "member.enrol", body, signer.key_id), [signer])


def enrol(seq: NodeContext, *labels: str) -> None:
    for r in seq.services["sequencer"].submit([enrol_env(x) for x in labels]):
        assert not isinstance(r, Exception), r


@pytest.fixture
def seq(tmp_path: Path) -> Iterator[NodeContext]:
    d = tmp_path / "seq"
    init_community(d, ORIGIN, [CHAIR], WITNESSES, 2)
    ctx = open_context(d, serve=True)
    try:
        yield ctx
    finally:
        ctx.close()


def open_witness(wdir: Path, seq: NodeContext) -> NodeContext:
    ctx = open_context(wdir, serve=True)
    ctx.services["replica"].source = LogSource(seq.log)
    return ctx


@pytest.fixture
def wctx(tmp_path: Path, seq: NodeContext) -> Iterator[NodeContext]:
    wdir = tmp_path / "w0"
    init_witness(wdir, SIGNERS[0].name, log_vkey=seq.cfg.log_vkey, signer=SIGNERS[0])
    ctx = open_witness(wdir, seq)
    try:
        yield ctx
    finally:
        ctx.close()


def witness_of(ctx: NodeContext) -> Witness:
    w: Witness = ctx.services["witness"]
    return w


def add(w: Witness, old: int, note: bytes, proof: list[bytes] | None = None) -> Any:
    return w.add_checkpoint(format_add_checkpoint(old, proof or [], note))


def cosign_all(seq: NodeContext, w: Witness) -> Any:
    """Bring a witness to the sequencer's newest checkpoint; the response."""
    latest = w.latest()
    old = 0 if latest is None else latest.size
    size = seq.log.size
    proof = seq.log.consistency_proof(old, size) if 0 < old < size else []
    return add(w, old, seq.log.signed_checkpoint(), proof)


# --- the protocol ------------------------------------------------------------------------


def test_first_checkpoint_is_cosigned_after_a_full_replay(
    seq: NodeContext, wctx: NodeContext
) -> None:
    enrol(seq, "r1", "r2", "r3")
    w = witness_of(wctx)
    res = add(w, 0, seq.log.signed_checkpoint())
    assert res.status == 200, res.body
    (sig,) = parse_signature_lines(res.body)
    text = parse_note(seq.log.signed_checkpoint()).text
    assert SIGNERS[0].verifier().verify_cosignature(text, sig) is not None
    latest = w.latest()
    assert latest is not None and latest.size == seq.log.size
    # The replica holds the same tree and the same replayed state as the sequencer.
    assert wctx.log.root() == seq.log.root()
    assert wctx.state().rows("member") == seq.state().rows("member")


def test_consistent_extension_is_cosigned_and_survives_reopening(
    tmp_path: Path, seq: NodeContext
) -> None:
    wdir = tmp_path / "w-durable"
    init_witness(wdir, SIGNERS[2].name, log_vkey=seq.cfg.log_vkey, signer=SIGNERS[2])
    w = open_witness(wdir, seq)
    try:
        assert cosign_all(seq, witness_of(w)).status == 200
        enrol(seq, "r4")
        enrol(seq, "r5", "r6")
        assert cosign_all(seq, witness_of(w)).status == 200
    finally:
        w.close()
    size = seq.log.size
    again = open_witness(wdir, seq)
    try:
        latest = witness_of(again).latest()
        assert latest is not None and latest.size == size
        assert again.state().size == size
    finally:
        again.close()


def test_stale_old_size_is_409_with_the_witness_size(seq: NodeContext, wctx: NodeContext) -> None:
    w = witness_of(wctx)
    assert cosign_all(seq, w).status == 200
    have = seq.log.size
    enrol(seq, "r7")
    res = add(w, 0, seq.log.signed_checkpoint())
    assert (res.status, res.body, res.media_type) == (409, f"{have}\n".encode(), SIZE_MEDIA_TYPE)


def test_unknown_origin_is_404_and_bad_signature_403(seq: NodeContext, wctx: NodeContext) -> None:
    w = witness_of(wctx)
    other = sign_checkpoint(
        Checkpoint("civic.example/other", 1, b"\0" * 32),
        signer_from_seed("civic.example/other", b"o" * 32),
    )
    assert add(w, 0, other).status == 404
    forged = sign_checkpoint(
        Checkpoint(ORIGIN, seq.log.size, seq.log.root()), signer_from_seed(ORIGIN, b"f" * 32)
    )
    assert add(w, 0, forged).status == 403


def test_old_larger_than_size_and_proof_from_zero_are_400(
    seq: NodeContext, wctx: NodeContext
) -> None:
    w = witness_of(wctx)
    note = seq.log.signed_checkpoint()
    assert add(w, seq.log.size + 1, note).status == 400
    assert add(w, 0, note, [b"\0" * 32]).status == 400


def test_bad_consistency_proof_is_422(seq: NodeContext, wctx: NodeContext) -> None:
    w = witness_of(wctx)
    assert cosign_all(seq, w).status == 200
    old = seq.log.size
    enrol(seq, "r8", "r9")
    proof = seq.log.consistency_proof(old, seq.log.size)
    proof[0] = bytes(32)
    res = add(w, old, seq.log.signed_checkpoint(), proof)
    assert res.status == 422
    assert witness_of(wctx).latest().size == old  # type: ignore[union-attr]


def test_same_size_other_root_is_equivocation_and_blocks_cosigning(
    seq: NodeContext, wctx: NodeContext
) -> None:
    w = witness_of(wctx)
    assert cosign_all(seq, w).status == 200
    size = seq.log.size
    # The real log key signs a second checkpoint of the same size (a forked sequencer).
    fork = sign_checkpoint(Checkpoint(ORIGIN, size, b"\x07" * 32), load_log_key(seq.data_dir))
    res = add(w, size, fork)
    assert res.status == 409 and res.media_type != SIZE_MEDIA_TYPE
    (item,) = wctx.services["evidence"].all()
    ev = evidence_from_json(item)
    assert ev.kind == "equivocation" and fork in ev.notes
    assert "different roots" in verify_evidence(ev, seq.log.verifier)
    # A witness never cosigns past evidence, even a valid continuation.
    enrol(seq, "r10")
    assert cosign_all(seq, w).status == 403


def append_bad_record(seq_dir: Path, origin: str) -> int:
    """Test-only path: a rule-breaking record written straight into a stopped sequencer's
    log (and its views), as a corrupt sequencer would. Returns its index."""
    intruder = key("intruder")
    env = enrol_env("victim", signer=intruder)  # not on the committee: ForbiddenError
    store = SqlStore(f"sqlite+pysqlite:///{seq_dir / 'ledger.sqlite'}")
    try:
        log = Log(store, origin, load_log_key(seq_dir))
        index = log.size
        from datetime import UTC, datetime

        data = build_record(index, log.head, format_time(datetime.now(UTC)), env)
        leaf = merkle.leaf_hash(data).hex()
        log.append([data], StateChange([], index + 1, leaf))
        assert store.read_state(community_rules()).size == index + 1
        return index
    finally:
        store.close()


def test_rule_breaking_record_is_refused_as_evidence(tmp_path: Path) -> None:
    seq_dir = tmp_path / "seq"
    init_community(seq_dir, ORIGIN, [CHAIR], WITNESSES, 2)
    seq = open_context(seq_dir, serve=True)
    enrol(seq, "a1")
    seq.close()
    bad = append_bad_record(seq_dir, ORIGIN)
    seq = open_context(seq_dir, serve=True)
    wdir = tmp_path / "w"
    init_witness(wdir, SIGNERS[1].name, log_vkey=seq.cfg.log_vkey, signer=SIGNERS[1])
    w = open_witness(wdir, seq)
    try:
        res = cosign_all(seq, witness_of(w))
        assert res.status == 422
        assert f"record {bad}" in json.loads(res.body)["detail"]
        assert witness_of(w).latest() is None
        assert w.log.size == 0  # nothing of the refused checkpoint was stored
        (item,) = w.services["evidence"].all()
        ev = evidence_from_json(item)
        assert ev.kind == "invalid-record" and ev.index == bad
        assert "breaks a rule" in verify_evidence(ev, seq.log.verifier)
    finally:
        w.close()
        seq.close()


def test_altered_record_served_by_the_log_is_detected(seq: NodeContext, wctx: NodeContext) -> None:
    w = witness_of(wctx)
    enrol(seq, "b1", "b2")
    assert cosign_all(seq, w).status == 200
    enrol(seq, "b3")
    source = wctx.services["replica"].source
    source.altered[1] = seq.log.entry(1).replace(b'"index":1', b'"index":1 ')
    res = cosign_all(seq, w)
    assert res.status == 422
    (item,) = wctx.services["evidence"].all()
    assert item["kind"] == "integrity" and item["index"] == 1
    with pytest.raises(InputError):
        verify_evidence(evidence_from_json(item), seq.log.verifier)


# --- policy --------------------------------------------------------------------------------


def test_policy_from_genesis_is_tlog_policy(seq: NodeContext) -> None:
    policy = policy_from_genesis(seq.state())
    text = format_policy(policy)
    assert text.splitlines()[0] == f"log {seq.cfg.log_vkey}"
    assert f"witness {SIGNERS[0].name} {SIGNERS[0].verifier().vkey()} " in text
    assert "group quorum 2 witness-0.test witness-1.test witness-2.test\nquorum quorum\n" in text
    assert parse_policy(text) == policy
    genesis = json.loads(seq.log.entry(0))["envelope"]
    assert policy_from_genesis(genesis) == policy
    body = dict(genesis["statement"]["body"], witnesses=[], quorum=0)
    assert format_policy(policy_from_genesis(body)).endswith("quorum none\n")


def test_checkpoint_is_trusted_only_with_the_quorum(seq: NodeContext) -> None:
    policy = policy_from_genesis(seq.state())
    note = seq.log.signed_checkpoint()
    text = parse_note(note).text
    one = add_signatures(note, [SIGNERS[0].cosign(text, 1_800_000_000)])
    report = check_trust(one, policy)
    assert report.cosigned_by == ("witness-0.test",) and not report.quorum_met
    assert "NOT met" in report.summary()
    with pytest.raises(SignatureError, match="needs at least 2"):
        trusted_checkpoint(one, policy)
    two = add_signatures(one, [SIGNERS[2].cosign(text, 1_800_000_000)])
    assert check_trust(two, policy).quorum_met
    assert trusted_checkpoint(two, policy).size == seq.log.size
    stranger = CosignatureSigner("witness-1.test", b"s" * 32)  # same name, another key
    assert not check_trust(add_signatures(one, [stranger.cosign(text, 1)]), policy).quorum_met


# --- evidence ------------------------------------------------------------------------------


def _log(tmp_path: Path, name: str, entries: list[bytes]) -> Log:
    log = Log(
        SqlStore(f"sqlite+pysqlite:///{tmp_path / name}"),
        ORIGIN,
        signer_from_seed(ORIGIN, b"L" * 32),
    )
    log.append(entries)
    return log


def test_equivocation_across_sizes_verifies(tmp_path: Path) -> None:
    a = _log(tmp_path, "a.sqlite", [b"a", b"b", b"c"])
    b = _log(tmp_path, "b.sqlite", [b"a", b"x", b"c", b"d"])
    try:
        ev = equivocation(
            ORIGIN,
            a.checkpoint(),
            b.checkpoint(),
            b.consistency_proof(3, 4),
            b.root_at(3),
            reason="fork",
        )
        assert "inconsistent" in verify_evidence(ev, a.verifier)
        assert evidence_from_json(json.loads(json.dumps(ev.to_json()))) == ev
        # The same notes from an honest log prove nothing.
        honest = equivocation(
            ORIGIN, a.checkpoint(), a.checkpoint(), [], a.root_at(3), reason="none"
        )
        with pytest.raises(VerificationError):
            verify_evidence(honest, a.verifier)
        same = equivocation(ORIGIN, a.checkpoint(), a.checkpoint())
        with pytest.raises(VerificationError):
            verify_evidence(same, a.verifier)
        wrong_key = parse_vkey(signer_from_seed(ORIGIN, b"W" * 32).verifier().vkey())
        with pytest.raises(SignatureError):
            verify_evidence(ev, wrong_key)
        record = a.entry(1)
        ok = invalid_record(ORIGIN, a.checkpoint(), 1, record, a.inclusion_proof(1, 3), "bad")
        verify_evidence(ok, a.verifier)
        forged = invalid_record(ORIGIN, a.checkpoint(), 1, b"zz", a.inclusion_proof(1, 3), "x")
        with pytest.raises(VerificationError):
            verify_evidence(forged, a.verifier)
    finally:
        a.store.close()
        b.store.close()


# --- the HTTP routes of a sequencer --------------------------------------------------------


def test_routes_policy_checkpoints_evidence_and_health(tmp_path: Path) -> None:
    d = tmp_path / "seq"
    init_community(d, ORIGIN, [CHAIR], WITNESSES, 2)
    with TestClient(create_app(d)) as client:
        r = client.post("/v1/statements", json=enrol_env("h1"))
        assert r.status_code == 201
        body = r.json()
        assert body["cosignatures"] == 0
        size = body["inclusion_proof"]["tree_size"]
        got = client.get(body["cosigned_checkpoint"])
        assert got.status_code == 200 and got.headers["x-civic-cosignatures"] == "0"
        assert got.content == client.get("/log/checkpoint").content
        assert client.get(f"/v1/checkpoints/{size + 5}").status_code == 404
        assert client.get("/v1/checkpoints/witnessed").status_code == 404
        assert parse_policy(client.get("/v1/policy").text).quorum == "quorum"
        assert client.get("/v1/evidence").json() == {"count": 0, "evidence": []}
        assert client.get("/healthz").status_code == 200
        peers = client.get("/v1/peers").json()["peers"]
        assert peers == []  # no gossip round has run yet
        assert client.post("/witness/add-checkpoint", content=b"old 0\n\n").status_code == 404
        # A cosignature collected later upgrades the checkpoint of that size.
        ctx = client.app.state.ctx  # type: ignore[attr-defined]
        text = parse_note(ctx.log.signed_checkpoint()).text
        for s in SIGNERS[:2]:
            ctx.services["book"].add(size, s.cosign(text, 1_800_000_000))
        cosigned = client.get("/v1/checkpoints/witnessed")
        assert cosigned.headers["x-civic-cosignatures"] == "2"
        assert (
            trusted_checkpoint(cosigned.content, parse_policy(client.get("/v1/policy").text)).size
            == size
        )
        assert client.get("/log/checkpoint").content == cosigned.content
        # Evidence turns the node unhealthy, with the reason.
        fork = sign_checkpoint(Checkpoint(ORIGIN, size, b"\x09" * 32), load_log_key(d))
        ctx.services["evidence"].add(
            equivocation(ORIGIN, ctx.log.signed_checkpoint(), fork, reason="test fork"), "test"
        )
        health = client.get("/healthz")
        assert health.status_code == 503 and "test fork" in health.json()["reasons"][0]
        assert client.get("/v1/evidence").json()["count"] == 1


# --- the CLI ---------------------------------------------------------------------------------


def test_cli_init_witness_and_mirror(tmp_path: Path, seq: NodeContext) -> None:
    from typer.testing import CliRunner

    from cli.main import app
    from ledger.c2sp.cosignature import parse_cosigner_vkey
    from ledger.errors import CivicError
    from node.config import load_config

    runner = CliRunner()
    wdir = tmp_path / "cli-w"
    r = runner.invoke(
        app, ["node", "init-witness", "--data", str(wdir), "--name", "w.cli", "--json"]
    )
    assert r.exit_code == 0, r.output
    vkey = json.loads(r.output)["vkey"]
    assert parse_cosigner_vkey(vkey).name == "w.cli"
    assert (wdir / "witness.key").stat().st_mode & 0o077 == 0
    assert load_config(wdir).role == "witness"
    # Not configured yet: starting it says what is missing.
    r = runner.invoke(app, ["node", "start", "--data", str(wdir), "--role", "witness"])
    assert isinstance(r.exception, CivicError) and "--log-vkey" in r.exception.message
    r = runner.invoke(app, ["node", "start", "--data", str(wdir), "--role", "mirror"])
    assert isinstance(r.exception, CivicError) and "holds a witness" in r.exception.message
    mdir = tmp_path / "cli-m"
    assert seq.cfg.log_vkey is not None
    r = runner.invoke(
        app,
        [
            "node",
            "init-mirror",
            "--data",
            str(mdir),
            "--follow",
            "http://127.0.0.1:1/",
            "--log-vkey",
            seq.cfg.log_vkey,
        ],
    )
    assert r.exit_code == 0, r.output
    cfg = load_config(mdir)
    assert (cfg.role, cfg.follow, cfg.origin) == ("mirror", "http://127.0.0.1:1", ORIGIN)


def test_signed_checkpoint_inside_the_replica_with_another_root_is_evidence(
    seq: NodeContext, wctx: NodeContext
) -> None:
    enrol(seq, "c1", "c2", "c3", "c4")
    w = witness_of(wctx)
    assert cosign_all(seq, w).status == 200  # the replica holds a checkpoint at size 5 only
    fork = sign_checkpoint(Checkpoint(ORIGIN, 3, os.urandom(32)), load_log_key(seq.data_dir))
    with pytest.raises(VerificationError, match="equivocation"):
        wctx.services["replica"].sync_to(fork)
    (item,) = wctx.services["evidence"].all()
    ev = evidence_from_json(item)
    assert ev.prefix_root == seq.log.root_at(3) and len(ev.notes) == 2
    assert "inconsistent" in verify_evidence(ev, seq.log.verifier)


# --- records pushed with the checkpoint (node.cosigning, "Pushing the records") ------------


class CountingSource(LogSource):
    """A LogSource that counts the bundles fetched through it."""

    def __init__(self, log: Log) -> None:
        super().__init__(log)
        self.fetched = 0

    def bundle(self, index: int, width: int) -> list[bytes]:
        self.fetched += 1
        return super().bundle(index, width)


def collector_of(seq: NodeContext) -> CheckpointCollector:
    """The sequencer's cosignature collector, not started (its workers are driven by hand)."""
    return CheckpointCollector(seq.log, seq.services["book"], lambda: WITNESSES)


def push_all(seq: NodeContext, w: Witness, entries: list[bytes] | None = None) -> Any:
    """Like cosign_all, with the records the witness lacks pushed along."""
    latest = w.latest()
    old = 0 if latest is None else latest.size
    size = seq.log.size
    proof = seq.log.consistency_proof(old, size) if 0 < old < size else []
    body = format_add_checkpoint(old, proof, seq.log.signed_checkpoint())
    pushed = seq.log.entries(old, size) if entries is None else entries
    return w.add_checkpoint_with_entries(body, old, encode_bundle(pushed))


def test_pushed_records_are_replayed_without_fetching(seq: NodeContext, wctx: NodeContext) -> None:
    source = CountingSource(seq.log)
    wctx.services["replica"].source = source
    w = witness_of(wctx)
    enrol(seq, "p1", "p2", "p3")
    assert push_all(seq, w).status == 200
    enrol(seq, "p4", "p5")
    res = push_all(seq, w)
    assert res.status == 200, res.body
    (sig,) = parse_signature_lines(res.body)
    assert (
        SIGNERS[0].verifier().verify_cosignature(parse_note(seq.log.signed_checkpoint()).text, sig)
    )
    assert source.fetched == 0
    assert wctx.log.root() == seq.log.root()
    assert wctx.state().rows("member") == seq.state().rows("member")


@pytest.mark.parametrize("how", ["altered", "short", "garbage"])
def test_pushed_records_that_are_not_the_signed_ones_are_fetched_instead(
    seq: NodeContext, wctx: NodeContext, how: str
) -> None:
    source = CountingSource(seq.log)
    wctx.services["replica"].source = source
    w = witness_of(wctx)
    enrol(seq, "q1", "q2")
    good = seq.log.entries(0, seq.log.size)
    pushed = {
        "altered": [*good[:-1], good[-1].replace(b'"index":', b'"index": ')],
        "short": good[:-1],
        "garbage": [b"\xff" * 40],
    }[how]
    res = push_all(seq, w, pushed)
    assert res.status == 200, res.body
    assert source.fetched == 1
    # Whoever pushed the records is not the log: nothing is held against the log.
    assert wctx.services["evidence"].count() == 0
    assert wctx.log.root() == seq.log.root()
    assert wctx.state().rows("member") == seq.state().rows("member")


def test_worker_pushes_records_to_a_witness_that_has_no_log_url(
    tmp_path: Path, seq: NodeContext
) -> None:
    wdir = tmp_path / "w-push"
    init_witness(wdir, SIGNERS[1].name, log_vkey=seq.cfg.log_vkey, signer=SIGNERS[1])
    worker = _WitnessWorker(collector_of(seq), WITNESSES[1])
    with TestClient(create_app(wdir)) as witness_http:
        wctx = witness_http.app.state.ctx  # type: ignore[attr-defined]
        # Without a log to fetch from, only the pushed records can be replayed.
        assert wctx.services["replica"].source is None
        for labels in (("s1", "s2"), ("s3",)):
            enrol(seq, *labels)
            assert worker._round(witness_http), worker.error
            assert worker.push and worker.cosigned == seq.log.size
            assert wctx.log.root() == seq.log.root()
        assert len(seq.services["book"].signatures(seq.log.size)) == 1
        r = witness_http.post(
            "/witness/add-checkpoint-entries",
            content=b"old 0\n\n",
            headers={"Civic-Entries-From": "x"},
        )
        assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


def test_worker_falls_back_to_plain_add_checkpoint(tmp_path: Path, seq: NodeContext) -> None:
    worker = _WitnessWorker(collector_of(seq), WITNESSES[1])
    enrol(seq, "t1")
    # A node that is not a witness does not answer the extension: the worker stops using it.
    other = tmp_path / "other"
    init_community(other, ORIGIN, [CHAIR])
    with TestClient(create_app(other)) as not_a_witness:
        assert not worker._round(not_a_witness)
    assert worker.push is False
