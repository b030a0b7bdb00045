"""C2SP tlog-witness: the ``add-checkpoint`` request and response wire format.

The request body is ``old <size>``, the consistency proof lines, an empty line and the
checkpoint note; a 200 response body is one or more cosignature lines
(:func:`ledger.c2sp.note.parse_signature_lines`), a 409 for a stale old size carries the
witness's size as :data:`SIZE_MEDIA_TYPE`. The witness itself is ``node.witness``, the
client side ``node.cosigning``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ledger.c2sp._text import b64encode
from ledger.c2sp.proof import LineReader
from ledger.errors import InputError

__all__ = [
    "MAX_PROOF_LINES",
    "SIZE_MEDIA_TYPE",
    "AddCheckpointRequest",
    "format_add_checkpoint",
    "parse_add_checkpoint",
]

# C2SP tlog-witness: the client MUST NOT send more than 63 consistency proof lines.
MAX_PROOF_LINES = 63
# C2SP tlog-witness: the body of a 409 for a stale old size.
SIZE_MEDIA_TYPE = "text/x.tlog.size"
_DIGITS = frozenset("0123456789")


@dataclass(frozen=True)
class AddCheckpointRequest:
    """An ``add-checkpoint`` body: old size, consistency proof, checkpoint note verbatim."""

    old: int
    proof: tuple[bytes, ...]
    note: bytes


def parse_add_checkpoint(body: bytes) -> AddCheckpointRequest:
    """Parse an add-checkpoint request body; InputError (HTTP 400) if malformed."""
    r = LineReader(body, "add-checkpoint body")
    # C2SP tlog-witness: "old <decimal>", no leading zeroes unless the size is 0.
    first = r.line()
    size_text = first[len("old ") :] if first.startswith("old ") else ""
    if (
        not size_text
        or len(size_text) > 20
        or any(c not in _DIGITS for c in size_text)
        or (len(size_text) > 1 and size_text[0] == "0")
    ):
        raise InputError(f"the first line must be 'old <size>', got {first[:40]!r}")
    old = int(size_text)
    # C2SP tlog-witness: zero or more base64 consistency proof lines, an empty line, then
    # the checkpoint (a signed note).
    proof = r.hashes(MAX_PROOF_LINES)
    return AddCheckpointRequest(old, tuple(proof), r.rest())


def format_add_checkpoint(old: int, proof: Sequence[bytes], note: bytes) -> bytes:
    """An add-checkpoint request body (inverse of :func:`parse_add_checkpoint`)."""
    if len(proof) > MAX_PROOF_LINES:
        raise InputError(f"a consistency proof of {len(proof)} hashes is too long")
    lines = [f"old {old}", *(b64encode(h) for h in proof)]
    return ("\n".join(lines) + "\n\n").encode("ascii") + note
