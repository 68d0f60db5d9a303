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
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from snuper.archive.segment import CONNECT, RECEIVED, SENT, Kind
from snuper.backoff import Backoff
from snuper.config import MonitorSettings
from snuper.feed import (
    Feed,
    FeedUnavailable,
    Message,
    ParseError,
    SentMessages,
    sleep_unless_stopped,
)
from snuper.model import Heartbeat, LastPrice, RawMessage, Record, Snapshot
from snuper.sinks.base import Sink, SinkError
from snuper.sinks.worker import SinkWorker
from snuper.slate import iso_utc, utc_now
from snuper.watch import Watchlist

log = logging.getLogger("snuper.monitor")

_CLOSE = object()  # wakes the writer at shutdown
# A book that never says an event ended: no game runs this long after its start.
SURELY_OVER_AFTER = timedelta(hours=12)
# A connection that stayed up this long was healthy, even if the feed was quiet.
HEALTHY_AFTER_S = 30.0


class Archiving(Protocol):
    """Where the engine keeps each message it receives (snuper.archive.writer.LeagueArchive);
    `keep` returns the message's raw_ref. Replay passes one that names the replayed message."""

    def keep(self, kind: Kind, conn: int, at: datetime, payload: Message) -> str: ...

    @property
    def full(self) -> bool: ...

    async def room(self, stop: asyncio.Event) -> None: ...

    def tick(self, at: datetime) -> None: ...


class Stop(asyncio.Event):
    """A stop event that can say why it was set (a replay's end); a plain Event is a signal."""

    why = "signal"


class FeedRejected(FeedUnavailable):
    """The book answered, but refused what we asked (an error frame)."""


class _GaveUp(Exception):
    """The sink failed in a way no retry can fix."""

    def __init__(self, error: SinkError) -> None:
        super().__init__(str(error))
        self.error = error


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
    lost: int = 0  # records the sink had not stored (durably) by the shutdown deadline
    sink: str = ""  # the sink's name, for the loss report
    stopped: str = ""

    @property
    def ok(self) -> bool:
        return self.stopped not in ("gave up", "sink failed", "crashed") and not self.lost


class MonitorEngine:
    def __init__(
        self,
        snapshot: Snapshot,
        feed: Feed,
        sink: Sink | SinkWorker,
        settings: MonitorSettings,
        stop: asyncio.Event,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
        resume: Sequence[LastPrice] = (),
        archive: Archiving | None = None,
        timer: Callable[[], float] | None = None,
    ) -> None:
        self.watch = Watchlist.from_snapshot(snapshot)
        self.archive = archive
        self.connection = 0  # numbered from 1, as the archive keeps them
        # A restart: start from what the sink already holds, not from the snapshot.
        self.resumed = self.watch.resume(resume)
        self.feed = feed
        self.writer = sink if isinstance(sink, SinkWorker) else SinkWorker(sink)
        self.settings = settings
        self.stop = stop
        self.clock = clock  # monotonic seconds: cadence, idle times, runtime limit
        # The writer's group commit and the shutdown deadline (a replay's clock is the
        # archive's receive times, but its flushes and deadline are in real time).
        self.timer = timer or clock
        self.now = now  # wall clock: receive times, and when an event is surely over
        self.name = f"{snapshot.provider} {snapshot.league}"
        self.result = MonitorResult(
            snapshot.provider, snapshot.league, len(snapshot.events), sink=self.writer.name
        )
        self.bytes = 0
        self.started = clock()
        self.activity = {
            eid: EventActivity(self.started, self.started) for eid in self.watch.events
        }
        self.queue: asyncio.Queue[object] = asyncio.Queue(settings.queue_size)
        self._last_tick = self.started
        self._behind = False
        self._closing = False
        # Records not yet durable, wherever they are: held back by a stop while the queue was
        # full, taken from the queue but not written, written but not flushed ((write call
        # index, records) per write). What is left of them at the deadline is the loss.
        self._held: list[Record] = []
        self._in_flight = 0
        self._undurable: deque[tuple[int, int]] = deque()
        self._partly_stored: tuple[int, int] | None = None  # (failed write's index, records)
        self.shutdown_started: float | None = None  # when a stop was first seen (deadline)
        self._sink_failure: SinkError | None = None  # a permanent one: the writer gave up
        self._unwritten_at_deadline = 0
        self._wake_every = max(0.05, min(settings.interval, settings.receive_timeout))
        # Only a sink that keeps raw messages gets them (the others never pay for them).
        self._keep_raw = bool(getattr(self.writer.sink, "wants_raw", False))

    # ---- lifecycle -------------------------------------------------------------------------

    async def run(self) -> MonitorResult:
        log.info("%s: watching %d events, %d selections via %s%s", self.name,
                 len(self.activity), len(self.watch.by_id), self.feed.describe,
                 f", resuming from {self.resumed} recorded prices" if self.resumed else "",
                 )  # fmt: skip
        writer = asyncio.create_task(self._write_loop())
        try:
            self._tick_over_by_time()
            if self._stop_reason() == "events over":
                self.result.stopped = "no live events"
            else:
                self.result.stopped = await self._receive_loop()
        finally:
            await self._shut_down(writer)
        r = self.result
        log.log(
            logging.INFO if r.ok else logging.ERROR,
            "%s: stopped (%s): %d messages, %d updates, %d heartbeats, %d reconnects, "
            "%d bad messages, %d records lost",
            self.name, r.stopped, r.messages, r.updates, r.heartbeats, r.reconnects,
            r.bad_messages, r.lost,
        )  # fmt: skip
        return r

    async def _shut_down(self, writer: asyncio.Task[None]) -> None:
        """Give the writer until the deadline to store what is queued; count what it could not
        (everything left when the writer gave up on a permanent sink error, or at the deadline)."""
        self._closing = True
        self._stopping()
        with contextlib.suppress(asyncio.QueueFull):  # a full queue keeps the writer awake anyway
            self.queue.put_nowait(_CLOSE)
        deadline = self.settings.shutdown_deadline
        assert self.shutdown_started is not None
        left = max(0.0, deadline - (self.timer() - self.shutdown_started))
        why = f"within the {deadline:g}s shutdown deadline"
        try:
            await asyncio.wait_for(asyncio.shield(writer), left)
        except TimeoutError:
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        else:
            if self._sink_failure is None:
                return  # the writer stored everything
            why = f"after a permanent error ({self._sink_failure})"
        queued = sum(item is not _CLOSE for item in self._drain(self.queue.qsize()))
        queued += len(self._held)
        undurable = self._not_durable()
        self._unwritten_at_deadline = queued + self._in_flight
        lost = self._unwritten_at_deadline + undurable
        self.result.lost = lost
        log.error("%s: sink %s did not store %d records %s "
                  "(%d queued, %d being written, %d written but not made durable)",
                  self.name, self.writer.name, lost, why, queued, self._in_flight,
                  undurable)  # fmt: skip

    def recount_after_close(self) -> None:
        """The sink's close flushes once more: records it made durable are not lost after all
        (those never written stay counted)."""
        if self.result.lost:
            self.result.lost = self._unwritten_at_deadline + self._not_durable()

    def _stopping(self) -> None:
        """The deadline runs from the moment a stop is first seen, before the feed is closed."""
        if self.shutdown_started is None:
            self.shutdown_started = self.timer()

    def _remaining(self) -> float | None:
        limit = self.settings.max_runtime
        return None if limit is None else max(0.0, limit - (self.clock() - self.started))

    def _stop_reason(self) -> str | None:
        if self._sink_failure is not None:
            return "sink failed"
        if self.stop.is_set():
            return getattr(self.stop, "why", "signal")
        if all(act.over for act in self.activity.values()):
            return "events over"
        if self._remaining() == 0.0:
            return "max runtime"
        return None

    async def _until_stopped(self, timeout: float) -> None:
        """Sleep until stopped, the runtime limit, or the timeout, whichever comes first."""
        remaining = self._remaining()
        if remaining is not None and remaining < timeout:
            timeout = remaining
        await sleep_unless_stopped(timeout, self.stop)

    async def _receive_loop(self) -> str:
        backoff = Backoff(self.settings.backoff_initial, self.settings.backoff_max)
        failures = 0
        while True:
            connected_at = None
            problem, retry_after = "the feed closed", None
            self.connection += 1
            try:
                messages = self._messages()
                async with contextlib.aclosing(messages):  # type: ignore[type-var]
                    async for message in messages:
                        if connected_at is None:
                            connected_at = self.clock()
                            log.info("%s: connected to %s", self.name, self.feed.describe)
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
                            self._stopping()
                            return reason
            except FeedUnavailable as exc:
                problem, retry_after = str(exc), exc.retry_after
            reason = self._stop_reason()
            if reason is not None:
                return reason
            failures += 1
            if failures > self.settings.max_failures:
                log.error("%s: giving up after %d failed connections in a row (last: %s)",
                          self.name, failures, problem)  # fmt: skip
                return "gave up"
            delay = backoff.next_delay()
            if retry_after is not None:
                delay = max(delay, retry_after)  # as the server asked (capped by feed.py)
            self.result.reconnects += 1
            log.warning("%s: connection lost (%s); reconnect %d in %.1fs",
                        self.name, problem, failures, delay)  # fmt: skip
            await self._until_stopped(delay)

    def _messages(self) -> AsyncIterator[Message | None]:
        """This connection's messages; when archiving, what it sends is kept too."""
        transport = self.feed.transport
        if self.archive is None:
            return transport.messages(self.stop, self._wake_every)
        archive, conn = self.archive, self.connection
        archive.keep(CONNECT, conn, self.now(), b"")

        def sent(message: Message) -> None:
            archive.keep(SENT, conn, self.now(), message)

        with_sent: SentMessages = transport  # type: ignore[assignment]
        return with_sent.messages(self.stop, self._wake_every, sent)

    # ---- processing ------------------------------------------------------------------------

    async def _handle(self, message: Message) -> None:
        self.result.messages += 1
        self.bytes += len(message)
        received = self.now()
        raw_ref = None
        if self.archive is not None:  # before parsing: a message the parser refuses is kept too
            raw_ref = self.archive.keep(RECEIVED, self.connection, received, message)
            if self.archive.full:
                await self.archive.room(self.stop)
        try:
            batch = self.feed.parse(message)
        except ParseError as exc:
            self.result.bad_messages += 1
            log.warning("%s: skipped malformed message #%d (%d bytes, starts %r): %s", self.name,
                        self.result.messages, len(message), message[:32], exc)  # fmt: skip
            return
        except Exception:  # a parser bug: one message lost, loudly, not the league's monitor
            self.result.bad_messages += 1
            log.exception("%s: the parser failed on message #%d (%d bytes, starts %r)",
                          self.name, self.result.messages, len(message), message[:32])  # fmt: skip
            return
        if batch.kind == "error":
            raise FeedRejected(f"the feed refused us: {batch.detail}")
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s: message #%d, %d bytes, %s with %d items", self.name,
                      self.result.messages, len(message), batch.kind, len(batch.items))  # fmt: skip
        if batch.events_listed is not None:
            for event_id in self.activity.keys() - batch.events_listed:
                self._event_over(event_id, "the book no longer lists it")
        if not batch.items:
            return
        now = self.clock()
        received_at = iso_utc(received)
        raw_for: set[str] | None = set() if self._keep_raw and batch.raw is not None else None
        for outcome in self.watch.apply(batch.items, batch.source_ts, received_at, raw_ref):
            if isinstance(outcome, str):
                self._event_over(outcome, "the book removed it")
                continue
            act = self.activity[outcome.event_id]
            act.updates += 1
            act.last_update = act.last_record = now
            self.result.updates += 1
            if raw_for is not None and outcome.event_id not in raw_for:
                raw_for.add(outcome.event_id)  # the message once per event it changed, first
                raw = RawMessage(outcome.provider, outcome.league, outcome.event_id,
                                 outcome.slate_date, received_at, batch.raw)  # fmt: skip
                await self._enqueue(raw)
            await self._enqueue(outcome)

    def _event_over(self, event_id: str, why: str) -> None:
        act = self.activity[event_id]
        if not act.over:
            act.over = True
            self.watch.forget_event(event_id)
            left = sum(not a.over for a in self.activity.values())
            log.info("%s: event %s is over, %s (%d still live)", self.name, event_id, why, left)

    def _tick_over_by_time(self) -> None:
        now = self.now()
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
        if self.archive is not None:
            self.archive.tick(self.now())
        received_at = None
        for event_id, act in self.activity.items():
            if act.over or now - act.last_record < self.settings.heartbeat_s:
                continue
            received_at = received_at or iso_utc(self.now())
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
        if self._held:  # stopping while the sink is behind: keep the order, do not wait
            self._held.append(record)
            return
        try:
            self.queue.put_nowait(record)
            self._behind = False
            return
        except asyncio.QueueFull:
            if not self._behind:  # once per episode, not once per record
                self._behind = True
                log.warning("%s: the sink is behind (%d records waiting); receiving waits",
                            self.name, self.queue.qsize())  # fmt: skip
        # Wait for room, but not past a stop or the runtime limit: then the record is held for
        # the writer's last batch (or counted at the deadline), and the shutdown begins.
        put = asyncio.ensure_future(self.queue.put(record))
        while not put.done():
            await asyncio.wait({put}, timeout=self._wake_every)
            if not put.done() and self._stop_reason() is not None:
                put.cancel()
                self._held.append(record)
                return

    # ---- writing ---------------------------------------------------------------------------

    async def _write_loop(self) -> None:
        """Drain the queue in batches off the receive loop; flush as soon as the queue is empty,
        and at least every `durable_within` while records keep coming; once more at the end.
        Ends when closing and nothing is left, or at once on a permanent sink error (the
        receive loop then stops too)."""
        try:
            await self._write_all()
        except _GaveUp as gave_up:
            self._sink_failure = gave_up.error

    async def _write_all(self) -> None:
        written_at: float | None = None  # when the oldest record not yet flushed was written
        flushed_at = self.timer()
        within = self.settings.durable_within
        while not (self._closing and self.queue.empty() and not self._held):
            first: object = None
            if not (self._closing and self.queue.empty()):
                wait = self.settings.interval
                if written_at is not None:  # a flush is due at written_at + within
                    wait = max(0.0, written_at + within - self.timer())
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):  # not wait_for: no task per batch
                        first = await self.queue.get()
            items = () if first is None else (first, *self._drain())
            batch: list[Record] = [item for item in items if item is not _CLOSE]  # type: ignore[misc]
            if self._closing and self.queue.empty() and self._held:
                batch += self._held
                self._held = []
            if batch:
                self._in_flight = len(batch)
                write = functools.partial(self.writer.sink.write_updates, batch)
                index = await self._sink_call("write", write)
                self._in_flight, self._partly_stored = 0, None
                self._undurable.append((index, len(batch)))
                if written_at is None:
                    written_at = self.timer()
            # Group commit: flush once nothing more waits (low latency when the feed is calm),
            # or when the oldest record has waited `within` (bounded latency under load; one
            # flush covers everything written meanwhile).
            if self._not_durable() and (
                self.queue.empty() or written_at is None or self.timer() - written_at >= within
            ):
                await self._sink_call("flush", self.writer.sink.flush, makes_durable=True)
                written_at, flushed_at = None, self.timer()
            elif not batch and self.timer() - flushed_at >= self.settings.interval:
                # A quiet feed still gets a flush per interval: a sink's timed work (an S3
                # chunk due by age, a lock to renew) must not wait for the next record.
                await self._sink_call("flush", self.writer.sink.flush, makes_durable=True)
                flushed_at = self.timer()
        if self._not_durable():
            final = functools.partial(self.writer.sink.flush, final=True)
            await self._sink_call("flush", final, makes_durable=True)

    async def _secure_what_is_written(self) -> None:
        """Shutting down while a write keeps failing (a full disk): make the records already
        written durable, so the deadline can cost at most the batch that cannot be written."""
        final = functools.partial(self.writer.sink.flush, final=True)
        with contextlib.suppress(Exception):  # it failed too: the deadline counts them
            await self.writer.call_indexed(final, makes_durable=True)

    def _not_durable(self) -> int:
        """Records written but not yet covered by a flush (this league's or another's),
        including the part of a failing batch that reached storage."""
        through = self.writer.durable_through
        while self._undurable and self._undurable[0][0] < through:
            self._undurable.popleft()
        partly = self._partly_stored
        stored = partly[1] if partly is not None and partly[0] >= through else 0
        return stored + sum(count for _, count in self._undurable)

    def _stored_count(self) -> int:
        return 0 if self._partly_stored is None else self._partly_stored[1]

    def _note_partial_write(self, exc: Exception, batch_size: int) -> None:
        """A write that failed part-way: what it stored is not in flight any more."""
        if isinstance(exc, SinkError) and exc.stored:
            self._partly_stored = (getattr(exc, "call_index", 0), exc.stored)
            self._in_flight = batch_size - exc.stored

    def _drain(self, limit: int = 1000) -> list[object]:
        items: list[object] = []
        while len(items) < limit:
            try:
                items.append(self.queue.get_nowait())
            except asyncio.QueueEmpty:
                break
        return items

    async def _sink_call(
        self, what: str, action: Callable[[], None], *, makes_durable: bool = False
    ) -> int:
        """Retry a failing sink until it recovers: the queue holds records meanwhile, and
        back-pressure is logged. At shutdown the deadline in _shut_down ends the retries.
        Returns the index of the call that succeeded."""
        backoff = Backoff(0.2, 30.0)
        while True:
            try:
                index, _ = await self.writer.call_indexed(action, makes_durable=makes_durable)
                return index
            except Exception as exc:  # any backend error: never let the writer die silently
                if what == "write":
                    self._note_partial_write(exc, self._in_flight + self._stored_count())
                if isinstance(exc, SinkError) and exc.permanent:
                    log.error("%s: sink %s %s failed for good, not retrying: %s",
                              self.name, self.writer.name, what, exc)  # fmt: skip
                    raise _GaveUp(exc) from exc
                delay = backoff.next_delay()
                log.warning("%s: sink %s %s failed (%s: %s); retry in %.1fs", self.name,
                            self.writer.name, what, type(exc).__name__, exc, delay)  # fmt: skip
                if self._closing and what == "write" and self._not_durable():
                    await self._secure_what_is_written()
                if self._closing or self.stop.is_set():
                    await asyncio.sleep(min(delay, 0.5))  # the last tries, before the deadline
                else:
                    await sleep_unless_stopped(delay, self.stop)
