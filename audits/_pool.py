"""The process pool that verifies entry bundles on every core.

Signature verification and hashing are pure and independent per record, so each entry
bundle is one task (:func:`audits.verify.verify_bundle_data`: the bundle's bytes and its
level-0 tile in, :class:`~audits.verify.BundleResult` out). Workers start from a fork server
with ``audits.verify`` preloaded, so they inherit none of the parent's threads or sockets;
as with any such pool, a script that runs an audit must guard its entry point with
``if __name__ == "__main__":``.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import Executor, ProcessPoolExecutor

__all__ = ["default_workers", "make_pool"]


def default_workers(records: int) -> int:
    """Every core for a large log; none (in-process) when the pool would cost more."""
    if records < 4096:
        return 0
    return os.cpu_count() or 1


def make_pool(workers: int) -> Executor:
    """A process pool of ``workers`` processes."""
    methods = multiprocessing.get_all_start_methods()
    ctx: multiprocessing.context.BaseContext
    if "forkserver" in methods:
        server = multiprocessing.get_context("forkserver")
        server.set_forkserver_preload(["audits.verify"])
        ctx = server
    else:  # pragma: no cover - platforms without fork
        ctx = multiprocessing.get_context("spawn")
    # A worker's objects die with each task and hold no cycles: the cyclic collector would
    # only rescan them (about a tenth of a worker's time).
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=gc.disable)
