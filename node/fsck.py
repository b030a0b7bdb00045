"""``civic node fsck``: check a node's database offline, everything, and list every problem.

Like Tessera's fsck, the database is read from the first record to the last and nothing is
taken on trust, not even the stored hashes:

1. **records** — every index present; each entry's stored leaf hash is SHA-256(0x00 ||
   bytes); each record parses, has its own index and its ``prev`` is the leaf hash of the
   record before it (the hash chain); the leaf-hash index finds each record at its index;
   every record replays through the community's rules from genesis.
2. **tree** — every stored interior node hashes from its two stored children (RFC 9162
   §2.1.1), none is missing, none lies beyond the tree.
3. **checkpoints** — each stored checkpoint is signed by the log key, for this origin, no
   larger than the log, and its root is the root of the tree recomputed *from the record
   bytes* at its size; the newest one is of the log's size. A witness's own record of what
   it cosigned is checked the same way.
4. **cosignatures** — each stored cosignature belongs to a stored checkpoint and verifies
   under a witness key the community named.
5. **state** — the state views equal a fresh replay of the records.
6. the engine's own check (SQLite ``PRAGMA integrity_check``), and a data folder's
   watermark (``newest-checkpoint``) against the database.

Each check goes on after a problem, so one run lists them all. The node must not be
writing: stop it first (a running node's own checks are :mod:`node.integrity`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import and_, func, select, text

from ledger import merkle
from ledger.c2sp.checkpoint import open_checkpoint
from ledger.c2sp.cosignature import CosignatureVerifier, parse_cosigner_vkey
from ledger.c2sp.note import NoteVerifier, parse_note, parse_signature_lines, parse_vkey
from ledger.errors import CivicError, InputError, StorageError
from ledger.records import GENESIS_PREV, parse_record
from ledger.ruleset import RuleSet
from ledger.sql import (
    APPEND_ONLY_TABLES,
    NODE_SHIFT,
    SqlStore,
    checkpoints,
    cosignatures_table,
    entries,
    node_key,
    nodes,
    witness_checkpoints,
)
from ledger.state import State, apply_record
from node.config import CONFIG_FILE, configured_log_key, load_config, load_log_key
from rules import community_rules

__all__ = [
    "BATCH",
    "FsckReport",
    "NullProgress",
    "Problem",
    "Progress",
    "fsck_data_dir",
    "fsck_database",
    "fsck_store",
]


class Progress(Protocol):
    """Where fsck reports how far it got (a terminal bar, or nothing); the same shape as
    the audit's, so the CLI's rich bar serves both (node/ does not import audits/)."""

    def start(self, phase: str, total: int | None, unit: str) -> None: ...

    def advance(self, phase: str, n: int = 1) -> None: ...

    def finish(self, phase: str) -> None: ...


class NullProgress:
    """Progress that shows nothing."""

    def start(self, phase: str, total: int | None, unit: str) -> None:
        return None

    def advance(self, phase: str, n: int = 1) -> None:
        return None

    def finish(self, phase: str) -> None:
        return None


BATCH = 4096
# Problems of one kind listed in full; beyond that they are counted.
MAX_LISTED = 100
DISTRICT_FILE = "district.json"


@dataclass(frozen=True)
class Problem:
    """One thing found wrong: which check (``kind``), a sentence, and the record if any."""

    kind: str
    message: str
    index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "index": self.index}


@dataclass
class FsckReport:
    """Everything one fsck run checked and found."""

    target: str
    size: int = 0
    checked: dict[str, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    _counts: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def clean(self) -> bool:
        return not self.problems and not self.omitted

    @property
    def omitted(self) -> int:
        """Problems found beyond the ones listed (:data:`MAX_LISTED` per kind)."""
        return sum(max(0, n - MAX_LISTED) for n in self._counts.values())

    def add(self, kind: str, message: str, index: int | None = None) -> None:
        n = self._counts.get(kind, 0) + 1
        self._counts[kind] = n
        if n <= MAX_LISTED:
            self.problems.append(Problem(kind, message, index))

    def verdict(self) -> str:
        """The one-line verdict."""
        what = ", ".join(f"{n} {k}" for k, n in self.checked.items())
        if self.clean:
            return f"fsck {self.target}: clean ({what})"
        total = len(self.problems) + self.omitted
        return f"fsck {self.target}: {total} problem(s) found ({what})"

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "clean": self.clean,
            "size": self.size,
            "checked": self.checked,
            "problems": [p.to_json() for p in self.problems],
            "omitted": self.omitted,
            "notes": self.notes,
            "verdict": self.verdict(),
        }


# --- reading the tables ---------------------------------------------------------------


def _entry_rows(store: SqlStore, lo: int, hi: int) -> list[tuple[int, bytes, bytes]]:
    q = (
        select(entries.c.idx, entries.c.data, entries.c.leaf_hash)
        .where(and_(entries.c.idx >= lo, entries.c.idx < hi))
        .order_by(entries.c.idx)
    )
    with store.engine.connect() as conn:
        return [(int(i), bytes(d), bytes(h)) for i, d, h in conn.execute(q)]


def _level(store: SqlStore, level: int, lo: int, hi: int) -> dict[int, bytes]:
    """Stored hashes at ``level`` (0: the leaf-hash column) with indexes [lo, hi)."""
    with store.engine.connect() as conn:
        if level == 0:
            q0 = select(entries.c.idx, entries.c.leaf_hash).where(
                and_(entries.c.idx >= lo, entries.c.idx < hi)
            )
            return {int(i): bytes(h) for i, h in conn.execute(q0)}
        mask = (1 << NODE_SHIFT) - 1
        q = select(nodes.c.nid, nodes.c.hash).where(
            and_(nodes.c.nid >= node_key(level, lo), nodes.c.nid < node_key(level, hi))
        )
        return {int(k) & mask: bytes(h) for k, h in conn.execute(q)}


def _chunks(lo: int, hi: int, step: int) -> Iterator[tuple[int, int]]:
    while lo < hi:
        yield lo, min(hi, lo + step)
        lo += step


# --- the checks -------------------------------------------------------------------------


def _witness_keys(state: State) -> dict[tuple[str, bytes], CosignatureVerifier]:
    """Every witness key the community named, at genesis or since."""
    docs: list[Any] = []
    genesis = state.peek("community", "genesis") or {}
    docs += list(genesis.get("witnesses", []) or [])
    current = state.peek("witnesses", "current") or {}
    docs += list(current.get("witnesses", []) or [])
    out: dict[tuple[str, bytes], CosignatureVerifier] = {}
    for w in docs:
        try:
            v = parse_cosigner_vkey(str(w["vkey"]))
        except (CivicError, KeyError, TypeError):
            continue
        out[(v.name, v.key_hash)] = v
    return out


class _Fsck:
    """One run over one database."""

    def __init__(
        self,
        store: SqlStore,
        verifier: NoteVerifier,
        rules: RuleSet,
        report: FsckReport,
        progress: Progress,
        batch: int,
    ) -> None:
        self.store = store
        self.verifier = verifier
        self.rules = rules
        self.report = report
        self.progress = progress
        self.batch = batch
        self.roots: dict[int, bytes] = {}

    def run(self, extra_sizes: Iterable[int] = ()) -> State | None:
        size = self.store.size()
        self.report.size = size
        with self.store.engine.connect() as conn:
            cps = [(int(s), bytes(n)) for s, n in conn.execute(select(checkpoints))]
            wcs = [
                (str(o), int(s), bytes(r), bytes(n))
                for o, s, r, n in conn.execute(
                    select(
                        witness_checkpoints.c.origin,
                        witness_checkpoints.c.size,
                        witness_checkpoints.c.root,
                        witness_checkpoints.c.note,
                    )
                )
            ]
        wanted = {s for s, _ in cps} | {s for _, s, _, _ in wcs} | set(extra_sizes)
        state = self._records(size, wanted)
        self._tree(size)
        self._checkpoints(size, cps, wcs)
        self._cosignatures(cps, state)
        if state is not None:
            self._state(state)
        self._engine()
        return state

    # 1. records, chain, leaf index, replay -----------------------------------------

    def _records(self, size: int, wanted: set[int]) -> State | None:
        rep = self.report
        frontier = merkle.CompactRange()
        if 0 in wanted:
            self.roots[0] = merkle.EMPTY_ROOT
        state: State | None = State(self.rules)
        prev = GENESIS_PREV
        self.progress.start("records", size, "records")
        for lo, hi in _chunks(0, size, self.batch):
            rows = {i: (d, h) for i, d, h in _entry_rows(self.store, lo, hi)}
            self._leaf_index(rows)
            for i in range(lo, hi):
                got = rows.get(i)
                if got is None:
                    rep.add("records", f"record {i} is missing from the database", i)
                    # Unknown bytes: the tree above it and the replay cannot be recomputed.
                    frontier.append(merkle.EMPTY_ROOT)
                    state, prev = None, GENESIS_PREV
                    continue
                data, stored = got
                lh = merkle.leaf_hash(data)
                if lh != stored:
                    rep.add(
                        "records",
                        f"record {i}: its stored leaf hash is not the hash of its bytes "
                        "(the bytes or the hash were altered)",
                        i,
                    )
                frontier.append(lh)
                if frontier.size in wanted:
                    self.roots[frontier.size] = frontier.root()
                try:
                    rec = parse_record(data)
                except CivicError as exc:
                    rep.add("records", f"record {i} is not a record: {exc.message}", i)
                    state, prev = None, lh.hex()
                    continue
                if rec.index != i:
                    rep.add("chain", f"record {i} says it is record {rec.index}", i)
                if rec.prev != prev:
                    rep.add(
                        "chain",
                        f"record {i}: its prev is not the leaf hash of record {i - 1} "
                        "(the hash chain is broken here)"
                        if i
                        else "record 0: its prev is not 64 zeros",
                        i,
                    )
                prev = lh.hex()
                if state is not None and rec.index == state.size and rec.prev == state.head:
                    try:
                        apply_record(state, rec)
                    except Exception as exc:  # any failure of a record is its fault
                        msg = exc.message if isinstance(exc, CivicError) else repr(exc)
                        rep.add("rules", f"record {i} breaks the community's rules: {msg}", i)
                        state = None
                elif state is not None:
                    state = None
            self.progress.advance("records", hi - lo)
        self.progress.finish("records")
        rep.checked["records"] = size
        if state is None and size:
            rep.notes.append("the state views were not compared: the records could not be replayed")
        self.frontier = frontier
        return state

    def _leaf_index(self, rows: dict[int, tuple[bytes, bytes]]) -> None:
        """Each stored leaf hash, looked up by the index, must lead to its own record."""
        if not rows:
            return
        by_hash: dict[bytes, list[int]] = {}
        leaves = [h for _, h in rows.values()]
        q = select(entries.c.idx, entries.c.leaf_hash).where(entries.c.leaf_hash.in_(leaves))
        with self.store.engine.connect() as conn:
            for i, h in conn.execute(q):
                by_hash.setdefault(bytes(h), []).append(int(i))
        for i, (_, h) in rows.items():
            found = sorted(by_hash.get(h, []))
            if i not in found:
                self.report.add(
                    "leaf-index",
                    f"record {i}: the leaf-hash index does not find it by its leaf hash",
                    i,
                )
            elif len(found) > 1:
                others = ", ".join(str(j) for j in found if j != i)
                self.report.add(
                    "leaf-index", f"record {i} has the same leaf hash as record(s) {others}", i
                )

    # 2. the stored tree ------------------------------------------------------------

    def _tree(self, size: int) -> None:
        rep = self.report
        total = sum(size >> lvl for lvl in range(1, max(size, 1).bit_length() + 1))
        self.progress.start("tree", total, "nodes")
        checked = 0
        level = 1
        while size >> level:
            count = size >> level
            for lo, hi in _chunks(0, count, self.batch):
                kids = _level(self.store, level - 1, 2 * lo, 2 * hi)
                mine = _level(self.store, level, lo, hi)
                for j in range(lo, hi):
                    left, right = kids.get(2 * j), kids.get(2 * j + 1)
                    stored = mine.get(j)
                    first, last = j << level, ((j + 1) << level) - 1
                    if stored is None:
                        rep.add(
                            "tree",
                            f"tree node (level {level}, index {j}) over records "
                            f"{first}..{last} is missing",
                            first,
                        )
                    elif (
                        left is not None
                        and right is not None
                        and merkle.node_hash(left, right) != stored
                    ):
                        rep.add(
                            "tree",
                            f"tree node (level {level}, index {j}) over records "
                            f"{first}..{last} does not hash from its two children",
                            first,
                        )
                checked += hi - lo
                self.progress.advance("tree", hi - lo)
            level += 1
        self.progress.finish("tree")
        # Nodes past the tree's edge: written by something that is not the log.
        with self.store.engine.connect() as conn:
            top = max(size, 1).bit_length()
            for lvl in range(1, top + 2):
                lo_key = node_key(lvl, size >> lvl)
                cond = nodes.c.nid >= lo_key
                if lvl <= top:
                    cond = and_(cond, nodes.c.nid < node_key(lvl + 1, 0))
                n = conn.execute(select(func.count()).select_from(nodes).where(cond)).scalar()
                if n:
                    where = f"at level {lvl}" if lvl <= top else f"above level {top}"
                    rep.add(
                        "tree",
                        f"{n} tree node(s) {where} lie beyond the tree of {size} records",
                    )
        rep.checked["tree nodes"] = checked

    # 3. checkpoints ----------------------------------------------------------------

    def _open(self, note: bytes, what: str) -> Any:
        try:
            cp, _ = open_checkpoint(note, self.verifier)
        except CivicError as exc:
            self.report.add("checkpoints", f"{what} is not signed by the log key: {exc.message}")
            return None
        if cp.origin != self.verifier.name:
            self.report.add("checkpoints", f"{what} is for origin {cp.origin!r}")
            return None
        return cp

    def _root_check(self, size: int, root: bytes, what: str) -> None:
        if size > self.report.size:
            self.report.add(
                "checkpoints", f"{what} is larger than the log ({self.report.size} records)"
            )
        elif self.roots.get(size) is not None and self.roots[size] != root:
            self.report.add(
                "checkpoints",
                f"{what} has a root that is not the root of the tree recomputed from the "
                f"first {size} records",
            )

    def _checkpoints(
        self, size: int, cps: list[tuple[int, bytes]], wcs: list[tuple[str, int, bytes, bytes]]
    ) -> None:
        rep = self.report
        self.progress.start("checkpoints", len(cps) + len(wcs), "checkpoints")
        for s, note in cps:
            what = f"the stored checkpoint of size {s}"
            cp = self._open(note, what)
            if cp is not None:
                if cp.size != s:
                    rep.add("checkpoints", f"{what} is a checkpoint of size {cp.size}")
                self._root_check(cp.size, cp.root_hash, what)
            self.progress.advance("checkpoints")
        newest = max((s for s, _ in cps), default=None)
        if size and newest is None:
            rep.add("checkpoints", f"the log has {size} records but no checkpoint")
        elif newest is not None and newest != size:
            rep.add(
                "checkpoints",
                f"the newest checkpoint is of size {newest} but the log has {size} records",
            )
        for origin, s, root, note in wcs:
            what = f"the witness's cosigned checkpoint of size {s}"
            if origin != self.verifier.name:
                rep.notes.append(f"witness record for another log {origin!r} not checked")
                continue
            cp = self._open(note, what)
            if cp is not None:
                if cp.size != s or cp.root_hash != root:
                    rep.add("checkpoints", f"{what} does not match its own size or root columns")
                self._root_check(cp.size, cp.root_hash, what)
            self.progress.advance("checkpoints")
        self.progress.finish("checkpoints")
        rep.checked["checkpoints"] = len(cps) + len(wcs)

    # 4. cosignatures ---------------------------------------------------------------

    def _cosignatures(self, cps: list[tuple[int, bytes]], state: State | None) -> None:
        rep = self.report
        keys = _witness_keys(state) if state is not None else {}
        texts: dict[int, str] = {}
        for s, note in cps:
            try:
                texts[s] = parse_note(note).text
            except CivicError:
                continue
        n = 0
        with self.store.engine.connect() as conn:
            rows = list(
                conn.execute(
                    select(
                        cosignatures_table.c.size,
                        cosignatures_table.c.witness,
                        cosignatures_table.c.line,
                    )
                )
            )
        for s, slot, line in rows:
            n += 1
            s = int(s)
            what = f"the cosignature of the checkpoint of size {s} by {slot}"
            body = texts.get(s)
            if body is None:
                rep.add("cosignatures", f"{what} belongs to no stored checkpoint")
                continue
            try:
                (sig,) = parse_signature_lines(str(line).encode("utf-8"))
            except (CivicError, ValueError) as exc:
                rep.add("cosignatures", f"{what} is not a signature line: {exc}")
                continue
            if state is None:
                continue
            v = keys.get((sig.name, sig.key_hash))
            if v is None:
                rep.add("cosignatures", f"{what} is by a key the community never named")
            elif v.verify_cosignature(body, sig) is None:
                rep.add("cosignatures", f"{what} does not verify under the witness's key")
        rep.checked["cosignatures"] = n

    # 5. the state views ------------------------------------------------------------

    def _state(self, replayed: State) -> None:
        rep = self.report
        try:
            stored = self.store.read_state(self.rules)
        except (StorageError, ValueError) as exc:
            rep.add("state", f"the state views cannot be read: {exc}")
            return
        if (stored.size, stored.head) != (replayed.size, replayed.head):
            rep.add(
                "state",
                f"the state views stand at record {stored.size} (head {stored.head[:16]}…) but "
                f"the replay at {replayed.size} (head {replayed.head[:16]}…)",
            )
        a, b = stored.snapshot(), replayed.snapshot()
        names = sorted(set(a) | set(b))
        total = sum(len(set(a.get(ns, {})) | set(b.get(ns, {}))) for ns in names)
        self.progress.start("state", total, "documents")
        n = 0
        for ns in names:
            docs_a, docs_b = a.get(ns, {}), b.get(ns, {})
            for key in sorted(set(docs_a) | set(docs_b)):
                n += 1
                self.progress.advance("state")
                if key not in docs_b:
                    rep.add("state", f"state view {ns}/{key} is not in the replay of the records")
                elif key not in docs_a:
                    rep.add("state", f"state view {ns}/{key} is missing (the replay has it)")
                elif json.dumps(docs_a[key], sort_keys=True) != json.dumps(
                    docs_b[key], sort_keys=True
                ):
                    rep.add("state", f"state view {ns}/{key} differs from the replay")
        self.progress.finish("state")
        rep.checked["state documents"] = n

    # 6. the engine -----------------------------------------------------------------

    def _engine(self) -> None:
        if self.store.dialect != "sqlite":
            return
        with self.store.engine.connect() as conn:
            lines = [str(r[0]) for r in conn.execute(text("PRAGMA integrity_check"))]
        if lines != ["ok"]:
            for line in lines:
                self.report.add("database", f"SQLite integrity_check: {line}")


def fsck_store(
    store: SqlStore,
    verifier: NoteVerifier,
    target: str,
    progress: Progress | None = None,
    rules: RuleSet | None = None,
    batch: int = BATCH,
    watermark: bytes | None = None,
) -> FsckReport:
    """Check every record, tree node, checkpoint, cosignature and state view of ``store``.

    ``verifier`` is the log's key; ``watermark`` the note of a data folder's
    ``newest-checkpoint`` file (the newest checkpoint the node signed or verified), if any.
    Never raises for what it finds: each problem is in the report.
    """
    report = FsckReport(target)
    run = _Fsck(store, verifier, rules or community_rules(), report, progress or NullProgress(), batch)  # fmt: skip
    wm = None
    if watermark is not None:
        try:
            wm, _ = open_checkpoint(watermark, verifier)
        except CivicError as exc:
            report.add("watermark", f"newest-checkpoint is not signed by the log key: {exc.message}")  # fmt: skip
    run.run([wm.size] if wm is not None else [])
    if wm is not None:
        if wm.size > report.size:
            report.add(
                "watermark",
                f"the node signed or verified a checkpoint of {wm.size} records (newest-checkpoint) "
                f"but the database holds {report.size}: records were lost (rolled back)",
            )
        elif run.roots.get(wm.size, wm.root_hash) != wm.root_hash:
            report.add(
                "watermark",
                f"the database's tree of {wm.size} records is not the one in newest-checkpoint: "
                "the database was replaced",
            )
    return report


def fsck_database(url: str, log_vkey: str | None, progress: Progress | None = None) -> FsckReport:
    """Check the database at ``url`` (e.g. PostgreSQL, with its schema in the URL).

    Without ``log_vkey`` the key is read from the database's genesis record, which only
    proves the log agrees with itself; pass the key the community published to pin it.
    """
    store = SqlStore(url)
    try:
        report_note: str | None = None
        if log_vkey is None:
            first = store.read_entries(0, 1)
            if not first:
                raise InputError("the database holds no log (no record 0); nothing to check")
            try:
                env = parse_record(first[0]).envelope
                log_vkey = str(env["statement"]["body"]["log_vkey"])
            except (CivicError, KeyError, TypeError) as exc:
                raise InputError(
                    "record 0 names no log key: pass --log-vkey with the community's key"
                ) from exc
            report_note = (
                "the log key was read from the database's own genesis: pass --log-vkey to "
                "check it against the key the community published"
            )
        report = fsck_store(store, parse_vkey(log_vkey), _redact(url), progress)
        if report_note:
            report.notes.append(report_note)
        return report
    finally:
        store.close()


def _redact(url: str) -> str:
    """The URL without its password, for the report."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "the database"


def _folder_verifier(data_dir: Path) -> NoteVerifier:
    cfg = load_config(data_dir)
    if cfg.role == "sequencer":
        return load_log_key(data_dir).verifier()
    return configured_log_key(cfg)


def fsck_data_dir(data_dir: Path, progress: Progress | None = None) -> list[FsckReport]:
    """Check a node's data folder (every community of a district folder), one report each."""
    if (data_dir / DISTRICT_FILE).is_file() and not (data_dir / CONFIG_FILE).is_file():
        folders = sorted(
            p for p in (data_dir / "communities").glob("*") if (p / CONFIG_FILE).is_file()
        )
        if not folders:
            raise InputError(f"the district folder {data_dir} serves no community yet")
    else:
        folders = [data_dir]
    out = []
    for folder in folders:
        cfg = load_config(folder)
        verifier = _folder_verifier(folder)
        if cfg.database is None and not (folder / "ledger.sqlite").is_file():
            raise InputError(f"{folder} has no database (ledger.sqlite) to check")
        from node.freshness import WATERMARK_FILE

        wm_path = folder / WATERMARK_FILE
        watermark = wm_path.read_bytes() if wm_path.is_file() else None
        dropped = _dropped_sqlite_guards(folder / "ledger.sqlite") if cfg.database is None else []
        # Opening the store puts dropped guards back: they were looked at first.
        store = SqlStore(cfg.database_url(folder))
        try:
            report = fsck_store(store, verifier, str(folder), progress, watermark=watermark)
        finally:
            store.close()
        if dropped:
            report.add(
                "guards",
                f"the append-only guards of {', '.join(dropped)} had been dropped: someone "
                "wrote to the database outside the node (fsck put them back)",
            )
        out.append(report)
    return out


def _dropped_sqlite_guards(path: Path) -> list[str]:
    """The append-only tables of a SQLite file whose guard triggers are missing."""
    import sqlite3

    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        have = {str(r[0]) for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}  # fmt: skip
    finally:
        db.close()
    return [t for t in APPEND_ONLY_TABLES if not {f"{t}_no_update", f"{t}_no_delete"} <= have]
