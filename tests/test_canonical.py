"""RFC 8785 (JCS) against the RFC's published examples, and strict parsing."""

from __future__ import annotations

import json
import struct

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.canonical import (
    MAX_JSON_DEPTH,
    MAX_NUMBER_DIGITS,
    canonical_json,
    check_json_limits,
    is_canonical,
    parse_json,
    refuse_unreadable_floats,
)
from ledger.errors import InputError
from ledger.records import build_record, parse_record


def test_rfc8785_section_3_2_2_example() -> None:
    # RFC 8785 §3.2.2: the sample input and its canonical output.
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(json.loads(source)) == expected.encode()


def test_rfc8785_section_3_2_3_sorting() -> None:
    # RFC 8785 §3.2.3: properties sort by their UTF-16 code units.
    value = {
        "\u20ac": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "\U0001f600": "Emoji: Grinning Face",
        "\u0080": "Control",
        "\u00f6": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonical_json(value)).keys())
    assert keys == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


# RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical number text.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


@pytest.mark.parametrize(("bits", "text"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, text: str) -> None:
    (value,) = struct.unpack(">d", bytes.fromhex(bits))
    assert canonical_json(value) == text.encode()


@pytest.mark.parametrize(
    "bad",
    [b'{"a":1,"a":2}', b"{'a':1}", b'{"a":NaN}', b'{"a":Infinity}', b"\xff\xfe", b'{"a":', b""],
)
def test_strict_parse_refuses(bad: bytes) -> None:
    with pytest.raises(InputError):
        parse_json(bad)


def test_is_canonical() -> None:
    assert is_canonical(b'{"a":1,"b":[true]}')
    assert not is_canonical(b'{"b":1,"a":1}')
    assert not is_canonical(b'{"a": 1}')


def test_record_round_trip_and_refusals() -> None:
    data = build_record(3, "ab" * 32, "2026-11-28T10:00:00Z", {"x": "é"})
    rec = parse_record(data)
    assert (rec.index, rec.prev, rec.time, rec.envelope, rec.raw) == (
        3,
        "ab" * 32,
        "2026-11-28T10:00:00Z",
        {"x": "é"},
        data,
    )
    for bad in (
        data.replace(b'"index":3', b'"index":-3'),
        data.replace(b'"prev":"ab', b'"prev":"AB'),
        data.replace(b"10:00:00Z", b"10:00:00+01:00"),
        data.replace(b'{"envelope"', b'{ "envelope"'),
        b'{"index":1}',
    ):
        with pytest.raises(InputError):
            parse_record(bad)


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.text()
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=25,
)


def _assert_matches_rfc8785(value: object) -> None:
    """The same bytes as the reference library, or refused wherever it refuses."""
    try:
        expected = bytes(rfc8785.dumps(value))
    except Exception:
        with pytest.raises(InputError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@settings(max_examples=400, deadline=None)
@given(json_values)
def test_fast_path_equals_rfc8785(value: object) -> None:
    """Our canonical_json (fast path for plain values) equals the reference library."""
    _assert_matches_rfc8785(value)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_canonical_bytes_read_back_to_themselves(value: object) -> None:
    """What canonical_json writes, parse_json reads and canonical_json writes the same:
    a record accepted once can be parsed and checked on every replay."""
    try:
        refuse_unreadable_floats(value)
        data = canonical_json(value)
    except InputError:
        return
    assert canonical_json(parse_json(data)) == data
    assert is_canonical(data)


@pytest.mark.parametrize("number", [2.0**53, -(2.0**53), 1e20, 2.0**60])
def test_floats_written_as_unreadable_integers_are_refused(number: float) -> None:
    data = canonical_json({"n": number})  # RFC 8785 writes them (Appendix B) ...
    with pytest.raises(InputError):
        canonical_json(parse_json(data))  # ... but they do not read back
    with pytest.raises(InputError, match="beyond"):
        refuse_unreadable_floats({"a": [{"n": number}]})
    refuse_unreadable_floats({"n": 1e21, "m": 2.0**53 - 1, "k": 0.5})  # these read back


@pytest.mark.parametrize(
    "value",
    [
        {"\U0001f600": 1, "\ufb33": 2},  # UTF-16 order differs from code point order
        {"a": '\x00\x1f\x7f\u2028"\\'},
        {"n": 2**53 - 1},
        ["\ud800"],
    ],
)
def test_fast_path_edge_cases(value: object) -> None:
    _assert_matches_rfc8785(value)


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1), "nested more than 64"),
        (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested more than 64"),
        # Alternating kinds count one level each, not two.
        (b'[{"a":' * 33 + b"1" + b"}]" * 33, "nested more than 64"),
        # Unclosed: the depth is still measured before any parser runs.
        (b"[" * 10_000, "nested more than 64"),
        (b'{"v":' + b"7" * 5000 + b"}", "more than 100 digits"),
        (b"-0." + b"1" * (MAX_NUMBER_DIGITS + 1), "more than 100 digits"),
    ],
)
def test_json_limits_refuse_before_parsing(data: bytes, message: str) -> None:
    with pytest.raises(InputError, match=message):
        check_json_limits(data)
    with pytest.raises(InputError, match=message):
        parse_json(data)


@pytest.mark.parametrize(
    "data",
    [
        b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,
        b'[{"a":' * 32 + b"1" + b"}]" * 32,
        # Brackets and digits inside strings, escaped quotes included, are not counted.
        json.dumps(["[" * 500, "{" * 500, "7" * 5000, '\\"[[[' * 100]).encode(),
        b"[" + b"[1]," * 10_000 + b"[]]",
        b"1" * MAX_NUMBER_DIGITS,
    ],
)
def test_json_limits_accept_what_is_within_them(data: bytes) -> None:
    check_json_limits(data)
    assert _depth(parse_json(data)) <= MAX_JSON_DEPTH


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.integers() | st.text(alphabet='[]{}"\\ab1'),
        lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=3), kids),
        max_leaves=80,
    )
)
def test_json_limits_match_the_real_depth(value: object) -> None:
    data = json.dumps(value).encode()
    if _depth(value) <= MAX_JSON_DEPTH:
        check_json_limits(data)
    else:
        with pytest.raises(InputError):
            check_json_limits(data)
