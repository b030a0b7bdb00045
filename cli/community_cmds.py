"""``civic community``: create a community and look at it."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.common import NODE_OPTION, client, load_key, read_json_file
from cli.output import emit_json
from ledger.errors import InputError

__all__ = ["app"]

app = typer.Typer(help="Create a community (genesis) and show its summary.")


def parse_witness(spec: str) -> dict[str, str]:
    """``NAME=VKEY@URL`` → {name, vkey, url}."""
    name, sep, rest = spec.partition("=")
    vkey, sep2, url = rest.rpartition("@")
    if not (sep and sep2 and name and vkey and url):
        raise InputError(f"--witness {spec!r}: expected NAME=VKEY@URL")
    return {"name": name, "vkey": vkey, "url": url}


@app.command("init")
def init(
    data: Path = typer.Option(..., "--data", help="New data folder for the sequencer."),
    origin: str = typer.Option(
        ..., "--origin", help="The log's origin, e.g. civic.example/maple-garden."
    ),
    committee: list[Path] = typer.Option(..., "--committee", help="A founder's key file (repeat)."),
    witness: list[str] = typer.Option([], "--witness", help="NAME=VKEY@URL of a witness (repeat)."),
    quorum: int = typer.Option(0, "--quorum", help="Witness cosignatures a checkpoint needs."),
    policy: Path | None = typer.Option(None, "--policy", help="JSON file of policy settings."),
    database: str | None = typer.Option(
        None, "--database", help="PostgreSQL URL instead of SQLite."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Write genesis as record 0, signed by every founder and the new log key.

    Prints the genesis leaf hash and the log verifier key: post both on the notice board.

    Example: civic community init --data node1 --origin civic.example/maple-garden --committee alice.key --committee bob.key
    """
    from node.bootstrap import init_community

    keys = [load_key(p) for p in committee]
    witnesses = [parse_witness(w) for w in witness]
    pol = read_json_file(policy) if policy else None
    out = init_community(data, origin, keys, witnesses, quorum, pol, database)
    if json_out:
        emit_json(out)
        return
    typer.echo(f"community:     {out['origin']}")
    typer.echo(f"genesis hash:  {out['genesis_hash']}")
    typer.echo(f"log key:       {out['log_vkey']}")


@app.command("show")
def show(
    node: str = NODE_OPTION,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show the community's genesis summary, committee, witnesses and policy.

    Example: civic community show --node http://127.0.0.1:8000
    """
    with client(node) as c:
        info = c.community()
    if json_out:
        emit_json(info)
        return
    typer.echo(f"community:   {info['origin']}")
    typer.echo(f"genesis:     {info['genesis_hash']}")
    typer.echo(f"log key:     {info['log_vkey']}")
    typer.echo(f"records:     {info['size']}")
    typer.echo(f"residents:   {info['members']}")
    typer.echo(f"committee:   {len(info['committee'])}")
    w = info["witnesses"]
    typer.echo(f"witnesses:   {len(w['witnesses'])} (quorum {w['quorum']})")
