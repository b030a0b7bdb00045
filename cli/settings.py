"""The CLI's defaults: a small JSON config file, overridden by environment and flags.

Order of precedence for a value: the command-line flag, then the environment variable
(``CIVIC_NODE``, ``CIVIC_KEY``), then the config file, then the built-in default. The
file is ``$CIVIC_CONFIG`` if set, else ``config.json`` in the user's config folder
(``~/.config/civic-ledger/`` on Linux)::

    {"nodes": ["http://127.0.0.1:8000", "http://127.0.0.1:8004"], "key": "/home/me/dana.key"}
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import platformdirs

from ledger.errors import InputError
from ledger.files import write_atomic

__all__ = [
    "DEFAULT_NODE",
    "config_path",
    "configured_nodes",
    "default_key",
    "default_node",
    "default_nodes",
    "load",
    "save",
]

DEFAULT_NODE = "http://127.0.0.1:8000"
KEYS = {"nodes", "key"}


def config_path() -> Path:
    """Where the config file is (it may not exist)."""
    env = os.environ.get("CIVIC_CONFIG")
    return Path(env) if env else Path(platformdirs.user_config_dir("civic-ledger")) / "config.json"


def load() -> dict[str, Any]:
    """The config file's settings; {} when there is none. InputError if it is malformed."""
    path = config_path()
    if not path.is_file():
        return {}
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: not a readable JSON config ({exc}); fix or delete it") from exc
    if not isinstance(value, dict) or set(value) - KEYS:
        raise InputError(f"{path}: the config holds only {sorted(KEYS)}")
    nodes = value.get("nodes", [])
    if not isinstance(nodes, list) or not all(isinstance(n, str) for n in nodes):
        raise InputError(f"{path}: 'nodes' must be a list of URLs")
    if "key" in value and not isinstance(value["key"], str):
        raise InputError(f"{path}: 'key' must be a file path")
    return value


def save(settings: dict[str, Any]) -> Path:
    """Write the config file (creating its folder); returns its path."""
    path = config_path()
    write_atomic(path, (json.dumps(settings, indent=2, sort_keys=True) + "\n").encode())
    return path


def configured_nodes() -> list[str]:
    """Node URLs from the config file only ([] when none are configured)."""
    nodes: list[str] = load().get("nodes") or []
    return nodes


def default_nodes() -> list[str]:
    """Node URLs from the config file (none: the local default)."""
    nodes: list[str] = load().get("nodes") or [DEFAULT_NODE]
    return nodes


def default_node() -> str:
    """The first configured node URL."""
    return default_nodes()[0]


def default_key() -> str | None:
    """The configured key file, if any."""
    key: str | None = load().get("key")
    return key
