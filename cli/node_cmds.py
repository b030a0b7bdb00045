"""``civic node``: create and run a node (sequencer, witness or mirror)."""

from __future__ import annotations

from pathlib import Path

import typer

from cli.output import emit_json
from ledger.errors import InputError

__all__ = ["app"]

app = typer.Typer(help="Run a node (sequencer, witness or mirror) over a data folder.")


@app.command("start")
def start(
    data: Path = typer.Option(..., "--data", help="The node's data folder."),
    port: int = typer.Option(8000, "--port", help="TCP port to listen on."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    role: str | None = typer.Option(
        None, "--role", help="sequencer, witness or mirror; must match the data folder."
    ),
    follow: str | None = typer.Option(
        None, "--follow", help="Witness/mirror: base URL of the log to replicate (saved)."
    ),
    log_vkey: str | None = typer.Option(
        None, "--log-vkey", help="Witness/mirror: the log's verifier key (saved)."
    ),
    peer: list[str] = typer.Option(
        [], "--peer", help="URL of another node to gossip with (repeat; saved)."
    ),
    gossip_interval: float | None = typer.Option(
        None, "--gossip-interval", help="Seconds between gossip rounds (saved; default 5)."
    ),
    follow_interval: float | None = typer.Option(
        None, "--follow-interval", help="Mirror: seconds between polls of the log (saved)."
    ),
    witness_retry: float | None = typer.Option(
        None,
        "--witness-retry",
        help="Sequencer: longest wait before retrying a silent witness (saved; default 5).",
    ),
) -> None:
    """Serve the node's API until interrupted; flags given are saved in DIR/node.json.

    Example: civic node start --data witness1 --port 8001 --role witness --follow http://127.0.0.1:8000 --log-vkey civic.example/maple-garden+1234abcd+AQ...
    """
    import uvicorn

    from node.app import create_app
    from node.config import ROLES, load_config, save_config
    from node.limits import guarded_http

    cfg = load_config(data)  # fail early, with a clear line, on a folder that is not a node's
    if role is not None and role not in ROLES:
        raise InputError(f"--role must be one of {', '.join(ROLES)}, got {role!r}")
    if role is not None and role != cfg.role:
        raise InputError(f"{data} holds a {cfg.role}, not a {role}")
    changed = False
    if log_vkey is not None and log_vkey != cfg.log_vkey:
        from ledger.c2sp.note import parse_vkey

        if cfg.role == "sequencer":
            raise InputError("a sequencer's log key comes from its log.key file")
        cfg.log_vkey, cfg.origin, changed = log_vkey, parse_vkey(log_vkey).name, True
    if follow is not None and follow != cfg.follow:
        cfg.follow, changed = follow.rstrip("/"), True
    if peer and peer != cfg.peers:
        cfg.peers, changed = [p.rstrip("/") for p in peer], True
    for name, value in (
        ("gossip_interval", gossip_interval),
        ("follow_interval", follow_interval),
        ("witness_retry", witness_retry),
    ):
        if value is not None:
            if value <= 0:
                raise InputError(f"--{name.replace('_', '-')} must be positive")
            if getattr(cfg, name) != value:
                setattr(cfg, name, value)
                changed = True
    if cfg.role != "sequencer" and not (cfg.log_vkey and cfg.follow):
        raise InputError(
            f"this {cfg.role} needs the log's key and URL: pass --log-vkey VKEY --follow URL"
        )
    limits = cfg.connection_limits()
    if changed:
        save_config(data, cfg)
    uvicorn.run(
        create_app(data),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        http=guarded_http(limits),
        timeout_keep_alive=cfg.keep_alive_timeout,
    )


@app.command("init-witness")
def init_witness_cmd(
    data: Path = typer.Option(..., "--data", help="New data folder for the witness."),
    name: str = typer.Option(
        ..., "--name", help="The witness's key name, e.g. witness-1.civic.example."
    ),
    follow: str | None = typer.Option(None, "--follow", help="Base URL of the log, if known."),
    log_vkey: str | None = typer.Option(None, "--log-vkey", help="The log's key, if known."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create a witness with a new cosigning key and print its verifier key for genesis.

    Give the vkey to the community's founders (`civic community init --witness
    NAME=VKEY@URL`), then start it with `civic node start --role witness --follow URL
    --log-vkey VKEY`.

    Example: civic node init-witness --data witness1 --name witness-1.civic.example
    """
    from node.witness import init_witness

    signer = init_witness(data, name, log_vkey=log_vkey, follow=follow)
    vkey = signer.verifier().vkey()
    if json_out:
        emit_json({"name": signer.name, "vkey": vkey, "data": str(data)})
        return
    typer.echo(f"witness:  {signer.name}")
    typer.echo(f"vkey:     {vkey}")
    typer.echo(f"genesis:  --witness {signer.name}={vkey}@http://HOST:PORT")


@app.command("init-mirror")
def init_mirror_cmd(
    data: Path = typer.Option(..., "--data", help="New data folder for the mirror."),
    follow: str = typer.Option(..., "--follow", help="Base URL of the log to mirror."),
    log_vkey: str = typer.Option(..., "--log-vkey", help="The log's verifier key."),
    database: str | None = typer.Option(
        None, "--database", help="PostgreSQL URL instead of SQLite."
    ),
) -> None:
    """Create a mirror that follows, verifies and serves the log at URL.

    Example: civic node init-mirror --data mirror1 --follow http://127.0.0.1:8000 --log-vkey civic.example/maple-garden+1234abcd+AQ...
    """
    from node.mirror import init_mirror

    init_mirror(data, follow.rstrip("/"), log_vkey, database)
    typer.echo(f"mirror of {follow} created in {data}; start it with")
    typer.echo(f"  civic node start --data {data} --role mirror --port PORT")
