"""FanDuel scrape: open each league page in one browser, read the content-managed-page JSON it
loads (every game of the league with its markets: no browser per event)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from playwright.async_api import BrowserContext

from snuper.browser import json_loaded_by_page, open_browser
from snuper.feed import ParseError
from snuper.model import Snapshot
from snuper.page_data import BrowserError
from snuper.providers.base import ScrapeContext, ScrapeFailure, ScrapeResults
from snuper.providers.fanduel.parse import LEAGUES, PROVIDER, parse_page, to_event
from snuper.providers.page_load import ScrapeError, load_failure, with_retries

log = logging.getLogger("snuper.fanduel")

PAGE_PATH = "/api/content-managed-page"


async def scrape(ctx: ScrapeContext, leagues: Sequence[str]) -> ScrapeResults:
    """Each league's outcome as soon as it is read (see providers.base.ScrapeResults)."""
    async with open_browser(ctx.settings, ctx.browser) as browser:
        for league in leagues:
            yield await _scrape_league(ctx, browser, league)


async def _scrape_league(
    ctx: ScrapeContext, browser: BrowserContext, league: str
) -> Snapshot | ScrapeFailure:
    ids = LEAGUES[league]
    page_url = f"{ctx.endpoints['SITE']}/navigation/{ids.page}"
    prefix = f"{ctx.endpoints['API']}{PAGE_PATH}"
    marker = f"customPageId={ids.page}"

    def wanted(url: str) -> bool:
        return url.startswith(prefix) and marker in url

    log.info("fanduel %s: opening %s", league, page_url)
    try:
        loaded = await with_retries(
            PROVIDER, lambda: json_loaded_by_page(browser, page_url, wanted)
        )
    except (ScrapeError, BrowserError) as exc:
        return load_failure(league, exc)
    try:
        games = parse_page(loaded.payload)
    except ParseError as exc:
        return ScrapeFailure(league, "unparseable", f"{loaded.url}: {exc}")
    # The league page may list other competitions' games (a featured one): keep the league's.
    games = [g for g in games if g.competition_id in (None, ids.competition_id)]
    events = [to_event(g, league, ctx.endpoints["SITE"]) for g in games]
    todays = sorted((e for e in events if e.slate_date == ctx.slate),
                    key=lambda e: (e.start_time, int(e.event_id)))  # fmt: skip
    log.info("fanduel %s: %d events on slate %s (%d games listed)",
             league, len(todays), ctx.slate, len(events))  # fmt: skip
    return Snapshot(PROVIDER, league, ctx.slate, ctx.now(), tuple(todays))
