"""``civic node restore`` and ``civic node fsck``: disaster recovery and offline checks."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from cli.output import EXIT_EVIDENCE, emit_json
from ledger.errors import InputError

if TYPE_CHECKING:
    from node.fsck import FsckReport, Progress

__all__ = ["fsck", "register", "restore"]


def restore(
    source: str = typer.Option(
        ..., "--from", help="Base URL of a mirror (or witness) of the log to restore from."
    ),
    data: Path = typer.Option(..., "--data", help="New (or empty) folder for the sequencer."),
    log_key: Path = typer.Option(
        ..., "--log-key", help="File with the log's private key (PRIVATE+KEY+...)."
    ),
    allow_unreachable_witnesses: bool = typer.Option(
        False,
        "--allow-unreachable-witnesses",
        help="Restore even if witnesses that could hold a newer checkpoint do not answer.",
    ),
    database: str | None = typer.Option(
        None, "--database", help="An empty PostgreSQL database (or schema) URL instead of SQLite."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the outcome as JSON."),
) -> None:
    """Rebuild a lost sequencer from a mirror, verified against the witnessed checkpoint.

    Every entry is checked against the log's signed checkpoint and replayed through the
    rules; the witnesses named in the policy are asked how far they have seen the log, and
    a restore that would fork it is refused. Then `civic node start --data DIR` resumes the
    same log. The private store (openings) is not in the public log and is not restored.

    Example: civic node restore --from http://127.0.0.1:8004 --data seq-restored --log-key log.key
    """
    from ledger.c2sp.note import parse_private_key
    from node.restore import restore as do_restore

    try:
        signer = parse_private_key(log_key.read_text("utf-8").strip())
    except InputError as exc:
        raise InputError(f"{log_key} does not hold a log key: {exc.message}") from exc
    done = do_restore(data, source, signer, allow_unreachable_witnesses, database=database)
    if json_out:
        emit_json(done.to_json())
        return
    typer.echo(f"restored {done.origin} from {done.source} into {done.data_dir}")
    typer.echo(f"size:      {done.size} records, root {done.root}")
    if done.witnessed_size is not None:
        who = ", ".join(done.cosigned_by)
        typer.echo(f"witnessed: checkpoint of size {done.witnessed_size} cosigned by {who}")
    for w in done.witnesses:
        seen = f"has seen size {w.size}" if w.size is not None else f"did not answer ({w.error})"
        typer.echo(f"witness {w.name}: {seen}")
    for note in done.notes:
        typer.echo(f"note: {note}")
    typer.echo(f"start it with: civic node start --data {done.data_dir} --port PORT")


def fsck(
    data: Path | None = typer.Option(None, "--data", help="The node's data folder."),
    database: str | None = typer.Option(
        None, "--database", help="A database URL instead (e.g. PostgreSQL)."
    ),
    log_vkey: str | None = typer.Option(
        None, "--log-vkey", help="With --database: the log's verifier key to check against."
    ),
    json_out: bool = typer.Option(False, "--json", help="Print the reports as JSON."),
) -> None:
    """Check a stopped node's database offline and list every problem found.

    Every record's leaf hash, the hash chain, every stored tree node, every checkpoint's
    signature and root, every cosignature, the leaf-hash index, and the state views against
    a replay of the records. Exit 0 when clean, 3 when something is wrong.

    Example: civic node fsck --data seq
    """
    from rich.console import Console

    from cli.audit_cmds import RichProgress
    from node.fsck import NullProgress

    if (data is None) == (database is None):
        raise InputError("give either --data DIR or --database URL")
    err = Console(stderr=True)
    bar = err.is_terminal and not json_out
    progress: Progress = RichProgress(err) if bar else NullProgress()
    if bar:
        assert isinstance(progress, RichProgress)
        with progress:
            reports = _run(data, database, log_vkey, progress)
    else:
        reports = _run(data, database, log_vkey, progress)
    if json_out:
        emit_json([r.to_json() for r in reports])
    else:
        for r in reports:
            for p in r.problems:
                typer.echo(f"{p.kind}: {p.message}")
            if r.omitted:
                typer.echo(f"... and {r.omitted} more problem(s) of the same kinds")
            for n in r.notes:
                typer.echo(f"note: {n}")
            typer.echo(r.verdict())
    if not all(r.clean for r in reports):
        raise typer.Exit(EXIT_EVIDENCE)


def _run(
    data: Path | None, database: str | None, log_vkey: str | None, progress: Progress
) -> list[FsckReport]:
    from node.fsck import fsck_data_dir, fsck_database

    if data is not None:
        return fsck_data_dir(data, progress)
    assert database is not None
    return [fsck_database(database, log_vkey, progress)]


def register(app: typer.Typer) -> None:
    """Add ``restore`` and ``fsck`` to the ``civic node`` group."""
    app.command("restore")(restore)
    app.command("fsck")(fsck)
