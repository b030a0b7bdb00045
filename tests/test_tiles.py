"""C2SP tlog-tiles paths and bundles."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.errors import InputError, NotFoundError
from ledger.tiles import (
    TileRef,
    decode_bundle,
    encode_bundle,
    encode_index,
    parse_tile_path,
    tile_path,
    tile_width,
)


@pytest.mark.parametrize(
    ("path", "ref"),
    [
        # The examples of C2SP tlog-tiles.md.
        ("tile/0/000.p/255", TileRef(0, 0, 255)),
        ("tile/15/x455/667", TileRef(15, 455667, 256)),
        ("tile/15/x123/x456/789.p/41", TileRef(15, 123456789, 41)),
        ("tile/entries/x123/x456/789", TileRef(None, 123456789, 256)),
        ("tile/0/001", TileRef(0, 1, 256)),
    ],
)
def test_spec_examples_round_trip(path: str, ref: TileRef) -> None:
    assert parse_tile_path(path) == ref
    assert ref.path() == path


@pytest.mark.parametrize(
    "bad",
    [
        "tile/0/1",  # not zero-padded
        "tile/0/x001",  # last group carries x
        "tile/0/001/002",  # inner group without x
        "tile/0/000.p/0",  # empty partial
        "tile/0/000.p/256",  # partial as wide as full
        "tile/0/000.p/07",
        "tile/01/000",
        "tile/-1/000",
        "tile/64/000",
        "tile/0/x000/001",  # non-canonical leading zero group
        "tile/entries",
        "tiles/0/000",
        "tile/0/00a",
    ],
)
def test_bad_paths_refused(bad: str) -> None:
    with pytest.raises(InputError):
        parse_tile_path(bad)


@given(
    st.integers(min_value=0, max_value=10**15), st.integers(1, 256), st.none() | st.integers(0, 63)
)
def test_path_round_trip(index: int, width: int, level: int | None) -> None:
    ref = TileRef(level, index, width)
    assert parse_tile_path(tile_path(level, index, width)) == ref


def test_encode_index_groups() -> None:
    assert encode_index(0) == "000"
    assert encode_index(1234067) == "x001/x234/067"


def test_tile_width() -> None:
    assert tile_width(0, 0, 1) == 1
    assert tile_width(0, 0, 300) == 256
    assert tile_width(0, 1, 300) == 44
    assert tile_width(1, 0, 256 * 3 + 5) == 3
    assert tile_width(None, 1, 257) == 1
    with pytest.raises(NotFoundError):
        tile_width(0, 2, 512)
    with pytest.raises(NotFoundError):
        tile_width(1, 0, 255)


@given(st.lists(st.binary(max_size=300), max_size=20))
def test_bundle_round_trip(items: list[bytes]) -> None:
    assert decode_bundle(encode_bundle(items)) == items


def test_truncated_bundle_refused() -> None:
    data = encode_bundle([b"abc", b"de"])
    for cut in (1, 4, len(data) - 1):
        with pytest.raises(InputError):
            decode_bundle(data[:cut])
    with pytest.raises(InputError):
        encode_bundle([b"x" * 65536])
