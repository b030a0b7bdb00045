"""Log-key rotation end to end, as real processes on 127.0.0.1: a sequencer, three witnesses
(quorum 2) and a mirror; a committee of three (quorum 2). docs/adr/0012-log-key-rotation.md.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from audits.audit import AuditOptions, run_audit
from cli.incident_cmds import rotate_log_key
from client.http import NodeClient
from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, read_checkpoint, sign_checkpoint
from ledger.c2sp.note import parse_note, parse_vkey, signer_from_seed
from ledger.c2sp.policy import Policy
from ledger.c2sp.trust import check_trust_by_size, trusted_checkpoint_by_size
from ledger.c2sp.witness import format_add_checkpoint
from ledger.community import commitment
from ledger.errors import ConflictError, ForbiddenError, InputError
from ledger.log_keys import KeyHistory, follow_key_history, rotate_envelope
from ledger.statements import make_statement, sign_envelope
from ledger.witness_policy import genesis_policy
from node.bootstrap import init_community
from node.config import load_log_key
from node.launcher import NodeProcess, free_port, start_node, wait_healthy
from node.log_keys import KEYS_DIR, install_key
from node.mirror import init_mirror
from node.witness import init_witness
from tests.factory import key
from tests.test_network import wait_for

ORIGIN = "civic.example/rotating-garden"
COMMITTEE = [key(f"rot-committee-{i}") for i in range(3)]
NEW = signer_from_seed(ORIGIN, hashlib.sha256(b"rotation-new-key").digest())
GOSSIP = "0.3"


def enrol_env(label: str) -> dict[str, Any]:
    salt = os.urandom(16)
    body = {"key": key(label).key_id, "unit_commitment": commitment(label, salt)}
    chair = COMMITTEE[0]
    return sign_envelope(make_statement(ORIGIN, "member.enrol", body, chair.key_id), [chair])


@dataclass
class Net:
    tmp: Path
    seq: NodeProcess
    witnesses: list[NodeProcess]
    mirror: NodeProcess
    genesis_vkey: str
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30))
    counter: int = 0

    def get(self, node: NodeProcess, path: str) -> httpx.Response:
        return self.http.get(node.url + path)

    def submit(self, n: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(n):
            self.counter += 1
            r = self.http.post(self.seq.url + "/v1/statements", json=enrol_env(f"r{self.counter}"))
            assert r.status_code == 201, r.text
            out.append(r.json())
        return out

    def genesis_policy(self) -> Policy:
        rec0 = base64.b64decode(self.get(self.seq, "/v1/records/0").json()["entry"])
        return genesis_policy(rec0, parse_vkey(self.genesis_vkey))

    def followed(self, node: NodeProcess) -> KeyHistory:
        """The key history a verifier holding only the genesis key learns from ``node``."""
        doc = self.get(node, "/v1/log-keys").json()
        return follow_key_history(doc, self.genesis_vkey, self.genesis_policy()).history

    def witnessed(self, node: NodeProcess, history: KeyHistory) -> Checkpoint | None:
        r = self.get(node, "/v1/checkpoints/witnessed")
        if r.status_code != 200:
            return None
        trust = check_trust_by_size(r.content, self.genesis_policy(), history.key_for)
        return trust.checkpoint if trust.trusted else None


@contextmanager
def network(tmp: Path) -> Iterator[Net]:
    ports = [free_port() for _ in range(5)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    witnesses = []
    for i in range(3):
        signer = init_witness(tmp / f"w{i}", f"w{i}.rot.test", follow=urls[0])
        witnesses.append(
            {"name": signer.name, "vkey": signer.verifier().vkey(), "url": urls[1 + i]}
        )
    info = init_community(tmp / "seq", ORIGIN, COMMITTEE, witnesses, 2, {"committee_quorum": 2})
    vkey = info["log_vkey"]
    init_mirror(tmp / "mirror", urls[0], vkey)
    dirs = [tmp / "seq", *(tmp / f"w{i}" for i in range(3)), tmp / "mirror"]
    procs: list[NodeProcess] = []
    try:
        for i, d in enumerate(dirs):
            args = [a for u in urls if u != urls[i] for a in ("--peer", u)]
            args += ["--gossip-interval", GOSSIP, "--witness-retry", GOSSIP]
            if d.name != "seq":
                args += ["--log-vkey", vkey, "--follow-interval", "0.2"]
            procs.append(start_node(d, ports[i], args, log_file=tmp / f"{d.name}.log", wait=False))
        for p in procs:
            wait_healthy(p.url, proc=p.proc)
        net = Net(tmp, procs[0], procs[1:4], procs[4], vkey)
        try:
            yield net
        finally:
            net.http.close()
    finally:
        for p in procs:
            p.kill()


def _log_signers(note: bytes) -> set[bytes]:
    return {s.key_hash for s in parse_note(note).signatures if s.name == ORIGIN}


def test_rotation_end_to_end(tmp_path: Path) -> None:
    with network(tmp_path) as net:
        old = load_log_key(tmp_path / "seq")
        net.submit(4)
        genesis_only = KeyHistory.genesis_only(net.genesis_vkey)
        wait_for(
            "a witnessed checkpoint of size 5",
            lambda: (w := net.witnessed(net.seq, genesis_only)) and w.size == 5,
        )
        remembered = net.get(net.seq, "/v1/checkpoints/witnessed").content
        before = read_checkpoint(remembered)
        old_proof = net.get(net.seq, f"/v1/proofs/inclusion?index=2&tree_size={before.size}").json()
        rec2 = base64.b64decode(net.get(net.seq, "/v1/records/2").json()["entry"])

        # An auditor remembers the log before the rotation (a state file).
        state_file = tmp_path / "audit-state.json"
        nodes = [net.seq.url, net.mirror.url]
        first = run_audit(
            AuditOptions(nodes=nodes, vkey=net.genesis_vkey, state_file=state_file, workers=0)
        )
        assert first.verdict == "clean", [f.message for f in first.findings]

        c = NodeClient(net.seq.url)
        try:
            # Not the committee quorum: refused, and the staged key is taken away again.
            with pytest.raises(ForbiddenError, match="needs signatures of 2 committee members"):
                rotate_log_key(tmp_path / "seq", NEW, c, COMMITTEE[:1], reason="drill")
            assert not any((tmp_path / "seq" / KEYS_DIR).glob("*.key"))
            # A rotation to a key the sequencer does not hold is refused before it is logged.
            env = rotate_envelope(ORIGIN, net.genesis_vkey, NEW, COMMITTEE[:2], "held", "x", old)
            with pytest.raises(ConflictError, match="does not hold the new log key"):
                c.submit(env)
            out = rotate_log_key(tmp_path / "seq", NEW, c, COMMITTEE[:2], reason="drill")
        finally:
            c.close()
        at = out["index"]
        # The hand-over checkpoint is signed by the old and the new key; log.key is the new one.
        handover = out["checkpoint"].encode()
        assert _log_signers(handover) == {old.key_hash, NEW.key_hash}
        assert load_log_key(tmp_path / "seq").verifier().vkey() == NEW.verifier().vkey()

        after = net.submit(5)
        size = after[-1]["inclusion_proof"]["tree_size"]
        assert _log_signers(after[-1]["checkpoint"].encode()) == {NEW.key_hash}
        # A verifier with only genesis follows the rotation from the served key history.
        history = wait_for(
            "the key history", lambda: net.followed(net.seq).epochs[1:] and net.followed(net.seq)
        )
        assert [e.first_size for e in history.epochs] == [0, at + 1]
        assert history.current.vkey == NEW.verifier().vkey()
        # Witnesses cosign the new key's checkpoints; the mirror follows and serves the same.
        cp = wait_for(
            "witnessed after rotation",
            lambda: (w := net.witnessed(net.seq, history)) and w.size >= size and w,
        )
        wait_for("the mirror", lambda: (m := net.witnessed(net.mirror, history)) and m.size >= size)
        top = net.get(net.mirror, "/log/checkpoint").content
        assert _log_signers(top) == {NEW.key_hash}
        assert read_checkpoint(top) == read_checkpoint(net.get(net.seq, "/log/checkpoint").content)
        assert net.followed(net.mirror).current.vkey == NEW.verifier().vkey()
        assert net.get(net.mirror, "/v1/members").json() == net.get(net.seq, "/v1/members").json()

        # The old remembered checkpoint still verifies, and the new one extends it.
        assert (
            trusted_checkpoint_by_size(remembered, net.genesis_policy(), history.key_for).size
            == before.size
        )
        proof = net.get(
            net.seq, f"/v1/proofs/consistency?first={before.size}&second={cp.size}"
        ).json()
        merkle.verify_consistency(
            before.size,
            cp.size,
            [bytes.fromhex(h) for h in proof["hashes"]],
            before.root_hash,
            cp.root_hash,
        )
        # An old proof (a receipt's content) still verifies against its old checkpoint.
        merkle.verify_inclusion(
            merkle.leaf_hash(rec2),
            2,
            before.size,
            [bytes.fromhex(h) for h in old_proof["hashes"]],
            before.root_hash,
        )

        # civic audit follows the rotation: from the genesis key alone, and from the
        # state remembered before it (old checkpoints and records still verify).
        for opts in (
            AuditOptions(nodes=nodes, vkey=net.genesis_vkey, workers=0),
            AuditOptions(nodes=nodes, vkey=net.genesis_vkey, state_file=state_file, workers=0),
        ):
            rep = run_audit(opts)
            assert rep.verdict == "clean", [f.message for f in rep.findings]
            assert rep.verified_to >= size

        # A checkpoint signed by the old key past the rotation is refused by verifiers
        # and by the witnesses.
        forged = sign_checkpoint(Checkpoint(ORIGIN, cp.size + 1, b"\x07" * 32), old)
        assert not check_trust_by_size(forged, net.genesis_policy(), history.key_for).trusted
        body = format_add_checkpoint(cp.size, [], forged)
        r = net.http.post(net.witnesses[0].url + "/witness/add-checkpoint", content=body)
        assert r.status_code in (403, 409), r.text

        # kill -9 and restart: the sequencer signs with the new key, nobody holds evidence.
        net.seq.kill()
        net.seq.restart(log_file=tmp_path / "seq.log")
        wait_healthy(net.seq.url, proc=net.seq.proc)
        more = net.submit(2)
        assert _log_signers(more[-1]["checkpoint"].encode()) == {NEW.key_hash}
        for n in [net.seq, *net.witnesses, net.mirror]:
            assert net.get(n, "/v1/evidence").json()["evidence"] == [], n.url


def test_a_kill_between_commit_and_key_swap_restarts_with_the_new_key(tmp_path: Path) -> None:
    """The rotation committed but log.key still holds the old key (the CLI was killed before
    step 3): the key waiting in log-keys/ is the one the state asks for."""
    seq = tmp_path / "seq"
    info = init_community(seq, ORIGIN, COMMITTEE, [], 0, {"committee_quorum": 2})
    old = load_log_key(seq)
    install_key(seq, NEW)
    proc = start_node(seq, free_port(), log_file=tmp_path / "seq.log")
    try:
        with httpx.Client(timeout=30) as http:
            env = rotate_envelope(
                ORIGIN, info["log_vkey"], NEW, COMMITTEE[:2], "held", "drill", old
            )
            r = http.post(proc.url + "/v1/statements", json=env)
            assert r.status_code == 201, r.text
            proc.kill()
            assert load_log_key(seq).verifier().vkey() == old.verifier().vkey()
            proc.restart(log_file=tmp_path / "seq.log")
            wait_healthy(proc.url, proc=proc.proc)
            r = http.post(proc.url + "/v1/statements", json=enrol_env("after-kill"))
            assert r.status_code == 201, r.text
            assert _log_signers(r.json()["checkpoint"].encode()) == {NEW.key_hash}
            keys = http.get(proc.url + "/v1/log-keys").json()["keys"]
            assert [k["vkey"] for k in keys] == [info["log_vkey"], NEW.verifier().vkey()]
    finally:
        proc.kill()


def test_a_rotated_log_is_restored_from_its_mirror_with_the_current_key(tmp_path: Path) -> None:
    from node.fsck import fsck_data_dir
    from node.restore import restore

    with network(tmp_path) as net:
        old = load_log_key(tmp_path / "seq")
        net.submit(3)
        c = NodeClient(net.seq.url)
        try:
            rotate_log_key(tmp_path / "seq", NEW, c, COMMITTEE[:2], reason="drill")
        finally:
            c.close()
        after = net.submit(3)
        size = after[-1]["inclusion_proof"]["tree_size"]
        history = wait_for(
            "the key history", lambda: net.followed(net.seq).epochs[1:] and net.followed(net.seq)
        )
        wait_for("the mirror", lambda: (m := net.witnessed(net.mirror, history)) and m.size >= size)
        wait_for("the witnesses", lambda: (w := net.witnessed(net.seq, history)) and w.size >= size)
        net.seq.kill()
        # The genesis key no longer signs this log: a restore with it is refused, and
        # leaves nothing behind.
        old_dir = tmp_path / "restored-old"
        with pytest.raises(InputError, match="not the key of the log"):
            restore(old_dir, net.mirror.url, old)
        assert not old_dir.exists()
        done = restore(tmp_path / "restored", net.mirror.url, NEW)
        assert done.size == size
        assert load_log_key(tmp_path / "restored").verifier().vkey() == NEW.verifier().vkey()
        reports = fsck_data_dir(tmp_path / "restored")
        assert all(r.clean for r in reports), [p for r in reports for p in r.problems]
