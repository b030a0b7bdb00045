"""The operator's private store: openings of commitments, never in the log.

A resident's household/unit reference enters the log only as a commitment; the opening
(value and salt) is kept here, readable by committee keys, and erasable on request.
After erasure the commitment in the log stays, so every proof still verifies.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, Connection, MetaData, String, Table, Text, delete, select

from ledger.community import commitment
from ledger.errors import InputError, NotFoundError
from ledger.records import format_time
from ledger.ruleset import CommittedField, RuleSet
from ledger.state import State
from ledger.statements import Envelope
from ledger.storage import NAMING, Store

__all__ = ["PrivateStore", "private_openings"]

private_metadata = MetaData(naming_convention=NAMING)
private_openings = Table(
    "private_openings",
    private_metadata,
    Column("commitment", String(64), primary_key=True),
    Column("subject", String(128), nullable=False, index=True),
    Column("kind", String(64), nullable=False),
    Column("value", Text, nullable=False),
    Column("salt", String(64), nullable=False),
    Column("stored", String(40), nullable=False),
)


class PrivateStore:
    """Openings of commitments in the node's database (not append-only: erasable).

    Which statement types may carry an opening, and in which body fields, is the rule
    set's (:meth:`~ledger.ruleset.RuleSet.committed_field`): each layer declares its own.
    """

    def __init__(self, store: Store, rules: RuleSet) -> None:
        self.db = store
        self.rules = rules
        store.create_tables(private_metadata)

    def _field(self, env: Envelope) -> CommittedField:
        cf = self.rules.committed_field(env.type)
        if cf is None:
            raise InputError(f"statements of type {env.type} carry no private part")
        return cf

    def check(self, state: State, env: Envelope, private: dict[str, Any]) -> None:
        """The opening must match the commitment the statement puts in the log."""
        field_name = self._field(env).commitment
        if set(private) != {"value", "salt"} or not isinstance(private["value"], str):
            raise InputError('\'private\' is {"value": <text>, "salt": <base64, 16+ bytes>}')
        try:
            salt = base64.b64decode(private["salt"], validate=True)
        except (binascii.Error, TypeError) as exc:
            raise InputError("private salt is not base64") from exc
        if len(salt) < 16:
            raise InputError("private salt must be at least 16 random bytes")
        if commitment(private["value"], salt) != env.body.get(field_name):
            raise InputError(f"the private opening does not match body.{field_name}")

    def store(self, conn: Connection, env: Envelope, private: dict[str, Any]) -> None:
        """Keep the opening, inside the batch's transaction."""
        cf = self._field(env)
        conn.execute(
            private_openings.insert().values(
                commitment=env.body[cf.commitment],
                subject=str(env.body.get(cf.subject, "")),
                kind=env.type,
                value=private["value"],
                salt=private["salt"],
                stored=format_time(datetime.now(UTC).replace(microsecond=0)),
            )
        )

    def read(self, subject: str) -> list[dict[str, str]]:
        """Every opening stored for ``subject``."""
        with self.db.engine.connect() as conn:
            rows = conn.execute(
                select(private_openings).where(private_openings.c.subject == subject)
            ).mappings()
            return [dict(r) for r in rows]

    def erase(self, subject: str) -> int:
        """Delete the openings for ``subject``; NotFoundError if there were none."""
        with self.db.engine.begin() as conn:
            n = conn.execute(
                delete(private_openings).where(private_openings.c.subject == subject)
            ).rowcount
        if not n:
            raise NotFoundError(f"no private data is held for {subject}")
        return int(n)
