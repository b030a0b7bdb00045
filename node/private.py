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

from ledger.community import commitment
from ledger.errors import InputError, NotFoundError
from ledger.records import format_time
from ledger.ruleset import CommittedField, RuleSet
from ledger.state import State
from ledger.statements import Envelope
from ledger.storage import Opening, PrivateStorage

__all__ = ["PrivateStore"]


class PrivateStore:
    """Openings of commitments in the node's database (not append-only: erasable).

    Which statement types may carry an opening, and in which body fields, is the rule
    set's (:meth:`~ledger.ruleset.RuleSet.committed_field`): each layer declares its own.
    """

    def __init__(self, store: PrivateStorage, rules: RuleSet) -> None:
        self.db = store
        self.rules = rules

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

    def opening(self, env: Envelope, private: dict[str, Any]) -> Opening:
        """The row to keep for a checked opening; it is written with the statement's batch."""
        cf = self._field(env)
        return Opening(
            commitment=env.body[cf.commitment],
            subject=str(env.body.get(cf.subject, "")),
            kind=env.type,
            value=private["value"],
            salt=private["salt"],
            stored=format_time(datetime.now(UTC).replace(microsecond=0)),
        )

    def read(self, subject: str) -> list[dict[str, str]]:
        """Every opening stored for ``subject``."""
        return [o.to_json() for o in self.db.openings_of(subject)]

    def label_of(self, kind: str, value: str) -> str | None:
        """The subject already holding an opening of ``kind`` with ``value``, or None."""
        return self.db.subject_of_opening(kind, value)

    def erase(self, subject: str) -> int:
        """Delete the openings for ``subject``; NotFoundError if there were none."""
        n = self.db.erase_openings(subject)
        if n == 0:
            raise NotFoundError(f"no private data is held for {subject}")
        return n
