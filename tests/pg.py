"""A throwaway PostgreSQL server from Debian's binaries, for the tests.

PostgreSQL refuses to run as root, so as root the server runs as the ``postgres``
user in a temporary folder it owns; as anyone else it runs as that user.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg

from node.launcher import free_port


def _bin_dir() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4])
    )
    if not found:
        raise RuntimeError(
            "Debian's PostgreSQL server is not installed (apt-get install postgresql)"
        )
    return Path(found[-1]).parent


@dataclass
class PgServer:
    root: Path
    port: int
    bin_dir: Path
    as_postgres: bool

    def _run(self, *args: str) -> None:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.as_postgres:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    @property
    def admin_dsn(self) -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def create_database(self, name: str) -> str:
        """A new empty database; returns its SQLAlchemy URL."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def start_pg() -> PgServer:
    """initdb + pg_ctl start on 127.0.0.1 and a free port; trust auth, fsync on."""
    bin_dir = _bin_dir()
    as_postgres = os.geteuid() == 0
    root = Path(tempfile.mkdtemp(prefix="civic-pg-"))
    if as_postgres:
        shutil.chown(root, "postgres", "postgres")
    os.chmod(root, 0o700)
    srv = PgServer(root, free_port(), bin_dir, as_postgres)
    srv._run("initdb", "-D", str(root / "data"), "-A", "trust", "-U", "postgres", "-E", "UTF8")
    opts = f"-h 127.0.0.1 -p {srv.port} -k {root} -c max_connections=200"
    srv._run("pg_ctl", "-D", str(root / "data"), "-o", opts, "-l", str(root / "log"), "-w", "start")
    deadline = time.monotonic() + 30
    while True:
        try:
            with psycopg.connect(srv.admin_dsn):
                return srv
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
