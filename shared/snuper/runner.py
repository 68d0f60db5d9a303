"""The monitor engine: holds a provider's feed, detects changes, writes records, keeps going.

It knows nothing of any book: a provider hands it a Feed (websocket or poll) whose parser turns
messages into feed items. Connection handling, backoff, heartbeats, shutdown and the batched,
off-loop sink writes live here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import websockets
import websockets.http11

from snuper.backoff import Backoff
from snuper.config import MonitorSettings
from snuper.feed import Feed, Message, ParseError, PollFeed, WebSocketFeed
from snuper.model import Heartbeat, Record, Snapshot
from snuper.sinks.base import Sink, SinkError
from snuper.slate import iso_utc, utc_now
from snuper.watch import EventActivity, Watchlist

log = logging.getLogger("snuper.monitor")

_CLOSE = object()  # tells the writer that no more records come
SINK_RETRIES = 5


class GiveUp(RuntimeError):
    """The feed failed too often in a row."""


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
    stopped: str = ""

    @property
    def ok(self) -> bool:
        return self.stopped != "gave up" and not self.stopped.startswith("sink failed")


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
        started = clock()
        self.started = started
        self.activity = {eid: EventActivity(started, started) for eid in self.watch.events}
        self.queue: asyncio.Queue[object] = asyncio.Queue(settings.queue_size)
        self._last_tick = started
        self._sink_error: SinkError | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    async def run(self) -> MonitorResult:
        live = [eid for eid, act in self.activity.items() if not act.over]
        log.info(
            "%s: watching %d events, %d selections via %s",
            self.name,
            len(live),
            len(self.watch.by_id),
            self.feed.describe,
        )
        writer = asyncio.create_task(self._write_loop())
        try:
            if live:
                self.result.stopped = await self._receive_loop()
            else:
                self.result.stopped = "no events"
        finally:
            await self.queue.put(_CLOSE)
            await writer
        if self._sink_error is not None:
            self.result.stopped = f"sink failed: {self._sink_error}"
        r = self.result
        log.info(
            "%s: stopped (%s): %d messages, %d updates, %d heartbeats, %d reconnects, "
            "%d bad messages",
            self.name,
            r.stopped,
            r.messages,
            r.updates,
            r.heartbeats,
            r.reconnects,
            r.bad_messages,
        )
        return r

    def _stop_reason(self) -> str | None:
        if self._sink_error is not None:
            return "sink failed"
        if self.stop.is_set():
            return "signal"
        if all(act.over for act in self.activity.values()):
            return "events over"
        limit = self.settings.max_runtime
        if limit is not None and self.clock() - self.started >= limit:
            return "max runtime"
        return None

    async def _receive_loop(self) -> str:
        backoff = Backoff(self.settings.backoff_initial, self.settings.backoff_max)
        failures = 0
        connected_once = False
        while True:
            try:
                async for message in self._messages():
                    if failures or not connected_once:
                        failures, connected_once = 0, True
                        backoff.reset()
                    if message is not None:
                        await self._handle(message)
                    await self._tick()
                    reason = self._stop_reason()
                    if reason is not None:
                        return reason
                problem = "the feed closed"
            except (OSError, TimeoutError, websockets.WebSocketException) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            reason = self._stop_reason()
            if reason is not None:
                return reason
            failures += 1
            if failures > self.settings.max_failures:
                log.error(
                    "%s: giving up after %d failed connections in a row (%s)",
                    self.name,
                    failures - 1,
                    problem,
                )
                return "gave up"
            delay = backoff.next_delay()
            self.result.reconnects += 1
            log.warning(
                "%s: connection lost (%s); reconnect %d in %.1fs",
                self.name,
                problem,
                failures,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=delay)

    # ---- transports ------------------------------------------------------------------------

    def _wake_every(self) -> float:
        return max(0.05, min(self.settings.interval, self.settings.receive_timeout))

    async def _messages(self) -> AsyncIterator[Message | None]:
        """Messages of one connection; None when a wake-up passed with nothing received."""
        if isinstance(self.feed, WebSocketFeed):
            async for message in self._socket_messages(self.feed):
                yield message
        else:
            async for message in self._poll_messages(self.feed):
                yield message

    async def _socket_messages(self, feed: WebSocketFeed) -> AsyncIterator[Message | None]:
        headers = {k: v for k, v in feed.headers.items() if k.lower() != "user-agent"}
        # websockets sends a User-Agent of its own; replace it rather than send two.
        agent = next((v for k, v in feed.headers.items() if k.lower() == "user-agent"), None)
        async with websockets.connect(
            feed.url,
            additional_headers=headers,
            user_agent_header=agent or websockets.http11.USER_AGENT,
            open_timeout=self.settings.receive_timeout,
            ping_interval=10,
            ping_timeout=self.settings.receive_timeout,
            max_size=None,
        ) as socket:
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

    async def _poll_messages(self, feed: PollFeed) -> AsyncIterator[Message | None]:
        while True:
            yield await feed.fetch()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), timeout=feed.interval)
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
            log.warning(
                "%s: skipped malformed message #%d (%d bytes, starts %r): %s",
                self.name,
                self.result.messages,
                len(message),
                preview,
                exc,
            )
            return
        if not batch.items:
            return
        now = self.clock()
        received_at = iso_utc(utc_now())
        for outcome in self.watch.apply(batch.items, batch.source_ts, received_at):
            if isinstance(outcome, str):
                self._event_over(outcome)
                continue
            act = self.activity[outcome.event_id]
            act.updates += 1
            act.last_update = act.last_record = now
            self.result.updates += 1
            await self._enqueue(outcome)

    def _event_over(self, event_id: str) -> None:
        act = self.activity[event_id]
        if not act.over:
            act.over = True
            left = sum(not a.over for a in self.activity.values())
            log.info("%s: event %s is over (%d still live)", self.name, event_id, left)

    async def _tick(self) -> None:
        """Heartbeats for quiet events, at most once per interval."""
        now = self.clock()
        if now - self._last_tick < self.settings.interval:
            return
        self._last_tick = now
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
        except asyncio.QueueFull:
            log.warning(
                "%s: sink is behind (%d records waiting); receiving waits for it",
                self.name,
                self.queue.qsize(),
            )
            await self.queue.put(record)

    # ---- writing ---------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        """Drain the queue in batches off the receive loop; flush every interval and at the end."""
        dirty = False
        closing = False
        while not closing:
            try:
                first = await asyncio.wait_for(self.queue.get(), timeout=self.settings.interval)
            except TimeoutError:
                if dirty:
                    await self._sink_call(self.sink.flush)
                    dirty = False
                continue
            batch: list[Record] = []
            for item in (first, *self._drain()):
                if item is _CLOSE:
                    closing = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
            if batch:
                await self._sink_call(lambda b=batch: self.sink.write_updates(b))  # type: ignore[misc]
                dirty = True
        await self._sink_call(self.sink.flush)

    def _drain(self, limit: int = 1000) -> list[object]:
        items: list[object] = []
        while len(items) < limit:
            try:
                items.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return items

    async def _sink_call(self, call: Callable[[], None]) -> None:
        if self._sink_error is not None:
            return
        backoff = Backoff(0.2, 5.0)
        for attempt in range(1, SINK_RETRIES + 1):
            try:
                await asyncio.to_thread(call)
                return
            except SinkError as exc:
                if attempt == SINK_RETRIES:
                    log.error("%s: sink failed %d times, stopping: %s", self.name, attempt, exc)
                    self._sink_error = exc
                    return
                delay = backoff.next_delay()
                log.warning("%s: sink write failed (%s); retry in %.1fs", self.name, exc, delay)
                await asyncio.sleep(delay)
