"""DraftKings scrape: open each league page in one browser, read the sportscontent JSON it loads."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from playwright.async_api import BrowserContext

from snuper.backoff import Backoff
from snuper.browser import BrowserError, NotJson, PageJson, json_loaded_by_page, open_browser
from snuper.feed import ParseError, retry_after_s
from snuper.model import Event, Snapshot
from snuper.providers.base import ScrapeContext, ScrapeFailure, ScrapeResults
from snuper.providers.draftkings.parse import LEAGUES, parse_league

log = logging.getLogger("snuper.draftkings")

ATTEMPTS = 4
RETRY_STATUSES = frozenset({403, 429, 500, 502, 503, 504})
BLOCKED_STATUSES = frozenset({401, 403, 429})


class ScrapeError(RuntimeError):
    """A league could not be read; the message names the URL and what went wrong."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


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
        loaded = await _load_with_retries(browser, page_url, wanted)
    except ScrapeError as exc:
        blocked = exc.status in BLOCKED_STATUSES
        return ScrapeFailure(league, "blocked" if blocked else "failed", str(exc))
    except NotJson as exc:
        return ScrapeFailure(league, "blocked", str(exc))
    except BrowserError as exc:
        return ScrapeFailure(league, "failed", str(exc))
    log.info("draftkings %s: page loaded its league data (%s)", league, loaded.url)
    try:
        events = parse_league(loaded.payload, league, site_base=ctx.endpoints["SITE"])
    except ParseError as exc:
        return ScrapeFailure(league, "unparseable", f"{loaded.url}: {exc}")
    todays = todays_games(events, ctx.slate)
    log.info("draftkings %s: %d events on slate %s (%d in the feed)",
             league, len(todays), ctx.slate, len(events))  # fmt: skip
    return Snapshot("draftkings", league, ctx.slate, ctx.now(), tuple(todays))


async def _load_with_retries(
    browser: BrowserContext, page_url: str, wanted: Callable[[str], bool]
) -> PageJson:
    backoff = Backoff(1.0, 20.0)
    for attempt in range(1, ATTEMPTS + 1):
        loaded = await json_loaded_by_page(browser, page_url, wanted)
        if loaded.status == 200:
            return loaded
        if loaded.status not in RETRY_STATUSES or attempt == ATTEMPTS:
            break
        delay = max(backoff.next_delay(), retry_after_s(loaded.headers.get("retry-after")) or 0)
        log.warning("draftkings: %s answered %d; retry %d in %.1fs",
                    loaded.url, loaded.status, attempt, delay)  # fmt: skip
        await asyncio.sleep(delay)
    raise ScrapeError(
        f"{loaded.url} answered HTTP {loaded.status} after {attempt} attempts", loaded.status
    )
