"""FanDuel live feed: getMarketPrices for the snapshot's main markets, polled.

The site polls it about every 5 s with the markets on screen; we ask for every watched market of
the league, in batches (one request per BATCH markets: one or two for a normal slate)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from snuper.config import Settings
from snuper.feed import (
    Feed,
    FeedBatch,
    Message,
    PollTransport,
    frame_round,
    http_post_json,
)
from snuper.model import Snapshot
from snuper.poll import Politeness, poll_interval, shared_client
from snuper.providers.fanduel.parse import AK, parse_prices, prices_request

log = logging.getLogger("snuper.fanduel")

PRICES_PATH = "/api/sports/fixedodds/readonly/v1/getMarketPrices?priceHistory=0"
BATCH = 25  # markets per request (inferred: the site asks for the markets on screen)
POLL_S = 5.0  # the site's own cadence, unless -i says otherwise
PACE_S = 0.25


class PricePoller:
    """Asks for the league's markets still on; an event the book stopped listing is dropped
    from the next rounds."""

    def __init__(self, endpoints: Mapping[str, str], settings: Settings, snapshot: Snapshot):
        self.url = f"{endpoints['PRICES']}{PRICES_PATH}"
        self.settings = settings
        self.headers = {"X-Application": AK, "x-sportsbook-region": settings.state.upper()}
        self.event_of = {
            str(market_id): e.event_id
            for e in snapshot.events
            for market_id in dict(e.meta.get("market_ids", {})).values()
        }
        self.politeness = Politeness.from_env(PACE_S)

    def batches(self) -> list[list[str]]:
        ids = list(self.event_of)
        return [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]

    async def fetch(self) -> Sequence[Message]:
        client = shared_client(
            self.settings.user_agent, self.settings.monitor.receive_timeout, self.politeness
        )
        answers: list[tuple[str, bytes]] = []
        for n, batch in enumerate(self.batches()):
            body = await http_post_json(client, self.url, prices_request(batch), self.headers)
            answers.append((f"batch={n}", body))
        return [frame_round(answers)] if answers else []

    def parse(self, message: Message) -> FeedBatch:
        batch = parse_prices(message, self.event_of)
        if batch.events_listed is not None:
            over = set(self.event_of.values()) - batch.events_listed
            self.event_of = {m: e for m, e in self.event_of.items() if e not in over}
        return batch


def build_feed(endpoints: Mapping[str, str], settings: Settings, snapshot: Snapshot) -> Feed:
    # httpx logs every request at INFO (see the BetMGM feed): quiet unless someone chose.
    if logging.getLogger("httpx").level == logging.NOTSET:
        logging.getLogger("httpx").setLevel(logging.WARNING)
    poller = PricePoller(endpoints, settings, snapshot)
    interval = poll_interval(settings.monitor.poll_interval, POLL_S)
    transport = PollTransport(
        poller.fetch,
        interval,
        timeout=settings.monitor.receive_timeout,
        describe=f"{poller.url} (every {interval:g}s)",
    )
    return Feed(transport, poller.parse)
