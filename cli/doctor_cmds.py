"""``civic doctor``: check the local setup — key file, nodes, and a trusted checkpoint."""

from __future__ import annotations

import base64
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

import ledger
from cli.output import EXIT_EVIDENCE, EXIT_UNREACHABLE, EXIT_USAGE, emit_json
from client.http import NodeClient
from ledger import merkle
from ledger.c2sp.note import NoteVerifier, parse_vkey
from ledger.c2sp.trust import check_trust
from ledger.errors import CivicError, InputError, NetworkError
from ledger.keys import load_key_file, passphrase_from_env, read_key_id
from ledger.records import parse_record
from ledger.witness_policy import policy_from_genesis

__all__ = ["Check", "doctor", "run_checks"]

OK, WARN, FAIL = "ok", "warn", "fail"


@dataclass
class Check:
    """One line of the doctor's report; ``exit`` is the code a failure stands for."""

    name: str
    status: str
    detail: str
    exit: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "status": self.status, "detail": self.detail}


def _key_checks(key: Path | None) -> list[Check]:
    if key is None:
        return [Check("key file", WARN, "none given (--key or CIVIC_KEY): fine for reading")]
    try:
        kid = read_key_id(key)
    except InputError as exc:
        return [Check("key file", FAIL, exc.message, EXIT_USAGE)]
    out = [Check("key file", OK, f"{key} holds {kid}")]
    if os.environ.get("CIVIC_PASSPHRASE") or os.environ.get("CIVIC_PASSPHRASE_FILE"):
        try:
            load_key_file(key, passphrase_from_env())
            out.append(Check("passphrase", OK, "the passphrase from the environment opens it"))
        except InputError as exc:
            out.append(Check("passphrase", FAIL, exc.message, EXIT_USAGE))
    else:
        out.append(Check("passphrase", OK, "not in the environment: you will be asked for it"))
    return out


@dataclass
class _Trust:
    verifier: NoteVerifier | None
    genesis_body: dict[str, Any] | None
    check: Check


def _trust_root(clients: list[NodeClient], vkey: str | None, genesis: str | None) -> _Trust:
    pinned: NoteVerifier | None = None
    if vkey:
        try:
            pinned = parse_vkey(vkey)
        except InputError as exc:
            return _Trust(
                None, None, Check("trust root", FAIL, f"--vkey: {exc.message}", EXIT_USAGE)
            )
    for c in clients:
        try:
            rec = c.record(0)
            entry = base64.b64decode(rec["entry"])
            body = parse_record(entry).envelope["statement"]["body"]
            found = parse_vkey(body["log_vkey"])
        except (CivicError, KeyError, TypeError, ValueError):
            continue
        leaf = merkle.leaf_hash(entry).hex()
        if genesis and leaf != genesis.lower():
            detail = f"{c.url}: record 0 is {leaf}, not the pinned genesis {genesis}"
            return _Trust(None, None, Check("trust root", FAIL, detail, EXIT_EVIDENCE))
        if pinned is not None and found != pinned:
            detail = f"{c.url}: genesis names log key {found.vkey()}, not the pinned one"
            return _Trust(None, None, Check("trust root", FAIL, detail, EXIT_EVIDENCE))
        if genesis or pinned is not None:
            how = f"--genesis {genesis[:16]}…" if genesis else "--vkey"
            return _Trust(found, body, Check("trust root", OK, f"pinned by {how}"))
        detail = (
            f"not pinned: genesis {leaf} taken from {c.url}; compare it with the notice "
            "board and pass --genesis"
        )
        return _Trust(found, body, Check("trust root", WARN, detail))
    if pinned is not None:
        return _Trust(pinned, None, Check("trust root", OK, "pinned by --vkey"))
    detail = "no node serves a genesis record"
    return _Trust(None, None, Check("trust root", FAIL, detail, EXIT_UNREACHABLE))


def _checkpoint_checks(clients: list[NodeClient], trust: _Trust) -> list[Check]:
    from audits.findings import Finding
    from audits.verify import check_log_signature

    assert trust.verifier is not None
    out: list[Check] = []
    seen: list[tuple[str, int, bytes, NodeClient]] = []
    for c in clients:
        try:
            note = c.checkpoint()
        except CivicError:
            continue
        cp = check_log_signature(note, trust.verifier, c.url)
        if isinstance(cp, Finding):
            out.append(Check(f"checkpoint {c.url}", FAIL, cp.message, EXIT_EVIDENCE))
            continue
        status, detail = OK, f"{cp.size} records, signed by the log key"
        if trust.genesis_body is not None:
            # The witnesses and quorum of genesis (a later witnesses.set is for the audit).
            try:
                rep = check_trust(note, policy_from_genesis(trust.genesis_body))
            except CivicError as exc:
                status, detail = WARN, f"{detail}; witness policy not checked: {exc.message}"
            else:
                if not rep.trusted:
                    status, detail = WARN, f"{detail}; {rep.summary()}"
                elif rep.cosigned_by:
                    detail += f"; cosigned by {', '.join(rep.cosigned_by)}"
        out.append(Check(f"checkpoint {c.url}", status, detail))
        seen.append((c.url, cp.size, cp.root_hash, c))
    # Nodes must agree: one tree, seen at different sizes.
    seen.sort(key=lambda s: -s[1])
    for url, size, root, _ in seen[1:]:
        top_url, top_size, top_root, top = seen[0]
        try:
            if size == top_size:
                if root != top_root:
                    raise CivicError("same size, different roots")
            elif size:
                proof = top.consistency_proof(size, top_size)
                merkle.verify_consistency(
                    size, top_size, [bytes.fromhex(h) for h in proof["hashes"]], root, top_root
                )
        except CivicError as exc:
            detail = f"{url} and {top_url} hold different logs ({exc.message}): run civic audit"
            out.append(Check("agreement", FAIL, detail, EXIT_EVIDENCE))
            continue
        out.append(Check("agreement", OK, f"{url} ({size}) is consistent with {top_url}"))
    return out


def run_checks(
    nodes: list[str], key: Path | None, vkey: str | None, genesis: str | None
) -> list[Check]:
    """Every check of ``civic doctor``, in order."""
    checks = [Check("civic-ledger", OK, f"{ledger.__version__} on Python {sys.version.split()[0]}")]
    checks += _key_checks(key)
    if not nodes:
        checks.append(Check("nodes", WARN, "none given (--node or CIVIC_NODE)"))
        return checks
    clients = [NodeClient(url, timeout=10.0) for url in nodes]
    try:
        live = []
        for c in clients:
            t0 = time.perf_counter()
            try:
                h = c.get_json("/healthz")
            except NetworkError as exc:
                checks.append(Check(f"node {c.url}", FAIL, exc.message, EXIT_UNREACHABLE))
                continue
            except CivicError as exc:
                checks.append(Check(f"node {c.url}", FAIL, exc.message, EXIT_UNREACHABLE))
                continue
            ms = (time.perf_counter() - t0) * 1000
            detail = f"{h.get('role', '?')} of {h.get('origin', '?')}, {h.get('size')} records"
            checks.append(Check(f"node {c.url}", OK, f"{detail}, answered in {ms:.0f} ms"))
            live.append(c)
        trust = _trust_root(live, vkey, genesis)
        checks.append(trust.check)
        if trust.verifier is not None:
            checks += _checkpoint_checks(live, trust)
    finally:
        for c in clients:
            c.close()
    return checks


def doctor(
    node: list[str] = typer.Option(
        [], "--node", envvar="CIVIC_NODE", help="URL of a node to check (repeat for several)."
    ),
    key: Path | None = typer.Option(None, "--key", envvar="CIVIC_KEY", help="Your key file."),
    vkey: str | None = typer.Option(None, "--vkey", help="The log's verifier key to trust."),
    genesis: str | None = typer.Option(None, "--genesis", help="The genesis hash to trust."),
    json_out: bool = typer.Option(False, "--json", help="Print the checks as JSON."),
) -> None:
    """Check your setup: key file readable, nodes reachable, their checkpoint trusted.

    Exit code 0 when every check passes or only warns; otherwise that of the worst failure
    (2 key or usage, 3 a checkpoint that does not verify, 4 a node unreachable).

    Example: civic doctor --node http://127.0.0.1:8000 --key alice.key --genesis 3f2a...
    """
    from cli import settings

    default_key = settings.default_key()
    checks = run_checks(
        node or settings.configured_nodes(),
        key or (Path(default_key) if default_key else None),
        vkey,
        genesis,
    )
    if json_out:
        emit_json([c.to_json() for c in checks])
    else:
        table = Table(title="civic doctor")
        for col in ("check", "status", "detail"):
            table.add_column(col, overflow="fold")
        colour = {OK: "green", WARN: "yellow", FAIL: "red"}
        for c in checks:
            table.add_row(c.name, f"[{colour[c.status]}]{c.status}[/]", c.detail)
        Console().print(table)
    failures = [c.exit for c in checks if c.status == FAIL]
    if failures:
        order = [EXIT_EVIDENCE, EXIT_UNREACHABLE, EXIT_USAGE]
        raise typer.Exit(min(failures, key=lambda e: order.index(e) if e in order else 9))
