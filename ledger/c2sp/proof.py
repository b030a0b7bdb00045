"""C2SP tlog-proof: ``c2sp.org/tlog-proof@v1`` offline inclusion proofs, and their line reader.

:class:`LineReader` also reads the tlog-witness ``add-checkpoint`` body
(:mod:`ledger.c2sp.witness`), which has the same shape. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.c2sp._text import HASH_SIZE, U64_MAX, b64decode, b64encode, check_u64, parse_decimal
from ledger.errors import InputError, TooLargeError

__all__ = [
    "MAX_PROOF_HASHES",
    "TLOG_PROOF_HEADER",
    "LineReader",
    "TlogProof",
    "format_tlog_proof",
    "parse_tlog_proof",
]

# C2SP tlog-proof: the first line of a proof.
TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1"
# An RFC 6962 inclusion proof in a tree of fewer than 2**64 leaves has at most 64 hashes.
MAX_PROOF_HASHES = 64


@dataclass(frozen=True)
class TlogProof:
    """An offline proof: optional extra data, leaf index, inclusion proof and checkpoint note.

    ``checkpoint`` holds the signed checkpoint note verbatim; it is not parsed or verified
    here (use :func:`ledger.c2sp.trust.trusted_checkpoint` or
    :func:`ledger.c2sp.checkpoint.open_checkpoint`).
    """

    extra: bytes | None
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: bytes

    def __post_init__(self) -> None:
        if self.extra is not None and not isinstance(self.extra, bytes):
            raise InputError("proof extra data must be bytes or None")
        check_u64(self.index, "proof index")
        if len(self.hashes) > MAX_PROOF_HASHES:
            raise TooLargeError(f"an inclusion proof has at most {MAX_PROOF_HASHES} hashes")
        if any(not isinstance(h, bytes) or len(h) != HASH_SIZE for h in self.hashes):
            raise InputError(f"inclusion proof hashes must be {HASH_SIZE} bytes")
        if not isinstance(self.checkpoint, bytes) or not self.checkpoint.endswith(b"\n"):
            raise InputError("proof checkpoint must be a note ending with a newline")


class LineReader:
    """Reads the text lines that precede a signed note in C2SP proof messages.

    tlog-proof and tlog-witness ``add-checkpoint`` share a shape: ASCII header lines,
    base64 hash lines up to an empty line, then a note kept verbatim.
    """

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.what = what
        self.pos = 0

    def line(self) -> str:
        """The next line, without its newline; InputError if the data ends first."""
        end = self.data.find(b"\n", self.pos)
        if end < 0:
            raise InputError(f"{self.what} ends before the empty line preceding the checkpoint")
        raw = self.data[self.pos : end]
        self.pos = end + 1
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as exc:
            raise InputError(f"{self.what} header lines must be ASCII") from exc

    def hashes(self, limit: int) -> list[bytes]:
        """32-byte hashes in canonical base64, one a line, up to the empty line."""
        out: list[bytes] = []
        while (line := self.line()) != "":
            if len(out) == limit:
                raise TooLargeError(f"{self.what} carries more than {limit} proof hashes")
            digest = b64decode(line, f"{self.what} hash")
            if len(digest) != HASH_SIZE:
                raise InputError(f"{self.what} hash is {len(digest)} bytes, expected {HASH_SIZE}")
            out.append(digest)
        return out

    def rest(self) -> bytes:
        """The note after the empty line, verbatim; InputError if there is none."""
        note = self.data[self.pos :]
        if not note:
            raise InputError(f"{self.what} has no checkpoint after the empty line")
        return note


def parse_tlog_proof(data: bytes) -> TlogProof:
    """Parse a ``c2sp.org/tlog-proof@v1`` proof; InputError if malformed.

    The checkpoint after the empty line is kept verbatim and not verified.
    """
    r = LineReader(data, "tlog-proof")
    next_line = r.line
    # C2SP tlog-proof: the first line MUST be "c2sp.org/tlog-proof@v1".
    if next_line() != TLOG_PROOF_HEADER:
        raise InputError(f"tlog-proof must start with {TLOG_PROOF_HEADER!r}")
    line = next_line()
    extra: bytes | None = None
    # C2SP tlog-proof: an optional "extra <base64>" line.
    if line.startswith("extra "):
        extra = b64decode(line[len("extra ") :], "tlog-proof extra data")
        line = next_line()
    # C2SP tlog-proof: "index <decimal>", no leading zeroes.
    if not line.startswith("index "):
        raise InputError(f"expected an 'index <n>' line in tlog-proof, got {line!r}")
    index = parse_decimal(line[len("index ") :], "tlog-proof index", U64_MAX)
    # C2SP tlog-proof: zero or more base64 hash lines, then an empty line, then the
    # checkpoint, verbatim.
    hashes = r.hashes(MAX_PROOF_HASHES)
    return TlogProof(extra, index, tuple(hashes), r.rest())


def format_tlog_proof(p: TlogProof) -> bytes:
    """Serialize a proof (inverse of :func:`parse_tlog_proof`)."""
    lines = [TLOG_PROOF_HEADER]
    if p.extra is not None:
        lines.append(f"extra {b64encode(p.extra)}")
    lines.append(f"index {p.index}")
    lines.extend(b64encode(h) for h in p.hashes)
    return ("\n".join(lines) + "\n\n").encode("ascii") + p.checkpoint
