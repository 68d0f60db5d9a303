"""Calendar traps (issue 10, for every book): the slate is the start date in New York, on the days
daylight saving time starts and ends too; late games cross midnight UTC and stay on their slate."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from snuper.slate import slate_date, today_slate


@pytest.mark.parametrize(
    ("start", "slate"),
    [
        # 2026-03-08: clocks go forward at 02:00 in New York (UTC-5 -> UTC-4).
        (datetime(2026, 3, 8, 4, 59, tzinfo=UTC), "20260307"),  # 23:59 EST on the 7th
        (datetime(2026, 3, 8, 5, 0, tzinfo=UTC), "20260308"),  # 00:00 EST
        (datetime(2026, 3, 9, 3, 59, tzinfo=UTC), "20260308"),  # 23:59 EDT
        (datetime(2026, 3, 9, 4, 0, tzinfo=UTC), "20260309"),
        # 2026-11-01: clocks go back at 02:00 (UTC-4 -> UTC-5); 01:30 happens twice.
        (datetime(2026, 11, 1, 3, 59, tzinfo=UTC), "20261031"),  # 23:59 EDT on the 31st
        (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), "20261101"),  # 01:30 EDT
        (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), "20261101"),  # 01:30 EST, the second time
        (datetime(2026, 11, 2, 4, 59, tzinfo=UTC), "20261101"),  # 23:59 EST
        # A late game: 22:10 EDT on the 15th is 02:10 UTC on the 16th.
        (datetime(2026, 7, 16, 2, 10, tzinfo=UTC), "20260715"),
    ],
)
def test_the_slate_is_the_start_date_in_new_york(start: datetime, slate: str) -> None:
    assert slate_date(start) == slate
    assert today_slate(start) == slate  # a run at that moment works on the same slate
