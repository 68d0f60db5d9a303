"""Small hand-built model objects shared by the unit tests.

Dates come from the caller (or the fixed START): no test data depends on the day the suite runs.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from snuper.model import Event, Selection, Snapshot
from snuper.slate import slate_date

START = datetime(2026, 12, 2, 0, 10, tzinfo=UTC)  # 19:10 in New York on 2026-12-01


def selections(num: str) -> tuple[Selection, ...]:
    return (
        Selection(
            f"0ML{num}_1", f"1_{num}", "moneyline", "home", "BOS Celtics", None, -150, 1.6667
        ),
        Selection(f"0ML{num}_3", f"1_{num}", "moneyline", "away", "NY Knicks", None, 130, 2.3),
        Selection(
            f"0HC{num}N350_1", f"2_{num}", "spread", "home", "BOS Celtics", -3.5, -110, 1.9091
        ),
        Selection(f"0HC{num}P350_3", f"2_{num}", "spread", "away", "NY Knicks", 3.5, -110, 1.9091),
        Selection(f"0OU{num}O22150_1", f"3_{num}", "total", "over", "Over", 221.5, -105, 1.9524),
        Selection(f"0OU{num}U22150_3", f"3_{num}", "total", "under", "Under", 221.5, -115, 1.8696),
    )


def event(event_id: str = "101", num: str = "500", start: datetime = START) -> Event:
    return Event(
        provider="draftkings",
        league="nba",
        event_id=event_id,
        name="NY Knicks @ BOS Celtics",
        home="BOS Celtics",
        away="NY Knicks",
        start_time=start,
        slate_date=slate_date(start),
        event_url=f"https://sportsbook.draftkings.com/event/nyk-%40-bos/{event_id}",
        selections=selections(num),
        meta={"league_id": "42648"},
    )


def snapshot(*events: Event, slate: str | None = None) -> Snapshot:
    events = events or (event(),)
    created = events[0].start_time - timedelta(hours=9)
    return Snapshot("draftkings", "nba", slate or events[0].slate_date, created, events)
