"""Bovada scrape: the league's coupon over plain HTTP (no browser), main lines into the model."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import httpx
import orjson

from snuper.feed import ParseError
from snuper.model import Snapshot
from snuper.page_data import BrowserError, NotJson, PageJson
from snuper.providers.base import ScrapeContext, ScrapeFailure, ScrapeResults
from snuper.providers.bovada.parse import LEAGUES, PROVIDER, parse_coupon, to_event
from snuper.providers.page_load import ScrapeError, load_failure, with_retries

log = logging.getLogger("snuper.bovada")

COUPON_PATH = "/services/sports/event/coupon/events/A/description"
COUPON_QUERY = "marketFilterId=def&preMatchOnly=true&eventsLimit=50&lang=en"


def coupon_url(api: str, league: str) -> str:
    return f"{api.rstrip('/')}{COUPON_PATH}/{LEAGUES[league].path}?{COUPON_QUERY}"


async def scrape(ctx: ScrapeContext, leagues: Sequence[str]) -> ScrapeResults:
    """Each league's outcome as soon as it is read (see providers.base.ScrapeResults)."""
    timeout = ctx.settings.monitor.receive_timeout
    headers = {"User-Agent": ctx.settings.user_agent, "Accept": "application/json",
               "Origin": ctx.endpoints["SITE"]}  # fmt: skip
    # A redirect from the book is a refusal (to a login or a region page), not a new address.
    async with httpx.AsyncClient(
        headers=headers, timeout=timeout, follow_redirects=False
    ) as client:
        for league in leagues:
            yield await _scrape_league(ctx, client, league)


async def _scrape_league(
    ctx: ScrapeContext, client: httpx.AsyncClient, league: str
) -> Snapshot | ScrapeFailure:
    url = coupon_url(ctx.endpoints["API"], league)
    log.info("bovada %s: fetching %s", league, url)
    try:
        loaded = await with_retries(PROVIDER, lambda: _get(client, url))
        coupon = parse_coupon(loaded.payload)
        events = [to_event(e, league, ctx.endpoints["SITE"]) for e in coupon]
    except (ScrapeError, BrowserError) as exc:
        return load_failure(league, exc)
    except ParseError as exc:
        return ScrapeFailure(league, "unparseable", f"{url}: {exc}")
    todays = [e for e in events if e.slate_date == ctx.slate]
    todays.sort(key=lambda e: (e.start_time, e.event_id))
    log.info("bovada %s: %d events on slate %s (%d in the coupon)",
             league, len(todays), ctx.slate, len(events))  # fmt: skip
    return Snapshot(PROVIDER, league, ctx.slate, ctx.now(), tuple(todays))


async def _get(client: httpx.AsyncClient, url: str) -> PageJson:
    """One GET; the answer's JSON when it is 200. A 200 that is not JSON is a challenge page
    (blocked); a network failure is a BrowserError, the failure type every scrape reports."""
    try:
        response = await client.get(url)
    except httpx.HTTPError as exc:
        raise BrowserError(f"{url}: {type(exc).__name__}: {exc}".rstrip(": ")) from exc
    payload = None
    if response.status_code == 200:
        try:
            payload = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise NotJson(f"{url}: not JSON ({exc})") from exc
    return PageJson(url, response.status_code, dict(response.headers), payload)
