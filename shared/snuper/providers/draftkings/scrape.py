"""DraftKings scrape: open each league page in one browser, read the sportscontent JSON it loads."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from playwright.async_api import BrowserContext

from snuper.browser import json_loaded_by_page, open_browser
from snuper.feed import ParseError
from snuper.model import Event, Snapshot
from snuper.page_data import BrowserError
from snuper.providers.base import ScrapeContext, ScrapeFailure, ScrapeResults
from snuper.providers.draftkings.parse import LEAGUES, parse_league
from snuper.providers.page_load import ScrapeError, load_failure, with_retries

log = logging.getLogger("snuper.draftkings")


def todays_games(events: Sequence[Event], today: str) -> list[Event]:
    """The league feed also lists later days; a snapshot holds one slate: today's."""
    return [e for e in events if e.slate_date == today]


async def scrape(ctx: ScrapeContext, leagues: Sequence[str]) -> ScrapeResults:
    """Each league's outcome as soon as it is read (the caller saves it before the next starts).
    Closing the generator or cancelling its task abandons the page load at once."""
    async with open_browser(ctx.settings, ctx.browser) as browser:
        for league in leagues:
            yield await _scrape_league(ctx, browser, league)


async def _scrape_league(
    ctx: ScrapeContext, browser: BrowserContext, league: str
) -> Snapshot | ScrapeFailure:
    ids = LEAGUES[league]
    page_url = f"{ctx.endpoints['SITE']}/leagues/{ids.path}"
    # The page loads the league JSON from the API host; that response is what we read.
    prefix = f"{ctx.endpoints['API']}/api/sportscontent/"
    marker = f"/leagues/{ids.league_id}"

    def wanted(url: str) -> bool:
        return url.startswith(prefix) and marker in url

    log.info("draftkings %s: opening %s", league, page_url)
    # One league failing does not cost the others their snapshot.
    try:
        loaded = await with_retries(
            "draftkings", lambda: json_loaded_by_page(browser, page_url, wanted)
        )
    except (ScrapeError, BrowserError) as exc:
        return load_failure(league, exc)
    log.info("draftkings %s: page loaded its league data (%s)", league, loaded.url)
    try:
        events = parse_league(loaded.payload, league, site_base=ctx.endpoints["SITE"])
    except ParseError as exc:
        return ScrapeFailure(league, "unparseable", f"{loaded.url}: {exc}")
    todays = todays_games(events, ctx.slate)
    log.info("draftkings %s: %d events on slate %s (%d in the feed)",
             league, len(todays), ctx.slate, len(events))  # fmt: skip
    return Snapshot("draftkings", league, ctx.slate, ctx.now(), tuple(todays))
