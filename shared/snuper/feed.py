"""What a provider hands the monitor engine: a feed (websocket or poll) and what it parses.

Parsers are pure: bytes/str in, a FeedBatch out; a malformed message raises ParseError naming
the path.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal


class ParseError(ValueError):
    """A payload the parser cannot read; `path` names the field that was wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


@dataclass(frozen=True, slots=True)
class Quote:
    """A selection's price as the feed shows it (an insert or a change).

    Fields a change does not carry are None: market_id/side for a price-only change, line for
    a moneyline. replaced_id is the selection this one replaces after a line move.
    """

    selection_id: str
    odds_american: int
    odds_decimal: float
    line: float | None = None
    market_id: str | None = None
    replaced_id: str | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class Removed:
    kind: Literal["event", "market", "selection"]
    entity_id: str


@dataclass(frozen=True, slots=True)
class MarketStatus:
    market_id: str
    suspended: bool


FeedItem = Quote | Removed | MarketStatus


@dataclass(frozen=True, slots=True)
class FeedBatch:
    """Everything one message said. kind: 'update', 'ack', 'ignored' (e.g. ContentCards), or
    'error' when the book refused a subscription (detail says why)."""

    kind: Literal["update", "ack", "ignored", "error"]
    items: Sequence[FeedItem] = field(default_factory=tuple)
    source_ts: str | None = None
    detail: str | None = None


Message = bytes | str


@dataclass(frozen=True, slots=True)
class WebSocketFeed:
    """A live socket: the engine connects, sends `subscribe()` after every (re)connect, and passes
    every message to `parse`."""

    url: str
    headers: dict[str, str]
    subscribe: Callable[[], Sequence[Message]]
    parse: Callable[[Message], FeedBatch]
    describe: str = "websocket"


@dataclass(frozen=True, slots=True)
class PollFeed:
    """A polled endpoint: the engine calls `fetch` every `interval` seconds, parses the answer."""

    fetch: Callable[[], Awaitable[Message]]
    parse: Callable[[Message], FeedBatch]
    interval: float
    describe: str = "poll"


Feed = WebSocketFeed | PollFeed
