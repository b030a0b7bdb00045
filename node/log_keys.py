"""The sequencer's log keys across rotations, and the key history it serves.

Which key signs a checkpoint is never a setting: it follows from the records
(:func:`ledger.log_keys.key_history`): the key of the epoch the checkpoint's size falls in,
plus the previous key on the hand-over checkpoint when that key is held
(docs/adr/0012-log-key-rotation.md). The private keys sit in the data folder: ``log.key``
and any number of ``log-keys/*.key``. ``civic node rotate-key`` writes the new key there
*before* the rotation is submitted and makes it ``log.key`` only after the rotation
committed, so a ``kill -9`` at any point leaves a folder that holds every key the state can
ask for, and the node restarts signing with the right one.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledger.c2sp.note import NoteSigner, NoteVerifier, parse_private_key
from ledger.errors import ConflictError, IntegrityError, NotFoundError
from ledger.files import write_atomic
from ledger.log_keys import KeyHistory, key_history
from ledger.records import parse_record
from ledger.state import State
from ledger.statements import Envelope

if TYPE_CHECKING:
    from node.context import NodeContext

__all__ = [
    "KEYS_DIR",
    "Keyring",
    "install_key",
    "install_sequencer_keys",
    "key_file_name",
    "log_keys_document",
    "replica_history",
    "stored_log_verifiers",
]

KEYS_DIR = "log-keys"
LOG_KEY_FILE = "log.key"


def key_file_name(signer: NoteSigner | NoteVerifier) -> str:
    """Where a key waits in ``log-keys/``: named by its C2SP key hash."""
    return f"{signer.key_hash.hex()}.key"


def install_key(data_dir: Path, signer: NoteSigner) -> Path:
    """Put ``signer`` in ``DIR/log-keys/`` (atomically, mode 0600) so the sequencer can sign
    with it as soon as a rotation to it commits."""
    d = data_dir / KEYS_DIR
    d.mkdir(mode=0o700, exist_ok=True)
    path = d / key_file_name(signer)
    write_atomic(path, (signer.private_key_string() + "\n").encode(), 0o600)
    return path


class Keyring:
    """Every log private key in the data folder, by vkey; re-read when a key is missing."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._lock = threading.Lock()
        self._keys: dict[str, NoteSigner] = {}
        self.reload()

    def reload(self) -> None:
        files = [self.data_dir / LOG_KEY_FILE]
        d = self.data_dir / KEYS_DIR
        if d.is_dir():
            files += sorted(d.glob("*.key"))
        keys: dict[str, NoteSigner] = {}
        for f in files:
            if f.is_file():
                s = parse_private_key(f.read_text("utf-8").strip())
                keys[s.verifier().vkey()] = s
        with self._lock:
            self._keys = keys

    def get(self, vkey: str) -> NoteSigner | None:
        with self._lock:
            got = self._keys.get(vkey)
        if got is None:
            self.reload()
            with self._lock:
                got = self._keys.get(vkey)
        return got

    def verifiers(self) -> list[NoteVerifier]:
        with self._lock:
            return [s.verifier() for s in self._keys.values()]

    def signers_for(self, history: KeyHistory, first: int, size: int) -> list[NoteSigner]:
        """The keys that sign the checkpoint of ``size`` closing a batch from ``first``: the
        epoch's key, and on a hand-over the previous key too when it is held."""
        epoch = history.epoch_for(size)
        signer = self.get(epoch.vkey)
        if signer is None:
            raise IntegrityError(
                f"the log moved to key {epoch.vkey} at record {epoch.record}, but this data "
                f"folder does not hold it: put its private key in {self.data_dir / KEYS_DIR}/"
            )
        out = [signer]
        for prev, e in zip(history.epochs, history.epochs[1:], strict=False):
            if e.record is not None and first <= e.record < size and e.old_key_status == "held":
                old = self.get(prev.vkey)
                if old is not None:
                    out.append(old)
        return out


def install_sequencer_keys(ctx: NodeContext) -> None:
    """Make the sequencer sign with the key its state names, refuse a rotation to a key it
    does not hold, and verify with the current key (called when the services open)."""
    seq = ctx.services["sequencer"]
    ring = Keyring(ctx.data_dir)
    lg = ctx.log

    def sync_verifier(history: KeyHistory) -> None:
        current = history.current.verifier
        if lg.verifier.vkey() != current.vkey():
            lg.verifier = current
        known = {v.vkey() for v in lg.verifiers}
        lg.verifiers.extend(v for v in history.verifiers() if v.vkey() not in known)

    def signers_for(first: int, size: int) -> Sequence[NoteSigner]:
        history = key_history(seq.state)
        out = ring.signers_for(history, first, size)
        sync_verifier(history)
        return out

    def admit(state: State, env: Envelope) -> None:
        if env.type != "log.rotate":
            return
        vkey = env.body.get("new_vkey")
        # Read the folder afresh: the key must be on disk, not only remembered, or a
        # restart after the rotation would have nothing to sign with.
        ring.reload()
        if not isinstance(vkey, str) or ring.get(vkey) is None:
            raise ConflictError(
                "this sequencer does not hold the new log key, so it could not sign the "
                "checkpoints after the rotation: install it first with `civic node rotate-key "
                "--data DIR --new-key FILE ...` (it writes DIR/log-keys/ and submits for you)"
            )

    lg.signers_for = signers_for
    seq.admit = admit
    if seq.state.peek("community", "genesis") is not None:  # else: the genesis key only
        sync_verifier(key_history(seq.state))
    ctx.services["keyring"] = ring


def stored_log_verifiers(store: Any) -> list[NoteVerifier]:
    """The keys the log moved to, as a node's state views hold them (cheap: one
    namespace), so that its log opens on a checkpoint signed after a rotation."""
    from ledger.c2sp.note import parse_vkey
    from ledger.sql import SqlStore

    if not isinstance(store, SqlStore):
        return []
    return [parse_vkey(row["vkey"]) for row in store.state_namespace("log_key")]


def replica_history(state: State, genesis: NoteVerifier) -> KeyHistory:
    """The key history a replica's verified state knows (only the genesis key before it)."""
    if state.peek("community", "genesis") is None:
        return KeyHistory.genesis_only(genesis.vkey())
    return key_history(state)


def log_keys_document(ctx: NodeContext) -> dict[str, Any]:
    """``GET /v1/log-keys``: the key history, each rotation record, the newest witnessed
    checkpoint (the newest one when none has the quorum yet) and each rotation record's
    inclusion proof in it, so a verifier holding only the genesis key can follow
    (:func:`ledger.log_keys.follow_key_history`)."""
    state = ctx.state()
    try:
        history = key_history(state)
    except Exception as exc:
        raise NotFoundError("this log has no genesis yet") from exc
    note = ctx.log.witnessed_checkpoint() or ctx.log.checkpoint()
    from ledger.c2sp.checkpoint import read_checkpoint

    size = read_checkpoint(note).size
    rotations: list[dict[str, Any]] = []
    proofs: list[list[str]] = []
    for e in history.epochs[1:]:
        assert e.record is not None
        if e.record >= size:
            break
        raw = ctx.log.entry(e.record)
        assert parse_record(raw).index == e.record
        rotations.append({"index": e.record, "record": base64.b64encode(raw).decode()})
        proofs.append(
            [base64.b64encode(h).decode() for h in ctx.log.inclusion_proof(e.record, size)]
        )
    return {
        "origin": ctx.cfg.origin,
        "keys": history.to_json(),
        "rotations": rotations,
        "checkpoint": note.decode("utf-8"),
        "proofs": proofs,
    }
