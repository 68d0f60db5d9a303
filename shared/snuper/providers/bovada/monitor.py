"""Bovada live feed: one Atmosphere websocket per league, one subscription per event."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping

from snuper.config import Settings
from snuper.feed import Feed, FeedBatch, Message, Removed, WebSocketTransport
from snuper.model import Snapshot
from snuper.providers.bovada.parse import parse_frame, subscribe_message

ATMOSPHERE_QUERY = (
    "X-Atmosphere-tracking-id=0&X-Atmosphere-Framework=3.1.0-javascript"
    "&X-Atmosphere-Transport=websocket"
)


class Subscriptions:
    """The league's events still on: every (re)connection subscribes to each of them, asking for
    what changed since the last frame heard (the snapshot's time at first). An event the book
    deleted is not subscribed again."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.live = [e.event_id for e in snapshot.events]
        self.since_ms = int(snapshot.created_at.timestamp() * 1000)

    def messages(self) -> list[Message]:
        return [subscribe_message(event_id, self.since_ms) for event_id in self.live]

    def parse(self, message: Message) -> FeedBatch:
        batch = parse_frame(message)
        self.since_ms = int(time.time() * 1000)  # the book's clock, not the engine's test clock
        for item in batch.items:
            if isinstance(item, Removed) and item.kind == "event" and item.entity_id in self.live:
                self.live.remove(item.entity_id)
        return batch


def build_feed(endpoints: Mapping[str, str], settings: Settings, snapshot: Snapshot) -> Feed:
    subscriptions = Subscriptions(snapshot)
    base = endpoints["WS"].rstrip("/")

    def url() -> str:
        # A fresh connection id per connection, upper case as the site's script makes it.
        return f"{base}/{str(uuid.uuid4()).upper()}?{ATMOSPHERE_QUERY}"

    transport = WebSocketTransport(
        url,
        subscriptions.messages,
        headers={"Origin": endpoints["SITE"], "User-Agent": settings.user_agent},
        open_timeout=settings.monitor.receive_timeout,
        describe=f"{base}/<connection id>",
    )
    return Feed(transport, subscriptions.parse)
