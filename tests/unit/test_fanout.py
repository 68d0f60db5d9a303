"""The fanout: every sink gets every record once, in order; a sink that is down does not hold up
the others, and what it missed is replayed from its spill file, now or by the next run."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import pytest

from snuper.model import Heartbeat, RawMessage, Record
from snuper.sinks.base import SinkError, unfinished
from snuper.sinks.fanout import FanoutSink
from snuper.sinks.fs import FsSink
from snuper.sinks.lane import LaneSettings
from tests.factories import snapshot

FAST = LaneSettings(backoff_initial=0.02, backoff_max=0.05, flush_wait=0.5)


def beat(n: int, event_id: str = "101") -> Heartbeat:
    return Heartbeat(
        "draftkings", "nba", event_id, "20261201", f"2026-12-02T00:31:{n % 60:02d}.{n:06d}Z",
        n, 0, 10 * n, 60.0,
    )  # fmt: skip


class Switchable(FsSink):
    """An fs sink that fails every call while `down` is set, as a server would."""

    name: ClassVar[str] = "flaky"
    wants_raw: ClassVar[bool] = True

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.down = threading.Event()
        self.raw: list[RawMessage] = []

    def _check(self) -> None:
        if self.down.is_set():
            raise SinkError("connection refused")

    def write_updates(self, records: Sequence[Record]) -> None:
        self._check()
        self.raw += [r for r in records if isinstance(r, RawMessage)]
        super().write_updates([r for r in records if not isinstance(r, RawMessage)])

    def flush(self, *, final: bool = False) -> None:
        self._check()
        super().flush(final=final)


def stored(sink: FsSink) -> list[Record]:
    return sink.read_event("draftkings", "nba", "20261201", "101")


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_every_sink_gets_every_record_in_order(tmp_path: Path) -> None:
    a, b = FsSink(tmp_path / "a"), FsSink(tmp_path / "b")
    fanout = FanoutSink([a, b], tmp_path / "spill", FAST)
    records = [beat(n) for n in range(30)]
    for n in range(0, 30, 7):
        fanout.write_updates(records[n : n + 7])
        fanout.flush()
    fanout.close()
    assert stored(a) == stored(b) == records
    assert fanout.unfinished() == []
    assert not list((tmp_path / "spill").glob("*"))


def test_a_sink_down_spills_while_the_other_goes_on_then_catches_up(tmp_path: Path) -> None:
    steady, flaky = FsSink(tmp_path / "a"), Switchable(tmp_path / "b")
    fanout = FanoutSink([steady, flaky], tmp_path / "spill", FAST)
    records = [beat(n) for n in range(40)]
    fanout.write_updates(records[:10])
    fanout.flush()
    flaky.down.set()
    for n in range(10, 30, 5):
        fanout.write_updates(records[n : n + 5])
        fanout.flush()
        assert stored(steady) == records[: n + 5]  # the steady sink never waits
    [spill] = (tmp_path / "spill").glob("flaky-*.jsonl")
    assert spill.stat().st_size > 0
    flaky.down.clear()
    wait_for(lambda: fanout.lanes()[1].state == "up")
    fanout.write_updates(records[30:])
    fanout.close()
    assert stored(flaky) == records == stored(steady)
    assert fanout.unfinished() == []
    assert not spill.exists()


def test_a_sink_still_down_at_close_leaves_its_spill_for_the_next_run(tmp_path: Path) -> None:
    flaky = Switchable(tmp_path / "b")
    first = FanoutSink([FsSink(tmp_path / "a"), flaky], tmp_path / "spill", FAST, close_wait=3.0)
    records = [beat(n) for n in range(20)]
    flaky.down.set()
    first.write_updates(records[:12])
    first.flush()
    first.close()
    [line] = first.unfinished()
    [spill] = (tmp_path / "spill").glob("flaky-*.jsonl")
    assert "sink flaky is still down" in line and str(spill) in line
    assert stored(flaky) == []

    again = Switchable(tmp_path / "b")  # the server is back for the next run
    second = FanoutSink([FsSink(tmp_path / "a"), again], tmp_path / "spill", FAST)
    second.write_updates(records[12:])
    second.close()
    assert stored(again) == records  # the spill first, then the new run's records
    assert second.unfinished() == [] and not spill.exists()


def test_the_app_reports_what_a_sink_left_unfinished(tmp_path: Path) -> None:
    flaky = Switchable(tmp_path / "b")
    fanout = FanoutSink([flaky], tmp_path / "spill", FAST, close_wait=3.0)
    flaky.down.set()
    fanout.write_updates([beat(1)])
    fanout.close()
    assert len(unfinished(fanout)) == 1
    assert unfinished(FsSink(tmp_path / "c")) == []


def test_raw_messages_go_only_to_sinks_that_keep_them(tmp_path: Path) -> None:
    plain, keeper = FsSink(tmp_path / "a"), Switchable(tmp_path / "b")
    fanout = FanoutSink([plain, keeper], tmp_path / "spill", FAST)
    assert fanout.wants_raw and not FanoutSink([plain], tmp_path / "s2").wants_raw
    raw = RawMessage("draftkings", "nba", "101", "20261201", "2026-12-02T00:31:00Z", {"a": [1]})
    fanout.write_updates([raw, beat(1)])
    fanout.close()
    assert stored(plain) == stored(keeper) == [beat(1)]
    assert keeper.raw == [raw]


def test_the_same_batch_passed_again_reaches_each_sink_once(tmp_path: Path) -> None:
    a, b = FsSink(tmp_path / "a"), FsSink(tmp_path / "b")
    fanout = FanoutSink([a, b], tmp_path / "spill", FAST)
    batch = [beat(1), beat(2)]
    fanout.write_updates(batch)
    fanout.write_updates(batch)  # the engine's retry after an error
    fanout.close()
    assert stored(a) == stored(b) == batch


def test_snapshots_load_from_the_first_sink_that_has_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty, full = FsSink(tmp_path / "a"), FsSink(tmp_path / "b")
    snap = snapshot()
    full.save_snapshot(snap)
    fanout = FanoutSink([empty, full], tmp_path / "spill", FAST)
    with caplog.at_level("INFO", logger="snuper"):
        loaded = fanout.load_snapshots("draftkings", ["nba"], snap.slate_date)
    assert loaded.snapshots == [snap]
    assert "from sink fs" in caplog.text


def test_a_snapshot_goes_to_every_sink_and_a_failing_one_is_named(tmp_path: Path) -> None:
    a, flaky = FsSink(tmp_path / "a"), Switchable(tmp_path / "b")
    flaky.save_snapshot = lambda *_, **__: (_ for _ in ()).throw(SinkError("refused"))  # type: ignore[method-assign]
    fanout = FanoutSink([a, flaky], tmp_path / "spill", FAST, sleep=lambda _: None)
    with pytest.raises(SinkError, match="not stored in flaky: refused"):
        fanout.save_snapshot(snapshot())
    assert a.load_snapshots("draftkings", ["nba"]).snapshots == [snapshot()]


def test_each_run_spills_to_a_file_of_its_own(tmp_path: Path) -> None:
    # A container's entrypoint has the same pid every run: the names must differ anyway.
    from snuper.sinks.spill import spill_path

    assert spill_path(tmp_path, "cache") != spill_path(tmp_path, "cache")


class Slow(FsSink):
    """An fs sink whose writes take a while: slow, but answering."""

    name: ClassVar[str] = "slow"

    def write_updates(self, records: Sequence[Record]) -> None:
        time.sleep(0.05)
        super().write_updates(records)


def test_a_slow_sink_that_keeps_answering_is_waited_for_not_spilled(tmp_path: Path) -> None:
    slow = Slow(tmp_path / "s")
    fanout = FanoutSink([slow], tmp_path / "spill", LaneSettings(flush_wait=0.1))
    records = [beat(n) for n in range(10)]
    for record in records:  # ten batches: 0.5 s of work behind one flush, 0.1 s allowed per batch
        fanout.write_updates([record])
    fanout.flush()
    assert fanout.lanes()[0].state == "up"
    assert not list((tmp_path / "spill").glob("*.jsonl"))
    fanout.close()
    assert stored(slow) == records
