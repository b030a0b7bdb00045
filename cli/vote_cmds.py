"""``civic vote``: (filled in by the corresponding work)."""

from __future__ import annotations

import typer

__all__ = ["app"]

app = typer.Typer(help="vote commands.")
