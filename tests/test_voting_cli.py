"""The voting commands of the CLI against a real node process on 127.0.0.1."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from client.http import NodeClient
from ledger.c2sp.proof import format_tlog_proof, parse_tlog_proof
from ledger.keys import save_key_file
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.launcher import NodeProcess, start_node
from tests.factory import key

ORIGIN = "civic.example/cli-vote"
PASS = "cli-test-passphrase"
CHAIR, DANA, ELI = key("cli-chair"), key("cli-dana"), key("cli-eli")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[NodeProcess, Path]]:
    d = tmp_path / "node"
    init_community(d, ORIGIN, [CHAIR])
    for name, kp in (("chair", CHAIR), ("dana", DANA), ("eli", ELI)):
        save_key_file(tmp_path / f"{name}.key", kp, PASS, strength="min")
    node = start_node(d)
    try:
        with NodeClient(node.url) as c:
            envs = [
                sign_envelope(
                    make_statement(
                        ORIGIN,
                        "member.enrol",
                        {"key": r.key_id, "unit_commitment": "ef" * 32},
                        CHAIR.key_id,
                    ),
                    [CHAIR],
                )
                for r in (DANA, ELI)
            ]
            assert all(r["status"] == 201 for r in c.submit(envs))
        yield node, tmp_path
    finally:
        node.stop()


def test_vote_cast_verify_close_tally(running: tuple[NodeProcess, Path]) -> None:
    node, tmp = running
    runner = CliRunner()
    env = {"CIVIC_PASSPHRASE": PASS, "CIVIC_NODE": node.url, "XDG_DATA_HOME": str(tmp / "xdg")}

    def civic(*args: str, code: int = 0) -> str:
        r = runner.invoke(app, list(args), env=env)
        assert r.exit_code == code, f"{args}: {r.output} {r.exception!r}"
        return r.output

    out = civic(
        "ballot", "open", "--kind", "yes_no", "--title", "en=Paint the gate green?",
        "--title", "zh=把大门漆成绿色？", "--duration", "3s", "--quorum", "1",
        "--key", str(tmp / "chair.key"),
    )  # fmt: skip
    bid = re.search(r"opened ballot (\d+)", out).group(1)  # type: ignore[union-attr]
    receipt = tmp / "dana.tlog-proof"
    civic("vote", "cast", "--ballot", bid, "--choice", "yes", "--key", str(tmp / "dana.key"),
          "--receipt", str(receipt))  # fmt: skip
    out = civic("vote", "cast", "--ballot", bid, "--choice", "no", "--key", str(tmp / "eli.key"))
    default = Path(re.search(r"receipt saved to (\S+)", out).group(1))  # type: ignore[union-attr]
    assert default.is_relative_to(tmp / "xdg") and default.exists()
    assert parse_tlog_proof(receipt.read_bytes()).extra is not None

    # While open: everything holds but "counted", which is skipped.
    out = civic("vote", "verify", "--receipt", str(receipt), "--node", node.url, "--node", node.url)
    assert "9. skip counted" in out and "receipt verified" in out
    out = civic(
        "vote", "cast", "--ballot", bid, "--choice", "maybe", "--key", str(tmp / "eli.key"), code=1
    )

    doc = json.loads(civic("ballot", "show", "--ballot", bid, "--json"))["ballot"]
    closes = datetime.fromisoformat(doc["closes"].replace("Z", "+00:00"))
    time.sleep(max(0.0, (closes - datetime.now(UTC)).total_seconds()) + 0.3)
    out = civic("ballot", "close", "--ballot", bid, "--key", str(tmp / "chair.key"))
    assert "2 of 2 voted, did not pass" in out

    out = civic("vote", "verify", "--receipt", str(receipt), "--node", node.url)
    assert "9. ok   counted" in out and "receipt verified" in out
    assert "10. ok   witness quorum" in out
    report = json.loads(civic("vote", "verify", "--receipt", str(receipt), "--json"))
    assert report["ok"] and [s["status"] for s in report["steps"]].count("pass") == 9
    assert report["steps"][9]["name"] == "witness quorum" and report["steps"][9]["status"] == "pass"

    for extra in ([], ["--full"]):
        t = json.loads(civic("ballot", "tally", "--ballot", bid, "--json", *extra))
        assert t["matches"] and t["status"] == "closed"
        assert t["result"]["counts"] == {"yes": 1, "no": 1, "abstain": 0}

    bundle = tmp / "bundle.json"
    civic("ballot", "bundle", "--ballot", bid, "--receipt", str(receipt), "--out", str(bundle))
    vkey = json.loads(bundle.read_text())["log_vkey"]
    out = civic(
        "vote", "verify", "--receipt", str(receipt), "--bundle", str(bundle), "--log-key", vkey
    )
    assert "receipt verified" in out
    # The whole log as one offline file (`civic log bundle`) serves `vote verify` too.
    log_zip = tmp / "log.zip"
    civic("log", "bundle", "--node", node.url, "--out", str(log_zip))
    out = civic(
        "vote", "verify", "--receipt", str(receipt), "--bundle", str(log_zip), "--log-key", vkey
    )
    assert "9. ok   counted" in out and "10. skip witness quorum" in out
    assert "receipt verified" in out

    # A tampered receipt: the choice in the record no longer matches its signature.
    bad = tmp / "bad.tlog-proof"
    p = parse_tlog_proof(receipt.read_bytes())
    assert p.extra is not None
    bad.write_bytes(format_tlog_proof(replace(p, extra=p.extra.replace(b'"yes"', b'"no"'))))
    out = civic("vote", "verify", "--receipt", str(bad), "--node", node.url, code=3)
    assert "2. FAIL vote" in out and "NOT verified" in out
    out = civic(
        "vote", "verify", "--receipt", str(bad), "--bundle", str(log_zip), "--log-key", vkey,
        code=3,
    )  # fmt: skip
    assert "NOT verified" in out

    lst = json.loads(civic("ballot", "list", "--json"))
    assert lst["ballots"][0]["passed"] is False
    votes = json.loads(civic("vote", "list", "--ballot", bid, "--json"))
    assert votes["total"] == 2
    assert "1 ballots" in civic("ballot", "list")
