"""The one exception hierarchy of civic-ledger.

::

    CivicError                      base: every error the project raises on purpose
    ├── VerificationError           a proof, a signature or a rule did not hold (evidence)
    │   ├── ProofError              an inclusion or consistency proof failed (RFC 9162)
    │   ├── SignatureError          a signature or note did not verify
    │   └── RuleViolation           a statement broke a rule of the community
    │       ├── ForbiddenError      the signer lacks the role the statement needs
    │       └── ConflictError       it conflicts with the state (replay, already enrolled, ...)
    ├── InputError                  malformed or out-of-range input from a caller
    │   ├── NotFoundError           the thing asked for does not exist
    │   └── TooLargeError           a body or record exceeds a size limit
    ├── StorageError                the database refused or is inconsistent
    │   └── IntegrityError          stored data no longer matches its own proofs (tampering)
    │       └── SelfIntegrityError  a node refuses to serve or sequence: it holds evidence
    │                               against its own log (503)
    └── NetworkError                a node did not answer, or answered nonsense

Every class carries the HTTP status the API answers with and a short problem ``title``;
the message is a sentence a user can act on. Construct with one message string.
"""

from __future__ import annotations

__all__ = [
    "CivicError",
    "ConflictError",
    "ForbiddenError",
    "InputError",
    "IntegrityError",
    "NetworkError",
    "NotFoundError",
    "ProofError",
    "RuleViolation",
    "SelfIntegrityError",
    "SignatureError",
    "StorageError",
    "TooLargeError",
    "VerificationError",
]


class CivicError(Exception):
    """Base of every deliberate civic-ledger error."""

    status: int = 500
    title: str = "Internal error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def diagnostics(self) -> str:
        """One line for a person to read: what went wrong and what to do."""
        return self.message


class VerificationError(CivicError):
    status = 400
    title = "Verification failed"


class ProofError(VerificationError):
    title = "Invalid proof"


class SignatureError(VerificationError):
    status = 401
    title = "Invalid signature"


class RuleViolation(VerificationError):
    status = 409
    title = "Rule violated"


class ForbiddenError(RuleViolation):
    status = 403
    title = "Not allowed"


class ConflictError(RuleViolation):
    status = 409
    title = "Conflict with current state"


class InputError(CivicError):
    status = 400
    title = "Bad input"


class NotFoundError(InputError):
    status = 404
    title = "Not found"


class TooLargeError(InputError):
    status = 413
    title = "Too large"


class StorageError(CivicError):
    status = 500
    title = "Storage error"


class IntegrityError(StorageError):
    title = "Stored data failed verification"


class SelfIntegrityError(IntegrityError):
    """The node found its own stored log inconsistent with what it signed, and holds that as
    evidence against itself: it refuses the answer (or the write) rather than serve it."""

    status = 503
    title = "Node failed its own integrity check"


class NetworkError(CivicError):
    status = 502
    title = "Node unreachable"
