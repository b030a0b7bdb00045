"""``civic member``: enrol and remove residents, list members."""

from __future__ import annotations

import os
from base64 import b64encode
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from cli.common import KEY_OPTION, NODE_OPTION, client, load_key
from cli.output import emit_json
from client.submit import submit_statement
from ledger.community import commitment

__all__ = ["app"]

app = typer.Typer(help="Enrol and remove residents; list members (committee keys sign).")


@app.command("enrol")
def enrol(
    resident: str = typer.Option(..., "--resident", help="The resident's key id (ed25519:...)."),
    unit: str = typer.Option(
        ..., "--unit", help="Household/unit reference; only its commitment is logged."
    ),
    expires: str | None = typer.Option(
        None, "--expires", help="RFC 3339 UTC expiry, e.g. 2027-12-31T00:00:00Z."
    ),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Enrol a resident (signed with your committee key).

    Example: civic member enrol --resident ed25519:Qm... --unit "Block 3, Flat 12" --key alice.key
    """
    kp = load_key(key)
    salt = os.urandom(16)
    body = {"key": resident, "unit_commitment": commitment(unit, salt)}
    if expires:
        body["expires"] = expires
    private = {"value": unit, "salt": b64encode(salt).decode()}
    with client(node) as c:
        out = submit_statement(c, "member.enrol", body, kp, private=private)
    typer.echo(f"enrolled {resident} at record {out['index']}")


@app.command("remove")
def remove(
    resident: str = typer.Option(..., "--resident", help="The resident's key id."),
    reason: str | None = typer.Option(None, "--reason", help="Why (public)."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Remove a resident (signed with your committee key).

    Example: civic member remove --resident ed25519:Qm... --key alice.key
    """
    kp = load_key(key)
    body = {"key": resident} | ({"reason": reason} if reason else {})
    with client(node) as c:
        out = submit_statement(c, "member.remove", body, kp)
    typer.echo(f"removed {resident} at record {out['index']}")


@app.command("list")
def list_(
    node: str = NODE_OPTION,
    status: str | None = typer.Option(None, "--status", help="active, removed or rotated."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List residents and the committee.

    Example: civic member list --node http://127.0.0.1:8000 --status active
    """
    with client(node) as c:
        info = c.members(status)
    if json_out:
        emit_json(info)
        return
    t = Table(title=f"{len(info['members'])} residents, {len(info['committee'])} committee members")
    for col in ("key id", "status", "enrolled at", "expires"):
        t.add_column(col)
    for m in info["members"]:
        t.add_row(m["key"], m["status"], str(m["enrolled_at"]), m.get("expires") or "")
    Console().print(t)
    for k in info["committee"]:
        typer.echo(f"committee: {k}")
