"""The ``civic`` command: a thin client over the libraries and the HTTP API."""

from __future__ import annotations

import sys

import typer

import ledger
from cli import (
    audit_cmds,
    ballot_cmds,
    community_cmds,
    config_cmds,
    demo,
    doctor_cmds,
    funds_cmds,
    incident_cmds,
    key_cmds,
    log_cmds,
    member_cmds,
    node_cmds,
    node_ops_cmds,
    statement_cmds,
    trustee_cmds,
    vote_cmds,
)
from cli.output import fail
from ledger.errors import CivicError, InputError

__all__ = ["app", "main"]

GUIDE = """civic-ledger: your community's public, tamper-evident record of spending and votes.

Nobody has to trust the operator: every record is signed, chained and in a Merkle tree; witnesses replay and cosign it; anyone can check it all with `civic audit`.

\b
First steps:
  civic demo                               run a sample community here
  civic config set --node URL --key FILE   remember your node and key
  civic doctor                             check key, nodes, checkpoints

\b
As a resident:     civic key new, civic ballot list, civic vote cast,
                   civic vote verify
On the committee:  civic member enrol, civic ballot open,
                   civic funds request | approve | pay
As an auditor:     civic audit --node URL, civic log bundle,
                   civic funds export
Running a node:    civic community init, civic node start

Every command has an example in its --help; read commands take --json. Errors are one line; exit codes: 1 failure, 2 bad input, 3 evidence, 4 node unreachable, 5 not allowed.
"""

app = typer.Typer(
    name="civic",
    help=GUIDE,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
START, RESIDENTS, COMMITTEE, AUDITORS, OPERATORS = (
    "Start here",
    "Residents",
    "Committee",
    "Auditors",
    "Operators",
)
app.command("demo", rich_help_panel=START)(demo.demo)
app.add_typer(config_cmds.app, name="config", rich_help_panel=START)
app.command("doctor", rich_help_panel=START)(doctor_cmds.doctor)
app.add_typer(key_cmds.app, name="key", rich_help_panel=RESIDENTS)
app.add_typer(vote_cmds.app, name="vote", rich_help_panel=RESIDENTS)
app.add_typer(ballot_cmds.app, name="ballot", rich_help_panel=RESIDENTS)
app.add_typer(trustee_cmds.app, name="trustee", rich_help_panel=RESIDENTS)
app.add_typer(member_cmds.app, name="member", rich_help_panel=COMMITTEE)
app.add_typer(funds_cmds.app, name="funds", rich_help_panel=COMMITTEE)
app.add_typer(statement_cmds.app, name="statement", rich_help_panel=COMMITTEE)
app.add_typer(audit_cmds.app, name="audit", rich_help_panel=AUDITORS)
app.add_typer(log_cmds.app, name="log", rich_help_panel=AUDITORS)
app.add_typer(community_cmds.app, name="community", rich_help_panel=OPERATORS)
node_ops_cmds.register(node_cmds.app)  # restore and fsck join `civic node`
app.add_typer(node_cmds.app, name="node", rich_help_panel=OPERATORS)
node_cmds.app.command("rotate-key")(incident_cmds.rotate_key)
app.add_typer(incident_cmds.app, name="incident", rich_help_panel=COMMITTEE)


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
    except OSError as exc:
        # A file given on the command line that is missing, a folder, or unreadable.
        fail(_chained(InputError(_os_message(exc)), exc))
    except Exception as exc:  # the last resort: a one-line error, never a traceback
        fail(_chained(CivicError(f"unexpected {type(exc).__name__}: {exc}"), exc))


def _os_message(exc: OSError) -> str:
    if exc.filename is None:
        return f"cannot read or write a file: {exc.strerror or exc}"
    return f"cannot use {exc.filename}: {exc.strerror or exc}"


def _chained(err: CivicError, cause: BaseException) -> CivicError:
    err.__cause__ = cause  # CIVIC_VERBOSE=1 prints both
    return err


if __name__ == "__main__":
    main()
