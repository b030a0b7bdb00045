"""``civic incident`` and ``civic node rotate-key`` against a running node."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from typer.testing import CliRunner

from cli.main import app
from ledger.c2sp.note import parse_private_key
from ledger.keys import save_key_file
from node.bootstrap import init_community
from node.config import load_log_key
from node.launcher import free_port, start_node
from tests.factory import key

PASS = "incident cli passphrase"
ORIGIN = "civic.example/incident-cli"
runner = CliRunner()


def test_incident_report_list_and_rotate_key(tmp_path: Path) -> None:
    people = {n: key(f"incident-cli-{n}") for n in ("alice", "bob", "chen")}
    for name, kp in people.items():
        save_key_file(tmp_path / f"{name}.key", kp, PASS, strength="min")
    seq = tmp_path / "seq"
    info = init_community(seq, ORIGIN, [people["alice"], people["bob"]])
    node = start_node(seq, free_port(), log_file=tmp_path / "seq.log")
    env = {"CIVIC_PASSPHRASE": PASS, "CIVIC_NODE": node.url, "COLUMNS": "200"}
    k = {n: str(tmp_path / f"{n}.key") for n in people}
    try:

        def civic(*args: str) -> str:
            r = runner.invoke(app, list(args), env=env, catch_exceptions=False)
            assert r.exit_code == 0, r.output
            return r.output

        chen = people["chen"].key_id
        civic("member", "enrol", "--resident", chen, "--unit", "Flat 9", "--key", k["alice"])
        out = civic(
            "incident", "report", "--kind", "member_key_compromise",
            "--summary", "a phone was stolen", "--actions", "key revoked",
            "--revoke", chen, "--sign", k["alice"], "--sign", k["bob"],
        )  # fmt: skip
        assert "incident recorded at record 2" in out and f"{chen} is refused" in out
        listed = json.loads(civic("incident", "list", "--json"))
        assert listed["revoked"][chen]["at"] == 2

        new_key = tmp_path / "new-log.key"
        out = civic(
            "node", "rotate-key", "--data", str(seq), "--new-key", str(new_key),
            "--sign", k["alice"], "--sign", k["bob"], "--reason", "yearly rotation",
        )  # fmt: skip
        assert "log key rotated at record 3" in out
        new = parse_private_key(new_key.read_text().strip())
        assert load_log_key(seq).verifier().vkey() == new.verifier().vkey()
        keys = httpx.get(node.url + "/v1/log-keys").json()["keys"]
        assert [x["vkey"] for x in keys] == [info["log_vkey"], new.verifier().vkey()]

        # Bad input: one line, non-zero exit, nothing changes.
        cmd = [sys.executable, "-c", "from cli.main import main; main()"]
        bad = subprocess.run(
            [*cmd, "node", "rotate-key", "--data", str(seq), "--new-key", str(tmp_path / "x.key"),
             "--sign", k["alice"], "--old-key", "maybe"],
            env={**os.environ, **env}, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert bad.returncode != 0
        assert "--old-key must be one of held, lost, compromised" in bad.stderr
        assert "Traceback" not in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
        assert not (tmp_path / "x.key").exists()
        keys = httpx.get(node.url + "/v1/log-keys").json()["keys"]
        assert len(keys) == 2
    finally:
        node.kill()
