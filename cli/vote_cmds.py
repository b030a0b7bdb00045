"""``civic vote``: cast a vote and keep its receipt; complete and verify a receipt; list votes."""

from __future__ import annotations

import base64
import os
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
from client import secret
from client.reach import probe_nodes
from client.receipts import (
    WITNESS_WAIT,
    cast_receipt,
    complete_receipt,
    followed_log_keys,
    gather_receipt_inputs,
)
from client.submit import submit_statement
from client.votes import previous_vote
from ledger.c2sp.checkpoint import read_checkpoint
from ledger.c2sp.note import parse_vkey
from ledger.c2sp.policy import Policy, parse_policy
from ledger.c2sp.trust import KeyForSize
from ledger.errors import CivicError, InputError, NetworkError, NotFoundError
from voting.ballot_records import LogView, parse_bundle, proven_genesis
from voting.receipts import ReceiptReport, read_receipt, verify_receipt
from voting.secret import ballot_tracker

__all__ = ["app", "default_receipt_path"]

app = typer.Typer(help="Cast votes with your own key, keep and verify receipts, list votes.")

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")
WAIT_OPTION = typer.Option(
    WITNESS_WAIT,
    "--witness-wait",
    min=0.0,
    help="Seconds to wait for a checkpoint with the witness quorum.",
)


def original_path(receipt: Path) -> Path:
    """Where a completed receipt keeps the node's original answer."""
    return receipt.with_name(receipt.name + ".original")


def _write_files(files: list[tuple[Path, bytes]]) -> None:
    """Write every file or none: all to temporary names first, then rename each."""
    tmps = []
    try:
        for path, data in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.part")
            tmp.write_bytes(data)
            tmps.append((tmp, path))
        for tmp, path in tmps:
            os.replace(tmp, path)
    finally:
        for tmp, _ in tmps:
            tmp.unlink(missing_ok=True)


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
    witness_wait: float = WAIT_OPTION,
) -> None:
    """Cast your vote, signed with your own key, and save its receipt (a C2SP tlog-proof).

    The receipt is kept once a checkpoint covering the vote carries the witness quorum of
    genesis, so it verifies on its own, offline. If the quorum does not come within
    --witness-wait seconds the receipt is saved without it: complete it later with
    `civic vote receipt --complete FILE`.

    Example: civic vote cast --ballot 12 --choice yes --key dana.key --receipt vote.tlog-proof
    """
    kp = load_key(key)
    with client(node) as c:
        community = c.community()
        verifier = parse_vkey(log_key) if log_key else parse_vkey(community["log_vkey"])
        doc = c.get_json(f"/v1/ballots/{ballot}")
        wanted = _choice(doc["kind"], choice, empty)
        before = previous_vote(c, ballot, kp.key_id)
        tracker = None
        if doc.get("mode") == "secret":
            # Built here: only the encrypted ballot and its proofs leave this machine.
            out, tracker = secret.cast_secret(c, verifier, kp, ballot, wanted)
        else:
            body = {"ballot": ballot, "choice": wanted}
            out = submit_statement(c, "vote.cast", body, kp, origin=community["origin"])
        record = base64.b64decode(c.record(out["index"])["entry"])
        data, witnessed = cast_receipt(c, out, record, verifier, witness_wait)
    path = receipt or default_receipt_path(community["origin"], ballot, out["index"])
    _write_files([(path, data)])
    typer.echo(
        f"vote on ballot {ballot} recorded at record {out['index']}; receipt saved to {path}"
    )
    if tracker is not None:
        # The smart ballot tracker (Belenios spec §4.15): the ballot's hash, to find it in
        # the Belenios export and to check it is counted; it reveals nothing of the choice.
        path.with_name(path.name + ".tracker").write_text(tracker + "\n")
        typer.echo(f"smart ballot tracker: {tracker} (saved next to the receipt)")
    if not witnessed:
        typer.echo(
            f"warning: no checkpoint with the witness quorum came within {witness_wait:g} s, "
            "so this receipt is NOT witnessed: it verifies only against a live node. "
            f"Complete it later with: civic vote receipt --complete {path} --node {node}",
            err=True,
        )

    if before is not None:
        typer.echo(
            f"this vote replaces your vote at record {before['index']} ({before['time']}): "
            "only the last vote counts, so the receipt of that one is superseded"
        )


@app.command("receipt")
def receipt_cmd(
    complete: Path = typer.Option(
        ..., "--complete", help="Upgrade this receipt to a witnessed one, in place."
    ),
    node: str = NODE_OPTION,
    log_key: str | None = LOG_KEY_OPTION,
    witness_wait: float = WAIT_OPTION,
) -> None:
    """Complete a receipt: prove the vote against the newest witnessed checkpoint.

    The receipt file is replaced by one whose checkpoint carries the witness quorum; the
    node's original answer is kept beside it in FILE.original, with a consistency proof to
    the new checkpoint, so `civic vote verify` checks that the first answer stays bound in.

    Example: civic vote receipt --complete vote.tlog-proof --node http://127.0.0.1:8000
    """
    data = complete.read_bytes()
    orig = original_path(complete)
    original = orig.read_bytes() if orig.exists() else None
    with client(node) as c:
        verifier, _ = resolve_log_key(c, log_key)
        done = complete_receipt(c, data, verifier, original, witness_wait)
    if done is None:
        raise NotFoundError(
            f"{node} has no checkpoint with the witness quorum covering this vote yet "
            f"(waited {witness_wait:g} s): try again later"
        )
    _write_files([(orig, done.original), (complete, done.receipt)])
    typer.echo(
        f"receipt {complete} completed: proven against the witnessed checkpoint of size "
        f"{done.size}; the original answer is kept in {orig}"
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
    policy_file: Path | None = typer.Option(
        None,
        "--policy",
        help="Verify offline, with no node: the community's C2SP tlog-policy (GET /v1/policy).",
    ),
    log_key: str | None = LOG_KEY_OPTION,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Prove your vote is in the log, witnessed, your last vote, and (once closed) counted.

    Each step is printed with pass, FAIL or skip; the exit code is 0 only when none failed
    (3 otherwise). Online against one or more nodes; offline with --bundle (its genesis
    gives the witness keys) or with --policy alone (the receipt by itself: its checkpoint
    must carry the witness quorum). FILE.original, if present, is checked too.

    Example: civic vote verify --receipt vote.tlog-proof --node http://127.0.0.1:8000
    """
    data = receipt.read_bytes()
    orig = original_path(receipt)
    original = orig.read_bytes() if orig.exists() else None
    header = []
    down: dict[str, str] = {}
    try:
        proof, rec, env = read_receipt(data)
        ballot = str(env.body.get("ballot"))
        receipt_size = _size_of(proof.checkpoint)
        header.append(
            f"receipt {receipt}: record {rec.index}, vote on ballot {ballot} by {env.signer}, "
            + (
                f"secret ballot, tracker {ballot_tracker(env.body['belenios'])}"
                if isinstance(env.body.get("belenios"), str)
                else f"choice {env.body.get('choice')!r}"
            )
        )
    except CivicError:
        # Not even a readable receipt: the pure verifier below names what is wrong with it.
        ballot, receipt_size = "", 0
    policy: Policy | None = None
    if policy_file is not None:
        policy = parse_policy(policy_file.read_text("utf-8"))
    views: list[LogView] = []
    genesis: bytes | None = None
    witnessed: list[LogView] = []
    b: Any = None
    standalone = False
    key_for: KeyForSize | None = None
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
        bundle_source = str(bundle)
        if policy is None and b is not None and b.genesis is not None:
            # The witness keys: genesis, proven to be record 0 of the bundle's tree.
            genesis = proven_genesis(b, checkpoint_opener(verifier)(b.checkpoint))
    elif policy_file is not None and not node:
        assert policy is not None
        if not (log_key or policy.logs):
            raise InputError(f"{policy_file} names no log: give the notice board's --log-key")
        verifier = parse_vkey(log_key) if log_key else policy.logs[0].verifier
        source = "given with --log-key" if log_key else f"from the policy {policy_file}"
        bundle_source, standalone = "", True
    else:
        if not node:
            from cli import settings

            node = settings.default_nodes()
        reach = probe_nodes(node)  # go on with the nodes that answer; name the others
        down = reach.down
        header += [f"node {u} did not answer ({why}); not used" for u, why in down.items()]
        if not reach.up:
            raise NetworkError(f"none of the nodes answered: {'; '.join(reach.down.values())}")
        node = list(reach.up)
        with client(node[0]) as c:
            verifier, source = resolve_log_key(c, log_key)
            # The log's keys after any rotation, verified from that key (docs/adr/0012).
            key_for = followed_log_keys(c, verifier).key_for
        got = gather_receipt_inputs(node, ballot or None, receipt_size)
        views, b, bundle_source = list(got.views), got.bundle, got.bundle_source
        genesis, witnessed = got.genesis, list(got.witnessed)
    header.append(f"log key {verifier.vkey()} {source}")
    report = verify_receipt(
        data,
        verifier,
        views,
        b,
        open_cp=None if key_for is not None else checkpoint_opener(verifier),
        key_for=key_for,
        bundle_source=bundle_source,
        genesis=genesis,
        witnessed=witnessed,
        policy=policy,
        original=original,
        standalone=standalone,
    )
    if json_out:
        doc = {**report.to_json(), "log_key": verifier.vkey(), "log_key_source": source}
        emit_json({**doc, "not_answering": down})
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
