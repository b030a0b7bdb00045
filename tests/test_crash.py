"""kill -9 a process that appends in a loop; the log must reopen consistent, nothing lost."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from ledger.c2sp.note import generate_signer
from ledger.log import Log
from ledger.sql import SqlStore

ROOT = Path(__file__).parent.parent


def test_kill_9_during_appends_loses_nothing_acknowledged(
    db_url: str, make_store: Callable[[str], SqlStore]
) -> None:
    signer = generate_signer("civic.example/crash")
    key = signer.private_key_string()
    rng = random.Random(7)
    acked = 0
    for _round in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.procs.append_forever", db_url, signer.name, key],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        want = rng.randint(5, 40)
        seen = 0
        deadline = time.monotonic() + 60
        while seen < want and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked = int(line.split()[1])
            seen += 1
        # Let it run into the middle of another batch, then crash it hard.
        time.sleep(rng.random() * 0.05)
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
        for line in rest.decode().splitlines():
            acked = int(line.split()[1])
        assert seen == want, err.decode()[-2000:]
        log = Log(make_store(db_url), signer.name, signer)
        assert log.size >= acked, f"acknowledged {acked} records, only {log.size} survived"
        assert log.verify_integrity() == log.size
