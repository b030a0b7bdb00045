"""Shared fixtures: databases on both engines, fixed keys."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ledger.sql import SqlStore
from tests.pg import PgServer, start_pg

VECTORS = Path(__file__).parent / "vectors"

# Tests never read the developer's own CLI config file (nor do the processes they start).
os.environ["CIVIC_CONFIG"] = str(Path(tempfile.gettempdir()) / "civic-tests-no-config.json")
os.environ.pop("CIVIC_NODE", None)
os.environ.pop("CIVIC_KEY", None)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    srv = start_pg()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh empty database URL on each engine."""
    if request.param == "sqlite":
        return f"sqlite+pysqlite:///{tmp_path / 'ledger.sqlite'}"
    srv: PgServer = request.getfixturevalue("pg_server")
    return srv.create_database("t_" + uuid.uuid4().hex[:16])


@pytest.fixture
def make_store() -> Iterator[Callable[[str], SqlStore]]:
    """Open Stores that are closed (pools disposed) when the test ends."""
    opened: list[SqlStore] = []

    def make(url: str) -> SqlStore:
        s = SqlStore(url)
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()
