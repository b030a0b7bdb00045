"""``civic log``: the log's key and integrity."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import NODES_OPTION
from node.config import load_config, load_log_key

__all__ = ["app"]

app = typer.Typer(help="Inspect a node's log: its verifier key, its integrity.")


@app.command("key")
def key(data: Path = typer.Option(..., "--data", help="The node's data folder.")) -> None:
    """Print the log's note verifier key (what the community posts on its notice board).

    Example: civic log key --data demo-data
    """
    load_config(data)
    typer.echo(load_log_key(data).verifier().vkey())


@app.command("verify")
def verify(data: Path = typer.Option(..., "--data", help="The node's data folder.")) -> None:
    """Recompute every leaf, tree node, the hash chain and the newest checkpoint.

    Example: civic log verify --data demo-data
    """
    from node.context import open_context

    ctx = open_context(data)
    try:
        n = ctx.log.verify_integrity()
    finally:
        ctx.close()
    typer.echo(f"ok: {n} records, tree, chain and checkpoint agree")


@app.command("bundle")
def bundle(
    node: list[str] = NODES_OPTION,
    out: Path = typer.Option(..., "--out", help="The bundle file to write (a ZIP)."),
    vkey: str | None = typer.Option(None, "--vkey", help="Pin the log's verifier key."),
    genesis: str | None = typer.Option(None, "--genesis", help="Pin the genesis hash."),
    cache: Path | None = typer.Option(
        None, "--cache", help="Keep downloaded tiles here so an interrupted run resumes."
    ),
    parallel: int = typer.Option(4, "--parallel", help="Downloads at a time."),
    json_out: bool = typer.Option(False, "--json", help="Print what was written as JSON."),
) -> None:
    """Write a self-contained offline bundle: checkpoints, tiles and every record.

    `civic audit --from-bundle FILE` audits it with no network. The entries are checked
    against the signed checkpoint before the file is written.

    Example: civic log bundle --node http://127.0.0.1:8000 --out maple-garden.zip
    """
    from rich.console import Console

    from audits.audit import AuditOptions, make_bundle
    from cli.audit_cmds import RichProgress
    from cli.output import emit_json

    opts = AuditOptions(
        nodes=node, vkey=vkey, genesis=genesis, cache=cache, parallel=parallel, workers=0
    )
    err = Console(stderr=True)
    if err.is_terminal and not json_out:
        with RichProgress(err) as progress:
            made = make_bundle(opts, out, progress)
    else:
        made = make_bundle(opts, out)
    doc = {
        "file": str(made.path),
        "size": made.size,
        "root": made.root,
        "bytes": made.bytes,
        "genesis_hash": made.genesis_hash,
        "witness_quorum": made.witness_quorum,
        "notes": [f.message for f in made.findings],
    }
    if json_out:
        emit_json(doc)
        return
    typer.echo(f"wrote {made.path}: {made.size} records, {made.bytes:,} bytes")
    typer.echo(f"root:    {made.root}")
    typer.echo(f"genesis: {made.genesis_hash}")
    if made.witness_quorum is not None:
        typer.echo(f"witness quorum: {made.witness_quorum['detail']}")
    for f in made.findings:
        typer.echo(f"note: {f.message}", err=True)
