"""`civic demo` from the outside: five real nodes, demo.json, a clean stop on SIGTERM."""

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

import httpx

from ledger.c2sp.note import parse_vkey
from ledger.c2sp.proof import parse_tlog_proof
from ledger.c2sp.trust import check_trust
from ledger.witness_policy import genesis_policy

ROOT = Path(__file__).parent.parent


def _free_block(n: int = 5) -> int:
    """A base port with ``n`` consecutive free ports after it."""
    for _ in range(50):
        base = random.randint(20000, 60000)
        try:
            socks = []
            for p in range(base, base + n):
                s = socket.socket()
                s.bind(("127.0.0.1", p))
                socks.append(s)
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
        deadline = time.monotonic() + 180
        while not (data / "demo.json").exists():
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "demo.json never appeared"
            time.sleep(0.5)
        info = json.loads((data / "demo.json").read_text())
        roles = sorted(n["role"] for n in info["nodes"])
        assert roles == ["mirror", "sequencer", "witness", "witness", "witness"]
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
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
