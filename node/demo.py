"""Build the demo community's data and start its nodes (used by ``civic demo``).

The demo community is made with the same code paths as a real one: key files,
genesis through :func:`init_community`, statements through the sequencer.
"""

from __future__ import annotations

import json
import os
import shutil
from base64 import b64encode
from pathlib import Path
from typing import Any

from ledger.community import commitment
from ledger.errors import CivicError
from ledger.keys import KeyPair, generate_keypair, load_key_file, save_key_file
from ledger.statements import make_statement, sign_envelope
from node import demo_funds, demo_voting
from node.bootstrap import init_community
from node.config import load_config
from node.context import NodeContext, open_context
from node.launcher import NodeProcess, start_node

__all__ = ["DEMO_ORIGIN", "DEMO_PASSPHRASE", "build_demo", "start_demo_nodes"]

DEMO_ORIGIN = "civic.example/maple-garden"
DEMO_PASSPHRASE = "maple-garden-demo"
COMMITTEE = ("alice", "bob", "chen")
RESIDENT_FILES = ("dana", "eli", "fatima")


def _key(keys: Path, name: str) -> KeyPair:
    path = keys / f"{name}.key"
    if path.exists():
        return load_key_file(path, DEMO_PASSPHRASE)
    kp = generate_keypair()
    save_key_file(path, kp, DEMO_PASSPHRASE, strength="min")
    return kp


def submit_all(ctx: NodeContext, envelopes: list[dict[str, Any]], batch: int = 250) -> list[Any]:
    """Submit through the sequencer in batches; raise the first rejection."""
    out: list[Any] = []
    for lo in range(0, len(envelopes), batch):
        for r in ctx.services["sequencer"].submit(envelopes[lo : lo + batch]):
            if isinstance(r, CivicError):
                raise r
            out.append(r)
    return out


def build_demo(data: Path, records: int = 1000, fresh: bool = False) -> dict[str, Any]:
    """Create (or reuse) the demo folder with about ``records`` records; return a summary."""
    if fresh and data.exists():
        shutil.rmtree(data)
    keys = data / "keys"
    seq_dir = data / "sequencer"
    if not (seq_dir / "node.json").exists():
        if seq_dir.exists():
            shutil.rmtree(seq_dir)
        keys.mkdir(parents=True, exist_ok=True)
        committee = [_key(keys, n) for n in COMMITTEE]
        named = [_key(keys, n) for n in RESIDENT_FILES]
        init_community(seq_dir, DEMO_ORIGIN, committee)
        ctx = open_context(seq_dir, serve=True)
        try:
            chair = committee[0]
            residents = named + [
                generate_keypair() for _ in range(max(0, records - 1 - len(named)))
            ]
            envs = []
            for i, r in enumerate(residents):
                unit = f"Block {1 + i // 40}, Flat {1 + i % 40}"
                salt = os.urandom(16)
                body = {"key": r.key_id, "unit_commitment": commitment(unit, salt)}
                env = sign_envelope(
                    make_statement(DEMO_ORIGIN, "member.enrol", body, chair.key_id), [chair]
                )
                env["private"] = {"value": unit, "salt": b64encode(salt).decode()}
                envs.append(env)
            submit_all(ctx, envs)
            extras = {
                "voting": demo_voting.populate(ctx, keys),
                "funds": demo_funds.populate(ctx, keys),
            }
            (data / "demo-extras.json").write_text(json.dumps(extras, indent=2) + "\n", "utf-8")
        finally:
            ctx.close()
    cfg = load_config(seq_dir)
    ctx = open_context(seq_dir)
    size = ctx.log.size
    ctx.close()
    extras_file = data / "demo-extras.json"
    extras = json.loads(extras_file.read_text("utf-8")) if extras_file.exists() else {}
    return {
        **extras,
        "origin": cfg.origin,
        "log_vkey": cfg.log_vkey,
        "size": size,
        "keys": {
            "folder": str(keys),
            "passphrase": DEMO_PASSPHRASE,
            "committee": [str(keys / f"{n}.key") for n in COMMITTEE],
            "residents": [str(keys / f"{n}.key") for n in RESIDENT_FILES],
        },
    }


def start_demo_nodes(data: Path, port: int) -> list[NodeProcess]:
    """Start the demo's nodes as child processes, sequencer first."""
    seq = start_node(data / "sequencer", port, log_file=data / "sequencer.log")
    return [seq]
