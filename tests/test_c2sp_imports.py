"""ledger/c2sp is pure: its modules import only the standard library, ledger.errors and nacl."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

C2SP = Path(__file__).resolve().parent.parent / "ledger" / "c2sp"
MODULES = sorted(C2SP.glob("*.py"))
# ledger.c2sp.* may import each other; outside the standard library only these.
ALLOWED = {"ledger.errors", "nacl"}


def _imports(path: Path) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: use absolute imports"
            assert node.module is not None
            out.add(node.module)
    return out


def _allowed(name: str) -> bool:
    top = name.split(".")[0]
    if top in sys.stdlib_module_names or name.startswith("ledger.c2sp"):
        return True
    return any(name == a or name.startswith(a + ".") for a in ALLOWED)


def test_the_package_has_its_modules() -> None:
    names = {p.stem for p in MODULES}
    assert {"note", "checkpoint", "cosignature", "policy", "proof", "witness", "trust"} <= names


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.name)
def test_module_imports_only_the_standard_library_errors_and_nacl(path: Path) -> None:
    bad = sorted(name for name in _imports(path) if not _allowed(name))
    assert bad == [], f"ledger/c2sp/{path.name} imports {bad}"


def test_importing_c2sp_loads_no_storage_or_http() -> None:
    mods = ", ".join(f"ledger.c2sp.{p.stem}" for p in MODULES if p.stem != "__init__")
    code = (
        f"import sys, {mods}\n"
        "heavy = {'sqlalchemy', 'httpx', 'fastapi', 'pydantic', 'cryptography'}\n"
        "print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in heavy\n"
        "    or (m.startswith('ledger.') and not m.startswith(('ledger.c2sp', 'ledger.errors'))))))\n"
    )
    root = C2SP.parent.parent
    got = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert got.stdout.strip() == ""
