"""``civic vote``: cast a vote and keep its receipt; verify a receipt; list a ballot's votes."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from typing import Any

import platformdirs
import typer
from rich.console import Console
from rich.table import Table

from cli.ballot_cmds import LOG_KEY_OPTION, checkpoint_opener, resolve_log_key
from cli.common import KEY_OPTION, NODE_OPTION, client, load_key
from cli.output import EXIT_EVIDENCE, emit_json
from client.receipts import gather_receipt_inputs
from client.submit import submit_statement
from ledger.c2sp.checkpoint import read_checkpoint
from ledger.c2sp.note import parse_vkey
from ledger.errors import CivicError, InputError
from voting.evidence import LogView, parse_bundle
from voting.receipts import ReceiptReport, build_receipt, read_receipt, verify_receipt

__all__ = ["app", "default_receipt_path"]

app = typer.Typer(help="Cast votes with your own key, keep and verify receipts, list votes.")

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def default_receipt_path(origin: str, ballot: str, index: int) -> Path:
    """Where a receipt goes when --receipt is not given: the user's data folder."""
    base = Path(platformdirs.user_data_dir("civic-ledger", appauthor=False))
    return base / "receipts" / _SLUG.sub("_", origin) / f"ballot-{ballot}-record-{index}.tlog-proof"


def _choice(kind: str, choices: list[str], empty: bool) -> Any:
    if kind in ("yes_no", "single"):
        if len(choices) != 1 or empty:
            raise InputError(f"a {kind} ballot takes exactly one --choice")
        return choices[0]
    picked = [c.strip() for text in choices for c in text.split(",") if c.strip()]
    if not picked and not empty:
        raise InputError(f"give --choice (repeat or comma-separate) or --empty for a {kind} ballot")
    return picked


@app.command("cast")
def cast(
    ballot: str = typer.Option(..., "--ballot", help="Ballot id."),
    choice: list[str] = typer.Option(
        [], "--choice", help="Your choice; repeat for approval/budget."
    ),
    empty: bool = typer.Option(False, "--empty", help="Approve no option (approval/budget)."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
    receipt: Path | None = typer.Option(None, "--receipt", help="Where to save the receipt."),
    log_key: str | None = LOG_KEY_OPTION,
) -> None:
    """Cast your vote, signed with your own key, and save its receipt (a C2SP tlog-proof).

    Example: civic vote cast --ballot 12 --choice yes --key dana.key --receipt vote.tlog-proof
    """
    kp = load_key(key)
    with client(node) as c:
        community = c.community()
        verifier = parse_vkey(log_key) if log_key else parse_vkey(community["log_vkey"])
        doc = c.get_json(f"/v1/ballots/{ballot}")
        body = {"ballot": ballot, "choice": _choice(doc["kind"], choice, empty)}
        out = submit_statement(c, "vote.cast", body, kp, origin=community["origin"])
        record = base64.b64decode(c.record(out["index"])["entry"])
    proof = out["inclusion_proof"]
    data = build_receipt(
        out["index"],
        [bytes.fromhex(h) for h in proof["hashes"]],
        out["checkpoint"].encode(),
        record,
        verifier,
    )
    path = receipt or default_receipt_path(community["origin"], ballot, out["index"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    typer.echo(
        f"vote on ballot {ballot} recorded at record {out['index']}; receipt saved to {path}"
    )


def _size_of(note: bytes) -> int:
    return read_checkpoint(note).size


def _print_report(report: ReceiptReport, header: list[str]) -> None:
    for line in header:
        typer.echo(line)
    marks = {"pass": "ok  ", "fail": "FAIL", "skip": "skip"}
    for s in report.steps:
        typer.echo(f"  {s.number}. {marks[s.status]} {s.name}: {s.detail}")
    typer.echo(
        "receipt verified"
        if report.ok
        else f"receipt NOT verified: {len(report.failed)} step(s) failed"
    )


@app.command("verify")
def verify(
    receipt: Path = typer.Option(..., "--receipt", help="The receipt file (tlog-proof)."),
    node: list[str] = typer.Option(
        [], "--node", envvar="CIVIC_NODE", help="Node URL; repeat for several."
    ),
    bundle: Path | None = typer.Option(
        None, "--bundle", help="Verify offline against a saved ballot bundle."
    ),
    log_key: str | None = LOG_KEY_OPTION,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Prove your vote is in the log, is your last vote, and (once closed) is counted.

    Each step is printed with pass, FAIL or skip; the exit code is 0 only when none failed
    (3 otherwise). Online against one or more nodes, or offline with --bundle.

    Example: civic vote verify --receipt vote.tlog-proof --node http://127.0.0.1:8000
    """
    data = receipt.read_bytes()
    header = []
    try:
        proof, rec, env = read_receipt(data)
        ballot = str(env.body.get("ballot"))
        receipt_size = _size_of(proof.checkpoint)
        header.append(
            f"receipt {receipt}: record {rec.index}, vote on ballot {ballot} by {env.signer}, "
            f"choice {env.body.get('choice')!r}"
        )
    except CivicError:
        # Not even a readable receipt: the pure verifier below names what is wrong with it.
        ballot, receipt_size = "", 0
    if bundle is not None:
        b = _read_bundle(bundle, ballot, receipt_size)
        hint = b.log_vkey if b is not None else ""
        if not (log_key or hint):
            raise InputError(f"{bundle} names no log key: give the notice board's --log-key")
        verifier = parse_vkey(log_key or hint)
        source = (
            "given with --log-key"
            if log_key
            else f"from the bundle {bundle} (compare it with your community's notice board)"
        )
        views: list[LogView] = []
        bundle_source = str(bundle)
        genesis, witnessed = None, None
    else:
        if not node:
            from cli import settings

            node = settings.default_nodes()
        with client(node[0]) as c:
            verifier, source = resolve_log_key(c, log_key)
        got = gather_receipt_inputs(node, ballot or None, receipt_size)
        views, b, bundle_source = list(got.views), got.bundle, got.bundle_source
        genesis, witnessed = got.genesis, got.witnessed
    header.append(f"log key {verifier.vkey()} {source}")
    report = verify_receipt(
        data,
        verifier,
        views,
        b,
        open_cp=checkpoint_opener(verifier),
        bundle_source=bundle_source,
        genesis=genesis,
        witnessed=witnessed,
    )
    if json_out:
        emit_json({**report.to_json(), "log_key": verifier.vkey(), "log_key_source": source})
    else:
        _print_report(report, header)
    if not report.ok:
        raise typer.Exit(EXIT_EVIDENCE)


def _read_bundle(path: Path, ballot: str, receipt_size: int) -> Any:
    """A ballot bundle (JSON) as is, or the ballot's part of a log bundle (`civic log bundle`)."""
    import zipfile

    if not zipfile.is_zipfile(path):
        return parse_bundle(path.read_bytes())
    from audits.bundle import Bundle, ballot_bundle

    if not ballot:
        return None  # an unreadable receipt: the verifier's step 1 or 2 says why
    with Bundle(path) as log_bundle:
        return ballot_bundle(log_bundle, ballot, [receipt_size])


@app.command("list")
def list_(
    ballot: str = typer.Option(..., "--ballot", help="Ballot id."),
    node: str = NODE_OPTION,
    offset: int = typer.Option(0, "--offset", help="Skip this many votes."),
    limit: int = typer.Option(100, "--limit", help="Show at most this many votes."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List the counted (last) vote of each resident on a ballot, in log order.

    Example: civic vote list --ballot 12 --node http://127.0.0.1:8000
    """
    with client(node) as c:
        page = c.get_json(f"/v1/ballots/{ballot}/votes", offset=offset, limit=limit)
    if json_out:
        emit_json(page)
        return
    t = Table(title=f"ballot {ballot}: {page['total']} counted votes")
    for col in ("record", "key", "choice", "time", "votes cast"):
        t.add_column(col)
    for v in page["votes"]:
        ch = v["choice"] if isinstance(v["choice"], str) else ", ".join(v["choice"]) or "(none)"
        t.add_row(str(v["index"]), v["key"], ch, v["time"], str(v["n"]))
    Console().print(t)
