"""``civic audit``: verify a community's whole log yourself, trusting none of its nodes."""

from __future__ import annotations

import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from audits.audit import AuditOptions, run_audit
from audits.fetch import UnreachableFetcher
from audits.report import AuditReport
from cli.output import EXIT_EVIDENCE, EXIT_UNREACHABLE
from client.http import node_url
from client.reach import probe_nodes
from ledger.errors import InputError

__all__ = ["RichProgress", "app", "exit_code_for", "print_summary"]

app = typer.Typer(invoke_without_command=True, subcommand_metavar="")


def exit_code_for(report: AuditReport) -> int:
    """0 clean, 3 evidence of misbehaviour, 4 a node unreachable or the audit incomplete."""
    return {"clean": 0, "evidence": EXIT_EVIDENCE, "incomplete": EXIT_UNREACHABLE}[report.verdict]


class RichProgress:
    """One rich progress bar per audit phase, on stderr."""

    def __init__(self, console: Console) -> None:
        self._bar = Progress(
            TextColumn("{task.description:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[unit]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> RichProgress:
        self._bar.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._bar.stop()

    def start(self, phase: str, total: int | None, unit: str) -> None:
        self._tasks[phase] = self._bar.add_task(phase, total=total, unit=unit)

    def advance(self, phase: str, n: int = 1) -> None:
        self._bar.advance(self._tasks[phase], n)

    def finish(self, phase: str) -> None:
        task = self._tasks[phase]
        total = self._bar.tasks[self._tasks[phase]].total
        self._bar.update(task, completed=total)


def print_summary(report: AuditReport, console: Console) -> None:
    """The verdict, the nodes, the findings and the phases, as tables."""
    style = {"clean": "bold green", "evidence": "bold red", "incomplete": "bold yellow"}
    words = {
        "clean": "no problem found",
        "evidence": "EVIDENCE OF MISBEHAVIOUR",
        "incomplete": "incomplete: not everything could be checked",
    }
    console.print(
        f"[{style[report.verdict]}]audit of {report.origin or '?'}: {words[report.verdict]}[/]"
    )
    if report.checkpoint_size is not None:
        console.print(
            f"checkpoint: {report.checkpoint_size} records, root {report.checkpoint_root}; "
            f"verified records {report.verified_from}..{max(0, report.verified_to - 1)}"
        )
    console.print(f"genesis: {report.genesis_hash}  (trust root: {report.pinned_by})")
    nodes = Table(title="nodes")
    for col in ("node", "reachable", "size", "checkpoint", "views"):
        nodes.add_column(col)
    for n in report.nodes:
        nodes.add_row(
            n.name, "yes" if n.reachable else "NO", str(n.size or ""), n.checkpoint, n.views
        )
    console.print(nodes)
    found = report.sorted_findings()
    if found:
        t = Table(title=f"findings ({len(found)})")
        for col in ("severity", "code", "record", "node", "what"):
            t.add_column(col, overflow="fold")
        for f in found[:25]:
            t.add_row(
                f.severity.value,
                f.code,
                "" if f.index is None else str(f.index),
                f.node or "",
                f.message,
            )
        console.print(t)
        if len(found) > 25:
            console.print(f"... and {len(found) - 25} more (see --json or --markdown)")
    if report.warnings:
        console.print(f"{len(report.warnings)} data-quality warning(s):")
        for w in report.warnings[:10]:
            console.print(f"  {w.code}: {w.message}")
    phases = Table(title="phases")
    for col in ("phase", "items", "seconds", "per second"):
        phases.add_column(col, justify="right")
    for p in report.phases:
        phases.add_row(p.name, f"{p.items} {p.unit}", f"{p.seconds:.2f}", f"{p.per_second:,.0f}")
    console.print(phases)


def _write(path: Path, text: str) -> None:
    if str(path) == "-":
        sys.stdout.write(text)
        return
    path.write_text(text, "utf-8")


@app.callback()
def audit(
    ctx: typer.Context,
    node: list[str] = typer.Option(
        [], "--node", envvar="CIVIC_NODE", help="URL of a node to audit (repeat for several)."
    ),
    vkey: str | None = typer.Option(
        None, "--vkey", help="Pin the trust root: the log's verifier key from the notice board."
    ),
    genesis: str | None = typer.Option(
        None, "--genesis", help="Pin the trust root: the genesis hash from the notice board."
    ),
    from_bundle: Path | None = typer.Option(
        None, "--from-bundle", help="Audit an offline bundle (from `civic log bundle`)."
    ),
    state: Path | None = typer.Option(
        None, "--state", help="Remember what was verified; next time verify only what is new."
    ),
    json_file: Path | None = typer.Option(
        None, "--json", help="Write the JSON report to this file ('-' for stdout)."
    ),
    markdown_file: Path | None = typer.Option(
        None, "--markdown", help="Write a Markdown report (to print) to this file."
    ),
    cache: Path | None = typer.Option(
        None, "--cache", help="Keep downloaded tiles here so an interrupted audit resumes."
    ),
    workers: int | None = typer.Option(
        None, "--workers", help="Processes verifying signatures (default: every core)."
    ),
    parallel: int = typer.Option(4, "--parallel", help="Downloads at a time."),
    max_lag: int = typer.Option(
        0,
        "--max-lag",
        min=0,
        help="Records a node may be behind the newest witnessed checkpoint seen before "
        "it is a finding (node.stale).",
    ),
    unpinned: bool = typer.Option(
        False,
        "--unpinned",
        help="Audit without a trust root: take record 0 of the first node on trust.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bars or summary."),
) -> None:
    """Audit a community's log yourself: replay it from any nodes and check everything.

    Fetches every node's checkpoint, downloads all tiles and records, verifies every signature and rule from genesis on, and compares each node's published views with the replay.

    The trust root is --genesis or --vkey from the notice board (or the --state file of an earlier audit); without one the audit refuses to run unless --unpinned is given.

    Exit code 0: nothing found; 3: evidence of misbehaviour; 4: a node was unreachable or the audit could not check everything; 2: usage error.

    Example: civic audit --node http://127.0.0.1:8000 --node http://127.0.0.1:8001 --genesis 3f2a... --markdown audit.md
    """
    if ctx.invoked_subcommand is not None:
        return
    if not node and from_bundle is None:
        from cli import settings

        node = settings.configured_nodes()
    remembered = state is not None and state.is_file()
    if (node or from_bundle is not None) and not (vkey or genesis or remembered or unpinned):
        raise InputError(
            "no trust root: give --genesis HASH or --vkey VKEY from the community's notice "
            "board (or --unpinned to take the nodes' own genesis on trust)"
        )
    # Nodes that do not answer a short probe are reported unreachable at once, instead
    # of each holding the audit for its whole read timeout.
    reach = probe_nodes([node_url(u) for u in node])
    opts = AuditOptions(
        fetchers=[UnreachableFetcher(u, why) for u, why in reach.down.items()],
        nodes=reach.up,
        vkey=vkey,
        genesis=genesis,
        bundle=from_bundle,
        state_file=state,
        cache=cache,
        workers=workers,
        parallel=parallel,
        max_lag=max_lag,
    )
    to_stdout = json_file is not None and str(json_file) == "-"
    console = Console(stderr=to_stdout)
    if not console.is_terminal:
        console = Console(stderr=to_stdout, width=120)
    err = Console(stderr=True)
    show = not quiet and err.is_terminal
    if show:
        with RichProgress(err) as progress:
            report = run_audit(opts, progress)
    else:
        report = run_audit(opts)
    if json_file is not None:
        import json

        doc: dict[str, Any] = report.to_json()
        _write(json_file, json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    if markdown_file is not None:
        _write(markdown_file, report.to_markdown())
    if not quiet:
        print_summary(report, console)
    raise typer.Exit(exit_code_for(report))
