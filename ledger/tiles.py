"""C2SP tlog-tiles arithmetic and paths: pure, no I/O.

A tile at level L holds up to 256 hashes of tree level 8·L; tile N covers those
nodes with indexes [256·N, 256·N + W). Entry bundles hold the log entries themselves,
each prefixed by its 2-byte big-endian length.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ledger.errors import InputError, NotFoundError

__all__ = [
    "MAX_ENTRY_SIZE",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileRef",
    "decode_bundle",
    "encode_bundle",
    "encode_index",
    "parse_tile_path",
    "tile_path",
    "tile_width",
]

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
# C2SP tlog-tiles: an entry bundle prefixes each entry with a uint16 length.
MAX_ENTRY_SIZE = 0xFFFF


@dataclass(frozen=True)
class TileRef:
    """One tile (``level`` ≥ 0) or entry bundle (``level`` is None) at ``index``, ``width`` wide."""

    level: int | None
    index: int
    width: int

    @property
    def is_entries(self) -> bool:
        return self.level is None

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    def path(self) -> str:
        """The path below the log prefix, e.g. ``tile/0/x001/234.p/5``."""
        return tile_path(self.level, self.index, self.width)


def encode_index(n: int) -> str:
    """C2SP tlog-tiles: N as zero-padded 3-digit groups, all but the last prefixed with ``x``."""
    if n < 0:
        raise InputError(f"tile index must not be negative, got {n}")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def tile_path(level: int | None, index: int, width: int = TILE_WIDTH) -> str:
    """The tlog-tiles path of a tile (``level`` int) or entry bundle (``level`` None)."""
    if not 1 <= width <= TILE_WIDTH:
        raise InputError(f"tile width must be 1..{TILE_WIDTH}, got {width}")
    head = "tile/entries" if level is None else f"tile/{level}"
    tail = "" if width == TILE_WIDTH else f".p/{width}"
    return f"{head}/{encode_index(index)}{tail}"


_GROUP = re.compile(r"^x\d{3}$")
_LAST = re.compile(r"^\d{3}$")


def parse_tile_path(path: str) -> TileRef:
    """Parse ``tile/<L>/<N>[.p/<W>]`` or ``tile/entries/<N>[.p/<W>]`` (C2SP tlog-tiles)."""
    parts = path.strip("/").split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise InputError(f"not a tile path: {path!r}")
    level: int | None
    if parts[1] == "entries":
        level = None
    elif parts[1].isdigit() and (parts[1] == "0" or not parts[1].startswith("0")):
        level = int(parts[1])
        if level > 63:
            raise InputError(f"tile level {level} is out of range")
    else:
        raise InputError(f"bad tile level in {path!r}")
    rest = parts[2:]
    width = TILE_WIDTH
    if len(rest) >= 2 and rest[-2].endswith(".p"):
        w = rest[-1]
        if not w.isdigit() or w.startswith("0") or not 1 <= int(w) < TILE_WIDTH:
            raise InputError(f"bad partial tile width in {path!r}")
        width = int(w)
        rest = [*rest[:-2], rest[-2][:-2]]
    if not rest or not _LAST.match(rest[-1]) or not all(_GROUP.match(g) for g in rest[:-1]):
        raise InputError(f"bad tile index in {path!r}")
    index = 0
    for g in rest:
        index = index * 1000 + int(g.lstrip("x"))
    if len(rest) > 1 and rest[0] == "x000":
        raise InputError(f"tile index in {path!r} is not in canonical form")
    return TileRef(level, index, width)


def tile_width(level: int | None, index: int, tree_size: int) -> int:
    """How many hashes (or entries) tile ``index`` at ``level`` holds in a tree of ``tree_size``.

    Raises NotFoundError when the tile does not exist yet at that size.
    """
    count = tree_size if level is None else tree_size >> (TILE_HEIGHT * level)
    width = min(TILE_WIDTH, count - index * TILE_WIDTH)
    if width <= 0:
        what = "entry bundle" if level is None else f"tile at level {level}"
        raise NotFoundError(f"{what} {index} does not exist in a tree of size {tree_size}")
    return width


def encode_bundle(entries: Iterable[bytes]) -> bytes:
    """C2SP tlog-tiles entry bundle: each entry prefixed by its uint16 big-endian length."""
    out = bytearray()
    for e in entries:
        if len(e) > MAX_ENTRY_SIZE:
            raise InputError(f"entry of {len(e)} bytes exceeds the {MAX_ENTRY_SIZE}-byte limit")
        out += struct.pack(">H", len(e))
        out += e
    return bytes(out)


def decode_bundle(data: bytes) -> list[bytes]:
    """Split an entry bundle into its entries; InputError if it is truncated."""
    return list(_iter_bundle(data))


def _iter_bundle(data: bytes) -> Iterator[bytes]:
    pos = 0
    while pos < len(data):
        if pos + 2 > len(data):
            raise InputError("entry bundle is truncated inside a length prefix")
        (n,) = struct.unpack_from(">H", data, pos)
        pos += 2
        if pos + n > len(data):
            raise InputError("entry bundle is truncated inside an entry")
        yield data[pos : pos + n]
        pos += n
