"""``civic ballot``: open, close and cancel ballots; list, show and tally them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from cli.common import KEY_OPTION, NODE_OPTION, client, load_key, read_json_file
from cli.output import EXIT_EVIDENCE, emit_json
from client.http import NodeClient
from client.receipts import fetch_ballot_bundle
from client.submit import submit_statement
from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, open_checkpoint, read_checkpoint
from ledger.c2sp.note import NoteVerifier, parse_vkey
from ledger.errors import InputError, IntegrityError
from ledger.records import format_time, parse_record
from ledger.state import State, replay
from ledger.tiles import TILE_WIDTH, decode_bundle, tile_path
from rules import community_rules
from voting.evidence import format_bundle, tally_bundle
from voting.receipts import read_receipt
from voting.rules import compute_result
from voting.spec import DEFAULT_PASSING, KINDS

__all__ = [
    "LOG_KEY_OPTION",
    "app",
    "checkpoint_opener",
    "resolve_log_key",
]

app = typer.Typer(help="Open, close and cancel ballots (committee keys sign); list, show, tally.")

LOG_KEY_OPTION = typer.Option(
    None,
    "--log-key",
    envvar="CIVIC_LOG_KEY",
    help="The log's verifier key your community posted (default: the node's own answer).",
)
_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def resolve_log_key(c: NodeClient, log_key: str | None) -> tuple[NoteVerifier, str]:
    """The log's verifier and where it came from (given, or the node's answer)."""
    if log_key:
        return parse_vkey(log_key), "given with --log-key"
    vkey = c.community()["log_vkey"]
    return parse_vkey(vkey), f"from {c.url} (compare it with your community's notice board)"


def checkpoint_opener(verifier: NoteVerifier) -> Any:
    """A function verifying a checkpoint note with the log key."""

    def opener(note: bytes) -> Checkpoint:
        return open_checkpoint(note, verifier)[0]

    return opener


def _texts(values: list[str], what: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for v in values:
        lang, sep, text = v.partition("=")
        if not sep:
            raise InputError(f"--{what} takes LANG=TEXT, e.g. --{what} 'zh=安装太阳能板？'")
        out[lang.strip()] = text
    return out


def _closes(closes: str | None, duration: str | None) -> str:
    if closes:
        return closes
    m = _DURATION.match(duration or "")
    if not m:
        raise InputError("give --closes RFC3339 or --duration like 30m, 12h or 14d")
    delta = timedelta(seconds=int(m.group(1)) * _UNITS[m.group(2)])
    return format_time((datetime.now(UTC) + delta).replace(microsecond=0))


def _quorum(text: str) -> dict[str, int]:
    t = text.strip()
    try:
        if t.endswith("%"):
            return {"percent": int(t[:-1])}
        return {"votes": int(t)}
    except ValueError:
        raise InputError(
            f"--quorum takes a number of votes (50) or a percentage (30%), not {text!r}"
        ) from None


def _submit(node: str, key: Path, type_: str, body: dict[str, Any]) -> dict[str, Any]:
    kp = load_key(key)
    with client(node) as c:
        return submit_statement(c, type_, body, kp)


@app.command("open")
def open_(
    kind: str = typer.Option(..., "--kind", help=f"One of {', '.join(KINDS)}."),
    title: list[str] = typer.Option([], "--title", help="LANG=TEXT, repeat per language."),
    text: list[str] = typer.Option([], "--text", help="LANG=TEXT, repeat per language."),
    option: list[str] = typer.Option([], "--option", help="ID=LABEL (label in --lang)."),
    cost: list[str] = typer.Option([], "--cost", help="ID=AMOUNT in minor units (budget)."),
    budget: int | None = typer.Option(None, "--budget", help="Budget in minor units."),
    currency: str = typer.Option("EUR", "--currency", help="ISO 4217 code of budget and costs."),
    lang: str = typer.Option("en", "--lang", help="Language of --option labels."),
    opens: str | None = typer.Option(None, "--opens", help="RFC 3339 UTC; default now."),
    closes: str | None = typer.Option(None, "--closes", help="RFC 3339 UTC closing time."),
    duration: str | None = typer.Option(None, "--duration", help="Or: open for 30m, 12h, 14d."),
    quorum: str = typer.Option("0", "--quorum", help="Minimum turnout: votes (50) or 30%."),
    passing: str | None = typer.Option(None, "--passing", help="Passing rule (default by kind)."),
    document: str | None = typer.Option(None, "--document", help="SHA-256 of a long text."),
    spec: Path | None = typer.Option(None, "--spec", help="JSON body to start from."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Open a ballot (signed with your key); prints its id.

    Example: civic ballot open --kind yes_no --title "en=Solar panels?" --title "zh=太阳能板？" --duration 14d --quorum 30% --key alice.key
    """
    body: dict[str, Any] = dict(read_json_file(spec)) if spec else {}
    body["kind"] = kind
    if title:
        body["title"] = _texts(title, "title")
    if text:
        body["text"] = _texts(text, "text")
    costs = dict(c.split("=", 1) for c in cost if "=" in c)
    if option:
        opts = []
        for o in option:
            oid, sep, label = o.partition("=")
            if not sep:
                raise InputError("--option takes ID=LABEL, e.g. --option 'garden=Community garden'")
            item: dict[str, Any] = {"id": oid, "label": {lang: label}}
            if kind == "budget":
                if oid not in costs:
                    raise InputError(f"give the cost of {oid!r} with --cost {oid}=AMOUNT")
                item["cost"] = {"amount": int(costs[oid]), "currency": currency}
            opts.append(item)
        body["options"] = opts
    if budget is not None:
        body["budget"] = {"amount": budget, "currency": currency}
    if opens:
        body["opens"] = opens
    if closes or duration or "closes" not in body:
        body["closes"] = _closes(closes, duration)
    if "quorum" not in body or quorum != "0":
        body["quorum"] = _quorum(quorum)
    body["passing"] = passing or body.get("passing") or DEFAULT_PASSING.get(kind, "")
    if document:
        body["document"] = document
    out = _submit(node, key, "ballot.open", body)
    typer.echo(f"opened ballot {out['index']} (closes {body['closes']})")


@app.command("close")
def close(
    ballot: str = typer.Option(..., "--ballot", help="Ballot id."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
    log_key: str | None = LOG_KEY_OPTION,
) -> None:
    """Close a ballot after its closing time, with the result recomputed here from its records.

    Example: civic ballot close --ballot 12 --key alice.key
    """
    with client(node) as c:
        verifier, _ = resolve_log_key(c, log_key)
        t = tally_bundle(fetch_ballot_bundle(c, ballot), checkpoint_opener(verifier))
        doc = c.get_json(f"/v1/ballots/{ballot}")
    if t.history.status != "open":
        raise InputError(f"ballot {ballot} is already {t.history.status}")
    body = {"ballot": ballot, "electorate_hash": doc["electorate_hash"], "result": t.computed}
    out = _submit(node, key, "ballot.close", body)
    verdict = "passed" if t.computed["passed"] else "did not pass"
    typer.echo(
        f"closed ballot {ballot} at record {out['index']}: {t.computed['turnout']} of "
        f"{doc['electorate_size']} voted, {verdict}"
    )


@app.command("cancel")
def cancel(
    ballot: str = typer.Option(..., "--ballot", help="Ballot id."),
    reason: str = typer.Option(..., "--reason", help="Why (public)."),
    key: Path = KEY_OPTION,
    node: str = NODE_OPTION,
) -> None:
    """Cancel an open ballot; it will never have a result.

    Example: civic ballot cancel --ballot 12 --reason "wrong options" --key alice.key
    """
    out = _submit(node, key, "ballot.cancel", {"ballot": ballot, "reason": reason})
    typer.echo(f"cancelled ballot {ballot} at record {out['index']}")


def _title(doc: dict[str, Any]) -> str:
    return " / ".join(doc["title"].values())


@app.command("list")
def list_(
    node: str = NODE_OPTION,
    status: str | None = typer.Option(None, "--status", help="open, closed or cancelled."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """List ballots, newest first.

    Example: civic ballot list --node http://127.0.0.1:8000 --status open
    """
    with client(node) as c:
        info = c.get_json("/v1/ballots", status=status)
    if json_out:
        emit_json(info)
        return
    t = Table(title=f"{info['total']} ballots")
    for col in ("id", "kind", "title", "status", "closes", "turnout", "passed"):
        t.add_column(col)
    for b in info["ballots"]:
        passed = "" if b["passed"] is None else ("yes" if b["passed"] else "no")
        turnout = f"{b['turnout']}/{b['electorate_size']}"
        t.add_row(b["id"], b["kind"], _title(b), b["status"], b["closes"], turnout, passed)
    Console().print(t)


def _label(o: dict[str, Any]) -> str:
    return " / ".join(o["label"].values()) if "label" in o else o["id"]


@app.command("show")
def show(
    ballot: str = typer.Option(..., "--ballot", help="Ballot id."),
    node: str = NODE_OPTION,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show one ballot: texts, options, times, electorate, result (or running tally).

    Example: civic ballot show --ballot 12 --node http://127.0.0.1:8000
    """
    with client(node) as c:
        doc = c.get_json(f"/v1/ballots/{ballot}")
        res = c.get_json(f"/v1/ballots/{ballot}/result")
    if json_out:
        emit_json({"ballot": doc, "result": res})
        return
    typer.echo(f"ballot {doc['id']} ({doc['kind']}, {doc['status']}): {_title(doc)}")
    for lang, text in (doc.get("text") or {}).items():
        typer.echo(f"  [{lang}] {text}")
    typer.echo(
        f"  open {doc['opens']} → {doc['closes']}; passing rule {doc['passing']}, quorum {doc['quorum']}"
    )
    typer.echo(f"  electorate {doc['electorate_size']} residents, hash {doc['electorate_hash']}")
    r = res["result"] or res["provisional"]
    t = Table(title="result" if res["result"] else "running tally (not final)")
    t.add_column("option")
    t.add_column("label")
    t.add_column("cost")
    t.add_column("votes", justify="right")
    for o in doc["options"]:
        cost = f"{o['cost']['amount']} {o['cost']['currency']}" if "cost" in o else ""
        t.add_row(o["id"], _label(o), cost, str(r["counts"][o["id"]]))
    Console().print(t)
    verdict = "passed" if r["passed"] else "not passed"
    typer.echo(
        f"  turnout {r['turnout']}/{r['electorate_size']}, quorum "
        f"{'met' if r['quorum_met'] else 'not met'}, {verdict}; chosen: {', '.join(r['chosen']) or '-'}"
    )


def download_records(c: NodeClient, size: int) -> list[bytes]:
    """Entries [0, size) through the C2SP tlog-tiles entry bundles."""
    out: list[bytes] = []
    for n in range(-(-size // TILE_WIDTH)):
        width = min(TILE_WIDTH, size - n * TILE_WIDTH)
        out.extend(decode_bundle(c.get_bytes("/log/" + tile_path(None, n, width))))
    if len(out) != size:
        raise IntegrityError(f"the node served {len(out)} entries for a log of {size}")
    return out


def _full_tally(c: NodeClient, ballot: str, verifier: NoteVerifier) -> dict[str, Any]:
    """Replay the whole log from genesis with the rules; recompute the ballot from the state."""
    cp = open_checkpoint(c.checkpoint(), verifier)[0]
    entries = download_records(c, cp.size)
    tree = merkle.CompactRange()
    for e in entries:
        tree.append(merkle.leaf_hash(e))
    if tree.root() != cp.root_hash:
        raise IntegrityError(
            f"the entries the node served do not hash to its checkpoint of size {cp.size}"
        )
    state = replay([parse_record(e) for e in entries], State(community_rules()))
    doc = state.peek("ballot", ballot)
    if doc is None:
        raise InputError(f"there is no ballot {ballot} in the log")
    return {
        "size": cp.size,
        "status": doc["status"],
        "computed": compute_result(state, ballot) if doc["status"] == "open" else doc["result"],
        "recorded": doc["result"],
    }


@app.command("tally")
def tally(
    ballot: str = typer.Option(..., "--ballot", help="Ballot id."),
    node: str = NODE_OPTION,
    full: bool = typer.Option(
        False, "--full", help="Replay the whole log from genesis through every rule."
    ),
    log_key: str | None = LOG_KEY_OPTION,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recompute a ballot's result here from the records and compare with what the node publishes.

    By default the ballot's own records are downloaded and proven against the node's signed
    checkpoint; with --full the whole log is downloaded and replayed through every rule
    (eligibility included). Exit code 3 if anything disagrees.

    Example: civic ballot tally --ballot 12 --node http://127.0.0.1:8000
    """
    with client(node) as c:
        verifier, key_source = resolve_log_key(c, log_key)
        published = c.get_json(f"/v1/ballots/{ballot}/result")
        problems: list[str] = []
        if full:
            f = _full_tally(c, ballot, verifier)
            computed, status, size, source = f["computed"], f["status"], f["size"], "replay"
            claim = published["result"] if status != "open" else published["provisional"]
            if status != published["status"]:
                problems.append(f"the node says {published['status']}, the replay says {status}")
            elif claim != computed:
                problems.append("the node publishes a different result from the replay")
        else:
            t = tally_bundle(fetch_ballot_bundle(c, ballot), checkpoint_opener(verifier), published)
            computed, status, size = t.computed, t.history.status, t.checkpoint.size
            source = (
                f"records [{ballot}, {t.history.end}); electorate size from {t.electorate_source}"
            )
            problems = list(t.problems)
    out = {
        "ballot": ballot,
        "status": status,
        "checkpoint_size": size,
        "log_key": key_source,
        "source": source,
        "result": computed,
        "matches": not problems,
        "problems": problems,
    }
    if json_out:
        emit_json(out)
    else:
        typer.echo(f"ballot {ballot} ({status}), recomputed from {source}, checkpoint size {size}")
        typer.echo(f"  counts: {computed['counts']}")
        typer.echo(
            f"  turnout {computed['turnout']}/{computed['electorate_size']}, quorum "
            f"{'met' if computed['quorum_met'] else 'not met'}, "
            f"{'passed' if computed['passed'] else 'not passed'}; chosen: {', '.join(computed['chosen']) or '-'}"
        )
        for p in problems:
            typer.echo(f"  MISMATCH: {p}")
        typer.echo("  matches the node's published result" if not problems else "  DOES NOT MATCH")
    if problems:
        raise typer.Exit(EXIT_EVIDENCE)


@app.command("bundle")
def bundle(
    ballot: str = typer.Option(..., "--ballot", help="Ballot id."),
    out: Path = typer.Option(..., "--out", help="File to write."),
    receipt: list[Path] = typer.Option(
        [], "--receipt", help="Add consistency proofs for these receipts."
    ),
    node: str = NODE_OPTION,
    log_key: str | None = LOG_KEY_OPTION,
) -> None:
    """Save a ballot bundle (civic-ledger/ballot-bundle@v1) for offline `civic vote verify --bundle`.

    Example: civic ballot bundle --ballot 12 --receipt vote.tlog-proof --out ballot-12.json
    """
    sizes = []
    for r in receipt:
        proof, _, _ = read_receipt(r.read_bytes())
        sizes.append(read_checkpoint(proof.checkpoint).size)
    with client(node) as c:
        verifier, _ = resolve_log_key(c, log_key)
        b = fetch_ballot_bundle(c, ballot, sizes)
    tally_bundle(b, checkpoint_opener(verifier))  # refuse to save what does not verify
    out.write_bytes(format_bundle(b))
    typer.echo(f"wrote {out}: records [{b.first}, {b.end}) of ballot {ballot}")
