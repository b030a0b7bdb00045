"""``civic node``: create and run a node (sequencer, witness or mirror)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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
    integrity_interval: float | None = typer.Option(
        None,
        "--integrity-interval",
        help="Seconds between ticks of the background integrity pass (saved; default 1).",
    ),
    log_format: str = typer.Option(
        "text",
        "--log-format",
        help="text (warnings only), or json: one JSON line per request, no personal data.",
    ),
) -> None:
    """Serve the node's API until interrupted; flags given are saved in DIR/node.json.

    Example: civic node start --data witness1 --port 8001 --role witness --follow http://127.0.0.1:8000 --log-vkey civic.example/maple-garden+1234abcd+AQ...
    """
    import uvicorn

    from node.app import create_app
    from node.config import ROLES, load_config, save_config
    from node.district import is_district
    from node.limits import guarded_http

    if log_format not in ("text", "json"):
        raise InputError(f"--log-format must be text or json, got {log_format!r}")
    if is_district(data):
        _start_district(
            data,
            port,
            host,
            role,
            refused={"--follow": follow, "--log-vkey": log_vkey, "--peer": peer or None},
            intervals={
                "gossip_interval": gossip_interval,
                "follow_interval": follow_interval,
                "witness_retry": witness_retry,
                "integrity_interval": integrity_interval,
            },
            json_logs=log_format == "json",
        )
        return
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
        ("integrity_interval", integrity_interval),
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
        create_app(data, json_logs=log_format == "json"),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        http=guarded_http(limits),
        timeout_keep_alive=cfg.keep_alive_timeout,
        **_log_config(log_format == "json"),
    )


def _log_config(json_logs: bool) -> dict[str, Any]:
    """uvicorn's logging: its default text, or JSON lines (node/access_log.py)."""
    if not json_logs:
        return {}
    from node.access_log import json_log_config

    return {"log_config": json_log_config("warning")}


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


def _start_district(
    data: Path,
    port: int,
    host: str,
    role: str | None,
    refused: dict[str, object],
    intervals: dict[str, float | None],
    json_logs: bool = False,
) -> None:
    """Serve every community of a district folder; interval flags go to each community."""
    import uvicorn

    from node.app import create_app
    from node.config import NodeConfig, load_config, save_config
    from node.district import community_dir, load_district
    from node.limits import guarded_http

    dcfg = load_district(data)
    if role is not None and role != dcfg.role:
        raise InputError(f"{data} holds a {dcfg.role} district, not a {role}")
    for flag, value in refused.items():
        if value:
            raise InputError(
                f"{flag} is set per community in a district: "
                "use `civic node add-community` (or edit its node.json)"
            )
    for name, value in intervals.items():
        if value is not None and value <= 0:
            raise InputError(f"--{name.replace('_', '-')} must be positive")
    for origin in dcfg.communities:
        folder = community_dir(data, origin)
        try:
            cfg = load_config(folder)
        except InputError:
            continue  # reported by the node at start-up, which still serves the others
        changed = False
        for name, value in intervals.items():
            if value is not None and getattr(cfg, name) != value:
                setattr(cfg, name, value)
                changed = True
        if changed:
            save_config(folder, cfg)
    # One process serves all: its connection limits are the defaults of node.json.
    defaults = NodeConfig(origin="")
    uvicorn.run(
        create_app(data, json_logs=json_logs),
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        http=guarded_http(defaults.connection_limits()),
        timeout_keep_alive=defaults.keep_alive_timeout,
        **_log_config(json_logs),
    )


@app.command("init")
def init_district_cmd(
    data: Path = typer.Option(..., "--data", help="New district folder."),
    role: str = typer.Option(..., "--role", help="sequencer, witness or mirror."),
    database: str | None = typer.Option(
        None,
        "--database",
        help="PostgreSQL URL shared by all communities (a schema each); default SQLite files.",
    ),
    follow: str | None = typer.Option(
        None,
        "--follow",
        help="Witness/mirror: base URL of the sequencer district (communities at /c/ORIGIN).",
    ),
    name: str | None = typer.Option(
        None, "--name", help="Witness: the name of the district's cosigning key."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Create an empty district folder: one node serving many communities under /c/ORIGIN/.

    Then add communities with `civic node add-community` and serve them all with
    `civic node start --data DIR`.

    Example: civic node init --data district --role sequencer --database postgresql+psycopg://civic@/civic
    """
    from node.district import init_district, witness_vkey

    cfg = init_district(data, role, database, follow, name)
    out: dict[str, object] = {"data": str(data), "role": cfg.role}
    if cfg.role == "witness":
        out["name"] = cfg.witness_name
        out["vkey"] = witness_vkey(data)
    if json_out:
        emit_json(out)
        return
    typer.echo(f"{cfg.role} district created in {data}")
    if cfg.role == "witness":
        typer.echo(f"vkey:     {out['vkey']}")
        typer.echo(
            f"genesis:  --witness {cfg.witness_name}={out['vkey']}@http://HOST:PORT/c/ORIGIN"
        )


@app.command("add-community")
def add_community_cmd(
    data: Path = typer.Option(..., "--data", help="The district folder."),
    origin: str | None = typer.Option(
        None, "--origin", help="Sequencer: the new log's origin, e.g. civic.example/elm-street."
    ),
    committee: list[Path] = typer.Option(
        [], "--committee", help="Sequencer: a founder's key file (repeat)."
    ),
    witness: list[str] = typer.Option(
        [], "--witness", help="Sequencer: NAME=VKEY@URL of a witness (repeat)."
    ),
    quorum: int = typer.Option(0, "--quorum", help="Witness cosignatures a checkpoint needs."),
    policy: Path | None = typer.Option(None, "--policy", help="JSON file of policy settings."),
    log_vkey: str | None = typer.Option(
        None, "--log-vkey", help="Witness/mirror: the community's log key."
    ),
    follow: str | None = typer.Option(
        None, "--follow", help="Witness/mirror: the log's URL (default DISTRICT_FOLLOW/c/ORIGIN)."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Add a community to a district: a new log (sequencer) or one more log to replicate.

    A running district node starts serving it within seconds (it watches district.json).

    Example: civic node add-community --data district --origin civic.example/elm-street --committee alice.key
    """
    from cli.common import load_key, read_json_file
    from cli.community_cmds import parse_witness
    from node.district import add_community

    out = add_community(
        data,
        origin,
        [load_key(p) for p in committee],
        [parse_witness(w) for w in witness],
        quorum,
        read_json_file(policy) if policy else None,
        log_vkey,
        follow,
    )
    if json_out:
        emit_json(out)
        return
    typer.echo(f"community:     {out['origin']}")
    typer.echo(f"folder:        {out['data']}")
    if "genesis_hash" in out:
        typer.echo(f"genesis hash:  {out['genesis_hash']}")
        typer.echo(f"log key:       {out['log_vkey']}")


@app.command("list-communities")
def list_communities_cmd(
    data: Path = typer.Option(..., "--data", help="The district folder."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the communities of a district folder (offline: reads the folder only).

    Example: civic node list-communities --data district
    """
    from node.district import list_communities

    rows = list_communities(data)
    if json_out:
        emit_json(rows)
        return
    if not rows:
        typer.echo("no communities yet: add one with `civic node add-community`")
    for r in rows:
        where = r.get("error") or r.get("follow") or r.get("database", "")
        typer.echo(f"{r['origin']}\t{r['slug']}\t{where}")
