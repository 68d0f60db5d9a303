"""The monitor engine: holds a provider's feed, detects changes, writes records, keeps going.

It knows nothing of any book: a provider hands it a Feed (websocket or poll) whose parser turns
messages into feed items. Connection handling, backoff, heartbeats, shutdown and the batched,
off-loop sink writes live here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncGenerator, Callable, Coroutine
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

import websockets
import websockets.http11

from snuper.backoff import Backoff
from snuper.config import MonitorSettings
from snuper.feed import Feed, Message, ParseError, PollFeed, WebSocketFeed
from snuper.model import Heartbeat, Record, Snapshot
from snuper.sinks.base import Sink
from snuper.slate import iso_utc, utc_now
from snuper.watch import Watchlist

log = logging.getLogger("snuper.monitor")

T = TypeVar("T")
_CLOSE = object()  # tells the writer that no more records come
SINK_RETRIES_AT_EXIT = 3  # while running, a failing sink is retried until it recovers
# A book that never says an event ended: no game runs this long after its start.
SURELY_OVER_AFTER = timedelta(hours=12)
# A connection that stayed up this long was healthy, even if the feed was quiet.
HEALTHY_AFTER_S = 30.0


class FeedRejected(ConnectionError):
    """The book answered, but refused what we asked (an error frame)."""


@dataclass(slots=True)
class EventActivity:
    """Heartbeat bookkeeping: counts since the event's last heartbeat (feed-wide messages and
    bytes, so a quiet event still shows the connection was alive), and when it last had a record."""

    last_update: float
    last_record: float
    updates: int = 0
    messages_at_beat: int = 0
    bytes_at_beat: int = 0
    over: bool = False


@dataclass(slots=True)
class MonitorResult:
    provider: str
    league: str
    events: int
    messages: int = 0
    updates: int = 0
    heartbeats: int = 0
    reconnects: int = 0
    bad_messages: int = 0
    lost: int = 0  # records the sink could not take before exit
    sink_failed: bool = False
    stopped: str = ""

    @property
    def ok(self) -> bool:
        return self.stopped != "gave up" and not self.sink_failed


class MonitorEngine:
    def __init__(
        self,
        snapshot: Snapshot,
        feed: Feed,
        sink: Sink,
        settings: MonitorSettings,
        stop: asyncio.Event,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.watch = Watchlist.from_snapshot(snapshot)
        self.feed = feed
        self.sink = sink
        self.settings = settings
        self.stop = stop
        self.clock = clock
        self.name = f"{snapshot.provider} {snapshot.league}"
        self.result = MonitorResult(snapshot.provider, snapshot.league, len(snapshot.events))
        self.bytes = 0
        self.started = clock()
        self.activity = {
            eid: EventActivity(self.started, self.started) for eid in self.watch.events
        }
        self.queue: asyncio.Queue[object] = asyncio.Queue(settings.queue_size)
        self._last_tick = self.started
        self._behind = False
        self._closing = False

    # ---- lifecycle -------------------------------------------------------------------------

    async def run(self) -> MonitorResult:
        log.info("%s: watching %d events, %d selections via %s", self.name, len(self.activity),
                 len(self.watch.by_id), self.feed.describe)  # fmt: skip
        writer = asyncio.create_task(self._write_loop())
        try:
            self._tick_over_by_time()
            if self._stop_reason() == "events over":
                self.result.stopped = "no live events"
            else:
                self.result.stopped = await self._receive_loop()
        finally:
            self._closing = True
            if not writer.done():
                await self.queue.put(_CLOSE)
            await writer
        r = self.result
        log.log(
            logging.INFO if r.ok else logging.ERROR,
            "%s: stopped (%s): %d messages, %d updates, %d heartbeats, %d reconnects, "
            "%d bad messages, %d records lost",
            self.name, r.stopped, r.messages, r.updates, r.heartbeats, r.reconnects,
            r.bad_messages, r.lost,
        )  # fmt: skip
        return r

    def _remaining(self) -> float | None:
        limit = self.settings.max_runtime
        return None if limit is None else max(0.0, limit - (self.clock() - self.started))

    def _stop_reason(self) -> str | None:
        if self.stop.is_set():
            return "signal"
        if all(act.over for act in self.activity.values()):
            return "events over"
        if self._remaining() == 0.0:
            return "max runtime"
        return None

    async def _until_stopped(self, timeout: float | None = None) -> None:
        """Sleep until stopped, the runtime limit, or the timeout, whichever comes first."""
        remaining = self._remaining()
        if timeout is None or (remaining is not None and remaining < timeout):
            timeout = remaining
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=timeout)

    async def _unless_stopped(self, work: Coroutine[Any, Any, T]) -> T | None:
        """Run `work` (e.g. a connect) but give up on it when the monitor must stop."""
        task = asyncio.ensure_future(work)
        stopper = asyncio.ensure_future(self._until_stopped())
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            stopper.cancel()
            return task.result()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        return None

    async def _receive_loop(self) -> str:
        backoff = Backoff(self.settings.backoff_initial, self.settings.backoff_max)
        failures = 0
        while True:
            connected_at = None
            problem = "the feed closed"
            try:
                async with contextlib.aclosing(self._messages()) as messages:
                    async for message in messages:
                        connected_at = connected_at or self.clock()
                        if message is not None:
                            await self._handle(message)
                        # Only a message handled (or a long healthy connection) proves the
                        # feed works; an accept-then-close server must still hit the limit.
                        if failures and (
                            message is not None or self.clock() - connected_at > HEALTHY_AFTER_S
                        ):
                            failures = 0
                            backoff.reset()
                        await self._tick()
                        reason = self._stop_reason()
                        if reason is not None:
                            return reason
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            reason = self._stop_reason()
            if reason is not None:
                return reason
            failures += 1
            if failures > self.settings.max_failures:
                log.error("%s: giving up after %d failed connections in a row (last: %s)",
                          self.name, failures, problem)  # fmt: skip
                return "gave up"
            delay = backoff.next_delay()
            self.result.reconnects += 1
            log.warning("%s: connection lost (%s); reconnect %d in %.1fs",
                        self.name, problem, failures, delay)  # fmt: skip
            await self._until_stopped(delay)

    # ---- transports ------------------------------------------------------------------------

    def _wake_every(self) -> float:
        return max(0.05, min(self.settings.interval, self.settings.receive_timeout))

    async def _messages(self) -> AsyncGenerator[Message | None, None]:
        """Messages of one connection; None when a wake-up passed with nothing received."""
        if isinstance(self.feed, WebSocketFeed):
            async for message in self._socket_messages(self.feed):
                yield message
        else:
            async for message in self._poll_messages(self.feed):
                yield message

    async def _connect(self, feed: WebSocketFeed) -> websockets.ClientConnection:
        headers = {k: v for k, v in feed.headers.items() if k.lower() != "user-agent"}
        # websockets sends a User-Agent of its own; replace it rather than send two.
        agent = next((v for k, v in feed.headers.items() if k.lower() == "user-agent"), None)
        return await websockets.connect(
            feed.url,
            additional_headers=headers,
            user_agent_header=agent or websockets.http11.USER_AGENT,
            open_timeout=self.settings.receive_timeout,
            ping_interval=10,
            ping_timeout=self.settings.receive_timeout,
            max_size=None,
        )

    async def _socket_messages(self, feed: WebSocketFeed) -> AsyncGenerator[Message | None, None]:
        socket = await self._unless_stopped(self._connect(feed))
        if socket is None:
            return
        async with socket:
            for subscribe in feed.subscribe():
                await socket.send(subscribe)
            log.info("%s: connected to %s and subscribed", self.name, feed.describe)
            yield None
            while True:
                try:
                    yield await asyncio.wait_for(socket.recv(), timeout=self._wake_every())
                except TimeoutError:
                    yield None
                except websockets.ConnectionClosedOK:
                    return

    async def _poll_messages(self, feed: PollFeed) -> AsyncGenerator[Message | None, None]:
        while True:
            yield await feed.fetch()
            await self._until_stopped(feed.interval)
            if self.stop.is_set():
                yield None

    # ---- processing ------------------------------------------------------------------------

    async def _handle(self, message: Message) -> None:
        self.result.messages += 1
        self.bytes += len(message)
        try:
            batch = self.feed.parse(message)
        except ParseError as exc:
            self.result.bad_messages += 1
            preview = message[:32]
            log.warning("%s: skipped malformed message #%d (%d bytes, starts %r): %s",
                        self.name, self.result.messages, len(message), preview, exc)  # fmt: skip
            return
        if batch.kind == "error":
            raise FeedRejected(f"the feed refused us: {batch.detail}")
        if not batch.items:
            return
        now = self.clock()
        received_at = iso_utc(utc_now())
        for outcome in self.watch.apply(batch.items, batch.source_ts, received_at):
            if isinstance(outcome, str):
                self._event_over(outcome, "the book removed it")
                continue
            act = self.activity[outcome.event_id]
            act.updates += 1
            act.last_update = act.last_record = now
            self.result.updates += 1
            await self._enqueue(outcome)

    def _event_over(self, event_id: str, why: str) -> None:
        act = self.activity[event_id]
        if not act.over:
            act.over = True
            left = sum(not a.over for a in self.activity.values())
            log.info("%s: event %s is over, %s (%d still live)", self.name, event_id, why, left)

    def _tick_over_by_time(self) -> None:
        now = utc_now()
        for event_id, event in self.watch.events.items():
            if now - event.start_time > SURELY_OVER_AFTER:
                self._event_over(event_id, f"it started over {SURELY_OVER_AFTER} ago")

    async def _tick(self) -> None:
        """Heartbeats for quiet events, at most once per interval."""
        now = self.clock()
        if now - self._last_tick < self.settings.interval:
            return
        self._last_tick = now
        self._tick_over_by_time()
        received_at = None
        for event_id, act in self.activity.items():
            if act.over or now - act.last_record < self.settings.heartbeat_s:
                continue
            received_at = received_at or iso_utc(utc_now())
            beat = Heartbeat(
                provider=self.watch.provider,
                league=self.watch.league,
                event_id=event_id,
                slate_date=self.watch.events[event_id].slate_date,
                received_at=received_at,
                messages=self.result.messages - act.messages_at_beat,
                updates=act.updates,
                bytes=self.bytes - act.bytes_at_beat,
                idle_s=round(now - act.last_update, 3),
            )
            act.last_record = now
            act.updates = 0
            act.messages_at_beat, act.bytes_at_beat = self.result.messages, self.bytes
            self.result.heartbeats += 1
            await self._enqueue(beat)

    async def _enqueue(self, record: Record) -> None:
        try:
            self.queue.put_nowait(record)
            self._behind = False
        except asyncio.QueueFull:
            if not self._behind:  # once per episode, not once per record
                self._behind = True
                log.warning("%s: the sink is behind (%d records waiting); receiving waits",
                            self.name, self.queue.qsize())  # fmt: skip
            await self.queue.put(record)

    # ---- writing ---------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        """Drain the queue in batches off the receive loop; flush at least every interval while
        records arrive, and at the end."""
        last_flush = self.clock()
        dirty = closing = False
        while not closing:
            try:
                first = await asyncio.wait_for(self.queue.get(), timeout=self.settings.interval)
            except TimeoutError:
                first = None
            batch: list[Record] = []
            for item in () if first is None else (first, *self._drain()):
                if item is _CLOSE:
                    closing = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
            if batch:
                write = functools.partial(self.sink.write_updates, batch)
                dirty = await self._sink_call("write", write, len(batch)) or dirty
            if dirty and (closing or self.clock() - last_flush >= self.settings.interval):
                await self._sink_call("flush", self.sink.flush, 0)
                dirty, last_flush = False, self.clock()

    def _drain(self, limit: int = 1000) -> list[object]:
        items: list[object] = []
        while len(items) < limit:
            try:
                items.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return items

    async def _sink_call(self, what: str, action: Callable[[], None], records: int) -> bool:
        """Retry a failing sink until it recovers (the queue holds records meanwhile and
        back-pressure is logged); when shutting down, retry a few times, then count the loss."""
        backoff = Backoff(0.2, 30.0)
        attempts_at_exit = 0
        while True:
            try:
                await asyncio.to_thread(action)
                return True
            except Exception as exc:  # any backend error: never let the writer die silently
                if self._closing or self.stop.is_set():
                    attempts_at_exit += 1
                if attempts_at_exit >= SINK_RETRIES_AT_EXIT:
                    self.result.lost += records
                    self.result.sink_failed = True
                    log.error("%s: sink %s failed, %d records lost: %s",
                              self.name, what, records, exc)  # fmt: skip
                    return False
                delay = backoff.next_delay()
                log.warning("%s: sink %s failed (%s: %s); retry in %.1fs",
                            self.name, what, type(exc).__name__, exc, delay)  # fmt: skip
                await asyncio.sleep(delay)
