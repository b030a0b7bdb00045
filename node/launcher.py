"""Start nodes as real processes on 127.0.0.1 and wait until they answer.

Used by ``civic demo``, the multi-process tests and the benchmarks alike.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ledger.errors import NetworkError

__all__ = ["NodeProcess", "free_port", "start_node", "wait_healthy"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class NodeProcess:
    """A node running as a child process."""

    data_dir: Path
    port: int
    proc: subprocess.Popen[bytes]
    role: str = "sequencer"
    args: list[str] = field(default_factory=list)
    # Seconds to wait for it to answer after a (re)start; 0: START_TIMEOUT.
    start_timeout: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no chance to clean up, as in a crash."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def restart(self, wait: bool = True, log_file: Path | None = None) -> None:
        """Start the same command again (same port) after a kill or stop."""
        if self.proc.poll() is None:
            raise NetworkError(f"node at {self.url} is still running")
        out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            self.proc = subprocess.Popen(self.args, stdout=out, stderr=subprocess.STDOUT, env=env)
        finally:
            if not isinstance(out, int):
                out.close()  # the child holds its own copy
        if wait:
            try:
                wait_healthy(self.url, timeout=self.start_timeout or START_TIMEOUT, proc=self.proc)
            except NetworkError:
                self.kill()
                raise

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()


# Generous: a node imports FastAPI, opens its store and checks its tree before it answers,
# which takes well under a second on an idle machine but tens of seconds on a loaded one.
START_TIMEOUT = 120.0
# A district opens its communities one by one: about 0.2 s each on an idle machine, 0.6 s
# on the loaded 2-core one (50 on PostgreSQL: 28 s); generous again.
PER_COMMUNITY_START = 3.0


def wait_healthy(
    url: str, timeout: float = START_TIMEOUT, proc: subprocess.Popen[bytes] | None = None
) -> None:
    """Poll ``url``/healthz until it answers 200; NetworkError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise NetworkError(f"node at {url} exited with code {proc.returncode} while starting")
        try:
            r = httpx.get(url + "/healthz", timeout=2.0)
            if r.status_code in (200, 503):
                return
            last = f"HTTP {r.status_code}"
        except httpx.HTTPError as exc:
            last = str(exc) or type(exc).__name__
        time.sleep(0.1)
    raise NetworkError(f"node at {url} did not answer within {timeout:.0f}s ({last})")


def start_node(
    data_dir: Path,
    port: int | None = None,
    extra_args: list[str] | None = None,
    log_file: Path | None = None,
    wait: bool = True,
    role: str | None = None,
) -> NodeProcess:
    """Run ``civic node start`` for ``data_dir`` in a child process and wait until healthy.

    ``data_dir`` may be a single community's data folder or a district folder.

    ``role`` (default: the data folder's) is passed as ``--role`` and kept on the result.
    """
    from node.config import load_config
    from node.district import is_district, load_district

    port = port or free_port()
    timeout = START_TIMEOUT
    if is_district(data_dir):
        # Every community opens (store, tree check, services) before the node answers.
        district = load_district(data_dir)
        role = role or district.role
        timeout += PER_COMMUNITY_START * len(district.communities)
    role = role or load_config(data_dir).role
    args = [
        sys.executable,
        "-m",
        "cli.main",
        "node",
        "start",
        "--data",
        str(data_dir),
        "--port",
        str(port),
        "--role",
        role,
        *(extra_args or []),
    ]
    out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)
    finally:
        if not isinstance(out, int):
            out.close()  # the child holds its own copy
    node = NodeProcess(data_dir, port, proc, role=role, args=args, start_timeout=timeout)
    if wait:
        try:
            wait_healthy(node.url, timeout=timeout, proc=proc)
        except NetworkError:
            node.kill()
            raise
    return node
