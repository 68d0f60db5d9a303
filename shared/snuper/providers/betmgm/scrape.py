"""BetMGM scrape: open each league page in one browser, read the access id and the first fixtures
page from the CDS call the page makes, then page through the rest in the same browser session."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from playwright.async_api import BrowserContext, Error

from snuper.browser import json_loaded_by_page, open_browser
from snuper.feed import ParseError
from snuper.model import Event, Snapshot
from snuper.page_data import BrowserError, NotJson, PageJson
from snuper.providers.base import ScrapeContext, ScrapeFailure, ScrapeResults
from snuper.providers.betmgm.parse import LEAGUES, PROVIDER, parse_fixtures_page, to_event
from snuper.providers.page_load import ScrapeError, load_failure, with_retries

log = logging.getLogger("snuper.betmgm")

FIXTURES_PATH = "/cds-api/bettingoffer/fixtures"
MAX_PAGES = 100  # a guard against a totalCount that never comes true


async def scrape(ctx: ScrapeContext, leagues: Sequence[str]) -> ScrapeResults:
    """Each league's outcome as soon as it is read (see providers.base.ScrapeResults)."""
    async with open_browser(ctx.settings, ctx.browser) as browser:
        for league in leagues:
            yield await _scrape_league(ctx, browser, league)


async def _scrape_league(
    ctx: ScrapeContext, browser: BrowserContext, league: str
) -> Snapshot | ScrapeFailure:
    ids = LEAGUES[league]
    page_url = f"{ctx.endpoints['SITE']}/en/sports/{ids.path}"
    prefix = f"{ctx.endpoints['API']}{FIXTURES_PATH}"
    marker = f"competitionIds={ids.competition_id}"

    def wanted(url: str) -> bool:
        return url.startswith(prefix) and marker in url

    log.info("betmgm %s: opening %s", league, page_url)
    try:
        first = await _load_with_retries(browser, page_url, wanted)
        access_id = dict(parse_qsl(urlsplit(first.url).query)).get("x-bwin-accessid", "")
        pages = await _all_pages(browser, first, access_id)
    except (ScrapeError, BrowserError) as exc:
        return load_failure(league, exc)
    except ParseError as exc:
        return ScrapeFailure(league, "unparseable", f"{first.url}: {exc}")
    meta = {
        "access_id": access_id,
        "sport_id": ids.sport_id,
        "competition_id": ids.competition_id,
    }
    events: list[Event] = [
        to_event(fx, league, ctx.endpoints["SITE"], meta) for page in pages for fx in page
    ]
    todays = [e for e in events if e.slate_date == ctx.slate]
    todays.sort(key=lambda e: (e.start_time, int(e.event_id)))
    log.info("betmgm %s: %d events on slate %s (%d listed, %d pages)",
             league, len(todays), ctx.slate, len(events), len(pages))  # fmt: skip
    return Snapshot(PROVIDER, league, ctx.slate, ctx.now(), tuple(todays))


async def _all_pages(browser: BrowserContext, first: PageJson, access_id: str) -> list[list[Any]]:
    """The first page the site loaded, then skip/take through the rest in the same session."""
    fixtures, total = parse_fixtures_page(first.payload)
    pages = [fixtures]
    seen = len(fixtures)
    while seen < total and fixtures and len(pages) < MAX_PAGES:
        url = _with_skip(first.url, seen)
        payload = await _get_json(browser, url, access_id)
        fixtures, total = parse_fixtures_page(payload, f"page[{len(pages)}]")
        pages.append(fixtures)
        seen += len(fixtures)
    return pages


def _with_skip(url: str, skip: int) -> str:
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "skip"]
    return urlunsplit(parts._replace(query=urlencode([*query, ("skip", str(skip))])))


async def _get_json(browser: BrowserContext, url: str, access_id: str) -> Any:
    async def once() -> PageJson:
        try:
            response = await browser.request.get(url, headers={"x-bwin-accessid": access_id})
            payload = None
            if response.status == 200:
                try:
                    payload = await response.json()
                except (ValueError, Error) as exc:  # a bot-check page answered with 200
                    raise NotJson(f"{url}: not JSON ({exc})") from exc
            return PageJson(url, response.status, response.headers, payload)
        except NotJson:
            raise
        except Error as exc:
            raise BrowserError(f"{url}: {str(exc).strip().splitlines()[0]}") from exc

    return (await with_retries("betmgm", once)).payload


async def _load_with_retries(
    browser: BrowserContext, page_url: str, wanted: Callable[[str], bool]
) -> PageJson:
    return await with_retries("betmgm", lambda: json_loaded_by_page(browser, page_url, wanted))
