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


def test_kill_9_while_the_integrator_runs_keeps_every_lookup_right(
    db_url: str, make_store: Callable[[str], SqlStore]
) -> None:
    # The integrator fills the leaf-hash index in its own thread and transactions; killed
    # at any point, every acknowledged entry is still found by its leaf hash, whether the
    # index reached it or not, and a later writer brings the index up to date.
    signer = generate_signer("civic.example/crash")
    rng = random.Random(11)
    acked = 0
    for _round in range(3):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.procs.append_indexed",
                db_url,
                signer.name,
                signer.private_key_string(),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=ROOT,
        )
        assert proc.stdout is not None
        want = rng.randint(10, 40)
        seen = 0
        deadline = time.monotonic() + 60
        while seen < want and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked = int(line.split()[1])
            seen += 1
        time.sleep(rng.random() * 0.05)
        os.kill(proc.pid, signal.SIGKILL)
        rest, err = proc.communicate(timeout=30)
        for line in rest.decode().splitlines():
            acked = int(line.split()[1])
        assert seen == want, err.decode()[-2000:]
        # Opened without catching up, to look at the index exactly as the crash left it.
        log = Log(make_store(db_url), signer.name, signer, 1 << 30, background_index=False)
        assert log.size >= acked
        assert log.store.indexed_size() <= log.size
        leaves = log.leaf_hashes(0, log.size)
        assert [log.index_of_leaf(lh) for lh in leaves] == list(range(log.size))
    assert log.index_leaves() == log.size
    assert [log.index_of_leaf(lh) for lh in leaves] == list(range(log.size))
