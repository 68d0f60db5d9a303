"""The ScrapeFunction's job: scrape the providers and leagues an event asks for into the sinks of
the environment, and say per provider and league what happened.

One book failing (even with an error the library does not expect) does not stop the others; a
run about to reach the Lambda timeout stops in time to return its summary, and the leagues it did
not reach say "timeout"."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from snuper import app
from snuper.aws import environment
from snuper.aws.events import Selection, parse_selection
from snuper.aws.observability import EVENTS_SCRAPED, SCRAPE_ERRORS, count
from snuper.config import Settings
from snuper.providers import PROVIDERS
from snuper.sinks.base import Sink
from snuper.slate import today_slate

log = logging.getLogger("snuper")
# Kept of the Lambda's time for closing the sinks and returning the summary.
TIMEOUT_MARGIN_S = 15.0
# Not written, and worth an alarm; "no games" is an ordinary day off (listed, not counted).
ERRORS = (app.Status.BLOCKED, app.Status.UNPARSEABLE, app.Status.FAILED, app.Status.INTERRUPTED)
DONE = (app.Status.WRITTEN, app.Status.KEPT)


def scrape_event(event: object, remaining_ms: int) -> dict[str, Any]:
    """Validate, scrape, summarise; metrics EventsScraped and ScrapeErrors. EventError (a bad
    event) is raised before any sink is built, so nothing is written."""
    try:
        selection = parse_selection(event)
        settings = environment.settings()
        sink = environment.sink()
        now = environment.clock(settings)
        try:
            outcomes = asyncio.run(_scrape(selection, sink, settings, now, remaining_ms / 1000))
        finally:
            environment.close(sink)
    except Exception:
        count(SCRAPE_ERRORS, 1)  # a rejected event or a broken configuration is an error too
        raise
    count(EVENTS_SCRAPED, sum(o.events for o in outcomes if o.status in DONE))
    count(SCRAPE_ERRORS, sum(o.status in ERRORS for o in outcomes))
    return summary(outcomes, today_slate(now()))


async def _scrape(
    selection: Selection,
    sink: Sink,
    settings: Settings,
    now: Callable[[], datetime],
    seconds_left: float,
) -> list[app.ScrapeOutcome]:
    stop = asyncio.Event()
    timer = asyncio.get_running_loop().call_later(
        max(0.0, seconds_left - TIMEOUT_MARGIN_S), stop.set
    )
    outcomes: list[app.ScrapeOutcome] = []
    try:
        for name in selection.providers:
            outcomes += await _one_book(name, selection.leagues, sink, settings, now, stop)
    finally:
        timer.cancel()
    return outcomes


async def _one_book(
    name: str,
    leagues: Sequence[str],
    sink: Sink,
    settings: Settings,
    now: Callable[[], datetime],
    stop: asyncio.Event,
) -> list[app.ScrapeOutcome]:
    provider = PROVIDERS[name]
    try:
        outcomes = await app.scrape([provider], leagues, sink, settings, now=now, stop=stop)
    except Exception as exc:  # a bug in one book's scraper must not cost the other books
        log.exception("%s: the scrape failed", name)
        slate = today_slate(now())
        reason = f"{type(exc).__name__}: {exc}"
        wanted = [lg for lg in leagues if lg in provider.leagues]
        return [app.ScrapeOutcome(name, lg, app.Status.FAILED, slate, reason=reason)
                for lg in wanted]  # fmt: skip
    # The only stop is the timer: a league it cut short ran out of the Lambda's time.
    return [
        replace(o, reason=f"timeout: {o.reason}") if o.status == app.Status.INTERRUPTED else o
        for o in outcomes
    ]


def summary(outcomes: Sequence[app.ScrapeOutcome], slate: str) -> dict[str, Any]:
    """{"slate", "results": [per provider and league], "failed": ["provider league: status:
    reason", ...]} for every league that got no snapshot."""
    results = [
        {"provider": o.provider, "league": o.league, "status": str(o.status), "events": o.events,
         "selections": o.selections, "where": o.where, "reason": o.reason}
        for o in outcomes
    ]  # fmt: skip
    failed = [
        f"{o.provider} {o.league}: {o.status}: {o.reason or _why(o.status)}"
        for o in outcomes
        if o.status not in DONE
    ]
    return {"slate": outcomes[0].slate if outcomes else slate, "results": results, "failed": failed}


def _why(status: app.Status) -> str:
    return "no games on the slate; nothing written" if status == app.Status.NO_GAMES else "-"
