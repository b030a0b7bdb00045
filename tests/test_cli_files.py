"""Every ``civic`` command that reads a file, fed a missing, an unreadable and a malformed
one: a one-line ``error:`` (or the verifier's own FAIL step) and a non-zero exit, never a
traceback."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from cli.main import main
from node.launcher import free_port

DEAD = f"http://127.0.0.1:{free_port()}"

# (name, argv with FILE standing for the file under test)
COMMANDS: list[tuple[str, list[str]]] = [
    ("vote verify --receipt", ["vote", "verify", "--receipt", "FILE", "--node", DEAD]),
    ("vote verify --bundle", ["vote", "verify", "--receipt", "FILE", "--bundle", "FILE"]),
    (
        "vote cast --key",
        ["vote", "cast", "--ballot", "1", "--choice", "yes", "--key", "FILE", "--node", DEAD],
    ),
    (
        "ballot open --spec",
        ["ballot", "open", "--kind", "yes_no", "--spec", "FILE", "--key", "FILE", "--node", DEAD],
    ),
    (
        "ballot bundle --receipt",
        ["ballot", "bundle", "--ballot", "1", "--receipt", "FILE", "--out", "OUT", "--node", DEAD],
    ),
    ("statement submit", ["statement", "submit", "FILE", "--node", DEAD]),
    ("key show", ["key", "show", "FILE"]),
    ("key show --check", ["key", "show", "FILE", "--check"]),
    (
        "member enrol --key",
        [
            "member",
            "enrol",
            "--resident",
            "ed25519:AAAA",
            "--unit",
            "A1",
            "--key",
            "FILE",
            "--node",
            DEAD,
        ],
    ),
    ("funds upload", ["funds", "upload", "FILE", "--key", "FILE", "--node", DEAD]),
    (
        "funds request --document",
        [
            "funds",
            "request",
            "--amount",
            "12.00",
            "--category",
            "garden",
            "--period",
            "2026",
            "--purpose",
            "x",
            "--payee",
            "Acme",
            "--document",
            "FILE",
            "--key",
            "FILE",
            "--node",
            DEAD,
        ],
    ),
    (
        "funds income --document",
        [
            "funds",
            "income",
            "--account",
            "1",
            "--amount",
            "1.00",
            "--source",
            "fees",
            "--description",
            "x",
            "--document",
            "FILE",
            "--key",
            "FILE",
            "--node",
            DEAD,
        ],
    ),
    (
        "community init --committee",
        [
            "community",
            "init",
            "--data",
            "OUT",
            "--origin",
            "civic.example/x",
            "--committee",
            "FILE",
        ],
    ),
    (
        "community init --policy",
        [
            "community",
            "init",
            "--data",
            "OUT",
            "--origin",
            "civic.example/x",
            "--committee",
            "FILE",
            "--policy",
            "FILE",
        ],
    ),
    ("audit --from-bundle", ["audit", "--from-bundle", "FILE", "--unpinned", "--quiet"]),
    (
        "audit --state",
        ["audit", "--node", DEAD, "--state", "FILE", "--unpinned", "--json", "-", "-q"],
    ),
    ("log key --data", ["log", "key", "--data", "FILE"]),
    ("log verify --data", ["log", "verify", "--data", "FILE"]),
    ("node start --data", ["node", "start", "--data", "FILE"]),
    ("doctor --key", ["doctor", "--key", "FILE", "--node", DEAD]),
]


# Commands whose own report (a table of checks) names the file and fails, instead of a line;
# and `audit --state` with a missing file, which is a first audit (the file is created).
OWN_REPORT = {"doctor --key"}
FIRST_RUN = {("audit --state", "missing")}


def _make(kind: str, tmp: Path) -> Path:
    path = tmp / "input"
    if kind == "unreadable":
        path.mkdir()  # a folder where a file is expected: unreadable, even as root
    elif kind == "malformed":
        path.write_bytes(b"\xff\xfe{not json, not a key, not a zip[")
    return path


@pytest.mark.parametrize("kind", ["missing", "unreadable", "malformed"])
@pytest.mark.parametrize("cmd", COMMANDS, ids=[c[0] for c in COMMANDS])
def test_a_bad_file_is_one_line_and_a_non_zero_exit(
    cmd: tuple[str, list[str]],
    kind: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    name, argv = cmd
    path = _make(kind, tmp_path)
    args = [str(path) if a == "FILE" else str(tmp_path / "out") if a == "OUT" else a for a in argv]
    monkeypatch.setenv("CIVIC_PASSPHRASE", "x")
    monkeypatch.setenv("CIVIC_CONFIG", str(tmp_path / "no-config.json"))
    monkeypatch.delenv("CIVIC_VERBOSE", raising=False)
    monkeypatch.delenv("CIVIC_NODE", raising=False)
    monkeypatch.setattr(sys, "argv", ["civic", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    out = capsys.readouterr()
    assert exited.value.code not in (0, None), out
    assert "Traceback" not in out.err + out.out
    errors = [line for line in out.err.splitlines() if line.startswith("error: ")]
    if name in OWN_REPORT:
        assert re.search(r"key file\s+│\s+fail", out.out), out.out
    elif (name, kind) in FIRST_RUN:
        assert "node.unreachable" in out.out + out.err or errors, (out.out, out.err)
    elif kind != "malformed":
        # the one line names the file, and the exit code is a usage error's
        assert len(errors) == 1 and str(path) in errors[0], out.err
        assert exited.value.code == 2, out.err
    else:
        # a malformed file: one error line, or the receipt verifier's own failed step
        assert len(errors) == 1 or "FAIL" in out.out, (out.out, out.err)


def test_a_permission_refusal_is_not_evidence() -> None:
    # Issue 10, item 19: a resident refused a private document (403) got exit 3.
    from cli.output import EXIT_EVIDENCE, EXIT_FORBIDDEN, exit_code
    from client.http import error_for_status
    from ledger.errors import RuleViolation

    refused = error_for_status(403, "only committee members may read private documents")
    assert exit_code(refused) == EXIT_FORBIDDEN
    assert exit_code(RuleViolation("overspend")) == EXIT_EVIDENCE
