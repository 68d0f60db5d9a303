"""Slate dates: snapshots and odds files are keyed by the start date in New York."""

from __future__ import annotations

import functools
import math
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

SLATE_ZONE = ZoneInfo("America/New_York")
LEAGUES = ("nba", "nfl", "mlb")


def slate_date(start_time: datetime) -> str:
    """YYYYMMDD of the start in America/New_York, so a late game stays in its day's file."""
    return start_time.astimezone(SLATE_ZONE).strftime("%Y%m%d")


def today_slate(now: datetime | None = None) -> str:
    return slate_date(now or datetime.now(UTC))


def slate_day(now: datetime | None = None) -> date:
    return (now or datetime.now(UTC)).astimezone(SLATE_ZONE).date()


def parse_iso(value: str) -> datetime:
    """ISO 8601 with 'Z' and up to 7 fraction digits (DraftKings REST) -> aware UTC datetime."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    if "." in text:
        head, _, rest = text.partition(".")
        digits = ""
        while rest and rest[0].isdigit():
            digits, rest = digits + rest[0], rest[1:]
        text = f"{head}.{digits[:6].ljust(6, '0')}{rest}"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def iso_utc(moment: datetime) -> str:
    """'2026-12-01T23:10:00Z' (milliseconds when present)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    # isoformat is C and truncates to the millisecond; "+00:00" becomes "Z" (hot: per message).
    if moment.microsecond:
        return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
    return moment.isoformat(timespec="seconds")[:-6] + "Z"


def utc_now() -> datetime:
    return datetime.now(UTC)


def wall_clock(
    start: datetime | None = None, timer: Callable[[], float] = time.monotonic
) -> Callable[[], datetime]:
    """The real UTC clock; or, given `start`, a clock that reads `start` now and runs on from
    there (SNUPER_NOW: replays, demos and tests that must not depend on the day they run)."""
    if start is None:
        return utc_now
    began = timer()
    return lambda: start + timedelta(seconds=timer() - began)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A book's timestamp outside [2000, 2100) is garbage, not a time.
_TS_MIN = datetime(2000, 1, 1, tzinfo=UTC)
_TS_MAX = datetime(2100, 1, 1, tzinfo=UTC)
_SECONDS_MIN = int((_TS_MIN - _EPOCH).total_seconds())
_SECONDS_MAX = int((_TS_MAX - _EPOCH).total_seconds())
_MS_THRESHOLD = 100_000_000_000  # epoch numbers above 1e11 are milliseconds, else seconds
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
# Already the normal form (a book's usual shape, and every FeedBatch's second look): kept as is.
_NORMAL = re.compile(r"20\d\d-[01]\d-[0-3]\dT[0-2]\d:[0-5]\d:[0-5]\d\.\d{3}Z")


def normalise_ts(value: object) -> str | None:
    """A book's publish time, whatever its form, as ISO UTC with milliseconds, else None.

    Reads ISO 8601 strings (Z, an offset or no zone, which means UTC; any number of fraction
    digits), epoch seconds or milliseconds as int, float or numeric string (above 1e11 means
    milliseconds), datetimes (naive means UTC) and msgpack Timestamp-like objects (`seconds`,
    `nanoseconds`). Anything unreadable, non-finite or outside 2000-2099 gives None; it never
    raises. Always three fraction digits, truncated ("2026-12-02T00:29:59.123Z", ".000Z" at a
    whole second), so every source_ts has one shape; parse_iso reads it back.
    """
    if isinstance(value, str):
        if _NORMAL.fullmatch(value) is not None and _valid_hour(value[:13]):
            return value
        return _ts_from_text(value)
    if isinstance(value, datetime):
        return _ts_from_datetime(value)
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        return _ts_from_number(value)
    seconds = getattr(value, "seconds", None)
    nanoseconds = getattr(value, "nanoseconds", None)
    if (
        isinstance(seconds, int)
        and isinstance(nanoseconds, int)
        and not isinstance(seconds, bool)
        and not isinstance(nanoseconds, bool)
        and 0 <= nanoseconds < 1_000_000_000
        and _SECONDS_MIN <= seconds < _SECONDS_MAX
    ):
        return _ts_format(seconds * 1_000_000 + nanoseconds // 1000)
    return None


@functools.lru_cache(maxsize=256)
def _valid_hour(text: str) -> bool:
    """'YYYY-MM-DDTHH' names a real hour (not 2026-02-30T25); cached, as hours repeat."""
    try:
        datetime(int(text[:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]))
    except ValueError:
        return False
    return True


def _ts_from_text(value: str) -> str | None:
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if _NUMBER.fullmatch(text):
        return _ts_from_number(Decimal(text))
    if not any(sep in text for sep in "Tt "):
        return None  # a bare date is not a timestamp
    if text[-1] == "z":
        text = text[:-1] + "Z"
    try:
        moment = datetime.fromisoformat(text)  # 3.11: Z, offsets, any fraction length
    except ValueError:
        return None
    return _ts_from_datetime(moment)


def _ts_from_datetime(moment: datetime) -> str | None:
    if moment.tzinfo is UTC and _TS_MIN <= moment < _TS_MAX:  # the usual case, in C
        return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
    try:
        if moment.utcoffset() is None:  # naive (or a tzinfo without an offset): UTC
            moment = moment.replace(tzinfo=UTC)
        if not _TS_MIN <= moment < _TS_MAX:
            return None
        delta = moment - _EPOCH
    except (OverflowError, ValueError):  # an offset pushing it outside datetime's range
        return None
    return _ts_format((delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds)


def _ts_from_number(value: float | Decimal) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal) and not value.is_finite():
        return None
    # Bounds are checked before any arithmetic, so nothing can overflow below.
    if value > _MS_THRESHOLD:
        if not _SECONDS_MIN * 1000 <= value < _SECONDS_MAX * 1000:
            return None
        micros = value * 1000
    else:
        if not _SECONDS_MIN <= value < _SECONDS_MAX:
            return None
        micros = value * 1_000_000
    # round: a float such as 1791459657.449 is 1791459657.44899988...; its intent is .449
    return _ts_format(round(micros) if isinstance(micros, float) else int(micros))


def _ts_format(micros: int) -> str:
    moment = _EPOCH + timedelta(microseconds=micros)
    return moment.isoformat(timespec="milliseconds")[:-6] + "Z"
