"""Where the audit gets a log's objects: one small fetcher interface, and a local store.

In the manner of python-tuf's ``FetcherInterface``, every source of data — a node over
HTTP, an offline bundle (:mod:`audits.bundle`), a dict in a test — answers
:meth:`Fetcher.fetch` for paths below the node root, e.g. ``log/checkpoint``,
``log/tile/0/x001/234.p/5``, ``log/tile/entries/000`` or ``v1/members``.
Errors are translated at this boundary:

- :class:`~ledger.errors.NotFoundError`: the source does not have that object;
- :class:`~ledger.errors.NetworkError`: the source did not answer (or answered nonsense).

:class:`DirStore` keeps what was downloaded, laid out as a static C2SP tlog-tiles log, so
that an interrupted audit resumes where it stopped (every tile path, partial ones included,
names immutable content) and the process pool reads objects from disk instead of pickles.
Nothing in this module verifies anything: the caller does.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from client.http import NodeClient
from ledger.canonical import parse_json
from ledger.errors import CivicError, InputError, NetworkError, NotFoundError

__all__ = ["DirStore", "Fetcher", "HttpFetcher", "LocalStore", "MemoryFetcher", "MemoryStore"]

# The largest object a node serves: a full entry bundle of 256 records of 65,535 bytes.
MAX_OBJECT = 256 * (0xFFFF + 2)
# A published view of a large community (10^5 members is about 27 MB of JSON).
MAX_VIEW = 1 << 30


class Fetcher(ABC):
    """One source of a log's objects. ``name`` identifies it in findings (e.g. its URL)."""

    name: str

    @abstractmethod
    def _fetch(self, path: str) -> bytes:
        """Return the bytes at ``path`` or raise NotFoundError / NetworkError."""

    def fetch(self, path: str, limit: int = MAX_OBJECT) -> bytes:
        """The object at ``path`` (no leading slash); NotFoundError or NetworkError."""
        data = self._fetch(path.lstrip("/"))
        if len(data) > limit:
            raise NetworkError(f"{self.name}: {path} is {len(data)} bytes, more than expected")
        return data

    def fetch_json(self, path: str) -> Any:
        """The JSON at ``path`` (a view may be large: every member, every vote); NetworkError
        if it is not JSON."""
        data = self.fetch(path, MAX_VIEW)
        try:
            return parse_json(data)
        except InputError as exc:
            raise NetworkError(f"{self.name}: {path} is not JSON: {exc.message}") from exc

    def extra_checkpoints(self) -> list[tuple[str, bytes]]:
        """Other checkpoints this source carries, as (where it was seen, note bytes)."""
        return []

    @property
    def offline(self) -> bool:
        """True for sources that are not live nodes (they publish no views)."""
        return False

    def close(self) -> None:  # noqa: B027 - most sources hold nothing to release
        """Release connections or files."""


class HttpFetcher(Fetcher):
    """A node over HTTP, through :class:`client.http.NodeClient`."""

    def __init__(self, url: str, timeout: float = 30.0, connections: int = 8) -> None:
        self.name = url.rstrip("/")
        http = httpx.Client(
            timeout=timeout,
            limits=httpx.Limits(max_connections=connections),
            transport=httpx.HTTPTransport(retries=1),
        )
        self._client = NodeClient(self.name, client=http)

    def _fetch(self, path: str) -> bytes:
        try:
            return self._client.get_bytes("/" + path)
        except (NotFoundError, NetworkError):
            raise
        except InputError as exc:
            # 400/422 for a plain GET: the node does not serve this path.
            raise NotFoundError(exc.message) from exc
        except CivicError as exc:
            raise NetworkError(exc.message) from exc

    def close(self) -> None:
        self._client.close()


class MemoryFetcher(Fetcher):
    """An in-memory source: ``objects`` maps paths to bytes (tests, simulations).

    ``down`` makes it behave like an unreachable node.
    """

    def __init__(
        self, name: str, objects: Mapping[str, bytes], down: bool = False, offline: bool = False
    ) -> None:
        self.name = name
        self.objects = dict(objects)
        self.down = down
        self._offline = offline

    def _fetch(self, path: str) -> bytes:
        if self.down:
            raise NetworkError(f"cannot reach node {self.name}")
        try:
            return self.objects[path]
        except KeyError:
            raise NotFoundError(f"{self.name}/{path}: not found") from None

    @property
    def offline(self) -> bool:
        return self._offline


class LocalStore(ABC):
    """Where downloaded objects are kept during an audit, with the source of each."""

    @abstractmethod
    def read(self, path: str) -> bytes | None:
        """The stored bytes of ``path``, or None."""

    @abstractmethod
    def has(self, path: str) -> bool:
        """Whether ``path`` is stored."""

    @abstractmethod
    def write(self, path: str, data: bytes, source: str) -> None:
        """Store ``data`` at ``path``, fetched from ``source``."""

    @abstractmethod
    def sources(self) -> dict[str, str]:
        """path -> source of every stored object."""

    def source(self, path: str) -> str:
        """Where the object at ``path`` came from."""
        return self.sources().get(path, "local cache")

    def forget(self, path: str) -> None:  # noqa: B027 - only memory is worth freeing
        """Drop an object that is no longer needed (kept on disk by a cache)."""


class MemoryStore(LocalStore):
    """Objects in memory: the default for one audit (a 10^5-record log is about 70 MB)."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._sources: dict[str, str] = {}
        self._lock = threading.Lock()

    def read(self, path: str) -> bytes | None:
        return self._data.get(path)

    def has(self, path: str) -> bool:
        return path in self._data

    def write(self, path: str, data: bytes, source: str) -> None:
        with self._lock:
            self._data[path] = data
            self._sources[path] = source

    def sources(self) -> dict[str, str]:
        return self._sources

    def forget(self, path: str) -> None:
        with self._lock:
            self._data.pop(path, None)


class DirStore(LocalStore):
    """Downloaded objects under ``root``, at their tlog-tiles paths (without ``log/``).

    Writes are atomic (temporary file, then rename), so a crash never leaves half an
    object and a later audit resumes with what is there. ``sources.jsonl`` remembers which
    source each object came from, for findings.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._sources: dict[str, str] | None = None

    def _file(self, path: str) -> Path:
        rel = path.removeprefix("log/")
        if rel.startswith("/") or ".." in rel.split("/"):
            raise InputError(f"not a log object path: {path!r}")
        return self.root / rel

    def read(self, path: str) -> bytes | None:
        try:
            return self._file(path).read_bytes()
        except FileNotFoundError:
            return None

    def has(self, path: str) -> bool:
        return self._file(path).is_file()

    def write(self, path: str, data: bytes, source: str) -> None:
        target = self._file(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        with self._lock:
            self.sources()[path] = source
            with (self.root / "sources.jsonl").open("a", encoding="utf-8") as f:
                f.write(json.dumps({"path": path, "source": source}) + "\n")

    def sources(self) -> dict[str, str]:
        # A torn last line (a crash while appending) is ignored.
        if self._sources is None:
            out: dict[str, str] = {}
            try:
                lines = (self.root / "sources.jsonl").read_text("utf-8").splitlines()
            except FileNotFoundError:
                lines = []
            for line in lines:
                try:
                    row = json.loads(line)
                    out[str(row["path"])] = str(row["source"])
                except (ValueError, KeyError, TypeError):
                    continue
            self._sources = out
        return self._sources
