"""Build the demo community's data and start its nodes (used by ``civic demo``)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from node.config import init_data_dir, load_config
from node.context import open_context
from node.launcher import NodeProcess, start_node

__all__ = ["DEMO_ORIGIN", "build_demo", "start_demo_nodes"]

DEMO_ORIGIN = "civic.example/maple-garden"


def build_demo(data: Path, records: int = 1000, fresh: bool = False) -> dict[str, Any]:
    """Create (or reuse) the demo folder with ``records`` sample records; return a summary."""
    if fresh and data.exists():
        shutil.rmtree(data)
    seq_dir = data / "sequencer"
    if not (seq_dir / "node.json").exists():
        init_data_dir(seq_dir, DEMO_ORIGIN)
        ctx = open_context(seq_dir)
        try:
            batch = 250
            for lo in range(0, records, batch):
                envs = [
                    {"type": "demo.note", "body": {"n": i, "text": f"sample record {i}"}}
                    for i in range(lo, min(records, lo + batch))
                ]
                ctx.log.append_records(envs)
        finally:
            ctx.close()
    cfg = load_config(seq_dir)
    ctx = open_context(seq_dir)
    size = ctx.log.size
    ctx.close()
    return {"origin": cfg.origin, "log_vkey": cfg.log_vkey, "size": size}


def start_demo_nodes(data: Path, port: int) -> list[NodeProcess]:
    """Start the demo's nodes as child processes, sequencer first."""
    seq = start_node(data / "sequencer", port, log_file=data / "sequencer.log")
    return [seq]
