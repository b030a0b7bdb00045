"""``civic demo``: a local sample community, with URLs printed and ``demo.json`` written."""

from __future__ import annotations

import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path
from typing import Any

import typer

__all__ = ["demo"]


def demo(
    data: Path = typer.Option(Path("demo-data"), "--data", help="Folder for the demo's nodes."),
    port: int = typer.Option(8000, "--port", help="Port of the sequencer; others follow it."),
    records: int = typer.Option(1000, "--records", help="Sample records to append."),
    fresh: bool = typer.Option(False, "--fresh", help="Delete an existing demo folder first."),
    once: bool = typer.Option(False, "--once", help="Exit after writing demo.json (for scripts)."),
) -> None:
    """Run a local sample community until Ctrl-C, and write DIR/demo.json describing it.

    Example: civic demo --data demo-data --port 8000
    """
    from demo import build_demo, start_demo_nodes
    from demo.district import DISTRICT_DIR, build_district, start_district_nodes
    from demo.operations import fsck_demo, restore_recipe
    from demo.voting import witness_receipt

    # SIGTERM (a service manager, `kill`) stops the nodes as Ctrl-C does: no orphans.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    summary = build_demo(data, records=records, fresh=fresh, port=port)
    district = build_district(data, port)
    # Offline, before any node opens the folders: what an operator runs after a crash.
    fsck = fsck_demo([data / "sequencer", data / DISTRICT_DIR])
    nodes = start_demo_nodes(data, port)
    dnodes: list[Any] = []
    try:
        # After the main community's nodes answer: on a loaded machine seven processes
        # starting at once would each take longer than the start-up wait allows.
        dnodes = start_district_nodes(data, port)
        receipt = summary.get("voting", {}).get("receipt")
        if receipt and not witness_receipt(Path(receipt), nodes[0].url):
            typer.echo(f"warning: {receipt} has no witness quorum yet", err=True)
        origins = [c["origin"] for c in district["communities"]]
        mirror = nodes[-1].url
        info = {
            "origin": summary["origin"],
            "log_vkey": summary["log_vkey"],
            "nodes": [
                *(_node(n, [summary["origin"]]) for n in nodes),
                {**_node(dnodes[0], origins), "log": district["log"], "log_format": "json"},
                _node(dnodes[1], origins),
            ],
            **{k: v for k, v in summary.items() if k not in ("origin", "log_vkey")},
            "district": district,
            "fsck": fsck,
            "restore": restore_recipe(data, mirror, port),
        }
        (data / "demo.json").write_text(json.dumps(info, indent=2) + "\n", "utf-8")
        typer.echo(f"civic-ledger demo community {info['origin']}")
        typer.echo(f"  log verifier key: {info['log_vkey']}")
        for n in nodes:
            typer.echo(f"  {n.role:<10} {n.url}   (API docs: {n.url}/docs)")
        seq = nodes[0].url
        typer.echo(f"  checkpoint:   {seq}/log/checkpoint   (cosigned by the witnesses)")
        typer.echo(f"  policy:       {seq}/v1/policy   (C2SP tlog-policy)")
        typer.echo(f"  gossip:       {seq}/v1/peers   evidence: {seq}/v1/evidence")
        typer.echo(f"  a record:     {seq}/v1/records/1")
        typer.echo(f"  a proof:      {seq}/v1/proofs/inclusion?index=1&tree_size={summary['size']}")
        typer.echo(f"  described in: {data / 'demo.json'}")
        from client.http import NodeClient

        with NodeClient(seq) as c:
            genesis = c.community().get("genesis_hash", "")
        # The trust root travels in the fragment, so the page checks everything against it.
        for n in (nodes[0], nodes[-1]):
            page = f"{n.url}/#/community?vkey={info['log_vkey']}&genesis={genesis}"
            typer.echo(f"  web page:     {page}   ({n.role}; zh and en)")
        typer.echo(f"  metrics:      {' '.join(n.url + '/metrics' for n in nodes)}")
        _print_district(district)
        typer.echo("fsck (offline, before the nodes started):")
        for f in fsck:
            typer.echo(f"  {f['verdict']}")
            for p in f["problems"]:
                typer.echo(f"    {p}")
        civic = _civic_command()
        typer.echo(f"If the sequencer's machine is lost, rebuild it from the mirror {mirror}:")
        for t in info["restore"]:
            typer.echo("  " + civic + t[len("civic") :])
        secret = summary.get("voting", {}).get("secret", {})
        oak = district["communities"][0]
        typer.echo(
            "Secret ballots are cast from the web page: Residents page, open your key file, "
            f"passphrase {summary.get('keys', {}).get('passphrase', '')}; the vote is "
            "encrypted in the browser."
        )
        if secret:
            typer.echo(
                f"  {summary['origin']}: secret ballot {secret['ballot']} is closed and "
                "decrypted (Ballots page); its residents cast their votes before it closed"
            )
        typer.echo(
            f"  {oak['origin']}: secret ballot {oak['secret_ballot']} is open; on its web page "
            f"(above) open the Residents page with {oak['keys'][oak['can_vote'][0]]}"
        )
        keys = summary.get("keys", {}).get("folder", str(data / "keys"))
        passphrase = summary.get("keys", {}).get("passphrase", "")
        urls = " ".join(f"--node {n.url}" for n in nodes)
        tries = [
            f"export CIVIC_NODE={seq} CIVIC_PASSPHRASE={passphrase}",
            "civic community show",
            *[t for part in ("voting", "funds") for t in summary.get(part, {}).get("try", [])],
            *summary.get("voting", {}).get("secret", {}).get("try", []),
            f"civic audit {urls} --vkey {info['log_vkey']}",
            f"civic community show --node {oak['url']}",
            f"civic node list-communities --data {district['data']}",
        ]
        typer.echo("Try:")
        for t in tries:
            if t.startswith("civic "):
                t = civic + t[len("civic") :]
            typer.echo(
                "  "
                + t.replace("--node URL", "")
                .replace("URL", seq)
                .replace("KEYS", keys)
                .replace("  ", " ")
                .strip()
            )
        if once:
            return
        typer.echo("Press Ctrl-C to stop.")
        while all(n.proc.poll() is None for n in [*nodes, *dnodes]):
            time.sleep(0.5)
        typer.echo("a demo node exited; stopping the others", err=True)
    except KeyboardInterrupt:
        typer.echo("\nstopping")
    finally:
        for n in reversed([*nodes, *dnodes]):
            n.stop()


def _node(n: Any, communities: list[str]) -> dict[str, Any]:
    return {
        "role": n.role,
        "url": n.url,
        "data": str(n.data_dir),
        "communities": communities,
        "metrics": f"{n.url}/metrics",
    }


def _print_district(district: dict[str, Any]) -> None:
    """The district's two nodes and each community's URLs."""
    typer.echo("District node (one process, many communities):")
    typer.echo(f"  sequencer  {district['url']}   communities: {district['list']}")
    typer.echo(f"  witness    {district['witness']['url']}   (cosigns every community)")
    typer.echo(f"  metrics:   {district['metrics']}   (labelled by origin)")
    typer.echo(f"  JSON request log: {district['log']}")
    for c in district["communities"]:
        typer.echo(f"  {c['origin']}: {c['url']}/   ({c['size']} records)")
        typer.echo(f"    checkpoint: {c['checkpoint']}")
        typer.echo(f"    web page:   {c['page']}")


def _civic_command() -> str:
    """How to run ``civic`` from here: the virtualenv's script (not always on PATH), or
    this Python with ``-m cli.main``."""
    script = Path(sys.executable).parent / "civic"
    if script.is_file() and os.access(script, os.X_OK):
        return shlex.quote(str(script))
    return f"{shlex.quote(sys.executable)} -m cli.main"
