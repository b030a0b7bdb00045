"""A whole node on PostgreSQL: genesis, statements, views, restart and rebuild."""

from __future__ import annotations

import uuid
from pathlib import Path

from ledger.errors import CivicError
from ledger.records import parse_record
from ledger.state import State, replay
from ledger.statements import make_statement, sign_envelope
from node.bootstrap import init_community
from node.context import open_context
from rules import community_rules
from tests.factory import key
from tests.pg import PgServer

ORIGIN = "civic.example/pg-garden"
CHAIR = key("pg-chair")


def test_node_on_postgresql(pg_server: PgServer, tmp_path: Path) -> None:
    url = pg_server.create_database("node_" + uuid.uuid4().hex[:12])
    data = tmp_path / "node"
    init_community(data, ORIGIN, [CHAIR], database=url)
    assert not (data / "ledger.sqlite").exists(), "a PostgreSQL node keeps no SQLite file"
    envs = [
        sign_envelope(
            make_statement(
                ORIGIN,
                "member.enrol",
                {"key": key(f"pg-r{i}").key_id, "unit_commitment": "cd" * 32},
                CHAIR.key_id,
            ),
            [CHAIR],
        )
        for i in range(300)
    ]
    ctx = open_context(data, serve=True)
    try:
        results = ctx.services["sequencer"].submit(envs)
        assert not [r for r in results if isinstance(r, CivicError)]
        again = ctx.services["sequencer"].submit([envs[0]])  # a replay is refused
        assert isinstance(again[0], CivicError)
        live = ctx.state().snapshot()
        size = ctx.log.size
    finally:
        ctx.close()
    ctx = open_context(data, serve=True)
    try:
        assert ctx.log.size == size == 301
        assert ctx.state().snapshot() == live
        rebuilt = replay(
            [parse_record(e) for e in ctx.log.entries(0, ctx.log.size)], State(community_rules())
        )
        assert rebuilt.snapshot() == live
        assert ctx.log.verify_integrity() == 301
    finally:
        ctx.close()
