"""Options and helpers shared by the CLI's commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from ledger.errors import InputError
from ledger.keys import KeyPair, load_key_file, passphrase_from_env
from node.client import NodeClient

__all__ = ["KEY_OPTION", "NODE_OPTION", "client", "load_key", "read_json_file"]

NODE_OPTION = typer.Option(
    "http://127.0.0.1:8000",
    "--node",
    envvar="CIVIC_NODE",
    help="URL of a node (or set CIVIC_NODE).",
)
KEY_OPTION = typer.Option(
    ..., "--key", envvar="CIVIC_KEY", help="Your encrypted key file (or set CIVIC_KEY)."
)


def load_key(path: Path) -> KeyPair:
    """Open a key file with the passphrase from CIVIC_PASSPHRASE(_FILE) or a prompt."""

    def prompt() -> str:
        value: str = typer.prompt(f"Passphrase for {path}", hide_input=True)
        return value

    return load_key_file(path, passphrase_from_env(prompt))


def client(url: str) -> NodeClient:
    """A client for the node at ``url``."""
    return NodeClient(url)


def read_json_file(path: Path) -> Any:
    """JSON from a file, or InputError naming the file."""
    from ledger.canonical import parse_json

    try:
        return parse_json(path.read_bytes())
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from exc
    except InputError as exc:
        raise InputError(f"{path}: {exc.message}") from exc


def dump(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)
