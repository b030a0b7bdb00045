"""``civic trustee``: a secret ballot's trustee runs the key ceremony and decrypts the tally.

A trustee's Belenios secret is derived from their own encrypted key file (see
:mod:`voting.secret_steps`): there is nothing else to keep. Each command replays and
verifies the log here before it signs anything.
"""

from __future__ import annotations

from pathlib import Path

import typer

from cli.ballot_cmds import LOG_KEY_OPTION, resolve_log_key
from cli.common import KEY_OPTION, NODE_OPTION, client, load_key
from client import secret

__all__ = ["app"]

app = typer.Typer(help="Secret ballots: the trustees' key ceremony and partial decryptions.")


@app.command("setup")
def setup(
    ballot: str = typer.Option(..., "--ballot", help="Ballot id."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
    log_key: str | None = LOG_KEY_OPTION,
) -> None:
    """Post your message for the key ceremony's current step (certificate, polynomial or
    verification output, Belenios spec §4.6); run it again after the other trustees.

    Example: civic trustee setup --ballot 12 --key tess.key
    """
    kp = load_key(key)
    with client(node) as c:
        verifier, _ = resolve_log_key(c, log_key)
        typer.echo(f"ballot {ballot}: {secret.trustee_step(c, verifier, kp, ballot)}")


@app.command("decrypt")
def decrypt(
    ballot: str = typer.Option(..., "--ballot", help="Ballot id."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
    log_key: str | None = LOG_KEY_OPTION,
) -> None:
    """Post your partial decryption of the closed ballot's encrypted tally, with its proofs.

    Example: civic trustee decrypt --ballot 12 --key tess.key
    """
    kp = load_key(key)
    with client(node) as c:
        verifier, _ = resolve_log_key(c, log_key)
        out = secret.decrypt(c, verifier, kp, ballot)
    typer.echo(f"ballot {ballot}: partial decryption recorded at record {out['index']}")
