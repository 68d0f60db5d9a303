"""BetMGM live feed: the league's CDS fixtures list, polled.

One round costs ceil(totalCount / take) requests for the whole league (one, on a normal slate),
where fixture-view would cost one per game: the list is never more requests than the games.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from urllib.parse import urlencode

import httpx
import orjson

from snuper.config import Settings
from snuper.feed import (
    Feed,
    FeedBatch,
    FeedUnavailable,
    Message,
    PollTransport,
    frame_round,
    http_get_all,
)
from snuper.model import Snapshot
from snuper.poll import Politeness, poll_interval, shared_client
from snuper.providers.betmgm.parse import LEAGUES, LeagueIds, parse_round

log = logging.getLogger("snuper.betmgm")

TAKE = 50
PACE_S = 0.75  # wire-formats.md: ~0.75 s per host; bursts get 301/403
POLL_S = 1.0  # a round per second unless -i says otherwise


class LeaguePoller:
    """Fetches a round and parses it; remembers the league's size (pages per round) and the
    access id (from the snapshot, else clientconfig; read again after a 403)."""

    def __init__(
        self, endpoints: Mapping[str, str], settings: Settings, ids: LeagueIds, access_id: str
    ) -> None:
        self.api = endpoints["API"]
        self.settings = settings
        self.ids = ids
        self.access_id = access_id
        self.pages = 1
        self.politeness = Politeness.from_env(PACE_S)

    def _client(self) -> httpx.AsyncClient:
        timeout = self.settings.monitor.receive_timeout
        return shared_client(self.settings.user_agent, timeout, self.politeness)

    def _url(self, skip: int) -> str:
        query = {
            "x-bwin-accessid": self.access_id, "lang": "en-us", "country": "US",
            "userCountry": "US", "fixtureTypes": "Standard", "state": "Latest",
            "offerMapping": "Filtered", "offerCategories": "Gridable",
            "fixtureCategories": "Gridable", "sortBy": "Tags", "take": TAKE, "skip": skip,
            "sportIds": self.ids.sport_id, "competitionIds": self.ids.competition_id,
        }  # fmt: skip
        return f"{self.api}/cds-api/bettingoffer/fixtures?{urlencode(query)}"

    async def fetch(self) -> Sequence[Message]:
        client = self._client()
        if not self.access_id:
            self.access_id = await self._client_config(client)
        pages: list[tuple[str, bytes]] = []
        try:
            for skip in range(0, self.pages * TAKE, TAKE):
                (body,) = await http_get_all(client, [self._url(skip)])
                pages.append((f"skip={skip}", bytes(body) if not isinstance(body, str) else
                              body.encode()))  # fmt: skip
        except FeedUnavailable as exc:
            if "HTTP 403" in exc.reason:
                self.access_id = ""  # the key may have rotated: clientconfig next round
            raise
        return [frame_round(pages)]

    async def _client_config(self, client: httpx.AsyncClient) -> str:
        url = f"{self.api}/en/api/clientconfig"
        (body,) = await http_get_all(client, [url], {"x-bwin-sports-api": "prod"})
        try:
            found = orjson.loads(body)["msApp"]["publicAccessId"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            found = None
        if not isinstance(found, str) or not found:
            raise FeedUnavailable(f"{url}: no msApp.publicAccessId")
        return found

    def parse(self, message: Message) -> FeedBatch:
        batch, total = parse_round(message)
        self.pages = max(1, math.ceil(total / TAKE))
        return batch


def build_feed(endpoints: Mapping[str, str], settings: Settings, snapshot: Snapshot) -> Feed:
    # httpx logs every request at INFO: once a second per league would drown the monitor's log
    # (-v still shows each round through the engine's debug lines). Only when nobody chose.
    if logging.getLogger("httpx").level == logging.NOTSET:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    ids = LEAGUES[snapshot.league]
    access_id = next(
        (str(e.meta["access_id"]) for e in snapshot.events if e.meta.get("access_id")), ""
    )
    poller = LeaguePoller(endpoints, settings, ids, access_id)
    interval = poll_interval(settings.monitor.poll_interval, POLL_S)
    transport = PollTransport(
        poller.fetch,
        interval,
        timeout=settings.monitor.receive_timeout,
        describe=f"{endpoints['API']}/cds-api/bettingoffer/fixtures (every {interval:g}s)",
    )
    return Feed(transport, poller.parse)
