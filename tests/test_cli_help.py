"""The CLI reads as a guide: every command has an example, read commands take --json,
the README lists the real command groups, and defaults come from the config file."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from cli.main import app

ROOT = Path(__file__).parent.parent
# Commands that only read and so must offer --json (writes print what they did).
READS = {
    "community show",
    "member list",
    "vote verify",
    "vote list",
    "ballot list",
    "ballot show",
    "ballot tally",
    "funds accounts",
    "funds budget",
    "funds expenses",
    "funds expense",
    "funds transactions",
    "funds report",
    "funds check",
    "config show",
    "key show",
    "log bundle",
}


def walk(cmd: Any, path: list[str]) -> Iterator[tuple[str, Any]]:
    subs = getattr(cmd, "commands", None)
    if subs:
        for name, sub in subs.items():
            yield from walk(sub, [*path, name])
    else:
        yield " ".join(path), cmd


COMMANDS = dict(walk(typer.main.get_command(app), []))


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_an_example(name: str) -> None:
    help_text = COMMANDS[name].help or ""
    assert "Example: civic " in help_text, f"`civic {name} --help` has no example"


@pytest.mark.parametrize("name", sorted(READS))
def test_read_commands_take_json(name: str) -> None:
    opts = {o for p in COMMANDS[name].params for o in getattr(p, "opts", [])}
    assert "--json" in opts, f"`civic {name}` has no --json"


def test_readme_names_every_group() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    groups = {n.split()[0] for n in COMMANDS}
    missing = [g for g in sorted(groups) if f"civic {g}" not in readme]
    assert not missing, f"README.md does not mention: {missing}"


def test_version_and_guide() -> None:
    r = CliRunner().invoke(app, ["--version"])
    assert r.exit_code == 0 and r.stdout.startswith("civic-ledger ")
    r = CliRunner().invoke(app, ["--help"])
    assert r.exit_code == 0 and "First steps" in r.stdout and "civic vote verify" in r.stdout


def test_config_file_supplies_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "config.json"
    monkeypatch.setenv("CIVIC_CONFIG", str(cfg))
    monkeypatch.delenv("CIVIC_NODE", raising=False)
    r = CliRunner().invoke(
        app, ["config", "set", "--node", "http://127.0.0.1:9/", "--key", "k.key"]
    )
    assert r.exit_code == 0, r.output
    saved = json.loads(cfg.read_text())
    assert saved["nodes"] == ["http://127.0.0.1:9"] and saved["key"].endswith("k.key")
    from cli import settings

    assert settings.default_node() == "http://127.0.0.1:9"
    r = CliRunner().invoke(app, ["member", "list"])
    assert "http://127.0.0.1:9" in str(r.exception)
    # The environment wins over the file, and a flag over both.
    monkeypatch.setenv("CIVIC_NODE", "http://127.0.0.1:8")
    r = CliRunner().invoke(app, ["member", "list"])
    assert "http://127.0.0.1:8" in str(r.exception)
    r = CliRunner().invoke(app, ["member", "list", "--node", "http://127.0.0.1:7"])
    assert "http://127.0.0.1:7" in str(r.exception)
    cfg.write_text("{not json")
    with pytest.raises(Exception, match="not a readable JSON config"):
        settings.load()
