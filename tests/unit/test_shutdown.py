"""Shutdown keeps its promises: a sink that hangs or fails is given the deadline, no more, and
what it did not store is counted exactly and named."""

import asyncio
import errno
import itertools
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from snuper.config import MonitorSettings
from snuper.feed import Feed, Message, PollTransport
from snuper.model import Record
from snuper.runner import MonitorEngine
from snuper.sinks.base import SinkError
from snuper.sinks.fs import FsSink
from snuper.sinks.worker import SinkWorker
from tests.factories import event, snapshot
from tests.unit.test_runner import script_parser

NOW = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
SETTINGS = MonitorSettings(interval=0.05, heartbeat_s=60, receive_timeout=0.1,
                           shutdown_deadline=0.5)  # fmt: skip


def moving_prices(handled: asyncio.Event, rounds_before_stop: int) -> Feed:
    """A price move per poll; `handled` is set once `rounds_before_stop` were consumed."""
    prices = itertools.count(-111, -1)
    rounds = itertools.count()

    async def fetch() -> Sequence[Message]:
        if next(rounds) == rounds_before_stop:
            handled.set()
        return [f'{{"quotes": [["0ML500_1", {next(prices)}, 1.5]]}}'.encode()]

    return Feed(PollTransport(fetch, interval=0.01), script_parser)


async def run_until_stopped(sink: FsSink, rounds: int) -> tuple[MonitorEngine, float]:
    stop, handled = asyncio.Event(), asyncio.Event()
    snap = snapshot(event(start=NOW - timedelta(minutes=30)))
    engine = MonitorEngine(snap, moving_prices(handled, rounds), sink, SETTINGS, stop,
                           now=lambda: NOW)  # fmt: skip
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(handled.wait(), 5)
    stop.set()
    loop = asyncio.get_running_loop()
    stopped_at = loop.time()
    await asyncio.wait_for(task, 5)
    return engine, loop.time() - stopped_at


async def test_a_hanging_sink_is_abandoned_at_the_deadline_and_the_loss_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()

    class HangingSink(FsSink):
        def write_updates(self, records: Sequence[Record]) -> None:
            release.wait()  # a database that stopped answering

    try:
        with caplog.at_level(logging.ERROR, "snuper.monitor"):
            engine, took = await run_until_stopped(HangingSink(tmp_path), rounds=5)
    finally:
        release.set()
    result = engine.result
    assert took < SETTINGS.shutdown_deadline + 1.0
    assert result.updates >= 5
    assert result.lost == result.updates  # nothing reached the sink: every record is counted
    assert not result.ok
    [line] = [r.getMessage() for r in caplog.records if "shutdown deadline" in r.getMessage()]
    assert "sink fs" in line and f"did not store {result.lost} records" in line


async def test_a_final_flush_that_fails_counts_what_was_not_made_durable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class UnflushableSink(FsSink):
        def flush(self, *, final: bool = False) -> None:
            raise SinkError(f"cannot flush {self.root}: No space left on device")

    with caplog.at_level(logging.WARNING, "snuper.monitor"):
        engine, took = await run_until_stopped(UnflushableSink(tmp_path), rounds=3)
    result = engine.result
    assert took < SETTINGS.shutdown_deadline + 1.0
    assert result.updates >= 3
    assert result.lost == result.updates  # written, but never made durable
    assert any("No space left" in r.getMessage() for r in caplog.records)


async def test_a_healthy_sink_loses_nothing_at_shutdown(tmp_path: Path) -> None:
    sink = FsSink(tmp_path)
    engine, _ = await run_until_stopped(sink, rounds=3)
    sink.close()
    assert engine.result.lost == 0 and engine.result.ok
    odds = (tmp_path / "draftkings" / "odds").glob("*.json")
    assert sum(len(p.read_bytes().splitlines()) for p in odds) == engine.result.updates


async def test_a_sink_that_recovers_while_running_loses_nothing(tmp_path: Path) -> None:
    failures = iter([True, True, False])

    class FlakySink(FsSink):
        def write_updates(self, records: Sequence[Record]) -> None:
            if next(failures, False):
                raise SinkError("cannot write: Read-only file system")
            super().write_updates(records)

    sink = FlakySink(tmp_path)
    engine, _ = await run_until_stopped(sink, rounds=3)
    sink.close()
    assert engine.result.lost == 0
    odds = (tmp_path / "draftkings" / "odds").glob("*.json")
    assert sum(len(p.read_bytes().splitlines()) for p in odds) == engine.result.updates


async def test_a_stop_while_the_sink_is_behind_is_not_ignored(tmp_path: Path) -> None:
    # The sink fails every write and the queue holds one record: the receive loop waits for
    # room. A stop must still end the run, within the deadline, every record counted.
    class BrokenSink(FsSink):
        def write_updates(self, records: Sequence[Record]) -> None:
            raise SinkError(f"cannot write {self.root}: Read-only file system")

    stop, handled = asyncio.Event(), asyncio.Event()
    settings = replace(SETTINGS, queue_size=1)
    snap = snapshot(event(start=NOW - timedelta(minutes=30)))
    feed = moving_prices(handled, 2)  # the third answer's record finds the queue full
    engine = MonitorEngine(snap, feed, BrokenSink(tmp_path), settings, stop, now=lambda: NOW)
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(handled.wait(), 5)
    stop.set()
    result = await asyncio.wait_for(task, settings.shutdown_deadline + 2)
    assert result.stopped == "signal"
    assert result.updates == 3 and result.lost == 3


async def test_a_flush_by_another_league_makes_this_leagues_records_durable(
    tmp_path: Path,
) -> None:
    # Leagues share a sink and its worker. This league's own flushes all fail; another
    # league's flush, run on the same worker after this league's write, covers it.
    written = threading.Event()

    class OwnFlushFails(FsSink):
        def write_updates(self, records: Sequence[Record]) -> None:
            super().write_updates(records)
            written.set()

        def flush(self, *, final: bool = False) -> None:
            raise SinkError("cannot flush: No space left on device")

    sink = OwnFlushFails(tmp_path)
    worker = SinkWorker(sink)
    stop = asyncio.Event()
    snap = snapshot(event(start=NOW - timedelta(minutes=30)))
    settings = replace(SETTINGS, interval=30.0)  # no flush of its own while running
    answers = [b'{"quotes": [["0ML500_1", -170, 1.588]]}']

    async def fetch() -> Sequence[Message]:
        return [answers.pop()] if answers else []

    feed = Feed(PollTransport(fetch, interval=0.01), script_parser)
    engine = MonitorEngine(snap, feed, worker, settings, stop, now=lambda: NOW)
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(asyncio.to_thread(written.wait, 5), 6)
    # The other league's flush (the real one), through the shared worker:
    await worker.call_indexed(lambda: FsSink.flush(sink), makes_durable=True)
    stop.set()
    result = await asyncio.wait_for(task, 5)
    assert (result.updates, result.lost) == (1, 0)


async def test_without_another_flush_the_same_failure_is_counted(tmp_path: Path) -> None:
    # The control for the test above: no other league flushes, so the record is lost.
    class OwnFlushFails(FsSink):
        def flush(self, *, final: bool = False) -> None:
            raise SinkError("cannot flush: No space left on device")

    engine, _ = await run_until_stopped(OwnFlushFails(tmp_path), rounds=0)
    assert engine.result.lost == engine.result.updates >= 1


async def test_a_permanent_sink_error_fails_fast_and_counts_everything(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # EACCES, EROFS, ENAMETOOLONG: no retry helps. The league stops at once (no stop signal,
    # no runtime limit), every record counted, one error line saying why.
    class ReadOnly(FsSink):
        def write_updates(self, records: Sequence[Record]) -> None:
            raise SinkError(f"cannot write {self.root}: Read-only file system", permanent=True)

    handled = asyncio.Event()
    snap = snapshot(event(start=NOW - timedelta(minutes=30)))
    engine = MonitorEngine(snap, moving_prices(handled, 3), ReadOnly(tmp_path), SETTINGS,
                           asyncio.Event(), now=lambda: NOW)  # fmt: skip
    with caplog.at_level(logging.ERROR, "snuper.monitor"):
        result = await asyncio.wait_for(engine.run(), 5)
    assert result.stopped == "sink failed" and not result.ok
    assert result.lost == result.updates >= 1
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("failed for good" in e and "Read-only file system" in e for e in errors)
    assert any("after a permanent error" in e for e in errors)


async def test_a_full_disk_at_shutdown_stops_within_the_deadline_and_counts_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Finding 4: the disk fills while the monitor runs and is still full at SIGTERM.
    real_write = os.write

    def full(fd: int, data: bytes) -> int:
        if disk_full.is_set():
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    disk_full = threading.Event()
    monkeypatch.setattr(os, "write", full)
    sink = FsSink(tmp_path)
    stop, handled = asyncio.Event(), asyncio.Event()
    snap = snapshot(event(start=NOW - timedelta(minutes=30)))
    engine = MonitorEngine(snap, moving_prices(handled, 5), sink, SETTINGS, stop,
                           now=lambda: NOW)  # fmt: skip
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(handled.wait(), 5)
    disk_full.set()
    on_disk_before = written_lines(tmp_path)
    await asyncio.sleep(0)  # let a record or two meet the full disk
    stop.set()
    stopped_at = asyncio.get_running_loop().time()
    result = await asyncio.wait_for(task, 5)
    took = asyncio.get_running_loop().time() - stopped_at
    disk_full.clear()
    sink.close()
    assert took < SETTINGS.shutdown_deadline + 1.0
    # Exact: what is in the files (made durable before the deadline) plus what was counted
    # lost is every record handled.
    assert written_lines(tmp_path) + result.lost == result.updates
    assert written_lines(tmp_path) >= on_disk_before and result.lost >= 1


def written_lines(root: Path) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in root.glob("draftkings/odds/*.json"))


async def test_a_batch_stored_in_one_file_but_not_the_other_is_counted_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One batch holds records of two events; only event 102's file meets a full disk. The
    # records that reached 101's file are stored, not lost.
    real_write = os.write

    def full_for_102(fd: int, data: bytes) -> int:
        if str(Path(f"/proc/self/fd/{fd}").readlink()).endswith("-102.json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", full_for_102)
    prices = itertools.count(-111, -1)
    handled = asyncio.Event()
    rounds = itertools.count()

    async def fetch() -> Sequence[Message]:
        if next(rounds) == 5:
            handled.set()
        price = next(prices)
        return [f'{{"quotes": [["0ML500_1", {price}, 1.5], ["0ML600_1", {price}, 1.5]]}}'.encode()]

    sink = FsSink(tmp_path)
    stop = asyncio.Event()
    snap = snapshot(event("101", "500", start=NOW - timedelta(minutes=30)),
                    event("102", "600", start=NOW - timedelta(minutes=30)))  # fmt: skip
    feed = Feed(PollTransport(fetch, interval=0.01), script_parser)
    engine = MonitorEngine(snap, feed, sink, SETTINGS, stop, now=lambda: NOW)
    task = asyncio.create_task(engine.run())
    await asyncio.wait_for(handled.wait(), 5)
    stop.set()
    result = await asyncio.wait_for(task, 5)
    monkeypatch.setattr(os, "write", real_write)
    sink.close()
    assert written_lines(tmp_path) > 0 and result.lost > 0
    assert written_lines(tmp_path) + result.lost == result.updates
