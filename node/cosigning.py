"""The sequencer's side of C2SP tlog-witness: ask every witness to cosign, keep what they sign.

After each integrated batch the sequencer's ``on_batch`` hook wakes one worker thread per
witness named in the state (``witnesses/current``). A worker sends the newest checkpoint
with a consistency proof from the size that witness last cosigned (``add-checkpoint``),
verifies the cosignature it gets back and stores it. Workers never hold the append path:
a slow or dead witness only delays its own cosignatures, and since a worker always sends
the newest checkpoint, a witness that comes back catches up in one request.

:class:`CosignatureBook` keeps the cosignatures (one table beside the log's checkpoints)
and :class:`WitnessedLog` serves every checkpoint with the cosignatures collected for it,
so ``/log/checkpoint`` is the cosigned note (C2SP tlog-cosignature lines appended).

Pushing the records: a worker sends the records the witness has not cosigned yet along with
the checkpoint (``<prefix>/add-checkpoint-entries``: the add-checkpoint body, then a C2SP
entry bundle), so the witness replays them at once instead of fetching them back from a
sequencer that is busy writing; only the new records travel, not the partial bundle again.
The witness uses them only if they hash to the signed root, so nothing is trusted that was
not before. A witness that does not answer with the ``Civic-Entries`` header does not know
the extension and gets the plain C2SP request from then on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ledger.c2sp.checkpoint import parse_checkpoint, read_checkpoint
from ledger.c2sp.cosignature import CosignatureVerifier, parse_cosigner_vkey
from ledger.c2sp.note import NoteSignature, add_signatures, parse_note, parse_signature_lines
from ledger.c2sp.policy import Policy, policy_satisfied
from ledger.c2sp.witness import SIZE_MEDIA_TYPE, format_add_checkpoint
from ledger.errors import CivicError, InputError
from ledger.log import Log
from ledger.storage import CosignatureStorage
from ledger.tiles import encode_bundle
from ledger.witness_policy import witness_submission_prefix

__all__ = [
    "CheckpointCollector",
    "CosignatureBook",
    "WitnessStatus",
    "WitnessedLog",
]

log = logging.getLogger("civic.cosigning")

# Recent checkpoint sizes whose cosignatures stay in memory (older ones are read on demand).
_CACHE_SIZES = 4096
# The records pushed with a checkpoint: at most this many (node.replica.OFFER_MAX) and bytes;
# a witness further behind fetches them through the tiles API as before.
PUSH_MAX_ENTRIES = 4096
PUSH_MAX_BYTES = 4 * 1024 * 1024
ENTRIES_HEADER = "Civic-Entries"
CHECKPOINT_LENGTH = "Civic-Checkpoint-Length"
ENTRIES_FROM = "Civic-Entries-From"


def _slot(sig: NoteSignature) -> str:
    return f"{sig.name}+{sig.key_hash.hex()}"


class CosignatureBook:
    """Witness cosignatures per checkpoint size, durable, with the newest quorum size.

    ``policy`` gives the current trust policy (None before genesis); cosignatures are
    verified by whoever adds them, the book only counts them against the quorum.
    """

    def __init__(self, store: CosignatureStorage, policy: Callable[[], Policy | None]) -> None:
        self.db = store
        self.policy = policy
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._sigs: dict[int, dict[str, NoteSignature]] = {}
        self._witnessed: int | None = None
        top = store.latest_cosigned_size()
        if top is not None:
            for size, line in store.cosignatures_above(top - _CACHE_SIZES):
                self._remember(size, _parse_line(line))

    def _remember(self, size: int, sig: NoteSignature) -> None:
        self._sigs.setdefault(size, {})[_slot(sig)] = sig
        if len(self._sigs) > _CACHE_SIZES:
            for old in sorted(self._sigs)[: len(self._sigs) - _CACHE_SIZES]:
                del self._sigs[old]

    def add(self, size: int, sig: NoteSignature) -> bool:
        """Keep a (verified) cosignature of the checkpoint of ``size``; False if held."""
        with self._lock:
            if _slot(sig) in self._sigs.get(size, {}):
                return False
            self._remember(size, sig)
            if self._meets_quorum(size) and (self._witnessed is None or size > self._witnessed):
                self._witnessed = size
        # Served from memory at once, stored after: a cosignature proves itself (the
        # witness's key signs the checkpoint), so one served and then lost with the node
        # misleads no one, and the witness cosigns the same checkpoint again when asked.
        # Waiting for this commit, behind the sequencer's appends for the one SQLite
        # writer, was part of every acknowledgement -> quorum delay. One writer at a time
        # still: the witness workers must not all queue on SQLite's lock beside the appends.
        with self._write_lock:
            self.db.add_cosignature(size, _slot(sig), sig.line())
        return True

    def signatures(self, size: int) -> list[NoteSignature]:
        """The cosignatures held for the checkpoint of ``size``."""
        with self._lock:
            held = self._sigs.get(size)
            if held is not None:
                return list(held.values())
        return [_parse_line(line) for line in self.db.cosignature_lines(size)]

    def count(self, size: int) -> int:
        return len(self.signatures(size))

    def latest_size_for(self, verifier: CosignatureVerifier) -> int | None:
        """The largest size this witness key has cosigned, from storage."""
        slot = f"{verifier.name}+{verifier.key_hash.hex()}"
        return self.db.latest_cosigned_size(slot)

    def _meets_quorum(self, size: int) -> bool:
        policy = self.policy()
        if policy is None:
            return False
        by_key = {(w.verifier.name, w.verifier.key_hash): w.name for w in policy.witnesses}
        names = {
            by_key[(s.name, s.key_hash)]
            for s in self._sigs.get(size, {}).values()
            if (s.name, s.key_hash) in by_key
        }
        return policy_satisfied(policy, names)

    def witnessed_size(self) -> int | None:
        """The largest checkpoint size whose held cosignatures meet the quorum."""
        with self._lock:
            if self._witnessed is None:
                for size in sorted(self._sigs, reverse=True):
                    if self._meets_quorum(size):
                        self._witnessed = size
                        break
            return self._witnessed


def _parse_line(line: str) -> NoteSignature:
    (sig,) = parse_signature_lines(line.encode("utf-8"))
    return sig


def _note_size(note: bytes) -> int:
    return read_checkpoint(note).size


class WitnessedLog(Log):
    """A :class:`Log` whose checkpoints carry the witness cosignatures collected so far.

    ``signed_checkpoint``/``signed_checkpoint_at`` give the log's own note (what is sent to
    witnesses and kept as evidence); ``checkpoint``/``checkpoint_at`` add cosignatures.
    """

    book: CosignatureBook | None = None

    def signed_checkpoint(self) -> bytes:
        """The newest checkpoint with the log's signature only."""
        return super().checkpoint()

    def signed_checkpoint_at(self, size: int) -> bytes:
        """The checkpoint of ``size`` with the log's signature only."""
        return super().checkpoint_at(size)

    def cosigned(self, note: bytes) -> bytes:
        """``note`` with the cosignatures held for its size appended (C2SP tlog-cosignature)."""
        if self.book is None:
            return note
        sigs = self.book.signatures(_note_size(note))
        return add_signatures(note, sigs) if sigs else note

    def checkpoint(self) -> bytes:
        return self.cosigned(self.signed_checkpoint())

    def checkpoint_at(self, size: int) -> bytes:
        return self.cosigned(self.signed_checkpoint_at(size))

    def witnessed_checkpoint(self) -> bytes | None:
        """The newest checkpoint whose cosignatures meet the quorum, or None."""
        if self.book is None:
            return None
        size = self.book.witnessed_size()
        return None if size is None else self.checkpoint_at(size)


@dataclass(frozen=True)
class WitnessStatus:
    """What the sequencer knows of one witness."""

    name: str
    url: str
    cosigned_size: int | None
    error: str


class _WitnessWorker(threading.Thread):
    """Sends the newest checkpoint to one witness until it is cosigned, then waits."""

    def __init__(self, owner: CheckpointCollector, witness: dict[str, str]) -> None:
        super().__init__(name=f"cosign-{witness['name']}", daemon=True)
        self.owner = owner
        self.spec = (witness["name"], witness["vkey"], witness["url"])
        self.witness_name = witness["name"]
        self.url = witness_submission_prefix(witness["url"]) + "/add-checkpoint"
        self.push_url = self.url + "-entries"
        # Until the witness shows it does not know the extension.
        self.push = owner.push
        self.verifier = parse_cosigner_vkey(witness["vkey"])
        # The size this witness last cosigned (the next request's old size); learnt from
        # storage, then from its answers (C2SP tlog-witness: 409 carries its size).
        self.known: int | None = owner.book.latest_size_for(self.verifier)
        self.cosigned: int | None = self.known
        self.error = ""
        self.wake = threading.Event()
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        self.wake.set()

    def run(self) -> None:
        backoff = 0.0
        with httpx.Client(timeout=self.owner.timeout) as http:
            while not self.stopping.is_set():
                self.wake.clear()
                target = self.owner.log.size
                if target == 0 or (self.cosigned is not None and self.cosigned >= target):
                    self.wake.wait()
                    continue
                try:
                    progressed = self._round(http)
                except (CivicError, httpx.HTTPError) as exc:
                    self.error = str(exc) or type(exc).__name__
                    progressed = False
                except Exception as exc:  # keep the worker alive whatever a witness sends
                    log.exception("witness %s: unexpected error", self.witness_name)
                    self.error = f"unexpected error: {exc}"
                    progressed = False
                if progressed:
                    backoff = 0.0
                    continue
                backoff = min(self.owner.retry_max, max(0.05, backoff * 2))
                self.stopping.wait(backoff)

    def _round(self, http: httpx.Client) -> bool:
        """One add-checkpoint request; True if it moved things forward."""
        log_ = self.owner.log
        note = log_.signed_checkpoint()
        text = parse_note(note).text
        cp = parse_checkpoint(text)
        old = self.known if self.known is not None and self.known <= cp.size else 0
        proof = log_.consistency_proof(old, cp.size) if 0 < old < cp.size else []
        body = format_add_checkpoint(old, proof, note)
        r = self._post(http, body, old, cp.size)
        if r.status_code == 200:
            sigs = [
                s
                for s in parse_signature_lines(r.content)
                if self.verifier.verify_cosignature(text, s) is not None
            ]
            if not sigs:
                self.error = "the witness answered without a valid cosignature"
                return False
            for s in sigs:
                self.owner.book.add(cp.size, s)
            self.known = self.cosigned = cp.size
            self.error = ""
            return True
        ctype = r.headers.get("content-type", "")
        if r.status_code == 409 and ctype.startswith(SIZE_MEDIA_TYPE):
            # C2SP tlog-witness: the old size did not match; the body is the witness's size.
            try:
                theirs = int(r.text.strip())
            except ValueError:
                self.error = f"witness sent a malformed size {r.text[:40]!r}"
                return False
            if theirs > cp.size or theirs == old:
                self.error = f"witness has cosigned size {theirs}; the log is at {cp.size}"
                return False
            self.known = theirs
            return True
        self.error = f"HTTP {r.status_code}: {r.text[:300]}"
        return False

    def _post(self, http: httpx.Client, body: bytes, old: int, size: int) -> httpx.Response:
        """The add-checkpoint request, with the records ``old..size-1`` pushed if they fit."""
        if self.push and old < size <= old + PUSH_MAX_ENTRIES:
            entries = self.owner.log.entries(old, size)
            bundle = encode_bundle(entries)
            if len(entries) == size - old and len(bundle) <= PUSH_MAX_BYTES:
                r = http.post(
                    self.push_url,
                    content=body + bundle,
                    headers={
                        "Content-Type": "application/octet-stream",
                        CHECKPOINT_LENGTH: str(len(body)),
                        ENTRIES_FROM: str(old),
                    },
                )
                if ENTRIES_HEADER in r.headers:
                    return r
                log.info("witness %s does not take pushed records", self.witness_name)
                self.push = False
        return http.post(self.url, content=body)

    def status(self) -> WitnessStatus:
        return WitnessStatus(self.witness_name, self.url, self.cosigned, self.error)


class CheckpointCollector:
    """Collects witness cosignatures for the sequencer's checkpoints in the background.

    ``witnesses()`` returns the current ``[{name, vkey, url}]`` (from the state);
    :meth:`notify` is the sequencer's ``on_batch`` hook and never blocks.
    """

    def __init__(
        self,
        log_: WitnessedLog,
        book: CosignatureBook,
        witnesses: Callable[[], list[dict[str, str]]],
        retry_max: float = 5.0,
        timeout: float = 30.0,
        push: bool = True,
    ) -> None:
        self.log = log_
        self.push = push
        self.book = book
        self.witnesses = witnesses
        self.retry_max = retry_max
        self.timeout = timeout
        self._lock = threading.Lock()
        self._workers: dict[tuple[str, str, str], _WitnessWorker] = {}
        self._closed = False

    def _refresh(self) -> list[_WitnessWorker]:
        with self._lock:
            if self._closed:
                return []
            try:
                wanted = {(w["name"], w["vkey"], w["url"]): w for w in self.witnesses()}
            except (CivicError, KeyError, TypeError) as exc:
                log.warning("cannot read the witness list: %s", exc)
                wanted = {k: {"name": k[0], "vkey": k[1], "url": k[2]} for k in self._workers}
            for key in list(self._workers):
                if key not in wanted:
                    self._workers.pop(key).stop()
            for key, w in wanted.items():
                if key not in self._workers:
                    try:
                        worker = _WitnessWorker(self, w)
                    except InputError as exc:
                        log.warning("witness %s has an unusable key: %s", w.get("name"), exc)
                        continue
                    self._workers[key] = worker
                    worker.start()
            return list(self._workers.values())

    def start(self) -> None:
        """Start one worker per witness; they send the current checkpoint at once."""
        for w in self._refresh():
            w.wake.set()

    def notify(self, _accepted: Any = None) -> None:
        """A batch was integrated: wake every worker (the sequencer's ``on_batch``)."""
        try:
            for w in self._refresh():
                w.wake.set()
        except Exception:  # never disturb the append path
            log.exception("cannot notify the witness workers")

    def status(self) -> list[WitnessStatus]:
        with self._lock:
            return [w.status() for w in self._workers.values()]

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers = list(self._workers.values())
            self._workers.clear()
        for w in workers:
            w.stop()
        for w in workers:
            # Daemon threads: a request stuck on a hung witness must not hold up shutdown.
            w.join(timeout=2)
