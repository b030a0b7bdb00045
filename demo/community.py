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

from client.submit import signed_statement
from demo import funds as demo_funds
from demo import secret as demo_secret
from demo import voting as demo_voting
from ledger.community import commitment
from ledger.errors import CivicError
from ledger.keys import KeyPair, generate_keypair, load_key_file, save_key_file
from node.bootstrap import init_community
from node.config import load_config, save_config
from node.context import NodeContext, open_context
from node.launcher import NodeProcess, start_node, wait_healthy
from node.mirror import init_mirror
from node.witness import init_witness

__all__ = ["DEMO_ORIGIN", "DEMO_PASSPHRASE", "build_demo", "start_demo_nodes"]

DEMO_ORIGIN = "civic.example/maple-garden"
DEMO_PASSPHRASE = "maple-garden-demo"
COMMITTEE = ("alice", "bob", "chen")
RESIDENT_FILES = ("dana", "eli", "fatima")
WITNESSES = 3
QUORUM = 2
# Seconds to wait for each node to answer: five start at once, each importing the server
# and checking its tree, which on a loaded 2-core machine took more than two minutes.
START_WAIT = 240.0


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


def _make_witnesses(data: Path, port: int) -> list[dict[str, str]]:
    """Fresh witness folders (keys made before genesis, which names them) on port+1..+N."""
    out = []
    for i in range(1, WITNESSES + 1):
        wdir = data / f"witness-{i}"
        if wdir.exists():
            shutil.rmtree(wdir)
        url = f"http://127.0.0.1:{port + i}"
        signer = init_witness(wdir, f"witness-{i}.civic.example", follow=f"http://127.0.0.1:{port}")
        cfg = load_config(wdir)
        cfg.extra["public_url"] = url
        save_config(wdir, cfg)
        out.append({"name": signer.name, "vkey": signer.verifier().vkey(), "url": url})
    return out


def _witness_dirs(data: Path) -> list[Path]:
    """The witnesses' data folders; ``witness-*`` also matches their log files."""
    return [d for d in sorted(data.glob("witness-*")) if (d / "node.json").is_file()]


def _configure_replicas(data: Path, port: int, log_vkey: str) -> None:
    """Tell the witnesses the log's key; create the mirror (port+N+1) if missing."""
    for wdir in _witness_dirs(data):
        cfg = load_config(wdir)
        if cfg.log_vkey != log_vkey:
            cfg.log_vkey, cfg.origin = log_vkey, DEMO_ORIGIN
            save_config(wdir, cfg)
    mdir = data / "mirror"
    if not (mdir / "node.json").exists():
        if mdir.exists():
            shutil.rmtree(mdir)
        init_mirror(mdir, f"http://127.0.0.1:{port}", log_vkey)
        cfg = load_config(mdir)
        cfg.extra["public_url"] = f"http://127.0.0.1:{port + WITNESSES + 1}"
        save_config(mdir, cfg)


def build_demo(
    data: Path, records: int = 1000, fresh: bool = False, port: int = 8000
) -> dict[str, Any]:
    """Create (or reuse) the demo folder with about ``records`` records; return a summary.

    The sequencer will listen on ``port``, its witnesses (named in genesis, quorum 2) on
    the next ports and the mirror after them.
    """
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
        witnesses = _make_witnesses(data, port)
        init_community(seq_dir, DEMO_ORIGIN, committee, witnesses, QUORUM)
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
                private = {"value": unit, "salt": b64encode(salt).decode()}
                envs.append(signed_statement(DEMO_ORIGIN, "member.enrol", body, chair, (), private))
            submit_all(ctx, envs)
            # The secret ballot's wait for its closing time overlaps the other ballots'.
            secret = demo_secret.start(ctx, keys)
            voting = demo_voting.populate(ctx, keys)
            voting["secret"] = demo_secret.finish(ctx, keys, secret)
            extras = {
                "voting": voting,
                "funds": demo_funds.populate(ctx, keys),
            }
            (data / "demo-extras.json").write_text(json.dumps(extras, indent=2) + "\n", "utf-8")
        finally:
            ctx.close()
    cfg = load_config(seq_dir)
    assert cfg.log_vkey is not None
    _configure_replicas(data, port, cfg.log_vkey)
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


def _port_of(data_dir: Path, default: int) -> int:
    url = load_config(data_dir).extra.get("public_url")
    return int(url.rsplit(":", 1)[1]) if isinstance(url, str) else default


def start_demo_nodes(data: Path, port: int) -> list[NodeProcess]:
    """Start the demo's nodes as child processes: sequencer, witnesses, mirror.

    All start at once and gossip with each other; a node that fails to start stops the
    ones already running.
    """
    dirs = [data / "sequencer", *_witness_dirs(data), data / "mirror"]
    dirs = [d for d in dirs if (d / "node.json").exists()]
    ports = [port] + [_port_of(d, port + i) for i, d in enumerate(dirs[1:], start=1)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    nodes: list[NodeProcess] = []
    try:
        for d, p, url in zip(dirs, ports, urls, strict=True):
            peers = [a for u in urls if u != url for a in ("--peer", u)]
            args = [*peers, "--gossip-interval", "2"]
            nodes.append(start_node(d, p, args, log_file=data / f"{d.name}.log", wait=False))
        for n in nodes:
            wait_healthy(n.url, timeout=START_WAIT, proc=n.proc)
    except BaseException:
        for n in reversed(nodes):
            n.stop()
        raise
    return nodes
