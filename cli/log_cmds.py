"""``civic log``: the log's key and integrity."""

from __future__ import annotations

from pathlib import Path

import typer

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
