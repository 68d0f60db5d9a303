"""Replay: a slate's archived messages, in order, through the book's own parser, the watchlist and
the engine, into any sink, seeded from the slate's snapshot.

Deterministic: the engine's clocks are the archive's receive times (so records carry the
received_at and raw_ref the live run gave them), and heartbeats are not made (they report on a
live connection, which a replay does not have). The same archive gives byte-identical records.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from snuper.archive.segment import (
    CONNECT,
    RECEIVED,
    SENT,
    Entry,
    Kind,
    Segment,
    SegmentError,
    SegmentName,
    moment,
    read_segment,
    split_ref,
)
from snuper.archive.stores import SegmentStore
from snuper.config import Settings
from snuper.feed import Feed, FeedBatch, Message, ParseError, sleep_unless_stopped
from snuper.model import Snapshot
from snuper.providers import Provider
from snuper.runner import MonitorEngine, MonitorResult, Stop
from snuper.sinks.base import Sink
from snuper.sinks.worker import SinkWorker

log = logging.getLogger("snuper.replay")
REPLAYED = "archive replayed"
YIELD_EVERY = 256  # messages between two yields to the event loop at full speed


class ReplayError(Exception):
    """Nothing to replay (no archive, no snapshot of its slate); the message says what."""


@dataclass(slots=True)
class ReplayRun:
    provider: str
    league: str
    slate: str
    segments: int = 0
    truncated: list[str] = field(default_factory=list)  # one line per segment read short
    result: MonitorResult | None = None


def slates(store: SegmentStore, provider: str, league: str) -> dict[str, list[str]]:
    """Slate -> its segment names in written order; a file not named as a segment is skipped."""
    found: dict[str, list[str]] = {}
    for name in store.names(provider, league):
        try:
            parsed = SegmentName.parse(name)
        except SegmentError:
            log.warning("%s: not a segment name, skipped: %s", store.where(provider, league), name)
            continue
        found.setdefault(parsed.slate, []).append(name)
    for names in found.values():
        # A run's segments in part order; runs in the order they started (a clock set back
        # mid-run must not move a later part before an earlier one).
        by_name = {name: SegmentName.parse(name) for name in names}
        started: dict[str, tuple[int, str]] = {}
        for seg in by_name.values():
            if seg.run not in started or seg.part < started[seg.run][0]:
                started[seg.run] = (seg.part, seg.opened)
        names.sort(key=lambda n: (started[by_name[n].run][1], by_name[n].run, by_name[n].part))
    return found


def load_segment(
    store: SegmentStore, provider: str, league: str, name: str, run: ReplayRun
) -> Segment | None:
    """One segment, read whole; one cut short is read up to its last whole message, and one
    that cannot be read at all (a kill before its first write) is skipped; both said once."""
    try:
        segment = read_segment(name, store.read(provider, league, name))
    except SegmentError as exc:
        line = f"segment {name}: skipped, unreadable: {exc}"
        log.warning("%s %s: %s", provider, league, line)
        run.truncated.append(line)
        return None
    if segment.truncated:
        line = f"segment {name}: {segment.truncated}"
        log.warning("%s %s: %s", provider, league, line)
        run.truncated.append(line)
    return segment


class Position:
    """The message being replayed: the engine's clocks, and the raw_ref it stamps on records
    (it stands where the live archive would be, so the engine runs the same code)."""

    def __init__(self) -> None:
        self.at_us = 0
        self.ref = ""
        self.full = False

    def keep(self, kind: Kind, conn: int, at: datetime, payload: Message) -> str:
        return self.ref

    async def room(self, stop: asyncio.Event) -> None:
        return None

    def tick(self, at: datetime) -> None:
        return None

    def now(self) -> datetime:
        return moment(self.at_us)

    def clock(self) -> float:
        return self.at_us / 1e6


class ReplayTransport:
    """The archived messages, read one segment at a time. Each archived connection first sets
    the parser up from what it sent. A message the engine treats as a failed connection (a
    refused subscription) makes it call `messages` again: the replay carries on from there.
    `speed` scales the recorded gaps (None: no waiting). Sets `done` at the archive's end."""

    def __init__(
        self,
        load: Callable[[str], Segment | None],
        names: Sequence[str],
        position: Position,
        replay_connection: Callable[[Sequence[Message]], None] | None,
        speed: float | None,
        done: Stop,
        describe: str = "the archive",
    ) -> None:
        self.load, self.position, self.speed, self.done = load, position, speed, done
        self.replay_connection = replay_connection
        self.describe = describe
        self.messages_read = 0
        self._names = list(names)
        self._entries: list[Entry] = []
        self._segment = ""
        self._next = 0  # the next entry of the segment being read
        self._opening: list[Message] | None = None  # what the current connection sent so far

    async def _entry(self) -> Entry | None:
        while self._next >= len(self._entries):
            if not self._names:
                return None
            name = self._names.pop(0)
            segment = await asyncio.to_thread(self.load, name)
            self._segment, self._next = name, 0
            self._entries = list(segment.entries) if segment is not None else []
        entry = self._entries[self._next]
        self._next += 1
        return entry

    async def messages(
        self, stop: asyncio.Event, wake_every: float, sent: Callable[[Message], None] | None = None
    ) -> AsyncIterator[Message | None]:
        while not stop.is_set() and (entry := await self._entry()) is not None:
            if entry.kind == CONNECT:
                self._opening = []
            elif entry.kind == SENT:
                self._opening = [*(self._opening or ()), entry.payload]
            elif entry.kind == RECEIVED:
                if self._opening is not None:
                    if self.replay_connection is not None:
                        self.replay_connection(self._opening)
                    self._opening = None
                await self._wait_for(entry, stop)
                self.position.at_us = entry.at_us
                self.position.ref = f"{self._segment}#{entry.index}"
                self.messages_read += 1
                yield entry.payload
                if self.messages_read % YIELD_EVERY == 0:
                    await asyncio.sleep(0)  # let the writer take its batch
        if not stop.is_set():
            self.done.why = REPLAYED
            self.done.set()

    async def _wait_for(self, entry: Entry, stop: asyncio.Event) -> None:
        if self.speed is None or not self.position.ref:
            return
        gap = (entry.at_us - self.position.at_us) / 1e6 / self.speed
        if gap > 0:
            await sleep_unless_stopped(gap, stop)


def replay_settings(settings: Settings, deadline: float) -> Settings:
    """No heartbeats, no runtime limit, and a refused subscription replayed at once, as often
    as the archive holds one (there is no server to back off from)."""
    monitor = replace(
        settings.monitor, heartbeat_s=math.inf, max_runtime=None, shutdown_deadline=deadline,
        backoff_initial=0.0, backoff_max=0.0, max_failures=sys.maxsize,
    )  # fmt: skip
    return replace(settings, monitor=monitor)


async def replay(
    provider: Provider,
    league: str,
    store: SegmentStore,
    source: Sink,
    out: Sink,
    settings: Settings,
    *,
    slate: str | None = None,
    speed: float | None = None,
    stop: asyncio.Event | None = None,
) -> ReplayRun:
    """Replay one slate's archive of `provider` and `league` (default: the newest slate) into
    `out`, seeded from that slate's snapshot in `source`. ReplayError when there is nothing to
    replay; `out` is closed either way."""
    worker = SinkWorker(out)
    try:
        return await _replay(provider, league, store, source, worker, settings, slate, speed,
                             stop or asyncio.Event())  # fmt: skip
    except BaseException:
        with contextlib.suppress(Exception):  # nothing replayed: still release the sink
            await worker.call(worker.sink.close)
        raise
    finally:
        worker.stop()


async def _replay(
    provider: Provider,
    league: str,
    store: SegmentStore,
    source: Sink,
    worker: SinkWorker,
    settings: Settings,
    slate: str | None,
    speed: float | None,
    stop: asyncio.Event,
) -> ReplayRun:
    settings = replay_settings(settings, settings.monitor.shutdown_deadline)  # deterministic
    where = store.where(provider.name, league)
    archived = await asyncio.to_thread(slates, store, provider.name, league)
    if not archived:
        raise ReplayError(f"no archive of {provider.name} {league} in {where}")
    slate = slate or max(archived)
    if slate not in archived:
        raise ReplayError(
            f"no archive of slate {slate} in {where} (it holds {', '.join(sorted(archived))})"
        )
    names = archived[slate]
    run = ReplayRun(provider.name, league, slate, len(names))
    snapshot = await asyncio.to_thread(_snapshot, source, provider.name, league, slate)
    await worker.call(functools.partial(worker.sink.save_snapshot, snapshot, overwrite=False))
    log.info("%s %s: replaying slate %s: %d segments from %s", provider.name, league, slate,
             len(names), where)  # fmt: skip
    live = provider.feed(provider.endpoints(), settings, snapshot)
    position = Position()
    ended = Stop()  # the archive is exhausted, or the caller stopped us
    load = functools.partial(load_segment, store, provider.name, league, run=run)
    transport = ReplayTransport(load, names, position, live.replay_connection, speed, ended,
                                describe=f"the archive in {where}")  # fmt: skip
    feed = Feed(transport, live.parse, live.replay_connection)

    async def relay() -> None:
        await stop.wait()
        ended.set()

    relaying = asyncio.ensure_future(relay())
    engine = MonitorEngine(snapshot, feed, worker, settings.monitor, ended, clock=position.clock,
                           now=position.now, archive=position, timer=time.monotonic)  # fmt: skip
    try:
        result = await engine.run()
    finally:
        relaying.cancel()
        # The close makes the last records durable: those are not lost after all.
        await worker.call_indexed(worker.sink.close, makes_durable=True)
        engine.recount_after_close()
    run.result = result
    return run


def _snapshot(source: Sink, provider: str, league: str, slate: str) -> Snapshot:
    loaded = source.load_snapshots(provider, [league], slate)
    if league in loaded.unreadable:
        raise ReplayError(f"the snapshot of {provider} {league}: {loaded.unreadable[league]}")
    for snapshot in loaded.snapshots:
        if snapshot.league == league and snapshot.slate_date == slate:
            return snapshot
    raise ReplayError(f"no snapshot of {provider} {league} slate {slate} to seed the replay")


@dataclass(frozen=True, slots=True)
class Shown:
    """One archived message, found by its raw_ref, and what the parser reads in it."""

    ref: str
    entry: Entry
    batch: FeedBatch | None
    problem: str | None


def _sent_before(
    store: SegmentStore, provider: str, league: str, target: SegmentName, found: Entry
) -> list[Message]:
    """What the connection of `found` sent before it: its run's segments are read up to the
    target (a connection may span an hour's rotation)."""
    names = slates(store, provider, league).get(target.slate, [])
    run = [n for n in names if SegmentName.parse(n).run == target.run]
    sent: list[Message] = []
    for name in run:
        parsed = SegmentName.parse(name)
        for entry in read_segment(name, store.read(provider, league, name)).entries:
            if parsed == target and entry.index >= found.index:
                return sent
            if entry.conn != found.conn:
                continue
            if entry.kind == CONNECT:
                sent = []
            elif entry.kind == SENT:
                sent.append(entry.payload)
    return sent


def show(
    provider: Provider, league: str, store: SegmentStore, source: Sink, ref: str,
    settings: Settings,
) -> Shown:  # fmt: skip
    """The message `ref` names, parsed as the replay would (its connection set up from what it
    sent). ReplayError or SegmentError when it names nothing."""
    name, index = split_ref(ref)
    segment = read_segment(name, store.read(provider.name, league, name))
    found = next((e for e in segment.entries if e.index == index), None)
    if found is None:
        raise ReplayError(f"{ref}: segment {name} has no entry {index} "
                          f"(it has {len(segment.entries)})")  # fmt: skip
    parsed = SegmentName.parse(name)
    sent = _sent_before(store, provider.name, league, parsed, found)
    snapshot = _snapshot(source, provider.name, league, parsed.slate)
    feed = provider.feed(provider.endpoints(), settings, snapshot)
    if feed.replay_connection is not None:
        feed.replay_connection(sent)
    try:
        batch, problem = feed.parse(found.payload), None
    except ParseError as exc:
        batch, problem = None, str(exc)
    return Shown(ref, found, batch, problem)
