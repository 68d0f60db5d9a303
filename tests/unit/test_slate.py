"""normalise_ts: whatever a book sends as a publish time -> ISO UTC with milliseconds, or None."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snuper.slate import iso_utc, normalise_ts, parse_iso, today_slate, utc_now, wall_clock

MOMENT = datetime(2026, 12, 2, 0, 29, 59, 123456, tzinfo=UTC)
EXPECTED = "2026-12-02T00:29:59.123Z"
EPOCH_S = 1796171399  # MOMENT's whole seconds since 1970


def test_expected_matches_iso_utc() -> None:
    assert iso_utc(MOMENT) == EXPECTED
    assert int(MOMENT.timestamp()) == EPOCH_S


@pytest.mark.parametrize(
    "value",
    [
        EXPECTED,
        "2026-12-02T00:29:59.123456Z",
        "2026-12-02T00:29:59.1234567Z",  # DraftKings REST: 7 fraction digits
        "2026-12-02T00:29:59.1239z",  # truncated, never rounded up
        "  2026-12-02T00:29:59.123Z\n",
        "2026-12-02T00:29:59.123+00:00",
        "2026-12-01T19:29:59.123-05:00",
        "2026-12-02T05:59:59.123+05:30",
        "2026-12-02T05:59:59.123+0530",
        "2026-12-02T00:29:59.123",  # no zone: UTC
        "2026-12-02 00:29:59.123",
        "2026-12-02T00:29:59.123456+00:00",
        EPOCH_S * 1000 + 123,  # epoch milliseconds
        float(EPOCH_S * 1000 + 123),
        EPOCH_S + 0.123,  # epoch seconds as a float (binary: .12299990...)
        f"{EPOCH_S * 1000 + 123}",
        f"{EPOCH_S}.123",
        f"{EPOCH_S}.1239",
        f"{EPOCH_S * 1000 + 123}.9",
        Decimal(f"{EPOCH_S}.123"),
        MOMENT,
        MOMENT.replace(tzinfo=None),  # naive: UTC
        MOMENT.astimezone(timezone(timedelta(hours=-5))),
        msgpack.Timestamp(seconds=EPOCH_S, nanoseconds=123456789),
    ],
)
def test_readable_values(value: object) -> None:
    assert normalise_ts(value) == EXPECTED


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-09-27T17:00:00Z", "2026-09-27T17:00:00.000Z"),  # JSON websocket: no fraction
        (EPOCH_S, "2026-12-02T00:29:59.000Z"),
        (str(EPOCH_S), "2026-12-02T00:29:59.000Z"),
        ("1.7961713991234e12", EXPECTED),
        (datetime(2026, 12, 2, tzinfo=UTC), "2026-12-02T00:00:00.000Z"),
        ("2000-01-01T00:00:00Z", "2000-01-01T00:00:00.000Z"),
        (946684800, "2000-01-01T00:00:00.000Z"),
        ("2099-12-31T23:59:59.999999Z", "2099-12-31T23:59:59.999Z"),
        ("2026-01-01T00:00:00+14:00", "2025-12-31T10:00:00.000Z"),
    ],
)
def test_edges(value: object, expected: str) -> None:
    assert normalise_ts(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        False,
        "",
        "   ",
        "not a time",
        "2026-12-02",  # a date, not a timestamp
        "2026-13-02T00:00:00Z",
        "2026-12-02T25:00:00Z",
        "2026-12-02T00:29:59.123Zjunk",
        "1999-12-31T23:59:59.999Z",  # before 2000
        "2100-01-01T00:00:00Z",  # 2100 and later
        "0001-01-01T00:00:00+05:00",  # an offset pushing it below datetime's range
        "9999-12-31T23:59:59-05:00",  # and above it
        0,
        -1,
        946684799,  # 1999 in seconds
        4102444800,  # 2100 in seconds
        50_000_000_000,  # between: seconds in the year 3554
        946684799999,  # 1999 in milliseconds
        4102444800000,  # 2100 in milliseconds
        10**30,
        -(10**30),
        math.nan,
        math.inf,
        -math.inf,
        1e300,
        "nan",
        "NaN",
        "inf",
        "-Infinity",
        "1e999999999",
        "0x6a5c3b80",
        Decimal("NaN"),
        Decimal("Infinity"),
        b"2026-12-02T00:29:59.123Z",
        ["2026-12-02T00:29:59.123Z"],
        {"seconds": EPOCH_S, "nanoseconds": 0},
        datetime(1999, 12, 31, 23, 59, tzinfo=UTC),
        datetime(2100, 1, 1, tzinfo=UTC),
        datetime.max,
        datetime.min.replace(tzinfo=timezone(timedelta(hours=5))),
        msgpack.Timestamp(seconds=0, nanoseconds=0),
        msgpack.Timestamp(seconds=2**40, nanoseconds=0),
        "2026-12-02T00:29:59.123Z" * 3,
        # The normal shape (taken as is on the fast path) naming no real moment:
        "2026-02-30T10:00:00.000Z",
        "2026-13-01T10:00:00.000Z",
        "2026-00-10T10:00:00.000Z",
        "2026-01-01T24:00:00.000Z",
    ],
)
def test_unreadable_or_absurd_is_none(value: object) -> None:
    assert normalise_ts(value) is None


def test_a_tzinfo_without_offset_counts_as_utc() -> None:
    class NoOffset(tzinfo):
        def utcoffset(self, dt: datetime | None) -> timedelta | None:
            return None

        def dst(self, dt: datetime | None) -> timedelta | None:
            return None

        def tzname(self, dt: datetime | None) -> str | None:
            return None

    assert normalise_ts(MOMENT.replace(tzinfo=NoOffset())) == EXPECTED


def test_timestamp_like_objects_are_duck_typed() -> None:
    class Stamp:
        def __init__(self, seconds: object, nanoseconds: object) -> None:
            self.seconds = seconds
            self.nanoseconds = nanoseconds

    assert normalise_ts(Stamp(EPOCH_S, 123_000_000)) == EXPECTED
    assert normalise_ts(Stamp(EPOCH_S, 1_000_000_000)) is None
    assert normalise_ts(Stamp(EPOCH_S, -1)) is None
    assert normalise_ts(Stamp(True, 0)) is None
    assert normalise_ts(Stamp(float(EPOCH_S), 0)) is None


moments = st.datetimes(
    min_value=datetime(2000, 1, 1),
    max_value=datetime(2099, 12, 31, 23, 59, 59, 999999),
    timezones=st.just(UTC),
)


@settings(max_examples=300, deadline=None)
@given(moments)
def test_every_form_of_one_moment_agrees(moment: datetime) -> None:
    whole_ms = moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    expected = iso_utc(whole_ms)
    if "." not in expected:  # iso_utc drops a zero fraction; normalise_ts always has three
        expected = expected[:-1] + ".000Z"
    millis = (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)
    for form in (
        moment,
        moment.isoformat(),
        moment.isoformat().replace("+00:00", "Z"),
        moment.astimezone(timezone(timedelta(hours=-7))).isoformat(),
        moment.replace(tzinfo=None).isoformat(),
        millis,
        str(millis),
        f"{millis // 1000}.{millis % 1000:03d}",
        msgpack.Timestamp.from_datetime(moment),
    ):
        assert normalise_ts(form) == expected, form
    # Idempotent, and parse_iso reads the result back to the millisecond.
    assert normalise_ts(expected) == expected
    assert parse_iso(expected) == whole_ms


anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.decimals()
    | st.text()
    | st.binary(max_size=8)
    | st.datetimes(timezones=st.none() | st.timezones())
    | st.from_regex(r"\A[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9:.+\-Zz]{0,24}\Z")
    | st.from_regex(r"\A[+\-]?[0-9.]{1,16}([eE][+\-]?[0-9]{1,4})?\Z"),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=5,
)


@settings(max_examples=500, deadline=None)
@given(anything)
def test_never_raises_and_answers_in_one_shape(value: object) -> None:
    result = normalise_ts(value)
    if result is not None:
        assert len(result) == 24 and result.endswith("Z") and result[19] == "."
        assert 2000 <= parse_iso(result).year <= 2099
        assert normalise_ts(result) == result


def test_a_started_wall_clock_reads_its_start_then_runs_on() -> None:
    ticks = [50.0]
    start = datetime(2026, 11, 1, 5, 59, 30, tzinfo=UTC)  # 01:59:30 EDT, before the fall back
    clock = wall_clock(start, timer=lambda: ticks[0])
    assert clock() == start
    ticks[0] += 60
    assert clock() == start + timedelta(seconds=60)
    assert today_slate(clock()) == "20261101"
    assert wall_clock() is utc_now
