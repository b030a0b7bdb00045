"""A verified replica of a community log, kept by witnesses and mirrors in their own database.

To reach a checkpoint signed by the log key, the replica fetches the missing entries
through the log's C2SP tlog-tiles API, checks that they extend its own tree to exactly
the signed root, replays every record through the community's rules
(:func:`ledger.state.apply_record`, the handlers the sequencer ran), and only then stores
them — entries, tree nodes, the log's checkpoint and the state views in one transaction.
So a replica holds nothing the log did not sign and the rules did not accept, and it
serves the same read API as the sequencer.

What it finds on the way is recorded in the node's :class:`EvidenceStore`:
equivocation (the signed root disagrees with the replica's own tree), an invalid record,
or bytes served by the log that differ from the ones its signed checkpoints commit to.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Sequence
from typing import Protocol, cast

import httpx

from ledger import merkle
from ledger.c2sp.checkpoint import Checkpoint, log_signed_only, read_checkpoint
from ledger.c2sp.note import NoteSigner, NoteVerifier, parse_note
from ledger.c2sp.trust import check_trust
from ledger.errors import (
    CivicError,
    ConflictError,
    ForbiddenError,
    InputError,
    IntegrityError,
    NetworkError,
    NotFoundError,
    ProofError,
    SignatureError,
    VerificationError,
)
from ledger.evidence import equivocation_with, integrity_alert, invalid_record
from ledger.log import AppendResult, Log
from ledger.log_keys import KeyHistory, LogKeyEpoch
from ledger.records import parse_record
from ledger.ruleset import RuleSet
from ledger.state import State, apply_record
from ledger.storage import LogStorage, Opening, StateChange
from ledger.tiles import TILE_WIDTH, decode_bundle, tile_path
from ledger.witness_policy import policy_from_genesis
from node.cosigning import CosignatureBook, WitnessedLog
from node.evidence import EvidenceStore
from node.log_keys import replica_history

__all__ = ["HttpSource", "Replica", "ReplicaLog", "Source", "check_own_bundle"]

log = logging.getLogger("civic.replica")

# The most entries a replica keeps from one push (node.cosigning sends at most this many).
OFFER_MAX = 4096


class _ReplayedSignature:
    """Stands in for the log's signer: it "signs" only the checkpoint the log really signed.

    :meth:`Log._append` builds the checkpoint of the tree it computed from the entries and
    asks its signer to sign it. Here the answer is the log's own signature, and only when
    the text is byte for byte the signed one, i.e. when the entries extend the replica's
    tree to exactly the signed root. Anything else refuses before a row is written.
    """

    def __init__(self, verifier: NoteVerifier) -> None:
        self.name = verifier.name
        self.key_hash = verifier.key_hash
        self._verifier = verifier
        self._expected: tuple[bytes, bytes] | None = None

    def verifier(self) -> NoteVerifier:
        return self._verifier

    def expect(
        self, text: bytes | None, signature: bytes | None = None, key_hash: bytes | None = None
    ) -> None:
        self._expected = None if text is None or signature is None else (text, signature)
        # After a rotation the log signs with another key: its line carries that key's hash.
        self.key_hash = key_hash or self._verifier.key_hash

    def sign(self, message: bytes) -> bytes:
        if self._expected is None or message != self._expected[0]:
            raise ProofError(
                "the entries do not extend this replica's tree to the root the log signed"
            )
        return self._expected[1]


class ReplicaLog(WitnessedLog):
    """A :class:`Log` that stores only entries under checkpoints the log key signed."""

    def __init__(
        self, store: LogStorage, verifier: NoteVerifier, verifiers: Sequence[NoteVerifier] = ()
    ) -> None:
        self._replay = _ReplayedSignature(verifier)
        # The stand-in quacks like a NoteSigner for the only calls Log makes on it
        # (name, key_hash, sign, verifier); see _ReplayedSignature. ``verifiers``: the keys
        # a rotated log moved to, which may have signed the stored checkpoints.
        super().__init__(store, verifier.name, cast(NoteSigner, self._replay), verifiers=verifiers)

    def append(
        self,
        new: Sequence[bytes],
        state: StateChange | None = None,
        openings: Sequence[Opening] = (),
        leaf_hashes: Sequence[bytes] | None = None,
    ) -> AppendResult:
        raise InputError("a replica stores only what the log signed: use append_signed")

    def append_signed(
        self, new: Sequence[bytes], checkpoint_note: bytes, state: StateChange | None = None
    ) -> AppendResult:
        """Append ``new`` under the log-signed ``checkpoint_note`` (one signature line)."""
        note = parse_note(checkpoint_note)
        (sig,) = note.signatures
        with self.lock:
            self._replay.expect(note.text.encode("utf-8"), sig.signature, sig.key_hash)
            try:
                return self._append(new, state)
            finally:
                self._replay.expect(None)

    def signed_checkpoint(self) -> bytes:
        if self.size == 0:
            raise NotFoundError("this replica has not verified any checkpoint of the log yet")
        return super().signed_checkpoint()

    def remember_checkpoint(self, size: int, note: bytes) -> None:
        """Keep the log's checkpoint of an earlier ``size`` (checked by the caller)."""
        try:
            super().signed_checkpoint_at(size)
            return
        except NotFoundError:
            pass
        self.store.add_checkpoint(size, note)


class Source(Protocol):
    """Where a replica reads the log: one small fetcher interface (an in-memory twin in
    the tests, :class:`HttpSource` in a node)."""

    url: str

    def get(self, path: str) -> bytes: ...

    def checkpoint(self) -> bytes: ...

    def bundle(self, index: int, width: int) -> list[bytes]: ...

    def close(self) -> None: ...


class HttpSource:
    """Reads a log's C2SP tlog-tiles API (and a civic node's checkpoint routes) over HTTP."""

    def __init__(self, url: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def get(self, path: str) -> bytes:
        """GET ``path``; NotFoundError for 404, NetworkError otherwise."""
        try:
            r = self._http.get(self.url + path)
        except httpx.HTTPError as exc:
            raise NetworkError(f"cannot reach {self.url}: {exc or type(exc).__name__}") from exc
        if r.status_code == 404:
            raise NotFoundError(f"{self.url}{path}: not found")
        if r.status_code != 200:
            raise NetworkError(f"{self.url}{path}: HTTP {r.status_code}")
        return r.content

    def checkpoint(self) -> bytes:
        """The log's newest checkpoint note (with whatever cosignatures it carries)."""
        return self.get("/log/checkpoint")

    def bundle(self, index: int, width: int) -> list[bytes]:
        """Entry bundle ``index`` with ``width`` entries (C2SP tlog-tiles)."""
        got = decode_bundle(self.get("/log/" + tile_path(None, index, width)))
        if len(got) != width:
            raise IntegrityError(
                f"{self.url} served entry bundle {index} with {len(got)} entries, not {width}"
            )
        return got


def check_own_bundle(lg: Log, bundle: int) -> str | None:
    """Re-hash the stored entries of one bundle; a sentence if they no longer match.

    Catches records edited in the database behind the log's back: each entry's bytes must
    hash to its stored leaf hash, and a full bundle's leaves to the stored level-8 node.
    """
    size = lg.size
    lo = bundle * TILE_WIDTH
    hi = min(size, lo + TILE_WIDTH)
    if lo >= hi:
        return None
    data = lg.entries(lo, hi)
    stored = lg.leaf_hashes(lo, hi)
    if len(data) != hi - lo or len(stored) != hi - lo:
        return f"records {lo}..{hi - 1} are missing from the database"
    for i, (d, h) in enumerate(zip(data, stored, strict=True)):
        if merkle.leaf_hash(d) != h:
            return (
                f"record {lo + i}: the stored bytes no longer hash to the leaf the log "
                "committed to; the database was altered outside the log"
            )
    if hi - lo == TILE_WIDTH:
        # The bundle's subtree root is tile 1/<bundle // 256>, hash bundle % 256.
        pos = bundle % TILE_WIDTH
        tile = lg.tile(1, bundle // TILE_WIDTH, pos + 1)
        if merkle.root_from_leaves(stored) != tile[pos * 32 : pos * 32 + 32]:
            return (
                f"records {lo}..{hi - 1}: their leaf hashes no longer match the stored tree; "
                "the database was altered outside the log"
            )
    return None


class Replica:
    """The verified copy of the log and its replayed state (witness and mirror)."""

    def __init__(
        self,
        log_: ReplicaLog,
        store: LogStorage,
        evidence: EvidenceStore,
        source: Source | None,
        name: str,
        rules: RuleSet,
    ) -> None:
        self.log = log_
        self.rules = rules
        self.store = store
        self.evidence = evidence
        self.source = source
        self.name = name
        self.verifier = log_.verifier
        # The genesis key (the trust root); the keys after it come from the replayed
        # log.rotate records (docs/adr/0012-log-key-rotation.md).
        self.genesis_verifier = log_.verifier
        self.origin = log_.origin
        self.lock = threading.RLock()
        self.state = self._load_state()
        # Entries pushed with a checkpoint (first index, entries): used in place of a fetch
        # when they extend our tree to the signed root, dropped otherwise. Never trusted.
        self._offered: tuple[int, list[bytes]] | None = None
        self._follow_keys()

    def _load_state(self) -> State:
        state = self.store.read_state(self.rules)
        if state.size != self.log.size or (state.size and state.head != self.log.head):
            raise IntegrityError(
                f"the replica's state views (size {state.size}) do not match its log "
                f"(size {self.log.size})"
            )
        state.take_dirty()
        return state

    def close(self) -> None:
        if self.source is not None:
            self.source.close()

    # --- syncing ----------------------------------------------------------------------

    def offer(self, first: int, entries: Sequence[bytes]) -> bool:
        """Keep ``entries`` (claimed to be records ``first``, ``first + 1``, ...) for the next
        :meth:`sync_to`, which uses them instead of fetching the same records from the log.

        Whoever pushes them is not trusted: they are used only if they extend this
        replica's tree to exactly a root the log signed (and are then replayed like fetched
        ones); otherwise they are dropped and the records fetched, with no evidence held
        against the log. False when they cannot be of use (not contiguous with the tree).
        """
        with self.lock:
            size = self.log.size
            if not entries or len(entries) > OFFER_MAX or not first <= size < first + len(entries):
                return False
            self._offered = (first, list(entries))
            return True

    def _take_offered(self, lo: int, hi: int) -> list[bytes] | None:
        offered, self._offered = self._offered, None
        if offered is None:
            return None
        first, got = offered
        if first > lo or first + len(got) < hi:
            return None
        return got[lo - first : hi - first]

    def _extends_to(self, entries: list[bytes], cp: Checkpoint) -> list[bytes] | None:
        """The leaf hashes of ``entries`` if they extend our tree to ``cp``'s root."""
        frontier = self.log.compact_range(self.log.size)
        leaves = [merkle.leaf_hash(e) for e in entries]
        for lh in leaves:
            frontier.append(lh)
        return leaves if frontier.root() == cp.root_hash else None

    def history(self) -> KeyHistory:
        """The log's keys as this replica's verified state knows them."""
        return replica_history(self.state, self.genesis_verifier)

    def _follow_keys(self) -> None:
        """Verify with the log's current key from now on (gossip, witness, routes)."""
        history = self.history()
        current = history.current.verifier
        self.verifier = current
        self.log.verifier = current
        known = {v.vkey() for v in self.log.verifiers}
        self.log.verifiers.extend(v for v in history.verifiers() if v.vkey() not in known)

    def open(self, note: bytes) -> tuple[Checkpoint, bytes]:
        """Verify the log's signature on ``note`` with the key its size falls under; the
        checkpoint and the log-only note (that key's signature line).

        A note beyond this replica's tree may come after a ``log.rotate`` it has not
        replayed yet: signed by a key it does not know, or (the hand-over) by the old and
        the new key. Then the missing entries are fetched and the key their rotation
        records name for the note's size is the one checked; the replay then checks the
        rotation's rules, and that its state names that key, before anything is stored."""
        size = read_checkpoint(note).size
        history = self.history()
        if size > self.log.size and self.source is not None:
            mine = {s.key_hash for s in parse_note(note).signatures if s.name == self.origin}
            known = {v.key_hash for v in history.verifiers()}
            # A key this log never had (or the hand-over's two): a rotation may be among the
            # new entries. A note by an older key alone is simply refused below.
            if len(mine) > 1 or mine - known:
                # No such entries served: the signature check below refuses the note.
                with contextlib.suppress(NotFoundError):
                    history = self._announced_keys(size)
        key = history.key_for(size)
        try:
            return log_signed_only(note, key)
        except SignatureError as exc:
            raise SignatureError(
                f"checkpoint of size {size} is not signed by the log key its size falls "
                f"under ({key.vkey()}): {exc.message}"
            ) from exc

    def _announced_keys(self, size: int) -> KeyHistory:
        """The history extended by the log.rotate records among the entries up to ``size``
        (unverified: only a candidate to check the signature with)."""
        history = self.history()
        with self.lock:
            entries = self._fetch_raw(self.log.size, size)
        first = self.log.size
        for k, data in enumerate(entries):
            try:
                env = parse_record(data).envelope
                st = env["statement"]
                if st["type"] != "log.rotate" or st["body"].get("old_vkey") != history.current.vkey:
                    continue
                history = history.with_rotation(
                    LogKeyEpoch(
                        str(st["body"]["new_vkey"]),
                        first + k + 1,
                        first + k,
                        st["body"].get("old_key"),
                    )
                )
            except (CivicError, KeyError, TypeError, AttributeError):
                continue  # the replay will judge this record
        return history

    def _fetch_raw(self, lo: int, hi: int) -> list[bytes]:
        assert self.source is not None
        out: list[bytes] = []
        i = lo
        while i < hi:
            b = i // TILE_WIDTH
            start = b * TILE_WIDTH
            width = min(TILE_WIDTH, hi - start)
            out.extend(self.source.bundle(b, width)[i - start :])
            i = start + width
        return out

    def sync_to(self, note: bytes) -> Checkpoint:
        """Reach the checkpoint ``note`` (signed by the log key), verifying everything.

        Raises ForbiddenError once any evidence is held (a replica stops following a log
        it has evidence against), VerificationError (with evidence recorded) when the log
        contradicts itself or a record breaks a rule, ProofError/IntegrityError when the
        served entries do not match the signed root, NetworkError when the log is away.
        """
        cp, log_note = self.open(note)
        with self.lock:
            if self.evidence.count():
                raise ForbiddenError("this node holds evidence against the log; it stopped")
            size = self.log.size
            if cp.size <= size:
                # 1. A checkpoint within our tree: its root must be our prefix's root.
                if cp.size and self.log.root_at(cp.size) != cp.root_hash:
                    self._equivocation(cp, log_note)
                return cp
            # 2. The missing entries: pushed with the checkpoint, if they prove to be the
            #    signed ones (3.); else fetched through the tiles API.
            pushed = self._take_offered(size, cp.size)
            leaves = None if pushed is None else self._extends_to(pushed, cp)
            if pushed is not None and leaves is not None:
                self._replay_and_store(pushed, leaves, cp, log_note)
                return cp
            if self.source is None:
                raise NetworkError("this replica has no log URL to fetch entries from")
            entries = self._fetch(size, cp.size, log_note)
            # 3. They must extend our tree to exactly the signed root.
            leaves = self._extends_to(entries, cp)
            if leaves is None:
                reason = (
                    f"the entries {size}..{cp.size - 1} served by {self.source.url} do not "
                    f"hash to the root of the log's signed checkpoint of size {cp.size}"
                )
                self.evidence.add(
                    integrity_alert(self.origin, reason, None, None, log_note), self.name
                )
                raise ProofError(reason)
            # 4. Replay every record through the rules, then store it all in one transaction.
            self._replay_and_store(entries, leaves, cp, log_note)
            return cp

    def _fetch(self, lo: int, hi: int, log_note: bytes) -> list[bytes]:
        assert self.source is not None
        out: list[bytes] = []
        i = lo
        while i < hi:
            b = i // TILE_WIDTH
            start = b * TILE_WIDTH
            width = min(TILE_WIDTH, hi - start)
            got = self.source.bundle(b, width)
            if start < lo and i == lo:
                # The bundle repeats records we already verified: they must not have changed.
                self._compare_served(start, got[: lo - start], log_note)
            out.extend(got[i - start :])
            i = start + width
        return out

    def _compare_served(self, start: int, served: Sequence[bytes], log_note: bytes) -> None:
        mine = self.log.entries(start, start + len(served))
        for k, (a, b) in enumerate(zip(mine, served, strict=True)):
            if a != b:
                idx = start + k
                url = self.source.url if self.source is not None else "the log"
                reason = (
                    f"{url} serves record {idx} with bytes that differ from the record its "
                    "signed checkpoints commit to (verified earlier by this node): the log's "
                    "database was altered"
                )
                self.evidence.add(integrity_alert(self.origin, reason, idx, b, log_note), self.name)
                raise IntegrityError(reason)

    def _replay_and_store(
        self, entries: list[bytes], leaves: list[bytes], cp: Checkpoint, log_note: bytes
    ) -> None:
        state = self.state
        first = self.log.size
        old_size, old_head = state.size, state.head
        bad: tuple[int, Exception] | None = None
        try:
            with state.transaction():
                for k, data in enumerate(entries):
                    try:
                        apply_record(state, parse_record(data))
                    except Exception as exc:  # any failure of a record is its fault
                        bad = (first + k, exc)
                        raise
                # The key that signed this checkpoint must be the one the replayed records
                # give its size (a rotation takes effect only through a valid log.rotate).
                expected = replica_history(state, self.genesis_verifier).key_for(cp.size)
                (sig,) = parse_note(log_note).signatures
                if sig.key_hash != expected.key_hash:
                    raise SignatureError(
                        f"the checkpoint of size {cp.size} is signed by a key that the log's "
                        f"records do not name for that size (expected {expected.vkey()})"
                    )
        except Exception:
            state.size, state.head = old_size, old_head
            state.take_dirty()
            if bad is None:
                raise
            idx, cause = bad
            msg = (
                cause.message
                if isinstance(cause, CivicError)
                else f"{type(cause).__name__}: {cause}"
            )
            reason = f"record {idx} breaks the community's rules: {msg}"
            all_leaves = self.log.leaf_hashes(0, first) + leaves
            proof = merkle.inclusion_proof_from_leaves(idx, all_leaves)
            self.evidence.add(
                invalid_record(self.origin, log_note, idx, entries[idx - first], proof, reason),
                self.name,
            )
            raise ConflictError(reason) from cause
        change = StateChange(state.take_dirty(), state.size, state.head)
        try:
            self.log.append_signed(entries, log_note, change)
        except Exception:
            # The state ran ahead of a batch that was not stored: reload it.
            self.state = self._load_state()
            raise
        self._follow_keys()

    def _equivocation(self, cp: Checkpoint, log_note: bytes) -> None:
        """Record that a signed checkpoint contradicts our verified tree, and raise."""
        ev = equivocation_with(self.log, self.origin, cp, log_note)
        self.evidence.add(ev, self.name)
        raise VerificationError(f"equivocation: {ev.reason}")

    # --- cosignatures seen elsewhere ---------------------------------------------------

    def learn_cosignatures(self, note: bytes, book: CosignatureBook) -> int:
        """Keep the valid witness cosignatures of a checkpoint within our tree; how many."""
        cp, log_note = self.open(note)
        if cp.size == 0 or cp.size > self.log.size:
            return 0
        if self.log.root_at(cp.size) != cp.root_hash:
            return 0
        try:
            policy = policy_from_genesis(self.state)
        except InputError:
            return 0
        # The one trusted-checkpoint check; only its valid cosignatures are kept (the log
        # signature was checked above, the quorum is the book's business).
        found = check_trust(note, policy).cosignatures
        valid = [c.signature for c in found if c.signature is not None]
        if not valid:
            return 0
        self.log.remember_checkpoint(cp.size, log_note)
        return sum(1 for sig in valid if book.add(cp.size, sig))

    # --- checking the source ----------------------------------------------------------

    def spot_check_source(self, bundle: int) -> str | None:
        """Compare one entry bundle served by the log with our verified copy."""
        if self.source is None:
            return None
        size = self.log.size
        start = bundle * TILE_WIDTH
        if start >= size:
            return None
        width = min(TILE_WIDTH, size - start)
        try:
            served = self.source.bundle(bundle, width)
        except (NetworkError, NotFoundError):
            return None
        except IntegrityError as exc:
            # The log no longer serves records its signed checkpoints commit to (e.g. a
            # tail deleted from its database): a finding, not a failed gossip round.
            reason = f"{exc.message}, though this node verified them earlier: records were lost"
            self.evidence.add(
                integrity_alert(self.origin, reason, start, None, self.log.signed_checkpoint()),
                self.name,
            )
            return reason
        try:
            self._compare_served(start, served, self.log.signed_checkpoint())
        except IntegrityError as exc:
            return exc.message
        return None
