"""The ``civic`` command: a thin client over the libraries and the HTTP API."""

from __future__ import annotations

import sys

import typer

import ledger
from cli import (
    audit_cmds,
    ballot_cmds,
    community_cmds,
    demo,
    funds_cmds,
    key_cmds,
    log_cmds,
    member_cmds,
    node_cmds,
    statement_cmds,
    vote_cmds,
)
from cli.output import fail
from ledger.errors import CivicError

__all__ = ["app", "main"]

app = typer.Typer(
    name="civic",
    help=(
        "civic-ledger: a community's public, tamper-evident record of spending and votes.\n\n"
        "Start with `civic demo` to run a local sample community, then try "
        "`civic log key --data demo-data`."
    ),
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(key_cmds.app, name="key")
app.add_typer(community_cmds.app, name="community")
app.add_typer(member_cmds.app, name="member")
app.add_typer(statement_cmds.app, name="statement")
app.add_typer(vote_cmds.app, name="vote")
app.add_typer(ballot_cmds.app, name="ballot")
app.add_typer(funds_cmds.app, name="funds")
app.add_typer(audit_cmds.app, name="audit")
app.add_typer(node_cmds.app, name="node")
app.add_typer(log_cmds.app, name="log")
app.command("demo")(demo.demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"civic-ledger {ledger.__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """civic-ledger command line."""


def main() -> None:
    """Entry point: run the app, turning civic errors into one line and a non-zero exit."""
    try:
        app(prog_name="civic")
    except CivicError as exc:
        fail(exc)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
