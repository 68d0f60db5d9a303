"""Slate dates: snapshots and odds files are keyed by the start date in New York."""

from __future__ import annotations

from datetime import UTC, date, datetime
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
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_now() -> datetime:
    return datetime.now(UTC)
