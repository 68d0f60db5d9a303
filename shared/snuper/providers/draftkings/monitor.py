"""DraftKings live feed: one msgpack websocket per league, one league-wide subscription."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence

from snuper.config import Settings
from snuper.feed import Feed, Message, WebSocketTransport
from snuper.model import Snapshot
from snuper.providers.draftkings.parse import (
    LEAGUES,
    FrameDecoder,
    sent_subscription,
    subscribe_message,
)


def build_feed(endpoints: Mapping[str, str], settings: Settings, snapshot: Snapshot) -> Feed:
    ids = LEAGUES[snapshot.league]
    decoder = FrameDecoder()

    def subscribe() -> list[Message]:
        # A fresh id per connection; initialData brings the current prices, so whatever moved
        # while we were disconnected (or since the snapshot) is caught up on resubscribe.
        decoder.new_connection()
        sub_id = str(uuid.uuid4())
        decoder.track(sub_id, "events")
        message = subscribe_message(
            sub_id,
            league_id=ids.league_id,
            subcategory_id=ids.subcategory_id,
            site_name=f"dkus{settings.state}",
            initial_data=True,
        )
        return [message]

    url = f"{endpoints['WS']}?format=msgpack&locale=en"
    transport = WebSocketTransport(
        url,
        subscribe,
        headers={"Origin": endpoints["SITE"], "User-Agent": settings.user_agent},
        open_timeout=settings.monitor.receive_timeout,
        describe=url,
    )

    def replay_connection(sent: Sequence[Message]) -> None:
        decoder.new_connection()
        for message in sent:
            found = sent_subscription(message)
            if found is not None:
                sub_id, entity, initial_data = found
                decoder.track(sub_id, entity, initial_data=initial_data)

    return Feed(transport, decoder.decode, replay_connection)
