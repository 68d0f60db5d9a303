"""snuper.odds and snuper.slate: the books' price and date strings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from snuper.odds import (
    OddsError,
    american_to_decimal,
    decimal_to_american,
    implied_probability,
    parse_american,
    parse_line,
)
from snuper.slate import iso_utc, parse_iso, slate_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+105", 105),
        ("105", 105),
        ("-110", -110),
        ("\u2212110", -110),  # U+2212 MINUS SIGN, as DraftKings sends it
        ("\u2013455", -455),  # en dash
        (" \u2212455 ", -455),
        ("EVEN", 100),
        ("even", 100),
        ("EV", 100),
        ("-100", 100),
        ("+100", 100),
        (150, 150),
        (-200, -200),
        (250.0, 250),
    ],
)
def test_parse_american(text: str | int | float, expected: int) -> None:
    assert parse_american(text) == expected


@pytest.mark.parametrize("text", ["", "abc", "+", "1.5", "+50", "-99", "99", 0, 150.5, True])
def test_parse_american_rejects(text: str | int | float) -> None:
    with pytest.raises(OddsError):
        parse_american(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+1.5", 1.5),
        ("-3", -3.0),
        ("\u22123.5", -3.5),
        ("1,5", 1.5),
        ("\u22121,5", -1.5),
        ("pk", 0.0),
        ("PK", 0.0),
        ("Pick", 0.0),
        ("47.5", 47.5),
        (7, 7.0),
        (221.5, 221.5),
        (None, None),
    ],
)
def test_parse_line(text: str | int | float | None, expected: float | None) -> None:
    assert parse_line(text) == expected


@pytest.mark.parametrize("text", ["", "o47.5", "three", False])
def test_parse_line_rejects(text: str | bool) -> None:
    with pytest.raises(OddsError):
        parse_line(text)


@pytest.mark.parametrize(
    ("american", "decimal"),
    [(100, 2.0), (150, 2.5), (-110, 1.9091), (-200, 1.5), (-455, 1.2198), (350, 4.5)],
)
def test_american_to_decimal(american: int, decimal: float) -> None:
    assert american_to_decimal(american) == decimal


@pytest.mark.parametrize(
    ("decimal", "american"),
    [(2.0, 100), (2.5, 150), (1.9091, -110), (1.5, -200), (4.5, 350), (1.2198, -455)],
)
def test_decimal_to_american(decimal: float, american: int) -> None:
    assert decimal_to_american(decimal) == american


@pytest.mark.parametrize("american", [-100_000, -455, -110, 100, 105, 350, 10_000])
def test_conversions_round_trip(american: int) -> None:
    expected = 100 if american == -100 else american
    assert (
        decimal_to_american(1 + (american / 100 if american > 0 else 100 / -american)) == expected
    )


def test_conversion_errors() -> None:
    with pytest.raises(OddsError):
        american_to_decimal(50)
    with pytest.raises(OddsError):
        decimal_to_american(1.0)
    with pytest.raises(OddsError):
        decimal_to_american(0.5)


def test_implied_probability() -> None:
    assert implied_probability(100) == 0.5
    # Goes through the 4-digit decimal (1.3333), hence the tolerance.
    assert implied_probability(-300) == 0.75
    with pytest.raises(OddsError):
        implied_probability(50)


@pytest.mark.parametrize(
    ("start", "slate"),
    [
        # 23:30 EST is 04:30Z the next day: the game stays on its New York date.
        (datetime(2026, 12, 2, 4, 30, tzinfo=UTC), "20261201"),
        # 23:30 EDT is 03:30Z.
        (datetime(2026, 10, 9, 3, 30, tzinfo=UTC), "20261008"),
        (datetime(2026, 10, 9, 0, 15, tzinfo=UTC), "20261008"),
        (datetime(2026, 12, 1, 5, 0, tzinfo=UTC), "20261201"),  # midnight EST
        (datetime(2026, 12, 1, 23, 30, tzinfo=timezone(timedelta(hours=-5))), "20261201"),
    ],
)
def test_slate_date_is_the_new_york_date(start: datetime, slate: str) -> None:
    assert slate_date(start) == slate


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-10-09T00:15:00.0000000Z", datetime(2026, 10, 9, 0, 15, tzinfo=UTC)),
        ("2026-10-09T00:15:00.1234567Z", datetime(2026, 10, 9, 0, 15, 0, 123456, tzinfo=UTC)),
        ("2026-10-09T00:15:00.5Z", datetime(2026, 10, 9, 0, 15, 0, 500000, tzinfo=UTC)),
        ("2026-09-27T17:00:00Z", datetime(2026, 9, 27, 17, tzinfo=UTC)),
        ("2026-09-27T17:00:00", datetime(2026, 9, 27, 17, tzinfo=UTC)),
        ("2026-09-22T20:22:44.4555239+00:00", datetime(2026, 9, 22, 20, 22, 44, 455523, UTC)),
        ("2026-12-01T19:00:00-05:00", datetime(2026, 12, 2, 0, 0, tzinfo=UTC)),
    ],
)
def test_parse_iso(text: str, expected: datetime) -> None:
    parsed = parse_iso(text)
    assert parsed == expected
    assert parsed.tzinfo == UTC


def test_parse_iso_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        parse_iso("tomorrow")


def test_iso_utc() -> None:
    assert iso_utc(datetime(2026, 12, 1, 23, 10, tzinfo=UTC)) == "2026-12-01T23:10:00Z"
    assert iso_utc(datetime(2026, 12, 1, 23, 10, 0, 123456, UTC)) == "2026-12-01T23:10:00.123Z"
