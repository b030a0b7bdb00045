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
from ledger.state import State
from ledger.statements import Envelope
from ledger.storage import Opening, PrivateStorage

__all__ = ["PrivateStore"]

# statement type -> (body field holding the commitment, body field naming the subject)
COMMITTED_FIELDS: dict[str, tuple[str, str]] = {"member.enrol": ("unit_commitment", "key")}


def register_committed_field(type_name: str, commitment_field: str, subject_field: str) -> None:
    """Let another layer (funds: private payees) keep openings of its commitments here."""
    COMMITTED_FIELDS[type_name] = (commitment_field, subject_field)


class PrivateStore:
    """Openings of commitments in the node's database (not append-only: erasable)."""

    def __init__(self, store: PrivateStorage) -> None:
        self.db = store

    def check(self, state: State, env: Envelope, private: dict[str, Any]) -> None:
        """The opening must match the commitment the statement puts in the log."""
        if env.type not in COMMITTED_FIELDS:
            raise InputError(f"statements of type {env.type} carry no private part")
        if set(private) != {"value", "salt"} or not isinstance(private["value"], str):
            raise InputError('\'private\' is {"value": <text>, "salt": <base64, 16+ bytes>}')
        try:
            salt = base64.b64decode(private["salt"], validate=True)
        except (binascii.Error, TypeError) as exc:
            raise InputError("private salt is not base64") from exc
        if len(salt) < 16:
            raise InputError("private salt must be at least 16 random bytes")
        field_name, _ = COMMITTED_FIELDS[env.type]
        if commitment(private["value"], salt) != env.body.get(field_name):
            raise InputError(f"the private opening does not match body.{field_name}")

    def opening(self, env: Envelope, private: dict[str, Any]) -> Opening:
        """The row to keep for a checked opening; it is written with the statement's batch."""
        field_name, subject_field = COMMITTED_FIELDS[env.type]
        return Opening(
            commitment=env.body[field_name],
            subject=str(env.body.get(subject_field, "")),
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
