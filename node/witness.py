"""A witness: C2SP tlog-witness ``add-checkpoint``, plus a full replay before cosigning.

The protocol part follows tlog-witness step by step (the numbers below are kept in the
code). Beyond the spec, before cosigning, the witness's replica fetches the new entries
from the log, checks they hash to the signed root, and replays every record through the
community's rules (:mod:`node.replica`); a record that breaks a rule is evidence.

The witness's state — the latest cosigned checkpoint per log — is a table that only
grows: a row is inserted (durably, before the answer) for each larger size, so the
latest size never goes backwards, even across ``kill -9``. Checking the old size and
inserting happen under one lock, which rules out the rollback race the spec describes.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, log_signed_only
from ledger.c2sp.cosignature import CosignatureSigner, generate_cosigner, parse_cosigner_private_key
from ledger.c2sp.note import NoteVerifier, parse_note
from ledger.c2sp.witness import SIZE_MEDIA_TYPE, parse_add_checkpoint
from ledger.errors import (
    CivicError,
    InputError,
    IntegrityError,
    NetworkError,
    ProofError,
    SignatureError,
    StorageError,
    VerificationError,
)
from ledger.evidence import equivocation
from ledger.files import write_atomic
from ledger.records import format_time
from ledger.storage import WitnessStorage
from ledger.tiles import decode_bundle
from node.config import WITNESS_KEY_FILE, NodeConfig, save_config
from node.evidence import EvidenceStore
from node.problems import problem_type

if TYPE_CHECKING:
    from node.replica import Replica

__all__ = [
    "Witness",
    "WitnessResponse",
    "init_witness",
    "load_witness_key",
]

# --- the witness ------------------------------------------------------------------------


@dataclass(frozen=True)
class WitnessResponse:
    """An HTTP answer decided by the protocol: status, body, media type."""

    status: int
    body: bytes
    media_type: str


def _problem(status: int, title: str, detail: str) -> WitnessResponse:
    body = {"type": problem_type(status), "title": title, "status": status, "detail": detail}
    return WitnessResponse(status, json.dumps(body).encode(), "application/problem+json")


@dataclass(frozen=True)
class Cosigned:
    """The latest checkpoint a witness cosigned for a log (the log's note, verbatim)."""

    size: int
    root: bytes
    note: bytes


class Witness:
    """Cosigns checkpoints of one log after verifying consistency and replaying its records."""

    def __init__(
        self,
        signer: CosignatureSigner,
        log_verifier: NoteVerifier,
        store: WitnessStorage,
        evidence: EvidenceStore,
        replica: Replica | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.signer = signer
        self.log_verifier = log_verifier
        self.origin = log_verifier.name
        self.store = store
        self.evidence = evidence
        self.replica = replica
        self.clock = clock
        self.lock = threading.Lock()

    def latest(self) -> Cosigned | None:
        """The latest cosigned checkpoint of the log (None if never cosigned)."""
        row = self.store.latest_witnessed(self.origin)
        return None if row is None else Cosigned(*row)

    def _record(self, cp: Checkpoint, note: bytes) -> None:
        # C2SP tlog-witness: the witness MUST persist the new checkpoint before responding.
        try:
            self.store.record_witnessed(
                self.origin,
                cp.size,
                cp.root_hash,
                note,
                format_time(datetime.now(UTC).replace(microsecond=0)),
            )
        except Exception as exc:
            raise StorageError(f"cannot record the cosigned checkpoint: {exc}") from exc

    def add_checkpoint(self, body: bytes) -> WitnessResponse:
        """Handle ``POST <prefix>/add-checkpoint`` (C2SP tlog-witness); never raises."""
        try:
            return self._add_checkpoint(body)
        except CivicError as exc:
            return _problem(exc.status, exc.title, exc.message)

    def add_checkpoint_with_entries(
        self, body: bytes, first: int, bundle: bytes
    ) -> WitnessResponse:
        """``add-checkpoint`` with the new records pushed along (civic's extension).

        ``bundle`` (a C2SP entry bundle of the records from ``first`` on) spares the replica
        the round trip back to a busy log for them; they count only if they hash to the
        signed root (:meth:`node.replica.Replica.offer`), so the answer is exactly the one
        :meth:`add_checkpoint` would give. Entries that cannot be read are ignored.
        """
        if self.replica is not None:
            with contextlib.suppress(InputError):  # unreadable: fetched as usual instead
                self.replica.offer(first, decode_bundle(bundle))
        return self.add_checkpoint(body)

    def _add_checkpoint(self, body: bytes) -> WitnessResponse:
        # 1. Parse the body: old size line, proof lines, empty line, checkpoint note.
        try:
            req = parse_add_checkpoint(body)
            note = parse_note(req.note)
        except InputError as exc:
            return _problem(400, "Bad Request", exc.message)
        # 2. C2SP tlog-witness: an unknown origin is 404 Not Found.
        origin = note.text.split("\n", 1)[0]
        if origin != self.origin:
            return _problem(404, "Unknown log", f"this witness does not witness {origin!r}")
        # 3. The signature must verify against the log key (unknown keys are ignored);
        #    none verifying is 403 Forbidden.
        try:
            # A replica knows the log's key history: the key of the checkpoint's size, and
            # a key a log.rotate among the new entries names (docs/adr/0012).
            if self.replica is not None:
                cp, log_note = self.replica.open(req.note)
            else:
                cp, log_note = log_signed_only(req.note, self.log_verifier)
        except SignatureError as exc:
            return _problem(403, "Forbidden", exc.message)
        except InputError as exc:
            return _problem(400, "Bad Request", exc.message)
        # Beyond the spec: a witness holding evidence no longer trusts the log's key.
        if self.evidence.count():
            return _problem(
                403,
                "Forbidden",
                "this witness holds evidence against the log and will not cosign it "
                "(see GET /v1/evidence)",
            )
        # 4. C2SP tlog-witness: the old size must not exceed the checkpoint size (400).
        if req.old > cp.size:
            return _problem(400, "Bad Request", f"old size {req.old} exceeds {cp.size}")
        # The proof MUST be empty if the old size is zero.
        if req.old == 0 and req.proof:
            return _problem(400, "Bad Request", "the proof must be empty when the old size is 0")
        with self.lock:
            latest = self.latest()
            have = 0 if latest is None else latest.size
            # 5. The old size must be the latest cosigned size: else 409 with that size.
            if req.old != have:
                return WitnessResponse(409, f"{have}\n".encode(), SIZE_MEDIA_TYPE)
            if req.old == cp.size:
                # 6. Same size: the roots must be identical, else 409 Conflict; two signed
                #    checkpoints of one size with different roots are equivocation.
                root = merkle.EMPTY_ROOT if latest is None else latest.root
                if cp.root_hash != root:
                    if latest is not None:
                        self.evidence.add(
                            equivocation(
                                self.origin,
                                latest.note,
                                log_note,
                                reason=f"two checkpoints of size {cp.size} with different "
                                "roots were signed by the log key",
                            ),
                            found_by=f"witness {self.signer.name}",
                        )
                    return _problem(
                        409,
                        "Conflict",
                        f"a checkpoint of size {cp.size} with another root "
                        "was already cosigned: equivocation recorded as evidence",
                    )
            elif req.old > 0:
                # 7. RFC 6962 §2.1.2 consistency proof from the old size; 422 if it fails.
                assert latest is not None
                try:
                    merkle.verify_consistency(
                        req.old, cp.size, req.proof, latest.root, cp.root_hash
                    )
                except ProofError as exc:
                    return _problem(422, "Unprocessable Entity", exc.message)
            # 8. Beyond the spec: fetch, check and replay every new record before cosigning.
            if self.replica is not None:
                try:
                    self.replica.sync_to(log_note)
                except NetworkError as exc:
                    return _problem(503, "Cannot verify yet", exc.message)
                except (VerificationError, IntegrityError) as exc:
                    # Entries that do not match the signed root, or a record that breaks
                    # a rule: nothing to cosign.
                    return _problem(422, "Unprocessable Entity", exc.message)
            # 9. Persist the new latest checkpoint, then answer with the cosignature.
            if cp.size > have:
                self._record(cp, log_note)
        sig = self.signer.cosign(note.text, int(self.clock()))
        return WitnessResponse(200, sig.line().encode("utf-8"), "text/plain; charset=utf-8")

    def status(self) -> dict[str, Any]:
        """The witness's name, key, and latest cosigned size of its log."""
        latest = self.latest()
        return {
            "name": self.signer.name,
            "vkey": self.signer.verifier().vkey(),
            "origin": self.origin,
            "cosigned_size": None if latest is None else latest.size,
        }


# --- the data folder ----------------------------------------------------------------------


def load_witness_key(data_dir: Path) -> CosignatureSigner:
    """The witness's cosigning key from ``DIR/witness.key``."""
    path = data_dir / WITNESS_KEY_FILE
    if not path.is_file():
        raise InputError(
            f"no witness key at {path}: create one with `civic node init-witness --data DIR`"
        )
    return parse_cosigner_private_key(path.read_text("utf-8").strip())


def init_witness(
    data_dir: Path,
    name: str,
    log_vkey: str | None = None,
    follow: str | None = None,
    signer: CosignatureSigner | None = None,
) -> CosignatureSigner:
    """Create a witness's data folder with a new cosigning key; refuses to overwrite one.

    The log key and URL may be given now or later (``civic node start --log-vkey --follow``);
    the witness's vkey goes into the community's genesis.
    """
    from node.config import CONFIG_FILE

    if (data_dir / CONFIG_FILE).exists() or (data_dir / WITNESS_KEY_FILE).exists():
        raise InputError(f"{data_dir} already holds a node; choose an empty folder")
    signer = signer or generate_cosigner(name)
    origin = ""
    if log_vkey is not None:
        from ledger.c2sp.note import parse_vkey

        origin = parse_vkey(log_vkey).name
    data_dir.mkdir(parents=True, exist_ok=True)
    write_atomic(data_dir / WITNESS_KEY_FILE, (signer.private_key_string() + "\n").encode(), 0o600)
    save_config(
        data_dir, NodeConfig(origin=origin, role="witness", log_vkey=log_vkey, follow=follow)
    )
    return signer
