"""``civic node``: run a node."""

from __future__ import annotations

from pathlib import Path

import typer

__all__ = ["app"]

app = typer.Typer(help="Run a node (sequencer, witness or mirror) over a data folder.")


@app.command("start")
def start(
    data: Path = typer.Option(..., "--data", help="The node's data folder."),
    port: int = typer.Option(8000, "--port", help="TCP port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
) -> None:
    """Serve the node's API until interrupted.

    Example: civic node start --data demo-data --port 8000
    """
    import uvicorn

    from node.app import create_app
    from node.config import load_config

    load_config(data)  # fail early, with a clear line, on a folder that is not a node's
    uvicorn.run(create_app(data), host=host, port=port, log_level="warning", access_log=False)
