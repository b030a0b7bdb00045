"""The machine's Ed25519 verification bound: PyNaCl verifications/s on all cores."""

from __future__ import annotations

import os
import time
from concurrent.futures import ProcessPoolExecutor

from nacl.signing import SigningKey


def _verify_many(n: int) -> float:
    sk = SigningKey(b"\x07" * 32)
    vk = sk.verify_key
    msgs = [sk.sign(b"civic-ledger/statement/v1\n" + os.urandom(200)) for _ in range(256)]
    t = time.perf_counter()
    for i in range(n):
        vk.verify(msgs[i % 256])
    return n / (time.perf_counter() - t)


def verify_cpu_seconds(n: int = 20_000) -> float:
    """CPU seconds one verification takes on this machine (PyNaCl).

    Unlike the wall-clock bound, barely moved by other processes sharing the cores: the
    unit in which bench_statements states a statement's CPU cost."""
    sk = SigningKey(b"\x07" * 32)
    vk = sk.verify_key
    msgs = [sk.sign(b"civic-ledger/statement/v1\n" + os.urandom(200)) for _ in range(256)]
    t = time.process_time()
    for i in range(n):
        vk.verify(msgs[i % 256])
    return (time.process_time() - t) / n


def ed25519_bound(seconds_hint: int = 20_000) -> tuple[float, float]:
    """(verifications/s on one core, on all cores together)."""
    one = _verify_many(seconds_hint)
    cores = os.cpu_count() or 1
    with ProcessPoolExecutor(cores) as ex:
        t = time.perf_counter()
        list(ex.map(_verify_many, [seconds_hint] * cores))
        total = cores * seconds_hint / (time.perf_counter() - t)
    return one, total


if __name__ == "__main__":
    one, total = ed25519_bound()
    print(f"Ed25519 verify: {one:,.0f}/s on one core, {total:,.0f}/s on {os.cpu_count()} cores")
    print(f"one verification: {verify_cpu_seconds() * 1e6:.1f} us of CPU")
