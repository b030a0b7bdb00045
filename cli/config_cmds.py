"""``civic config``: remember your node URL(s) and key file."""

from __future__ import annotations

from pathlib import Path

import typer

from cli import settings
from cli.output import emit_json

__all__ = ["app"]

app = typer.Typer(help="Remember default node URL(s) and your key file.")


@app.command("show")
def show(json_out: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """Show the config file's path and settings.

    Example: civic config show
    """
    values = settings.load()
    if json_out:
        emit_json({"file": str(settings.config_path()), **values})
        return
    typer.echo(f"config file: {settings.config_path()}")
    typer.echo(
        f"nodes:       {', '.join(values.get('nodes', [])) or '(none: ' + settings.DEFAULT_NODE + ')'}"
    )
    typer.echo(f"key:         {values.get('key') or '(none)'}")


@app.command("set")
def set_(
    node: list[str] = typer.Option([], "--node", help="A node URL; repeat for several."),
    key: Path | None = typer.Option(None, "--key", help="Your key file."),
) -> None:
    """Save defaults; flags and CIVIC_NODE / CIVIC_KEY still win over them.

    Example: civic config set --node http://127.0.0.1:8000 --node http://127.0.0.1:8004 --key ~/dana.key
    """
    values = settings.load()
    if node:
        values["nodes"] = [n.rstrip("/") for n in node]
    if key is not None:
        values["key"] = str(key.expanduser().resolve())
    path = settings.save(values)
    typer.echo(f"saved {path}")
