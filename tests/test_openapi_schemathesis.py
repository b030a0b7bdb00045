"""Schemathesis with every check against real node processes of all three roles.

A network (sequencer, three witnesses, a mirror) runs as child processes; schemathesis
reads each role's own ``/openapi.json`` and sends generated requests to it. Every check
is on: no 5xx, every status code and content type documented, every body conforming to
its schema (problem+json included). The run is bounded by examples per operation and
by a timeout on each role's run, so that the whole test takes a few minutes at most.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from node.launcher import NodeProcess
from tests.test_network import network

# Examples per operation and phase: small, so that three roles stay within minutes.
MAX_EXAMPLES = 8
# Seconds a role's whole run may take before the test fails.
RUN_TIMEOUT = 240


def _schemathesis(node: NodeProcess, report: Path) -> dict[str, object]:
    """Run schemathesis against ``node``; its summary figures (and the output on failure)."""
    cmd = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        node.url + "/openapi.json",
        "--checks",
        "all",
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        "--generation-deterministic",
        "--request-timeout",
        "20",
        "--report",
        "ndjson",
        "--report-ndjson-path",
        str(report),
        "--no-color",
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=RUN_TIMEOUT, check=False)
    cases = 0
    operations = set()
    for line in report.read_text().splitlines():
        event = json.loads(line)
        for name, body in event.items():
            if name == "ScenarioFinished":
                cases += len(body.get("recorder", {}).get("cases", {}))
                label = body.get("label")
                if label:
                    operations.add(label)
    return {
        "rc": done.returncode,
        "out": done.stdout + done.stderr,
        "cases": cases,
        "operations": len(operations),
    }


def test_schemathesis_all_checks_on_every_role(tmp_path: Path) -> None:
    with network(tmp_path) as net:
        net.submit(3)  # a few records, so that reads find something too
        assert net.mirror is not None
        roles = {"sequencer": net.seq, "witness": net.witnesses[0], "mirror": net.mirror}
        for role, node in roles.items():
            got = _schemathesis(node, tmp_path / f"{role}.ndjson")
            print(f"{role}: {got['operations']} operations, {got['cases']} cases")
            assert got["rc"] == 0, f"{role}:\n{got['out']}"
            assert isinstance(got["cases"], int) and got["cases"] > 0
