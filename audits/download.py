"""Download a log's tiles and entry bundles from whichever source answers, in parallel.

Each object is asked of the sources whose signed tree is large enough to hold it, starting
at a different source for each object so the load spreads; a source that does not answer
is marked down (and reported once) and the next one is asked. Objects already in the
:class:`~audits.fetch.DirStore` are not fetched again, which makes an interrupted download
resumable. Parallelism is a small thread pool over httpx's connection pools: the work is
waiting on the network, and the nodes, not this process, are the limit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from audits.fetch import Fetcher, LocalStore
from ledger.errors import NetworkError, NotFoundError
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef

__all__ = ["Downloader", "Source", "needed_size", "object_path"]


@dataclass
class Source:
    """A fetcher and the size of its verified checkpoint (how much of the log it can serve)."""

    fetcher: Fetcher
    size: int
    down: bool = False


def needed_size(ref: TileRef) -> int:
    """The smallest tree size at which the object ``ref`` exists."""
    end = ref.index * TILE_WIDTH + ref.width
    return end if ref.level is None else end << (TILE_HEIGHT * ref.level)


def object_path(ref: TileRef) -> str:
    """The fetch path of ``ref`` below the node root."""
    return "log/" + ref.path()


@dataclass
class Downloader:
    """Fetches objects into ``store`` from ``sources``."""

    sources: Sequence[Source]
    store: LocalStore
    parallel: int = 4
    on_down: Callable[[Source, NetworkError], None] = lambda s, e: None
    on_done: Callable[[int], None] = lambda n: None
    missing: dict[str, str] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, path: str, need: int, spread: int = 0) -> tuple[bytes, str] | None:
        """(bytes, source name) of ``path`` from the first source that has it, or None."""
        candidates = [s for s in self.sources if s.size >= need]
        if not candidates:
            self._miss(path, f"no source has a tree of size {need} or more")
            return None
        reasons = []
        for k in range(len(candidates)):
            src = candidates[(spread + k) % len(candidates)]
            if src.down:
                continue
            try:
                return src.fetcher.fetch(path), src.fetcher.name
            except NotFoundError as exc:
                reasons.append(exc.message)
            except NetworkError as exc:
                with self._lock:
                    first = not src.down
                    src.down = True
                if first:
                    self.on_down(src, exc)
        self._miss(path, "; ".join(reasons) or "every source that could hold it is down")
        return None

    def _miss(self, path: str, why: str) -> None:
        with self._lock:
            self.missing[path] = why

    def _one(self, ref: TileRef, spread: int) -> None:
        path = object_path(ref)
        if not self.store.has(path):
            got = self.get(path, needed_size(ref), spread)
            if got is not None:
                self.store.write(path, got[0], got[1])
        self.on_done(1)

    def start(self, refs: Sequence[TileRef], pool: Executor) -> dict[str, Future[None]]:
        """Begin fetching ``refs`` in ``pool``, in order; path -> future done when stored
        (or found missing), so verification can follow the download closely."""
        return {object_path(ref): pool.submit(self._one, ref, i) for i, ref in enumerate(refs)}

    def download(self, refs: Sequence[TileRef]) -> dict[str, str]:
        """Fetch every object of ``refs`` not yet stored; returns {path: why} of those missing."""
        with ThreadPoolExecutor(max(1, self.parallel), thread_name_prefix="civic-fetch") as pool:
            for fut in self.start(refs, pool).values():
                fut.result()
        return dict(self.missing)
