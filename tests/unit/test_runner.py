"""The monitor engine over a poll feed: the transport-independent behaviour (heartbeats, bad
messages, runtime limit, shutdown flush). The websocket path runs end to end in tests/e2e.

Every test runs with the wall clock set to each of several instants (around New York's daylight
saving changes, around midnight, the day the suite first broke), with the events placed relative
to it: nothing depends on the day the suite runs.
"""

import asyncio
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from snuper.config import MonitorSettings
from snuper.feed import (
    Feed,
    FeedBatch,
    Message,
    ParseError,
    PollTransport,
    Quote,
    Removed,
    WebSocketTransport,
)
from snuper.model import Event, OddsUpdate, Record, Snapshot
from snuper.runner import MonitorEngine
from snuper.sinks.fs import FsSink
from tests.factories import event, snapshot

FAST = MonitorSettings(interval=0.05, heartbeat_s=0.2, receive_timeout=0.1, max_runtime=5.0)

INSTANTS = [
    datetime(2026, 3, 8, 6, 30, tzinfo=UTC),  # 01:30 EST, half an hour before DST starts
    datetime(2026, 3, 8, 7, 30, tzinfo=UTC),  # 03:30 EDT, just after
    datetime(2026, 11, 1, 5, 30, tzinfo=UTC),  # 01:30 EDT: the hour that happens twice
    datetime(2026, 11, 1, 6, 30, tzinfo=UTC),  # 01:30 EST: its second time
    datetime(2026, 12, 2, 12, 30, tzinfo=UTC),  # the day a fixed test slate went stale
    datetime(2027, 6, 15, 3, 55, tzinfo=UTC),  # 23:55 in New York: the UTC date is a day ahead
]


@pytest.fixture(params=INSTANTS, ids=lambda d: d.strftime("%Y-%m-%dT%H:%MZ"))
def now(request: pytest.FixtureRequest) -> datetime:
    moment: datetime = request.param
    return moment


def live_event(now: datetime, event_id: str = "101", num: str = "500") -> Event:
    """A game that started 40 minutes before `now`."""
    return event(event_id, num, start=now - timedelta(minutes=40))


def engine(
    snap: Snapshot,
    feed: Feed,
    sink: FsSink,
    now: datetime,
    settings: MonitorSettings = FAST,
    stop: asyncio.Event | None = None,
    clock: Callable[[], float] | None = None,
) -> MonitorEngine:
    return MonitorEngine(snap, feed, sink, settings, stop or asyncio.Event(),
                         clock=clock or time.monotonic, now=lambda: now)  # fmt: skip


def script_parser(message: Message) -> FeedBatch:
    """Test messages are JSON: {"quotes": [[id, american, decimal]], "over": [event ids]}."""
    try:
        data = orjson.loads(message)
    except orjson.JSONDecodeError as exc:
        raise ParseError("message", str(exc)) from None
    if "quotes" not in data:
        raise ParseError("message.quotes", "missing")
    items: list[Quote | Removed] = [Quote(q[0], q[1], q[2]) for q in data["quotes"]]
    items += [Removed("event", e) for e in data.get("over", [])]
    listed = data.get("listed")
    return FeedBatch("update", items, events_listed=None if listed is None else frozenset(listed))


def poll(fetch: Callable[[], object], interval: float = 0.05) -> Feed:
    async def one_round() -> Sequence[Message]:
        return [fetch()]  # type: ignore[list-item]

    return Feed(PollTransport(one_round, interval), script_parser)


def scripted(messages: Sequence[bytes]) -> Feed:
    queue = list(messages)
    return poll(lambda: queue.pop(0) if queue else b'{"quotes": []}')


def records(root: Path, snap: Snapshot, event_id: str) -> list[dict[str, object]]:
    path = root / "draftkings" / "odds" / f"{snap.slate_date}-nba-{event_id}.json"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_updates_heartbeats_and_exit_when_events_are_over(
    tmp_path: Path, now: datetime
) -> None:
    messages = [
        b'{"quotes": [["0ML500_1", -160, 1.625]]}',
        b'{"quotes": [["0ML500_1", -160, 1.625], ["0ML500_3", 140, 2.4]]}',
        *[b'{"quotes": []}'] * 8,  # quiet for 0.4 s: at least one heartbeat per event
        b'{"quotes": [], "over": ["101", "102"]}',
    ]
    sink = FsSink(tmp_path)
    snap = snapshot(live_event(now, "101", "500"), live_event(now, "102", "600"))
    result = await engine(snap, scripted(messages), sink, now).run()
    sink.close()
    assert result.stopped == "events over"
    first = records(tmp_path, snap, "101")
    odds = [(r["selection_id"], r["odds_american"]) for r in first if r["type"] == "odds"]
    assert odds == [("0ML500_1", -160), ("0ML500_3", 140)]
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert {r["received_at"] for r in first} == {stamp}  # the injected clock, not the real one
    quiet = records(tmp_path, snap, "102")
    assert quiet and all(r["type"] == "heartbeat" for r in quiet)
    assert quiet[0]["updates"] == 0
    assert int(str(quiet[0]["messages"])) >= 1  # the feed was alive while the event was quiet
    assert float(str(quiet[0]["idle_s"])) >= FAST.heartbeat_s
    assert result.updates == 2


async def test_events_past_the_twelve_hour_rule_are_over_at_start(
    tmp_path: Path, now: datetime
) -> None:
    old = event("101", "500", start=now - timedelta(hours=12, minutes=1))
    result = await engine(snapshot(old), scripted([]), FsSink(tmp_path), now).run()
    assert result.stopped == "no live events"


async def test_an_event_the_book_no_longer_lists_is_over(tmp_path: Path, now: datetime) -> None:
    # The initial state lists only 102: 101 ended before the monitor started.
    messages = [b'{"quotes": [], "listed": ["102"]}', b'{"quotes": [], "over": ["102"]}']
    snap = snapshot(live_event(now, "101", "500"), live_event(now, "102", "600"))
    result = await engine(snap, scripted(messages), FsSink(tmp_path), now).run()
    assert result.stopped == "events over"
    assert result.messages == 2  # it did not wait for the 12-hour rule


async def test_malformed_message_is_skipped_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, now: datetime
) -> None:
    messages = [b"not json at all", b'{"nope": 1}', b'{"quotes": [], "over": ["101"]}']
    run = engine(snapshot(live_event(now)), scripted(messages), FsSink(tmp_path), now).run()
    with caplog.at_level(logging.WARNING, "snuper.monitor"):
        result = await run
    assert result.stopped == "events over"
    assert result.bad_messages == 2
    warnings = [r.getMessage() for r in caplog.records if "malformed message" in r.getMessage()]
    assert len(warnings) == result.bad_messages
    assert "message.quotes" in warnings[-1]


async def test_stop_event_flushes_everything_written(tmp_path: Path, now: datetime) -> None:
    stop = asyncio.Event()
    handled = asyncio.Event()
    written: list[Record] = []
    calls: list[str] = []

    class CountingSink(FsSink):
        def write_updates(self, batch: Sequence[Record]) -> None:
            written.extend(batch)
            calls.append("write")
            super().write_updates(batch)

        def flush(self, *, final: bool = False) -> None:
            calls.append("flush")
            super().flush(final=final)

    rounds = itertools.count()

    def fetch() -> bytes:
        if next(rounds) == 1:  # the engine asks again only after handling the first answer
            handled.set()
        return b'{"quotes": [["0ML500_1", -170, 1.588]]}'

    sink = CountingSink(tmp_path)
    snap = snapshot(live_event(now))
    settings = MonitorSettings(interval=30, heartbeat_s=60, receive_timeout=0.1)
    task = asyncio.create_task(engine(snap, poll(fetch), sink, now, settings, stop).run())
    await handled.wait()
    stop.set()
    result = await task
    # Every write is followed by a flush before the engine returns (-i 30 does not delay it:
    # the writer flushes as soon as nothing more waits).
    assert calls and calls[-1] == "flush" and calls.count("write") >= 1
    sink.close()
    assert result.stopped == "signal"
    assert [r.selection_id for r in written if isinstance(r, OddsUpdate)] == ["0ML500_1"]
    assert records(tmp_path, snap, "101")[0]["odds_american"] == -170


async def test_max_runtime_stops_a_feed_that_never_ends(tmp_path: Path, now: datetime) -> None:
    settings = MonitorSettings(interval=0.05, heartbeat_s=10, receive_timeout=0.1, max_runtime=0.3)
    sink = FsSink(tmp_path)
    result = await engine(snapshot(live_event(now)), scripted([]), sink, now, settings).run()
    sink.close()
    assert result.stopped == "max runtime"


async def test_a_feed_that_refuses_us_is_given_up_on(tmp_path: Path, now: datetime) -> None:
    def refuse(message: Message) -> FeedBatch:
        return FeedBatch("error", detail="invalid jwt")

    settings = MonitorSettings(interval=0.05, receive_timeout=0.1, backoff_initial=0.01,
                               backoff_max=0.02, max_failures=2)  # fmt: skip
    sink = FsSink(tmp_path)

    async def answer() -> Sequence[Message]:
        return [b"refused"]

    feed = Feed(PollTransport(answer, 0.05), refuse)
    result = await engine(snapshot(live_event(now)), feed, sink, now, settings).run()
    sink.close()
    assert (result.stopped, result.reconnects, result.ok) == ("gave up", 2, False)


async def test_a_busy_feed_is_flushed_every_interval(tmp_path: Path, now: datetime) -> None:
    flushes = 0

    class CountingFlushes(FsSink):
        def flush(self, *, final: bool = False) -> None:
            nonlocal flushes
            flushes += 1
            super().flush(final=final)

    # Monotonic time moves 20 ms per answer, whatever the machine's speed: 40 answers in the
    # 0.8 s runtime, a record each, so the queue never idles for the 0.1 s flush interval.
    elapsed = [0.0]
    prices = iter(range(-110, -400, -1))

    def fetch() -> bytes:
        elapsed[0] += 0.02
        return orjson.dumps({"quotes": [["0ML500_1", next(prices), 1.5]]})

    settings = MonitorSettings(interval=0.1, heartbeat_s=10, receive_timeout=0.1, max_runtime=0.8)
    sink = CountingFlushes(tmp_path)
    feed = poll(fetch, interval=0.001)
    run = engine(snapshot(live_event(now)), feed, sink, now, settings,
                 clock=lambda: elapsed[0])  # fmt: skip
    result = await run.run()
    sink.close()
    assert result.updates > 10
    assert flushes >= 3


async def test_stop_interrupts_a_connect_that_hangs(tmp_path: Path, now: datetime) -> None:
    accepted = asyncio.Event()

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.set()
        try:
            await reader.read()  # accepts TCP, never answers the handshake; ends when dropped
        finally:
            writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    transport = WebSocketTransport(f"ws://127.0.0.1:{port}/websocket", list, open_timeout=30)
    feed = Feed(transport, script_parser)
    settings = MonitorSettings(interval=0.05, receive_timeout=30)
    stop = asyncio.Event()
    sink = FsSink(tmp_path)
    task = asyncio.create_task(
        engine(snapshot(live_event(now)), feed, sink, now, settings, stop).run()
    )
    await accepted.wait()
    stop.set()
    result = await asyncio.wait_for(task, 5)  # without the interruption: the 30 s open timeout
    sink.close()
    server.close()
    await server.wait_closed()
    assert result.stopped == "signal"


async def test_a_quiet_feed_still_flushes_every_interval(tmp_path: Path, now: datetime) -> None:
    # A sink's timed work (an S3 chunk due by age, a lock to renew) runs in flush: it must be
    # called while nothing is written, too.
    flushes = 0

    class CountingSink(FsSink):
        def flush(self, *, final: bool = False) -> None:
            nonlocal flushes
            flushes += 1
            super().flush(final=final)

    sink = CountingSink(tmp_path)
    settings = MonitorSettings(interval=0.05, heartbeat_s=60, receive_timeout=0.1,
                               max_runtime=0.6)  # fmt: skip
    quiet = scripted([])  # every answer is empty: no record at all
    result = await engine(snapshot(live_event(now)), quiet, sink, now, settings).run()
    sink.close()
    assert result.updates == result.heartbeats == 0
    assert flushes >= 5  # about one per 0.05 s interval over 0.6 s
