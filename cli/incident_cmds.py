"""``civic node rotate-key`` and ``civic incident``: log-key rotation and incident records.

See docs/adr/0012-log-key-rotation.md and docs/runbook-incidents.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from cli.common import NODE_OPTION, client, load_key, read_json_file
from cli.output import emit_json
from client.http import NodeClient
from ledger.c2sp.note import NoteSigner, generate_signer, parse_private_key
from ledger.errors import InputError, RuleViolation
from ledger.files import write_atomic
from ledger.keys import KeyPair
from ledger.log_keys import INCIDENT_KINDS, OLD_KEY_STATUSES, add_log_key_signature, rotate_envelope
from ledger.statements import make_statement, sign_envelope
from node.config import LOG_KEY_FILE, load_config
from node.log_keys import KEYS_DIR, Keyring, install_key, key_file_name

__all__ = ["app", "rotate_key", "rotate_log_key"]

app = typer.Typer(help="Record incidents (key compromise, data leak, faulty node); revoke keys.")

SIGN_OPTION = typer.Option(
    ...,
    "--sign",
    help="A committee member's key file; repeat until the committee quorum signs. The first signs as the statement's signer.",
)


def _new_signer(path: Path, origin: str) -> NoteSigner:
    """The new log key from ``path``, or a fresh one written there (mode 0600)."""
    if path.exists():
        signer = parse_private_key(path.read_text("utf-8").strip())
    else:
        signer = generate_signer(origin)
        write_atomic(path, (signer.private_key_string() + "\n").encode(), 0o600)
    if signer.name != origin:
        raise InputError(f"{path} is a key named {signer.name!r}, not the origin {origin!r}")
    return signer


def rotate_log_key(
    data_dir: Path,
    new: NoteSigner,
    c: NodeClient,
    committee: list[KeyPair] | None = None,
    envelope: dict[str, Any] | None = None,
    old_key: str = "held",
    reason: str = "scheduled log key rotation",
) -> dict[str, Any]:
    """Rotate the log of the sequencer at ``data_dir`` (served by ``c``) to ``new``.

    1. the new key goes to ``DIR/log-keys/`` first, so the node can sign with it the moment
       the rotation commits (node/log_keys.py);
    2. the log.rotate statement (built and signed by ``committee``, or the committee-signed
       ``envelope``) gets the new key's signature and, if ``old_key`` is held, the old
       key's, and is submitted;
    3. only once it is in the log does ``log.key`` become the new key.
    A kill at any point leaves a folder with every key the log can ask for.
    """
    cfg = load_config(data_dir)
    if cfg.role != "sequencer" or not (data_dir / LOG_KEY_FILE).is_file():
        raise InputError(f"{data_dir} is not a sequencer's data folder (no {LOG_KEY_FILE})")
    if old_key not in OLD_KEY_STATUSES:
        raise InputError(f"--old-key must be one of {', '.join(OLD_KEY_STATUSES)}")
    keys = c.get_json("/v1/log-keys")["keys"]
    current = str(keys[-1]["vkey"])
    ring = Keyring(data_dir)
    old = ring.get(current) if old_key == "held" else None
    if old_key == "held" and old is None:
        raise InputError(
            "this folder does not hold the log's current key, so it cannot sign the hand-over: "
            "say --old-key lost (or compromised)"
        )
    staged = install_key(data_dir, new)
    if envelope is None:
        if not committee:
            raise InputError("give the committee's keys with --sign, or a signed --envelope")
        env = rotate_envelope(cfg.origin, current, new, committee, old_key, reason, old)
    else:
        body = envelope.get("statement", {}).get("body", {})
        if body.get("new_vkey") != new.verifier().vkey() or body.get("old_vkey") != current:
            raise InputError("the envelope does not rotate from the current key to --new-key")
        env = add_log_key_signature(envelope, new)
        if old is not None:
            env = add_log_key_signature(env, old)
    try:
        out: dict[str, Any] = c.submit(env)
    except (RuleViolation, InputError):
        # Refused: nothing entered the log, so the staged key is not needed.
        staged.unlink(missing_ok=True)
        raise
    write_atomic(data_dir / LOG_KEY_FILE, (new.private_key_string() + "\n").encode(), 0o600)
    (data_dir / KEYS_DIR / key_file_name(new)).unlink(missing_ok=True)
    return out


def rotate_key(
    data: Path = typer.Option(..., "--data", help="The sequencer's data folder."),
    new_key: Path = typer.Option(
        ..., "--new-key", help="The new log key file (created if it does not exist)."
    ),
    sign: list[Path] = typer.Option(
        [], "--sign", help="A committee member's key file; repeat until the quorum signs."
    ),
    envelope: Path | None = typer.Option(
        None, "--envelope", help="A log.rotate envelope the committee already signed."
    ),
    old_key: str = typer.Option(
        "held", "--old-key", help="What became of the old log key: held, lost or compromised."
    ),
    reason: str = typer.Option("scheduled log key rotation", "--reason", help="Why (public)."),
    node: str = NODE_OPTION,
) -> None:
    """Move the log to a new key: checkpoints after the rotation record are signed by it.

    Example: civic node rotate-key --data ./seq --new-key new-log.key --sign alice.key --sign bob.key --old-key compromised --reason "laptop stolen"
    """
    cfg = load_config(data)
    if old_key not in OLD_KEY_STATUSES:  # before any file is written
        raise InputError(f"--old-key must be one of {', '.join(OLD_KEY_STATUSES)}")
    new = _new_signer(new_key, cfg.origin)
    committee = [load_key(p) for p in sign]
    env = read_json_file(envelope) if envelope is not None else None
    with client(node) as c:
        out = rotate_log_key(data, new, c, committee, env, old_key, reason)
    typer.echo(
        f"log key rotated at record {out['index']}: checkpoints from size {out['index'] + 1} "
        f"are signed by {new.verifier().vkey()}"
    )


@app.command("report")
def report(
    kind: str = typer.Option(..., "--kind", help=f"One of: {', '.join(INCIDENT_KINDS)}."),
    summary: str = typer.Option(..., "--summary", help="What happened (public; no personal data)."),
    actions: str = typer.Option(..., "--actions", help="What was done about it."),
    key: list[str] = typer.Option([], "--key", help="A key id the incident touches; repeat."),
    record: list[int] = typer.Option([], "--record", help="A record index it touches; repeat."),
    revoke: list[str] = typer.Option(
        [], "--revoke", help="A member or committee key id to revoke from this record on."
    ),
    sign: list[Path] = SIGN_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Record an incident, signed by the committee quorum; revoke the keys it names.

    Example: civic incident report --kind member_key_compromise --summary "phone stolen" --actions "key revoked" --revoke ed25519:Qm... --sign alice.key --sign bob.key
    """
    keys = [load_key(p) for p in sign]
    body: dict[str, Any] = {"kind": kind, "summary": summary, "actions": actions}
    if key:
        body["keys"] = list(key)
    if record:
        body["records"] = list(record)
    if revoke:
        body["revoke"] = list(revoke)
    with client(node) as c:
        origin = c.community()["origin"]
        st = make_statement(origin, "incident.report", body, keys[0].key_id)
        out = c.submit(sign_envelope(st, keys))
    typer.echo(f"incident recorded at record {out['index']}")
    for k in revoke:
        typer.echo(f"  {k} is refused from record {out['index']} on")


@app.command("list")
def list_(
    node: str = NODE_OPTION,
    json_: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The community's incident records and revoked keys.

    Example: civic incident list --node http://127.0.0.1:8000
    """
    with client(node) as c:
        got = c.get_json("/v1/incidents")
    if json_:
        emit_json(got)
        return
    if not got["incidents"]:
        typer.echo("no incidents recorded")
    for i in got["incidents"]:
        typer.echo(f"record {i['index']}: {i['kind']}: {i['summary']} (done: {i['actions']})")
    for k, r in got["revoked"].items():
        typer.echo(f"revoked {k} ({r['role']}) from record {r['at']}")
