"""``civic statement``: submit prepared envelopes."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import NODE_OPTION, client, read_json_file
from cli.output import emit_json

__all__ = ["app"]

app = typer.Typer(help="Submit signed statements prepared elsewhere.")


@app.command("submit")
def submit(
    file: Path = typer.Argument(..., help="JSON file: one envelope or an array of envelopes."),
    node: str = NODE_OPTION,
) -> None:
    """Submit the envelope(s) in FILE; prints the node's answer as JSON.

    Example: civic statement submit enrol.json --node http://127.0.0.1:8000
    """
    value = read_json_file(file)
    with client(node) as c:
        emit_json(c.submit(value))
