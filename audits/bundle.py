"""The offline bundle: a whole log in one file, auditable and provable with no network.

Format ``civic-ledger-bundle/v1`` is a ZIP archive laid out as a static C2SP tlog-tiles log,
so that unzipped it can be served as-is by any web server to any tlog-tiles client::

    civic-bundle.json          manifest (below)
    checkpoint                 the signed checkpoint the tiles are cut at, verbatim
    checkpoints/<i>            other checkpoints seen when the bundle was made, verbatim
    tile/<L>/<N>[.p/<W>]       every hash tile of the tree at the checkpoint's size
    tile/entries/<N>[.p/<W>]   every entry bundle at that size (each record with a
                               2-byte big-endian length, C2SP tlog-tiles)

The manifest is JSON::

    {"format": "civic-ledger-bundle/v1", "origin": "...", "log_vkey": "<note vkey>",
     "genesis_hash": "<hex leaf hash of record 0>", "size": N, "root": "<hex>",
     "created": "<RFC 3339 UTC>", "tool": "civic-ledger 0.1.0",
     "checkpoints": [{"source": "<URL>", "file": "checkpoints/0"}, ...]}

Nothing in the manifest is trusted: the checkpoint carries the log's signature, and
everything else is recomputed from the tiles and entries by whoever reads the bundle
(``civic audit --from-bundle``). Entry bundles are deflated, hash tiles stored; member
timestamps are fixed so the same log gives the same bytes.

:class:`Bundle` reads one and computes RFC 9162 proofs from its tiles (for offline receipt
checks); :class:`BundleFetcher` lets the audit use it like a node at the bundle's size.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import ledger
from audits.fetch import Fetcher
from audits.verify import node_from_tiles, tile_refs
from ledger import merkle
from ledger.c2sp.checkpoint import read_checkpoint
from ledger.errors import InputError, NotFoundError
from ledger.records import parse_record
from ledger.tiles import (
    TILE_WIDTH,
    decode_bundle,
    encode_bundle,
    parse_tile_path,
    tile_path,
    tile_width,
)
from voting.bundle import build_ballot_bundle
from voting.evidence import BallotBundle

__all__ = ["BUNDLE_FORMAT", "MANIFEST", "Bundle", "BundleFetcher", "write_bundle"]

BUNDLE_FORMAT = "civic-ledger-bundle/v1"
MANIFEST = "civic-bundle.json"
_EPOCH = (1980, 1, 1, 0, 0, 0)


def _info(name: str, compress: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def write_bundle(
    out: Path,
    checkpoint: bytes,
    read: Callable[[str], bytes | None],
    manifest: dict[str, Any],
    extra_checkpoints: Iterable[tuple[str, bytes]] = (),
) -> int:
    """Write a bundle of the log at ``checkpoint``'s size to ``out``; return its byte size.

    ``read(path)`` gives each object by its tlog-tiles path (``tile/...``). InputError if
    one is missing. The file appears atomically (temporary file, then rename).
    """
    cp = read_checkpoint(checkpoint)
    refs = tile_refs(cp.size)
    extras = list(extra_checkpoints)
    doc = {
        **manifest,
        "format": BUNDLE_FORMAT,
        "origin": cp.origin,
        "size": cp.size,
        "root": cp.root_hash.hex(),
        "tool": f"civic-ledger {ledger.__version__}",
        "checkpoints": [
            {"source": s, "file": f"checkpoints/{i}"} for i, (s, _) in enumerate(extras)
        ],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".part")
    os.close(fd)
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as z:
            z.writestr(_info(MANIFEST, True), json.dumps(doc, indent=2, sort_keys=True) + "\n")
            z.writestr(_info("checkpoint", False), checkpoint)
            for i, (_, note) in enumerate(extras):
                z.writestr(_info(f"checkpoints/{i}", False), note)
            for ref in refs:
                path = ref.path()
                data = read(path)
                if data is None:
                    raise InputError(f"cannot write the bundle: {path} is missing")
                z.writestr(_info(path, ref.is_entries), data)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out.stat().st_size


class Bundle:
    """A bundle opened for reading. Use as a context manager or call :meth:`close`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (OSError, zipfile.BadZipFile) as exc:
            raise InputError(f"{path} is not a civic-ledger bundle: {exc}") from exc
        self._lock = threading.Lock()
        try:
            self.manifest: dict[str, Any] = json.loads(self._zip.read(MANIFEST))
            if self.manifest.get("format") != BUNDLE_FORMAT:
                raise InputError(
                    f"{path}: format {self.manifest.get('format')!r}, expected {BUNDLE_FORMAT!r}"
                )
            self.checkpoint: bytes = self._zip.read("checkpoint")
            self.size: int = read_checkpoint(self.checkpoint).size
        except (KeyError, ValueError) as exc:
            self._zip.close()
            raise InputError(f"{path} is not a civic-ledger bundle: {exc}") from exc
        except InputError:
            self._zip.close()
            raise

    def __enter__(self) -> Bundle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._zip.close()

    def read(self, name: str) -> bytes | None:
        """A member's bytes, or None."""
        with self._lock:
            try:
                return self._zip.read(name)
            except KeyError:
                return None

    def checkpoints(self) -> list[tuple[str, bytes]]:
        """The other checkpoints recorded in the bundle: (source, note bytes)."""
        out = []
        for row in self.manifest.get("checkpoints", []):
            data = self.read(str(row.get("file", "")))
            if data is not None:
                out.append((f"{row.get('source')} (in {self.path.name})", data))
        return out

    def tile(self, level: int | None, index: int) -> bytes | None:
        """Tile ``index`` of ``level`` (None: entry bundle) at the bundle's size, or None."""
        try:
            width = tile_width(level, index, self.size)
        except NotFoundError:
            return None
        return self.read(tile_path(level, index, width))

    def entry(self, index: int) -> bytes:
        """The bytes of record ``index``; NotFoundError beyond the bundle's size."""
        if not 0 <= index < self.size:
            raise NotFoundError(f"the bundle holds records 0 to {self.size - 1}, not {index}")
        data = self.tile(None, index // TILE_WIDTH)
        if data is None:
            raise InputError(f"{self.path}: entry bundle {index // TILE_WIDTH} is missing")
        return decode_bundle(data)[index % TILE_WIDTH]

    def _nodes(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        ids = merkle.nodes_needed(ranges)
        found: dict[merkle.NodeId, bytes] = {}
        for lvl, idx in ids:
            h = node_from_tiles(lvl, idx, lambda t, n: self.tile(t, n))
            if h is None:
                raise InputError(f"{self.path}: the tiles lack tree node ({lvl}, {idx})")
            found[(lvl, idx)] = h
        return [merkle.hash_of_range(lo, hi, found) for lo, hi in ranges]

    def _check(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise InputError(f"tree size {size} is beyond the bundle's size {self.size}")

    def root_at(self, size: int) -> bytes:
        """RFC 9162 root of the first ``size`` records, from the tiles."""
        self._check(size)
        return self._nodes([(0, size)])[0]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        """RFC 9162 §2.1.3.1 inclusion proof of record ``index`` in the tree of ``size``."""
        self._check(size)
        return self._nodes(merkle.inclusion_proof_ranges(index, size))

    def consistency_proof(self, first: int, second: int) -> list[bytes]:
        """RFC 9162 §2.1.4.1 consistency proof from ``first`` to ``second`` records."""
        self._check(second)
        return self._nodes(merkle.consistency_proof_ranges(first, second))


class BundleFetcher(Fetcher):
    """A bundle as a source: like a node at the bundle's size that publishes no views.

    Partial tiles narrower than the stored ones are cut from them, as a node would serve.
    """

    def __init__(self, path: Path) -> None:
        self.bundle = Bundle(path)
        self.name = f"bundle:{self.bundle.path.name}"

    @property
    def offline(self) -> bool:
        return True

    def _fetch(self, path: str) -> bytes:
        b = self.bundle
        if path == "log/checkpoint":
            return b.checkpoint
        if not path.startswith("log/tile/"):
            raise NotFoundError(f"{self.name} holds no {path} (bundles carry no views)")
        try:
            ref = parse_tile_path(path.removeprefix("log/"))
            stored = tile_width(ref.level, ref.index, b.size)
        except (InputError, NotFoundError) as exc:
            raise NotFoundError(f"{self.name}: {exc.message}") from exc
        data = b.read(tile_path(ref.level, ref.index, stored))
        if data is None or ref.width > stored:
            raise NotFoundError(f"{self.name} holds no {path}")
        if ref.width == stored:
            return data
        if ref.level is None:
            return encode_bundle(decode_bundle(data)[: ref.width])
        return data[: merkle.HASH_SIZE * ref.width]

    def extra_checkpoints(self) -> list[tuple[str, bytes]]:
        return self.bundle.checkpoints()

    def close(self) -> None:
        self.bundle.close()


def ballot_bundle(b: Bundle, ballot: str, receipt_sizes: Sequence[int] = ()) -> BallotBundle:
    """The ballot-bundle view of a log bundle, for ``civic vote verify`` offline.

    A log bundle holds every record and tile, so the ballot's record range (its open record
    to its close or cancel, or to the end), the frontier before it and the consistency
    proofs to the bundle's checkpoint are all computed here from the tiles — nothing is
    taken on trust. With no node's claims to compare, the published result is the one the
    close record states, and the counted-as-recorded step checks it against the tally.
    """
    if not ballot.isdigit() or not 0 <= int(ballot) < b.size:
        raise NotFoundError(f"ballot {ballot} is not among the bundle's {b.size} records")
    closed_at: int | None = None
    published: dict[str, Any] | None = None
    for index in range(int(ballot) + 1, b.size):
        st = parse_record(b.entry(index)).envelope.get("statement", {})
        if st.get("type") in ("ballot.close", "ballot.cancel") and (
            st.get("body", {}).get("ballot") == ballot
        ):
            closed_at = index
            # With no node to ask, what is published is what the log's close record says.
            published = {"id": ballot, "result": st["body"].get("result")}
            break

    def frontier(ids: Sequence[merkle.NodeId]) -> list[bytes]:
        return b._nodes([(i << lvl, (i + 1) << lvl) for lvl, i in ids])

    cp = read_checkpoint(b.checkpoint)
    return build_ballot_bundle(
        ballot,
        cp.origin,
        str(b.manifest.get("log_vkey", "")),
        b.checkpoint,
        b.size,
        closed_at,
        entries=lambda lo, hi: [b.entry(i) for i in range(lo, hi)],
        nodes=frontier,
        consistency=b.consistency_proof,
        proof_sizes=receipt_sizes,
        ballot_doc=published,
    )
