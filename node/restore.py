"""Disaster recovery: rebuild a lost sequencer's data folder from any mirror or witness.

``civic node restore --from URL --data DIR --log-key FILE`` (issue 14). The mirror is not
trusted: the entries it serves go through the same :class:`~node.replica.Replica` a
witness or mirror runs — every entry must extend the tree to the root the log key signed,
every record is replayed through the community's rules — so the restored folder holds
nothing the log did not sign and the rules did not accept.

What a replica cannot see on its own is whether the log went further than the mirror.
A sequencer restored from a stale mirror would append different records at indexes the
log already signed: a fork, which witnesses turn into evidence against the community's
own key. So before anything is kept the restore asks every witness named in the replayed
policy for the newest checkpoint it verified and cosigned, and refuses when

- a witness is ahead of what the mirror can give (restore from that witness or another
  mirror instead),
- a witness's checkpoint of a size the mirror gave has another root (the log is forked),
- so many witnesses are unreachable that they alone could have cosigned a newer
  checkpoint (unless the operator accepts that risk),
- no checkpoint of the restored tree carries the policy's quorum of cosignatures.

The folder is built beside DIR and moved into place only when every check passed, so a
refused restore leaves nothing behind. The sequencer's private store (the openings of
the commitments in the log) is not in the public log and cannot be restored from a
mirror: it comes back only from the operator's own backup.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ledger.c2sp.checkpoint import log_signed_only, open_checkpoint
from ledger.c2sp.note import (
    NoteSigner,
    NoteVerifier,
    add_signatures,
    parse_note,
    parse_signature_lines,
)
from ledger.c2sp.policy import Policy, PolicyWitness, policy_satisfied
from ledger.c2sp.trust import check_trust
from ledger.c2sp.witness import SIZE_MEDIA_TYPE, format_add_checkpoint
from ledger.errors import (
    CivicError,
    InputError,
    IntegrityError,
    NetworkError,
    NotFoundError,
    SignatureError,
    VerificationError,
)
from ledger.files import write_atomic
from ledger.log_keys import key_history
from ledger.sql import SqlStore, sqlite_url
from ledger.tiles import decode_bundle
from ledger.witness_policy import WITNESS_PATH, policy_from_genesis
from node.config import CONFIG_FILE, LOG_KEY_FILE, NodeConfig, load_config, save_config
from node.cosigning import CosignatureBook
from node.evidence import EvidenceStore
from node.freshness import WATERMARK_FILE
from node.replica import HttpSource, Replica, ReplicaLog, Source
from rules import community_rules

__all__ = ["PRIVATE_DATA_NOTE", "Restored", "WitnessView", "restore"]

log = logging.getLogger("civic.restore")

PRIVATE_DATA_NOTE = (
    "the sequencer's private store (the openings of residents' commitments) is not in the "
    "public log and was not restored: put it back from your own backup, or re-collect it"
)


@dataclass(frozen=True)
class WitnessView:
    """What one policy witness said: the newest size it verified or cosigned, or why not."""

    name: str
    url: str | None
    size: int | None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "url": self.url, "size": self.size, "error": self.error}


@dataclass(frozen=True)
class Restored:
    """The outcome of a restore: where the log stands and what backs it."""

    data_dir: Path
    origin: str
    source: str
    size: int
    root: str
    witnessed_size: int | None
    cosigned_by: tuple[str, ...]
    witnesses: tuple[WitnessView, ...]
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return {
            "data": str(self.data_dir),
            "origin": self.origin,
            "from": self.source,
            "size": self.size,
            "root": self.root,
            "witnessed_size": self.witnessed_size,
            "cosigned_by": list(self.cosigned_by),
            "witnesses": [w.to_json() for w in self.witnesses],
            "notes": list(self.notes),
        }


def _refuse_non_empty(data_dir: Path) -> None:
    if data_dir.exists() and (not data_dir.is_dir() or any(data_dir.iterdir())):
        raise InputError(
            f"{data_dir} is not empty: restore into a new or empty folder (nothing was changed)"
        )


def _witness_view(
    source: Callable[[str], Source], w: PolicyWitness, replica: Replica, timeout: float
) -> tuple[WitnessView, list[bytes]]:
    """Ask a witness for its newest cosigned checkpoint; its view and the notes it gave.

    C2SP tlog-witness gives this without trusting anything the witness says: the checkpoint
    its replica verified (``/log/checkpoint``, checked against the log key) is sent back to
    it with ``old`` = its size. A witness that cosigned exactly that size cosigns it again
    (200, a cosignature checked against its key here); one that cosigned another size says
    which (409, ``text/x.tlog.size``), and is asked again for that one.
    """
    prefix = w.url
    if not prefix:
        return WitnessView(w.name, None, None, "the policy gives no URL for this witness"), []
    base = prefix[: -len(WITNESS_PATH)] if prefix.endswith(WITNESS_PATH) else prefix
    src = source(base)
    notes: list[bytes] = []
    size = 0
    try:
        try:
            note: bytes | None = src.checkpoint()
        except NotFoundError:
            note = None
        with httpx.Client(timeout=timeout) as http:
            for _ in range(3):
                if note is None:
                    break
                cp, log_note = replica.open(note)
                size = max(size, cp.size)
                r = http.post(
                    prefix + "/add-checkpoint", content=format_add_checkpoint(cp.size, [], log_note)
                )
                if r.status_code == 200:
                    text_ = parse_note(log_note).text
                    sigs = [
                        sig
                        for sig in parse_signature_lines(r.content)
                        if w.verifier.verify_cosignature(text_, sig) is not None
                    ]
                    if sigs:
                        notes.append(add_signatures(log_note, sigs))
                    break
                if r.status_code == 409 and r.headers.get("content-type", "").startswith(
                    SIZE_MEDIA_TYPE
                ):
                    theirs = int(r.text.strip())
                    size = max(size, theirs)
                    if theirs == cp.size or theirs == 0:
                        break
                    try:
                        note = src.get(f"/v1/checkpoints/{theirs}")
                    except NotFoundError:
                        break
                    continue
                break
        return WitnessView(w.name, base, size), notes
    except (SignatureError, ValueError) as exc:
        why = exc.message if isinstance(exc, CivicError) else str(exc)
        return WitnessView(w.name, base, None, f"answers with a checkpoint that does not verify: {why}"), []  # fmt: skip
    except httpx.HTTPError as exc:
        return WitnessView(w.name, base, None, f"cannot reach {base}: {exc or type(exc).__name__}"), []  # fmt: skip
    except (NetworkError, InputError) as exc:
        return WitnessView(w.name, base, None, exc.message), []
    finally:
        src.close()


def _check_witnesses(
    views: list[WitnessView], replica: Replica, source_url: str, policy: Policy, allow: bool
) -> None:
    """Refuse a restore the witnesses' views say would fork the log."""
    size = replica.log.size
    for v in views:
        if v.size is not None and v.size > size:
            raise VerificationError(
                f"restore refused: witness {v.name} ({v.url}) has verified the log up to size "
                f"{v.size}, but {source_url} gives only {size} records; a sequencer restored "
                f"from it would fork the log at record {size}. Restore from a mirror or "
                f"witness that holds {v.size} records, e.g. --from {v.url}"
            )
    unreached = {v.name for v in views if v.size is None}
    if unreached and policy.quorum != "none" and policy_satisfied(policy, unreached):
        detail = "; ".join(f"{v.name}: {v.error}" for v in views if v.size is None)
        if not allow:
            raise NetworkError(
                f"restore refused: the witnesses that did not answer ({detail}) could "
                "together have cosigned a newer checkpoint than the mirror's, so a fork "
                "cannot be ruled out. Start them and try again, or pass "
                "--allow-unreachable-witnesses if they are gone for good"
            )
        log.warning("restoring with unreachable witnesses: %s", detail)


def _check_roots(notes: list[tuple[str, bytes]], replica: Replica) -> None:
    """A witness's signed checkpoint within the restored tree must have its root."""
    for who, note in notes:
        cp, _ = replica.open(note)
        if 0 < cp.size <= replica.log.size and replica.log.root_at(cp.size) != cp.root_hash:
            raise VerificationError(
                f"restore refused: {who} holds a checkpoint of size {cp.size} signed by the "
                "log key whose root differs from the tree the mirror gave: the log is "
                "forked. Do not restart a sequencer; keep both checkpoints as evidence "
                "(README, 'When a node holds evidence')"
            )


def _merged(notes: list[bytes]) -> list[bytes]:
    """One note per checkpoint text, with every signature line any source gave for it:
    each witness vouches for its own cosignature only, the quorum is their sum."""
    texts: dict[str, bytes] = {}
    for n in notes:
        try:
            body = parse_note(n).text
        except InputError:
            continue
        texts[body] = add_signatures(texts[body], parse_note(n).signatures) if body in texts else n
    return list(texts.values())


def _build(
    work: Path,
    source_url: str,
    signer: NoteSigner,
    source: Callable[[str], Source],
    allow_unreachable: bool,
    timeout: float,
) -> Restored:
    """Fetch, verify and replay into ``work``; every check; the outcome."""
    verifier = signer.verifier()
    src = source(source_url)
    store = SqlStore(sqlite_url(work.resolve() / "ledger.sqlite"))
    try:
        note = src.checkpoint()
        try:
            cp, log_note = log_signed_only(note, verifier)
        except SignatureError as exc:
            raise InputError(
                f"the key in the --log-key file ({verifier.name}+{verifier.key_hash.hex()}) is "
                f"not the key of the log {source_url} serves: {exc.message}"
            ) from exc
        if cp.size == 0:
            raise NotFoundError(f"{source_url} serves an empty log: nothing to restore")
        try:
            held = json.loads(src.get("/v1/evidence")).get("count", 0)
        except (NotFoundError, ValueError, AttributeError):
            held = 0
        if held:
            raise VerificationError(
                f"restore refused: {source_url} holds {held} piece(s) of evidence against the "
                "log (GET /v1/evidence); inspect them before restoring a sequencer"
            )
        evidence = EvidenceStore(store)
        rlog = ReplicaLog(store, verifier)
        replica = Replica(rlog, store, evidence, src, "restore", community_rules())
        try:
            replica.sync_to(note)
        except (VerificationError, IntegrityError) as exc:
            raise VerificationError(
                f"restore refused: {source_url} serves entries that do not verify against "
                f"the log's signed checkpoint of size {cp.size}: {exc.message}. "
                "Restore from another mirror or a witness"
            ) from exc
        policy = policy_from_genesis(replica.state)
        # The key the verified records name for the log's size: genesis's, or the one the
        # newest log.rotate moved to (docs/adr/0012). An older key may no longer sign.
        current = key_history(replica.state).key_for(cp.size).vkey()
        if current != verifier.vkey():
            raise InputError(
                "the key in the --log-key file is not the log's current key (genesis's, or "
                f"the one its newest log.rotate moved to: {current}): restore with that key"
            )
        # Every witness of the current policy: how far has it seen the log?
        views: list[WitnessView] = []
        witness_notes: list[tuple[str, bytes]] = []
        for w in policy.witnesses:
            view, notes = _witness_view(source, w, replica, timeout)
            views.append(view)
            witness_notes += [(f"witness {w.name}", n) for n in notes]
        _check_witnesses(views, replica, source_url, policy, allow_unreachable)
        _check_roots(witness_notes, replica)
        # The newest witnessed checkpoint: the mirror's own, or one a witness holds.
        candidates = [note, *(n for _, n in witness_notes)]
        with contextlib.suppress(NotFoundError):
            candidates.append(src.get("/v1/checkpoints/witnessed"))
        book = CosignatureBook(store, lambda: policy)
        best: tuple[int, tuple[str, ...]] | None = None
        for n in _merged(candidates):
            replica.learn_cosignatures(n, book)
            trust = check_trust(n, policy)
            if trust.checkpoint is None or trust.checkpoint.size > rlog.size:
                continue
            if trust.trusted and (best is None or trust.checkpoint.size > best[0]):
                best = (trust.checkpoint.size, trust.cosigned_by)
        notes_out = [PRIVATE_DATA_NOTE]
        if policy.quorum == "none":
            notes_out.append(
                "the community names no witness quorum: nothing but the mirror vouches that "
                "this is the newest state of the log"
            )
        elif best is None:
            raise VerificationError(
                "restore refused: no checkpoint of the restored tree carries the witness "
                f"quorum ({policy.quorum}); nothing confirms the mirror's log is the one "
                "the witnesses cosigned"
            )
        elif best[0] < rlog.size:
            notes_out.append(
                f"records {best[0]}..{rlog.size - 1} are signed by the log but not yet "
                "witnessed; the restored sequencer sends them to the witnesses when it starts"
            )
        # A sequencer's folder: its config, its key, the watermark of what it has signed.
        save_config(
            work,
            NodeConfig(
                origin=cp.origin,
                role="sequencer",
                log_vkey=verifier.vkey(),
                peers=[source_url.rstrip("/")],
            ),
        )
        write_atomic(work / LOG_KEY_FILE, (signer.private_key_string() + "\n").encode(), 0o600)
        write_atomic(work / WATERMARK_FILE, log_note)
        open_checkpoint(log_note, verifier)  # the watermark must verify at start-up
        return Restored(
            work,
            cp.origin,
            source_url,
            rlog.size,
            cp.root_hash.hex(),
            None if best is None else best[0],
            () if best is None else best[1],
            tuple(views),
            tuple(notes_out),
        )
    finally:
        src.close()
        store.close()


class _VerifiedCopy:
    """A :class:`~node.replica.Source` over the restore's own verified SQLite copy."""

    url = "the verified copy"

    def __init__(self, log_: ReplicaLog) -> None:
        self.log = log_

    def get(self, path: str) -> bytes:
        raise NotFoundError(f"{self.url} serves only entries ({path})")

    def checkpoint(self) -> bytes:
        return self.log.signed_checkpoint()

    def bundle(self, index: int, width: int) -> list[bytes]:
        return decode_bundle(self.log.entry_bundle(index, width))

    def close(self) -> None:
        return None


def _copy_into(work: Path, database: str, verifier: NoteVerifier) -> None:
    """Move the verified copy into ``database`` (e.g. a PostgreSQL schema), then point the
    folder's config at it. The entries, tree, checkpoint and state go in one transaction,
    through the same replica checks again; the cosignatures follow."""
    sqlite_file = work / "ledger.sqlite"
    local = SqlStore(sqlite_url(sqlite_file.resolve()))
    target = SqlStore(database)
    try:
        if target.size() or target.latest_checkpoint() is not None:
            raise InputError(
                "the --database already holds a log: restore into an empty database or "
                "schema (nothing was changed)"
            )
        copy = ReplicaLog(local, verifier)
        rlog = ReplicaLog(target, verifier)
        replica = Replica(
            rlog, target, EvidenceStore(target), _VerifiedCopy(copy), "restore", community_rules()
        )
        replica.sync_to(copy.signed_checkpoint())
        for size, line in local.cosignatures_above(-1):
            note = local.checkpoint_at(size)
            if note is None:
                continue
            rlog.remember_checkpoint(size, note)
            (sig,) = parse_signature_lines(line.encode("utf-8"))
            target.add_cosignature(size, f"{sig.name}+{sig.key_hash.hex()}", line)
    finally:
        local.close()
        target.close()
    cfg = load_config(work)
    cfg.database = database
    save_config(work, cfg)
    for f in work.glob("ledger.sqlite*"):
        f.unlink()


def restore(
    data_dir: Path,
    source_url: str,
    signer: NoteSigner,
    allow_unreachable_witnesses: bool = False,
    source: Callable[[str], Source] = HttpSource,
    timeout: float = 30.0,
    database: str | None = None,
) -> Restored:
    """Rebuild a sequencer's data folder in ``data_dir`` from the log at ``source_url``.

    ``signer`` is the log's own key (refused if the log is not signed by it). Raises
    VerificationError when the restore would fork the log or the mirror's data does not
    verify, NetworkError when the mirror (or too many witnesses) cannot be reached,
    InputError for a non-empty folder or a wrong key. On any error nothing is left behind.
    With ``database`` (PostgreSQL) the verified log goes there, which must hold none yet,
    and the folder's config points at it. ``civic node start --data DIR`` then resumes
    the same log.
    """
    _refuse_non_empty(data_dir)
    source_url = source_url.rstrip("/")
    parent = data_dir.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    work = parent / f".{data_dir.name}.restoring-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        done = _build(work, source_url, signer, source, allow_unreachable_witnesses, timeout)
        if database is not None:
            _copy_into(work, database, signer.verifier())
        _refuse_non_empty(data_dir)  # nobody filled it meanwhile
        if data_dir.exists():
            data_dir.rmdir()
        # One rename: the folder appears complete, or not at all.
        work.rename(data_dir)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    if not (data_dir / CONFIG_FILE).is_file():  # pragma: no cover - rename is atomic
        raise CivicError(f"the restored folder {data_dir} is incomplete")
    return Restored(
        data_dir,
        done.origin,
        done.source,
        done.size,
        done.root,
        done.witnessed_size,
        done.cosigned_by,
        done.witnesses,
        done.notes,
    )
