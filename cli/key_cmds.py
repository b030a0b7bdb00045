"""``civic key``: create and inspect your signing keys."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from cli.output import emit_json
from ledger.keys import (
    generate_keypair,
    load_key_file,
    passphrase_from_env,
    public_key_of,
    read_key_id,
    save_key_file,
)

__all__ = ["app"]

app = typer.Typer(help="Create and inspect your signing keys.")


class Strength(StrEnum):
    """Argon2id cost of a key file's passphrase."""

    interactive = "interactive"
    moderate = "moderate"


def _prompt_new() -> str:
    return str(typer.prompt("Passphrase", hide_input=True, confirmation_prompt=True))


def _prompt_existing() -> str:
    return str(typer.prompt("Passphrase", hide_input=True))


@app.command("new")
def new(
    out: Path = typer.Option(..., "--out", help="The key file to create (never overwritten)."),
    strength: Strength = typer.Option(
        Strength.interactive, "--strength", help="How costly the passphrase is to guess."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print {key_id, file} as JSON."),
) -> None:
    """Create a new signing key, encrypted under a passphrase, and print its key id.

    The passphrase comes from $CIVIC_PASSPHRASE or the file named by $CIVIC_PASSPHRASE_FILE,
    else it is asked for twice. Only the key id is printed, so scripts can capture it.

    Example: civic key new --out alice.key
    """
    passphrase = passphrase_from_env(_prompt_new)
    kp = generate_keypair()
    save_key_file(out, kp, passphrase, strength.value)
    if as_json:
        emit_json({"key_id": kp.key_id, "file": str(out)})
    else:
        typer.echo(kp.key_id)


@app.command("show")
def show(
    file: Path = typer.Argument(..., help="The key file."),
    check: bool = typer.Option(
        False, "--check", help="Also decrypt it with the passphrase, to prove it opens."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print as JSON."),
) -> None:
    """Print a key file's key id and public key (hex); no passphrase needed unless --check.

    Example: civic key show alice.key --check
    """
    kid = read_key_id(file)
    if check:
        # load_key_file also proves the stored key id is the key inside.
        kid = load_key_file(file, passphrase_from_env(_prompt_existing)).key_id
    public_hex = public_key_of(kid).hex()
    if as_json:
        doc: dict[str, object] = {"key_id": kid, "public_key": public_hex, "file": str(file)}
        if check:
            doc["passphrase_ok"] = True
        emit_json(doc)
        return
    typer.echo(f"key id:     {kid}")
    typer.echo(f"public key: {public_hex}")
    if check:
        typer.echo("ok: the passphrase opens this key file")
