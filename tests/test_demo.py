"""`civic demo` from the outside: five real nodes of the main community, a district node
with two communities and its witness district, demo.json, fsck, a clean stop on SIGTERM."""

from __future__ import annotations

import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from ledger.c2sp.note import parse_vkey
from ledger.c2sp.proof import parse_tlog_proof
from ledger.c2sp.trust import check_trust
from ledger.witness_policy import genesis_policy

ROOT = Path(__file__).parent.parent


def _free_block(n: int = 7) -> int:
    """A base port with ``n`` consecutive free ports after it."""
    for _ in range(50):
        base = random.randint(20000, 60000)
        try:
            socks = []
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)  # closed below even when its bind fails
                s.bind(("127.0.0.1", p))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free block of ports")


def test_demo_runs_every_role_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = _free_block()
    data = tmp_path / "demo"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli.main",
            "demo",
            "--data",
            str(data),
            "--port",
            str(port),
            "--records",
            "300",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    try:
        deadline = time.monotonic() + 420
        while not (data / "demo.json").exists():
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "demo.json never appeared"
            time.sleep(0.5)
        info = json.loads((data / "demo.json").read_text())
        main = [n for n in info["nodes"] if n["communities"] == [info["origin"]]]
        roles = sorted(n["role"] for n in main)
        assert roles == ["mirror", "sequencer", "witness", "witness", "witness"]
        # The district's folders must not look like the main community's witnesses
        # (tests/support/web.py starts every `witness-*` folder).
        assert sorted(d.name for d in data.glob("witness-*") if d.is_dir()) == [
            "witness-1", "witness-2", "witness-3",
        ]  # fmt: skip
        _check_district(info, data)
        assert info["log_vkey"].startswith(info["origin"] + "+")
        seq = next(n["url"] for n in info["nodes"] if n["role"] == "sequencer")
        community = httpx.get(seq + "/v1/community").json()
        assert community["size"] >= 300 and community["witnesses"]["quorum"] == 2
        assert httpx.get(seq + "/v1/ballots").json()
        assert Path(info["voting"]["receipt"]).exists()
        secret = info["voting"]["secret"]  # 3 trustees, threshold 2, fully decrypted
        assert secret["threshold"] == 2 and len(secret["decrypted_by"]) == 2
        doc = httpx.get(seq + f"/v1/ballots/{secret['ballot']}").json()
        assert doc["mode"] == "secret" and doc["status"] == "closed"
        assert doc["result"]["counts"] == {"garden": 2, "playground": 1, "parking": 0}
        # The saved receipt stands on its own: its checkpoint has the genesis quorum (2 of 3),
        # checked offline with the one trusted-checkpoint check.
        receipt = Path(info["voting"]["receipt"]).read_bytes()
        record0 = base64.b64decode(httpx.get(seq + "/v1/records/0").json()["entry"])
        policy = genesis_policy(record0, parse_vkey(info["log_vkey"]))
        trust = check_trust(parse_tlog_proof(receipt).checkpoint, policy)
        assert trust.trusted and len(trust.cosigned_by) >= 2, trust.summary()
        out = subprocess.run(
            [sys.executable, "-m", "cli.main", "vote", "verify", "--receipt",
             info["voting"]["receipt"], "--node", seq],
            cwd=ROOT, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert out.returncode == 0 and "10. ok   witness quorum: your receipt's" in out.stdout
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        for n in info["nodes"]:
            try:
                httpx.get(n["url"] + "/healthz", timeout=2)
            except httpx.HTTPError:
                continue
            raise AssertionError(f"{n['role']} at {n['url']} still answers after the demo stopped")
        # Issue 10, item 15: run again on its own data (witness-*.log files beside the
        # witness folders): the same community resumes. Item 19: its "Try:" lines run.
        assert sorted(data.glob("witness-*.log"))
        again = subprocess.run(
            [sys.executable, "-m", "cli.main", "demo", "--data", str(data), "--port", str(port),
             "--records", "300", "--once"],
            cwd=ROOT, capture_output=True, timeout=600, text=True,
        )  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
        resumed = json.loads((data / "demo.json").read_text())
        assert (resumed["origin"], resumed["log_vkey"]) == (info["origin"], info["log_vkey"])
        assert resumed["size"] >= community["size"]
        verdicts = [v["verdict"] for v in resumed["fsck"]]
        assert len(verdicts) == 3 and all(f"  {v}\n" in again.stdout for v in verdicts)
        assert "civic node restore --from " + info["nodes"][4]["url"] in again.stdout
        tries = again.stdout.split("Try:\n", 1)[1].splitlines()
        commands = [t.strip() for t in tries if not t.strip().startswith("export ")]
        assert commands and not any(c.startswith("civic ") for c in commands), commands
        program = commands[0].split(" ")[0]
        assert Path(program).is_file() and os.access(program, os.X_OK), program
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()


def _check_district(info: dict[str, Any], data: Path) -> None:
    """The district node serves both communities under /c/{origin}/, each checkpoint is
    signed by its log key and cosigned by the witness district (the genesis quorum),
    /metrics carries the origin labels, the request log is JSON, fsck was clean."""
    district = info["district"]
    dnodes = [
        n for n in info["nodes"] if n["data"] in (district["data"], district["witness"]["data"])
    ]
    assert sorted(n["role"] for n in dnodes) == ["sequencer", "witness"]
    origins = [c["origin"] for c in district["communities"]]
    assert origins == ["civic.example/oak-court", "civic.example/birch-row"]
    assert all(n["communities"] == origins for n in dnodes)
    assert not {n["url"] for n in dnodes} & {n["url"] for n in info["nodes"] if n not in dnodes}
    listed = httpx.get(district["list"]).json()["communities"]
    assert {r["origin"]: r["status"] for r in listed} == dict.fromkeys(origins, "ok")
    for c in district["communities"]:
        vkey = parse_vkey(c["log_vkey"])
        assert vkey.name == c["origin"]
        record0 = base64.b64decode(httpx.get(c["url"] + "/v1/records/0").json()["entry"])
        policy = genesis_policy(record0, vkey)
        cp = httpx.get(c["checkpoint"]).content
        assert check_trust(cp, policy).log_ok, cp
        deadline = time.monotonic() + 120
        while True:  # the witness district cosigns once both nodes run
            r = httpx.get(c["url"] + "/v1/checkpoints/witnessed")
            if r.status_code == 200:
                trust = check_trust(r.content, policy)
                if trust.trusted and f"\n{c['size']}\n".encode() in r.content:
                    break
            assert time.monotonic() < deadline, f"{c['origin']}: no cosigned checkpoint"
            time.sleep(1)
        assert trust.cosigned_by
        doc = httpx.get(c["url"] + "/v1/community").json()
        assert doc["genesis_hash"] == c["genesis_hash"] and doc["size"] == c["size"]
    oak = district["communities"][0]
    secret = httpx.get(f"{oak['url']}/v1/ballots/{oak['secret_ballot']}").json()
    assert secret["mode"] == "secret" and secret["status"] == "open"
    assert all(Path(oak["keys"][who]).is_file() for who in oak["can_vote"])
    from tests.test_metrics import one, scrape

    assert district["metrics"] == district["url"] + "/metrics"
    m = scrape(district["url"])
    for c in district["communities"]:
        assert one(m, "civic_community_up", origin=c["origin"]) == 1
        assert one(m, "civic_tree_size", origin=c["origin"]) == c["size"]
    seq = info["nodes"][0]
    assert one(scrape(seq["url"]), "civic_tree_size", origin=info["origin"]) >= 300
    lines = [
        json.loads(x) for x in Path(district["log"]).read_text().splitlines() if x.startswith("{")
    ]
    requests = [x for x in lines if x.get("logger") == "civic.access"]
    assert any(
        x["origin"] == oak["origin"] and x["route"] == "/c/{origin}/v1/community" for x in requests
    ), requests[-5:]
    assert district["log_format"] == "json"
    assert [Path(f["target"]) for f in info["fsck"]] == [
        data / "sequencer",
        *sorted((data / "district" / "communities").iterdir()),
    ]
    assert all(f["clean"] and ": clean (" in f["verdict"] for f in info["fsck"]), info["fsck"]


def test_replicas_are_configured_again_beside_their_log_files(tmp_path: Path) -> None:
    # Issue 10, item 15: a second `civic demo` on its own data failed with
    # "witness-1.log is not a civic-ledger data folder".
    from demo.community import DEMO_ORIGIN, _configure_replicas
    from node.config import load_config
    from node.witness import init_witness

    init_witness(tmp_path / "witness-1", "witness-1.civic.example", follow="http://127.0.0.1:1")
    (tmp_path / "witness-1.log").write_text("a node's log\n")
    from ledger.c2sp.note import signer_from_seed

    vkey = signer_from_seed(DEMO_ORIGIN, bytes(32)).verifier().vkey()
    _configure_replicas(tmp_path, 8000, vkey)
    cfg = load_config(tmp_path / "witness-1")
    assert (cfg.log_vkey, cfg.origin) == (vkey, DEMO_ORIGIN)
    assert (tmp_path / "mirror" / "node.json").is_file()
