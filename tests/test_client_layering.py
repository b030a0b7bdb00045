"""client/ sits beside node/: it imports only ledger, voting and funds of this project."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {"ledger", "voting", "funds", "client", "node", "audits", "cli", "demo"}


def _imports(folder: str) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for path in sorted((ROOT / folder).rglob("*.py")):
        names: set[str] = set()
        for n in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(n, ast.Import):
                names.update(a.name for a in n.names)
            elif isinstance(n, ast.ImportFrom) and n.module and n.level == 0:
                names.add(n.module)
        out[str(path.relative_to(ROOT))] = names
    return out


def test_client_imports_only_ledger_voting_funds() -> None:
    allowed = {"ledger", "voting", "funds", "client"}
    bad = {
        f: sorted(m for m in mods if m.split(".")[0] in PROJECT - allowed)
        for f, mods in _imports("client").items()
    }
    assert {f: m for f, m in bad.items() if m} == {}


def test_audits_and_cli_use_the_client_not_the_server_internals() -> None:
    for folder in ("audits", "cli"):
        for f, mods in _imports(folder).items():
            assert not mods & {"node.client", "node.auth"}, f


def test_funds_report_is_data_only() -> None:
    assert not any(m.split(".")[0] == "rich" for m in _imports("funds")["funds/report.py"])
