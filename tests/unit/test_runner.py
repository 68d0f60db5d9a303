"""The monitor engine over a poll feed: the transport-independent behaviour (heartbeats, bad
messages, runtime limit, shutdown flush). The websocket path runs end to end in tests/e2e."""

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

from snuper.config import MonitorSettings
from snuper.feed import FeedBatch, Message, ParseError, PollFeed, Quote, Removed, WebSocketFeed
from snuper.model import OddsUpdate, Record
from snuper.runner import MonitorEngine
from snuper.sinks.fs import FsSink
from tests.factories import event, snapshot

FAST = MonitorSettings(interval=0.05, heartbeat_s=0.2, receive_timeout=0.1, max_runtime=5.0)


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
    return FeedBatch("update", items)


def scripted(messages: Sequence[bytes]) -> PollFeed:
    queue = list(messages)

    async def fetch() -> Message:
        return queue.pop(0) if queue else b'{"quotes": []}'

    return PollFeed(fetch=fetch, parse=script_parser, interval=0.05)


def records(root: Path, event_id: str) -> list[dict[str, object]]:
    path = root / "draftkings" / "odds" / f"20261201-nba-{event_id}.json"
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


async def test_updates_heartbeats_and_exit_when_events_are_over(tmp_path: Path) -> None:
    messages = [
        b'{"quotes": [["0ML500_1", -160, 1.625]]}',
        b'{"quotes": [["0ML500_1", -160, 1.625], ["0ML500_3", 140, 2.4]]}',
        *[b'{"quotes": []}'] * 8,  # quiet for 0.4 s: at least one heartbeat per event
        b'{"quotes": [], "over": ["101", "102"]}',
    ]
    sink = FsSink(tmp_path)
    engine = MonitorEngine(
        snapshot(event("101", "500"), event("102", "600")),
        scripted(messages), sink, FAST, asyncio.Event(),
    )  # fmt: skip
    result = await engine.run()
    sink.close()
    assert result.stopped == "events over"
    first = records(tmp_path, "101")
    odds = [(r["selection_id"], r["odds_american"]) for r in first if r["type"] == "odds"]
    assert odds == [("0ML500_1", -160), ("0ML500_3", 140)]
    quiet = records(tmp_path, "102")
    assert quiet and all(r["type"] == "heartbeat" for r in quiet)
    assert quiet[0]["updates"] == 0
    assert int(str(quiet[0]["messages"])) >= 1  # the feed was alive while the event was quiet
    assert float(str(quiet[0]["idle_s"])) >= FAST.heartbeat_s
    assert result.updates == 2


async def test_malformed_message_is_skipped_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    messages = [b"not json at all", b'{"nope": 1}', b'{"quotes": [], "over": ["101"]}']
    engine = MonitorEngine(snapshot(), scripted(messages), FsSink(tmp_path), FAST, asyncio.Event())
    with caplog.at_level(logging.WARNING, "snuper.monitor"):
        result = await engine.run()
    assert result.stopped == "events over"
    assert result.bad_messages == 2
    warnings = [r.getMessage() for r in caplog.records if "malformed message" in r.getMessage()]
    assert len(warnings) == result.bad_messages
    assert "message.quotes" in warnings[-1]


async def test_stop_event_flushes_everything_written(tmp_path: Path) -> None:
    stop = asyncio.Event()
    written: list[Record] = []

    class CountingSink(FsSink):
        def write_updates(self, batch: Sequence[Record]) -> None:
            written.extend(batch)
            super().write_updates(batch)

    messages = [b'{"quotes": [["0ML500_1", -170, 1.588]]}']
    sink = CountingSink(tmp_path)
    engine = MonitorEngine(snapshot(), scripted(messages), sink, FAST, stop)
    task = asyncio.create_task(engine.run())
    await asyncio.sleep(0.3)
    stop.set()
    result = await task
    sink.close()
    assert result.stopped == "signal"
    assert [r.selection_id for r in written if isinstance(r, OddsUpdate)] == ["0ML500_1"]
    assert records(tmp_path, "101")[0]["odds_american"] == -170


async def test_max_runtime_stops_a_feed_that_never_ends(tmp_path: Path) -> None:
    settings = MonitorSettings(interval=0.05, heartbeat_s=10, receive_timeout=0.1, max_runtime=0.3)
    sink = FsSink(tmp_path)
    engine = MonitorEngine(snapshot(), scripted([]), sink, settings, asyncio.Event())
    result = await engine.run()
    sink.close()
    assert result.stopped == "max runtime"


async def test_a_feed_that_refuses_us_is_given_up_on(tmp_path: Path) -> None:
    async def fetch() -> Message:
        return b"refused"

    def refuse(message: Message) -> FeedBatch:
        return FeedBatch("error", detail="invalid jwt")

    settings = MonitorSettings(interval=0.05, receive_timeout=0.1, backoff_initial=0.01,
                               backoff_max=0.02, max_failures=2)  # fmt: skip
    sink = FsSink(tmp_path)
    feed = PollFeed(fetch=fetch, parse=refuse, interval=0.05)
    result = await MonitorEngine(snapshot(), feed, sink, settings, asyncio.Event()).run()
    sink.close()
    assert (result.stopped, result.reconnects, result.ok) == ("gave up", 2, False)


async def test_a_busy_feed_is_flushed_every_interval(tmp_path: Path) -> None:
    flushes = 0

    class CountingFlushes(FsSink):
        def flush(self) -> None:
            nonlocal flushes
            flushes += 1
            super().flush()

    prices = iter(range(-110, -400, -1))

    async def fetch() -> Message:
        return orjson.dumps({"quotes": [["0ML500_1", next(prices), 1.5]]})

    settings = MonitorSettings(interval=0.1, heartbeat_s=10, receive_timeout=0.1, max_runtime=0.8)
    sink = CountingFlushes(tmp_path)
    feed = PollFeed(fetch=fetch, parse=script_parser, interval=0.02)
    result = await MonitorEngine(snapshot(), feed, sink, settings, asyncio.Event()).run()
    sink.close()
    assert result.updates > 10
    # a record arrives every 20 ms, so the queue never idles for a whole interval
    assert flushes >= 3


async def test_stop_interrupts_a_connect_that_hangs(tmp_path: Path) -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.read()  # accepts TCP, never answers the handshake; ends when dropped
        finally:
            writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    feed = WebSocketFeed(f"ws://127.0.0.1:{port}/websocket", {}, list, script_parser)
    settings = MonitorSettings(interval=0.05, receive_timeout=30)
    stop = asyncio.Event()
    sink = FsSink(tmp_path)
    task = asyncio.create_task(MonitorEngine(snapshot(), feed, sink, settings, stop).run())
    await asyncio.sleep(0.3)
    stop.set()
    result = await asyncio.wait_for(task, 5)  # without the interruption: the 30 s open timeout
    sink.close()
    server.close()
    await server.wait_closed()
    assert result.stopped == "signal"
