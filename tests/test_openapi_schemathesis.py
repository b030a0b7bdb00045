"""Schemathesis with every check against real node processes of all three roles.

A network (sequencer, three witnesses, a mirror) runs as child processes; schemathesis
reads each role's own ``/openapi.json`` and sends generated requests to it: examples,
boundary and negative cases (coverage phase) and random ones (fuzzing). Every check is
on: no 5xx, every status code and content type documented, every body conforming to its
schema (problem+json included), schema-valid input accepted and schema-violating input
refused, 405s with a true ``Allow``. The few operation-level widenings are in
``tests/schemathesis.toml``, each with its reason.

The three roles run at once, bounded by examples per operation and by a timeout, so
that the test takes a few minutes.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from node.launcher import NodeProcess
from tests.test_network import network

CONFIG = Path(__file__).parent / "schemathesis.toml"
# Examples per operation and phase: small, so that three roles stay within minutes.
MAX_EXAMPLES = 3
# Seconds the runs may take before the test fails.
RUN_TIMEOUT = 420


def _command(node: NodeProcess) -> list[str]:
    return [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(CONFIG),
        "--no-color",
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
        "30",
    ]


def _figure(pattern: str, text: str) -> int:
    found = re.search(pattern, text)
    assert found is not None, f"no {pattern!r} in:\n{text}"
    return int(found.group(1))


def test_schemathesis_all_checks_on_every_role(tmp_path: Path) -> None:
    with network(tmp_path) as net:
        net.submit(3)  # a few records, so that reads find something too
        assert net.mirror is not None
        roles = {"sequencer": net.seq, "witness": net.witnesses[0], "mirror": net.mirror}
        runs = {
            # cwd: schemathesis keeps a cache of its findings in the working directory.
            role: subprocess.Popen(
                _command(node),
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                cwd=tmp_path,
            )
            for role, node in roles.items()
        }
        outputs = {}
        try:
            for role, proc in runs.items():
                out, _ = proc.communicate(timeout=RUN_TIMEOUT)
                outputs[role] = (proc.returncode, out)
        finally:
            for proc in runs.values():
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        for role, (rc, out) in outputs.items():
            assert rc == 0, f"{role}:\n{out}"
            operations = _figure(r"Tested: (\d+)", out)
            cases = _figure(r"(\d+) generated", out)
            print(f"{role}: {operations} operations, {cases} cases")
            spec = net.get(roles[role], "/openapi.json").json()
            assert operations == sum(len(item) for item in spec["paths"].values())
            assert cases > operations
