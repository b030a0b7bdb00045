"""Receipts that stand on their own, against a real 3-witness network (quorum 2).

`civic vote cast` keeps a receipt whose checkpoint carries the witness quorum; it verifies
with no node at all under the community's tlog-policy; stripped below the quorum it fails
step 10; an unwitnessed receipt is completed with `civic vote receipt --complete`, and its
original checkpoint stays provably consistent with the new one.
"""

from __future__ import annotations

import base64
import json
import zipfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from client.http import NodeClient
from client.submit import submit_statement
from ledger import merkle
from ledger.c2sp.checkpoint import log_signed_only, read_checkpoint
from ledger.c2sp.note import add_signatures, parse_note, parse_vkey
from ledger.c2sp.policy import parse_policy
from ledger.c2sp.proof import format_tlog_proof, parse_tlog_proof
from ledger.c2sp.trust import check_trust
from ledger.errors import InputError
from ledger.keys import save_key_file
from ledger.records import format_time
from tests.factory import key
from tests.test_network import CHAIR, ORIGIN, Net, network, wait_for
from voting.receipts import build_receipt, parse_original

PASS = "witnessed-receipt-passphrase"
VOTER = key("witnessed-voter")


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Net, Path, str]]:
    tmp = tmp_path_factory.mktemp("wr")
    with network(tmp, mirror=False) as n, NodeClient(n.seq.url) as c:
        body = {"key": VOTER.key_id, "unit_commitment": "ab" * 32}
        submit_statement(c, "member.enrol", body, CHAIR, origin=ORIGIN)
        closes = format_time((datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0))
        ballot = {
            "kind": "yes_no",
            "title": {"en": "Plant a tree?"},
            "closes": closes,
            "quorum": {"votes": 1},
            "passing": "simple_majority",
        }
        bid = str(submit_statement(c, "ballot.open", ballot, CHAIR, origin=ORIGIN)["index"])
        save_key_file(tmp / "voter.key", VOTER, PASS, strength="min")
        (tmp / "policy.txt").write_text(n.get(n.seq, "/v1/policy").text, "utf-8")
        yield n, tmp, bid


def civic(tmp: Path, *args: str, code: int = 0) -> tuple[str, str]:
    r = CliRunner().invoke(app, list(args), env={"CIVIC_PASSPHRASE": PASS})
    assert r.exit_code == code, f"{args}: {r.output} {r.exception!r}"
    return r.stdout, r.stderr


def offline(tmp: Path, receipt: Path, code: int = 0) -> str:
    """`civic vote verify` with no node: only the receipt and the published policy."""
    return civic(tmp, "vote", "verify", "--receipt", str(receipt), "--policy",
                 str(tmp / "policy.txt"), code=code)[0]  # fmt: skip


def cast(n: Net, tmp: Path, bid: str, name: str, *extra: str) -> tuple[Path, str]:
    receipt = tmp / name
    _, err = civic(tmp, "vote", "cast", "--ballot", bid, "--choice", "yes", "--key",
                   str(tmp / "voter.key"), "--node", n.seq.url, "--receipt", str(receipt),
                   *extra)  # fmt: skip
    return receipt, err


def test_cast_receipt_carries_the_quorum_and_verifies_offline(
    net: tuple[Net, Path, str],
) -> None:
    n, tmp, bid = net
    receipt, err = cast(n, tmp, bid, "cast.tlog-proof")
    assert "NOT witnessed" not in err
    proof = parse_tlog_proof(receipt.read_bytes())
    policy = parse_policy((tmp / "policy.txt").read_text())
    trust = check_trust(proof.checkpoint, policy)
    assert trust.trusted and len(trust.cosigned_by) >= 2, trust.summary()
    assert read_checkpoint(proof.checkpoint).size > proof.index
    out = offline(tmp, receipt)
    assert "10. ok   witness quorum: your receipt's checkpoint" in out, out
    assert "receipt verified" in out and "5. skip" in out
    # Offline with a ballot bundle instead: the witness keys come from the genesis it carries.
    bundle = tmp / "ballot.json"
    got, _ = civic(tmp, "ballot", "bundle", "--ballot", bid, "--receipt", str(receipt),
                   "--out", str(bundle), "--node", n.seq.url, "--witnessed")  # fmt: skip
    assert "witness quorum: checkpoint of size" in got and "quorum met" in got
    with_bundle = ("vote", "verify", "--receipt", str(receipt), "--bundle", str(bundle),
                   "--log-key", n.log_vkey)  # fmt: skip
    out = civic(tmp, *with_bundle)[0]
    assert "10. ok   witness quorum: your receipt's" in out and "receipt verified" in out

    # Stripped below the quorum (one cosignature of three, the policy needs two): step 10.
    _, log_only = log_signed_only(proof.checkpoint, parse_vkey(n.log_vkey))
    kept = next(w.signature for w in trust.cosignatures if w.signature is not None)
    one = add_signatures(log_only, [kept])
    assert len(parse_note(one).signatures) == 2  # the log's signature and one witness
    stripped = tmp / "stripped.tlog-proof"
    stripped.write_bytes(format_tlog_proof(replace(proof, checkpoint=one)))
    out = offline(tmp, stripped, code=3)
    assert "10. FAIL witness quorum" in out and "NOT met" in out
    assert "civic vote receipt --complete" in out
    assert [ln[2:4] for ln in out.splitlines() if "FAIL" in ln] == ["10"]
    stripped_bundle = ("vote", "verify", "--receipt", str(stripped), "--bundle", str(bundle),
                       "--log-key", n.log_vkey)  # fmt: skip
    assert "10. FAIL witness quorum" in civic(tmp, *stripped_bundle, code=3)[0]


def test_unwitnessed_receipt_is_completed_and_keeps_its_original(
    net: tuple[Net, Path, str],
) -> None:
    n, tmp, bid = net
    with NodeClient(n.seq.url) as c:
        vkey = parse_vkey(c.community()["log_vkey"])
        out = submit_statement(c, "vote.cast", {"ballot": bid, "choice": "no"}, VOTER)
        record = base64.b64decode(c.record(out["index"])["entry"])
    first = out["checkpoint"].encode()
    hashes = [bytes.fromhex(h) for h in out["inclusion_proof"]["hashes"]]
    receipt = tmp / "old.tlog-proof"
    receipt.write_bytes(build_receipt(out["index"], hashes, first, record, vkey))
    # The 201 answer's checkpoint is sent before any witness saw it: not valid offline.
    assert "10. FAIL witness quorum" in offline(tmp, receipt, code=3)
    n.submit(3)  # the log grows before the receipt is completed
    size = n.size(n.seq)
    wait_for("the quorum", lambda: n.quorum_at(n.seq, size) or None)
    stdout, _ = civic(tmp, "vote", "receipt", "--complete", str(receipt), "--node", n.seq.url)
    assert "completed" in stdout
    new = parse_tlog_proof(receipt.read_bytes())
    assert new.index == out["index"] and read_checkpoint(new.checkpoint).size >= size
    original = parse_original(receipt.with_name(receipt.name + ".original").read_bytes())
    assert original.checkpoint == first
    # The original checkpoint is provably consistent with the new one (RFC 9162 §2.1.4.2).
    a, b = read_checkpoint(first), read_checkpoint(new.checkpoint)
    merkle.verify_consistency(a.size, b.size, list(original.consistency), a.root_hash, b.root_hash)
    got = offline(tmp, receipt)
    assert "10. ok   witness quorum" in got and "11. ok   original answer" in got, got
    # A forged original (another root at that size) is caught by step 11.
    forged = first.replace(base64.b64encode(a.root_hash), base64.b64encode(b"\x00" * 32))
    receipt.with_name(receipt.name + ".original").write_bytes(
        b"civic-ledger/receipt-original@v1\n\n" + forged
    )
    assert "11. FAIL original answer" in offline(tmp, receipt, code=3)


def test_api_witnessed_proofs_bundles_and_consistency_from_zero(
    net: tuple[Net, Path, str],
) -> None:
    n, _, bid = net
    policy = n.policy()
    size = n.size(n.seq)
    wait_for("the quorum", lambda: n.quorum_at(n.seq, size) or None)
    with NodeClient(n.seq.url) as c:
        got = c.get_json("/v1/proofs/inclusion", index=1, witnessed="true")
        note = got["checkpoint"].encode()
        assert check_trust(note, policy).trusted and got["tree_size"] >= size
        cp = read_checkpoint(note)
        leaf = merkle.leaf_hash(base64.b64decode(c.record(1)["entry"]))
        hashes = [bytes.fromhex(h) for h in got["hashes"]]
        merkle.verify_inclusion(leaf, 1, cp.size, hashes, cp.root_hash)
        with pytest.raises(InputError, match="not both"):
            c.get_json("/v1/proofs/inclusion", index=1, tree_size=2, witnessed="true")
        plain = c.get_json("/v1/proofs/inclusion", index=1, tree_size=2)
        assert "checkpoint" not in plain
        # RFC 9162 §2.1.4: consistency proofs exist only for 0 < first.
        with pytest.raises(InputError, match=r"RFC 9162 §2\.1\.4.*0 < first"):
            c.consistency_proof(0, size)
        bundle = c.get_json(f"/v1/ballots/{bid}/bundle", witnessed="true")
        assert bundle["witness_quorum"]["met"] is True
        assert check_trust(bundle["checkpoint"].encode(), policy).trusted
        assert base64.b64decode(bundle["genesis"]) == base64.b64decode(c.record(0)["entry"])
        # A bundle at the current, not yet cosigned checkpoint says so plainly.
        n.submit(1)
        current = c.get_json(f"/v1/ballots/{bid}/bundle")
        met = check_trust(current["checkpoint"].encode(), policy).trusted
        assert current["witness_quorum"]["met"] is met
        if not met:
            assert "NOT met" in current["witness_quorum"]["detail"]


def test_log_bundle_says_whether_its_checkpoint_has_the_quorum(
    net: tuple[Net, Path, str],
) -> None:
    n, tmp, _ = net
    out = tmp / "log.zip"
    civic(tmp, "log", "bundle", "--node", n.seq.url, "--out", str(out), "--vkey", n.log_vkey)
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("civic-bundle.json"))
        note = z.read("checkpoint")
    trust = check_trust(note, n.policy())
    assert manifest["witness_quorum"] == {"met": trust.trusted, "detail": trust.summary()}


def test_cast_without_witnesses_saves_an_unwitnessed_receipt_and_says_so(
    net: tuple[Net, Path, str],
) -> None:
    n, tmp, bid = net
    for w in n.witnesses:
        w.kill()
    try:
        receipt, err = cast(n, tmp, bid, "alone.tlog-proof", "--witness-wait", "0.3")
        assert "NOT witnessed" in err and f"civic vote receipt --complete {receipt}" in err
        assert "10. FAIL witness quorum" in offline(tmp, receipt, code=3)
    finally:
        for w in n.witnesses:
            w.restart(wait=False)
