"""Options and helpers shared by the CLI's commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from cli import settings
from client.http import NodeClient
from ledger.errors import InputError
from ledger.keys import KeyPair, load_key_file, passphrase_from_env

__all__ = ["KEY_OPTION", "NODES_OPTION", "NODE_OPTION", "client", "load_key", "read_json_file"]

NODE_OPTION = typer.Option(
    ...,
    "--node",
    default_factory=settings.default_node,
    show_default=False,
    envvar="CIVIC_NODE",
    help="URL of a node (or CIVIC_NODE, or `civic config set --node`; default 127.0.0.1:8000).",
)
NODES_OPTION = typer.Option(
    ...,
    "--node",
    default_factory=settings.default_nodes,
    show_default=False,
    envvar="CIVIC_NODE",
    help="URL of a node; repeat for several (or CIVIC_NODE, or `civic config set --node`).",
)
KEY_OPTION = typer.Option(
    ...,
    "--key",
    default_factory=lambda: _required_key(),
    show_default=False,
    envvar="CIVIC_KEY",
    help="Your encrypted key file (or CIVIC_KEY, or `civic config set --key`).",
)


def _required_key() -> Path:
    key = settings.default_key()
    if key is None:
        raise InputError("give your key file with --key FILE (or set CIVIC_KEY)")
    return Path(key)


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
