"""The folders are the architecture: every import points down a floor (docs/design.md).

Scans every module's imports, including those inside functions and under TYPE_CHECKING,
so a lazy import cannot sneak up a floor either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# What each package may import from the project, besides itself.
ALLOWED: dict[str, set[str]] = {
    "ledger": set(),
    "voting": {"ledger"},
    "funds": {"ledger"},
    "rules": {"ledger", "voting", "funds"},
    "client": {"ledger", "voting", "funds", "rules"},
    "node": {"ledger", "voting", "funds", "rules"},
    "audits": {"ledger", "voting", "funds", "rules", "client"},
    "demo": {"ledger", "voting", "funds", "rules", "client", "node"},
    "cli": {"ledger", "voting", "funds", "rules", "client", "node", "audits", "demo"},
}
PACKAGES = set(ALLOWED)


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def _violations(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for line, module in _imports(path):
            top = module.split(".")[0]
            if top in PACKAGES and top != package and top not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return bad


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_imports_point_down(package: str) -> None:
    assert _violations(package) == []


def test_the_scan_sees_a_violation(tmp_path: Path) -> None:
    # The check itself can fail: a module of ledger/ that reaches up to node/ is caught,
    # also when the import hides in a function.
    sample = tmp_path / "m.py"
    sample.write_text("def f():\n    from node.app import create_app\n    import audits.fetch\n")
    mods = [m for _, m in _imports(sample)]
    assert mods == ["node.app", "audits.fetch"]
    assert all(m.split(".")[0] not in ALLOWED["ledger"] for m in mods)


def test_every_package_is_on_a_floor() -> None:
    have = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists()} - {"tests", "bench"}
    assert have == PACKAGES, "a new package needs its floor in ALLOWED and in docs/design.md"
