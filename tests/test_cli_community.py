"""The committee's path as real processes: keys, community init, node start, enrol, restart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from node.launcher import start_node

CIVIC = [sys.executable, "-m", "cli.main"]
ROOT = Path(__file__).parent.parent


def civic(*args: str, env: dict[str, str], check: bool = True) -> subprocess.CompletedProcess[str]:
    r = subprocess.run(
        [*CIVIC, *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    if check:
        assert r.returncode == 0, r.stderr
    return r


def test_init_start_enrol_restart(tmp_path: Path) -> None:
    env = dict(os.environ, CIVIC_PASSPHRASE="correct horse battery staple")
    alice, bob = tmp_path / "alice.key", tmp_path / "bob.key"
    resident = tmp_path / "dana.key"
    alice_id = civic("key", "new", "--out", str(alice), env=env).stdout.strip()
    civic("key", "new", "--out", str(bob), env=env)
    dana_id = civic("key", "new", "--out", str(resident), env=env).stdout.strip()
    data = tmp_path / "node"
    out = civic(
        "community",
        "init",
        "--data",
        str(data),
        "--origin",
        "civic.example/cli-garden",
        "--committee",
        str(alice),
        "--committee",
        str(bob),
        "--json",
        env=env,
    )
    init = json.loads(out.stdout)
    assert init["log_vkey"].startswith("civic.example/cli-garden+")
    assert len(init["genesis_hash"]) == 64
    assert civic("log", "key", "--data", str(data), env=env).stdout.strip() == init["log_vkey"]
    # Initialising the same folder twice is refused and changes nothing.
    again = civic(
        "community",
        "init",
        "--data",
        str(data),
        "--origin",
        "civic.example/cli-garden",
        "--committee",
        str(alice),
        env=env,
        check=False,
    )
    assert again.returncode != 0 and again.stderr.startswith("error: ")
    assert "Traceback" not in again.stderr

    node = start_node(data)
    try:
        env["CIVIC_NODE"] = node.url
        civic(
            "member",
            "enrol",
            "--resident",
            dana_id,
            "--unit",
            "Block 3, Flat 12",
            "--key",
            str(alice),
            env=env,
        )
        # A resident key cannot enrol anyone: 403, one line, non-zero exit.
        denied = civic(
            "member",
            "enrol",
            "--resident",
            alice_id,
            "--unit",
            "x",
            "--key",
            str(resident),
            env=env,
            check=False,
        )
        assert denied.returncode != 0 and "committee" in denied.stderr
        assert len(denied.stderr.strip().splitlines()) == 1
        before = json.loads(civic("member", "list", "--json", env=env).stdout)
        assert [m["key"] for m in before["members"]] == [dana_id]
        cp_before = httpx.get(node.url + "/log/checkpoint").text
    finally:
        node.stop()
    node = start_node(data)
    try:
        env["CIVIC_NODE"] = node.url
        after = json.loads(civic("member", "list", "--json", env=env).stdout)
        assert after == before
        assert httpx.get(node.url + "/log/checkpoint").text == cp_before
        show = json.loads(civic("community", "show", "--json", env=env).stdout)
        assert show["genesis_hash"] == init["genesis_hash"] and show["members"] == 1
    finally:
        node.stop()
    assert civic("log", "verify", "--data", str(data), env=env).stdout.startswith("ok: 2 records")


def test_unreachable_node_is_one_line(tmp_path: Path) -> None:
    env = dict(os.environ, CIVIC_NODE="http://127.0.0.1:9")
    r = civic("member", "list", env=env, check=False)
    assert r.returncode == 4
    assert r.stderr.startswith("error: cannot reach node") and "Traceback" not in r.stderr
