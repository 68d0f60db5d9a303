"""The contract between a book and the monitor engine: feed items, FeedBatch, ParseError, and the
transports (websocket, poll) behind one async protocol.

Parsers are pure: bytes/str in, a FeedBatch out; a malformed message raises ParseError naming
the path. Transports own every socket and HTTP client: whatever goes wrong in one of them leaves as
FeedUnavailable (with the server's retry-after when it gave one), so the engine never sees a
client library's exception.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

import websockets
import websockets.http11

if TYPE_CHECKING:
    import httpx


class ParseError(ValueError):
    """A payload the parser cannot read; `path` names the field that was wrong."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


# Feed items are made per row of every message: plain slotted dataclasses, as a frozen one's
# __init__ costs about 5x as much. Nothing mutates one once made.
@dataclass(slots=True)
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


@dataclass(slots=True)
class Removed:
    kind: Literal["event", "market", "selection"]
    entity_id: str


@dataclass(slots=True)
class MarketStatus:
    market_id: str
    suspended: bool


FeedItem = Quote | Removed | MarketStatus


@dataclass(slots=True)
class FeedBatch:
    """Everything one message said. kind: 'update', 'ack', 'ignored' (e.g. ContentCards), or
    'error' when the book refused a subscription (detail says why)."""

    kind: Literal["update", "ack", "ignored", "error"]
    items: Sequence[FeedItem] = field(default_factory=tuple)
    # The book's publish time as slate.normalise_ts gives it (ISO UTC, milliseconds), or None.
    # The parser normalises it (once per message: it is on the hot path), never the engine.
    source_ts: str | None = None
    detail: str | None = None
    # The book's complete current state (a subscription's initial data): the events it lists.
    # A watched event absent from it is over. None for an ordinary update.
    events_listed: frozenset[str] | None = None
    # The message as decoded (JSON types; msgpack bin as hex), for sinks that keep raw
    # messages; the parser hands over what it decoded anyway, at no cost.
    raw: Any = field(default=None, compare=False, repr=False)


Message = bytes | str
T = TypeVar("T")

CLOSE_TIMEOUT_S = 1.0
# A server's Retry-After is honoured up to this; a day-long one would silence a whole slate.
MAX_RETRY_AFTER_S = 600.0
# A failure raised by one of these (or by the OS) means "the feed is unavailable right now".
CLIENT_LIBRARIES = frozenset({"aiohttp", "httpx", "httpcore", "h11", "anyio", "websockets", "ssl"})


class FeedUnavailable(ConnectionError):
    """The feed cannot be reached or read right now; the engine backs off and reconnects,
    waiting at least `retry_after` seconds when the server asked for it."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


def unavailable(exc: BaseException) -> FeedUnavailable | None:
    """The typed error for a client library's or the OS's failure; None for anything else (a
    bug, which must surface)."""
    if isinstance(exc, FeedUnavailable):
        return exc
    if isinstance(exc, websockets.InvalidStatus):
        status = exc.response.status_code
        retry = retry_after_s(exc.response.headers.get("Retry-After"))
        return FeedUnavailable(f"the server answered HTTP {status}", retry)
    # An HTTP status raised by a client (aiohttp's ClientResponseError, httpx's HTTPStatusError):
    # keep the server's Retry-After. Read by duck typing so neither library must be imported.
    headers = getattr(exc, "headers", None) or getattr(
        getattr(exc, "response", None), "headers", None
    )
    retry_after = retry_after_s(headers.get("Retry-After")) if headers is not None else None
    if isinstance(exc, TimeoutError):
        return FeedUnavailable("no answer in time")
    module = type(exc).__module__.partition(".")[0]
    if isinstance(exc, OSError | EOFError) or module in CLIENT_LIBRARIES:
        return FeedUnavailable(f"{type(exc).__name__}: {exc}".rstrip(": "), retry_after)
    return None


def retry_after_s(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), at most
    MAX_RETRY_AFTER_S; None if absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():  # "²".isdigit() is true too
        return min(float(text), MAX_RETRY_AFTER_S)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(0.0, seconds), MAX_RETRY_AFTER_S)


async def unless_stopped(
    work: Callable[[], Coroutine[Any, Any, T]], stop: asyncio.Event
) -> T | None:
    """Run `work()` (a connect, a fetch) but abandon it when `stop` is set: None then (and
    not even started if `stop` already is). If the caller is cancelled, so is the work."""
    if stop.is_set():
        return None
    task = asyncio.ensure_future(work())
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopper.cancel()
        if not task.done():
            task.cancel()
            await asyncio.wait({task})  # let it unwind; never raises
    if task.cancelled():
        return None
    return task.result()


async def sleep_unless_stopped(seconds: float, stop: asyncio.Event) -> bool:
    """Sleep; True when woken early by `stop`."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()


class Transport(Protocol):
    """One connection's messages. Yields None when `wake_every` seconds passed with nothing
    received (so the engine can tick), returns when the connection ends or `stop` is set, and
    raises FeedUnavailable (never a client library's exception) when it fails."""

    @property
    def describe(self) -> str: ...

    def messages(self, stop: asyncio.Event, wake_every: float) -> AsyncIterator[Message | None]: ...


class SentMessages(Protocol):
    """A transport that can report what it sends on each connection (the subscriptions), for
    the raw archive: a parser with per-connection state is set up again from them on replay."""

    def messages(
        self, stop: asyncio.Event, wake_every: float, sent: Callable[[Message], None] | None = None
    ) -> AsyncIterator[Message | None]: ...


class FeedSocket(Protocol):
    """What a websocket feed's preparation step may do before subscribing."""

    async def send(self, message: Message) -> None: ...

    async def recv(self) -> Message: ...


@dataclass(frozen=True, slots=True)
class WebSocketTransport:
    """A live socket: `url` may be a function (a fresh URL per connection); after connecting,
    `prepare` (an async step, e.g. a handshake the book wants first) runs, then every message of
    `subscribe()` is sent."""

    url: str | Callable[[], str]
    subscribe: Callable[[], Sequence[Message]]
    headers: Mapping[str, str] = field(default_factory=dict)
    prepare: Callable[[FeedSocket], Awaitable[None]] | None = None
    open_timeout: float = 10.0
    ping_interval: float | None = 10.0
    describe: str = "websocket"

    async def messages(
        self, stop: asyncio.Event, wake_every: float, sent: Callable[[Message], None] | None = None
    ) -> AsyncIterator[Message | None]:
        url = self.url() if callable(self.url) else self.url
        try:
            socket = await unless_stopped(lambda: self._connect(url), stop)
            if socket is None:
                return
            async with socket:

                def opening() -> Coroutine[Any, Any, bool]:
                    return asyncio.wait_for(self._open(socket, sent), self.open_timeout)

                if await unless_stopped(opening, stop) is None:
                    return
                yield None
                while not stop.is_set():
                    # asyncio.timeout, not wait_for: no task per message (hot path). The yield
                    # stays outside it, so the timer never runs while the engine works.
                    message: Message | None = None
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wake_every):
                            message = await socket.recv()
                    yield message
        except websockets.ConnectionClosedOK:
            return
        except Exception as exc:
            problem = unavailable(exc)
            if problem is None:
                raise
            raise problem from exc

    async def _open(
        self, socket: websockets.ClientConnection, sent: Callable[[Message], None] | None
    ) -> bool:
        """The preparation step, then the subscription; True once sent."""
        if self.prepare is not None:
            await self.prepare(socket)
        for message in self.subscribe():
            await socket.send(message)
            if sent is not None:
                sent(message)
        return True

    async def _connect(self, url: str) -> websockets.ClientConnection:
        # websockets sends a User-Agent of its own; replace it rather than send two.
        agent = next((v for k, v in self.headers.items() if k.lower() == "user-agent"), None)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "user-agent"}
        return await websockets.connect(
            url,
            additional_headers=headers,
            user_agent_header=agent or websockets.http11.USER_AGENT,
            open_timeout=self.open_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.open_timeout,
            # Leaving does not wait long for a silent server's close reply: the shutdown
            # deadline is for the sinks.
            close_timeout=CLOSE_TIMEOUT_S,
            max_size=None,
        )


@dataclass(frozen=True, slots=True)
class PollTransport:
    """A polled source: `fetch` returns one round's messages (several when a book is polled per
    game); each round has `timeout` seconds and is abandoned when `stop` is set; rounds start
    `interval` seconds apart."""

    fetch: Callable[[], Awaitable[Sequence[Message]]]
    interval: float
    timeout: float = 10.0
    describe: str = "poll"

    async def _round(self) -> Sequence[Message]:
        return await asyncio.wait_for(self.fetch(), self.timeout)

    async def messages(
        self, stop: asyncio.Event, wake_every: float, sent: Callable[[Message], None] | None = None
    ) -> AsyncIterator[Message | None]:
        # `sent` is not called: a poll's requests are the same every round (the archive keeps
        # its answers).
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                got = await unless_stopped(self._round, stop)
            except Exception as exc:
                problem = unavailable(exc)
                if problem is None:
                    raise
                if isinstance(exc, TimeoutError):
                    problem = FeedUnavailable(f"no answer within {self.timeout:g}s")
                raise problem from exc
            if got is None:
                return
            for message in got:
                yield message
            # Wait for the next round in slices, waking the engine every `wake_every` so its
            # runtime limit and heartbeats keep time whatever the poll interval.
            next_round = loop.time() + self.interval
            while (left := next_round - loop.time()) > 0:
                if await sleep_unless_stopped(min(left, wake_every), stop):
                    return
                yield None


# A poll round of several requests travels as one message: each answer exactly as the book sent
# it, after a short label naming its request (so a warning can name the bad answer). The
# separators are control characters, which never occur raw inside JSON text.
ROUND_SEPARATOR = b"\x1e"
LABEL_SEPARATOR = b"\x1f"


def frame_round(answers: Sequence[tuple[str, bytes]]) -> bytes:
    """(label, body) per request -> one message."""
    return ROUND_SEPARATOR.join(label.encode() + LABEL_SEPARATOR + body for label, body in answers)


def round_parts(message: Message) -> list[tuple[str, bytes]]:
    """One message of frame_round -> (label, body) per request, in order."""
    data = message.encode() if isinstance(message, str) else message
    parts: list[tuple[str, bytes]] = []
    for chunk in data.split(ROUND_SEPARATOR):
        label, _, body = chunk.rpartition(LABEL_SEPARATOR)
        parts.append((label.decode(errors="replace"), body))
    return parts


async def http_get_all(
    client: httpx.AsyncClient, urls: Sequence[str], headers: Mapping[str, str] | None = None
) -> list[Message]:
    """GET each URL in turn (one poll round); an answer other than 2xx is FeedUnavailable with
    the server's Retry-After, so a 429/503 slows the poller down as asked."""
    bodies: list[Message] = []
    for url in urls:
        response = await client.get(url, headers=headers)
        if not 200 <= response.status_code < 300:
            retry = retry_after_s(response.headers.get("retry-after"))
            raise FeedUnavailable(f"{url} answered HTTP {response.status_code}", retry)
        bodies.append(response.content)
    return bodies


async def http_post_json(
    client: httpx.AsyncClient, url: str, body: bytes, headers: Mapping[str, str] | None = None
) -> bytes:
    """POST a JSON body (one poll request of a book that reads with POST); an answer other than
    2xx is FeedUnavailable with the server's Retry-After, as for http_get_all."""
    sent = {"Content-Type": "application/json", **(headers or {})}
    response = await client.post(url, content=body, headers=sent)
    if not 200 <= response.status_code < 300:
        retry = retry_after_s(response.headers.get("retry-after"))
        raise FeedUnavailable(f"{url} answered HTTP {response.status_code}", retry)
    return response.content


@dataclass(frozen=True, slots=True)
class Feed:
    """What a provider hands the engine for one league: a transport and its pure parser."""

    transport: Transport
    parse: Callable[[Message], FeedBatch]
    # Replay of the raw archive: set the parser up for a new connection as the live one was,
    # from what that connection sent (DraftKings' decoder learns its subscriptions). None: the
    # parser keeps no per-connection state.
    replay_connection: Callable[[Sequence[Message]], None] | None = None

    @property
    def describe(self) -> str:
        return self.transport.describe
