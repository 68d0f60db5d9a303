"""Replay through what a long live run leaves: several runs of one slate, segments rotated by the
hour, a refused subscription and a reconnect, and a segment a kill left empty."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import msgpack
import orjson
import pytest

from snuper.archive.replay import replay, slates
from snuper.archive.segment import CONNECT, RECEIVED, SENT, SUFFIX
from snuper.archive.stores import FsSegments
from snuper.archive.writer import Archive, LeagueArchive
from snuper.config import MonitorSettings, Settings
from snuper.providers.draftkings import PROVIDER
from snuper.providers.draftkings import parse as dk_parse
from snuper.sinks.fs import FsSink
from tests.unit.test_replay_tolerance import AWAY, HOME, RECEIVED_AT, SLATE, frame, snapshot


def connect(league: LeagueArchive, conn: int, sub_id: str, at: timedelta) -> None:
    league.keep(CONNECT, conn, RECEIVED_AT + at, b"")
    subscribe = dk_parse.subscribe_message(sub_id, league_id="42648", subcategory_id="4511",
                                           site_name="dkusnj", initial_data=False)  # fmt: skip
    league.keep(SENT, conn, RECEIVED_AT + at, subscribe)


def change(sub_id: str, selection_id: str, american: str, decimal: str) -> bytes:
    """frame() for another subscription id: the tag 24 change of one selection."""
    data = msgpack.unpackb(frame(24, selection_id, "x", american, decimal))
    data[0] = sub_id
    packed: bytes = msgpack.packb(data, use_bin_type=True)
    return packed


def refused(sub_id: str) -> bytes:
    packed: bytes = msgpack.packb([sub_id, "subscribe", None, {"code": 403, "message": "no"}])
    return packed


def long_live_run(root: Path) -> None:
    """Run 1: a price, a refused subscription, a reconnect, a price after the hour turned.
    Run 2 (a restart): one more price, in a segment of its own."""
    FsSink(root).save_snapshot(snapshot())
    first = Archive(FsSegments(root), batch_s=0.01, run="run1")
    league = first.league("draftkings", "nba", SLATE)
    connect(league, 1, "sub-a", timedelta(0))
    league.keep(
        RECEIVED, 1, RECEIVED_AT + timedelta(seconds=1), change("sub-a", HOME, "-120", "1.83")
    )
    league.keep(RECEIVED, 1, RECEIVED_AT + timedelta(seconds=2), refused("sub-a"))
    connect(league, 2, "sub-b", timedelta(seconds=3))
    later = timedelta(minutes=40)  # 21:30 + 40 min: the next hour's segment
    league.keep(RECEIVED, 2, RECEIVED_AT + later, change("sub-b", AWAY, "+110", "2.10"))
    assert first.close(5.0) == 0
    second = Archive(FsSegments(root), batch_s=0.01, run="run2")
    league = second.league("draftkings", "nba", SLATE)
    connect(league, 1, "sub-c", timedelta(hours=1))
    league.keep(RECEIVED, 1, RECEIVED_AT + timedelta(hours=1, seconds=1),
                change("sub-c", HOME, "-130", "1.77"))  # fmt: skip
    assert second.close(5.0) == 0


async def replayed(source: Path, out: Path) -> list[tuple[str, int, int]]:
    settings = Settings(monitor=MonitorSettings(heartbeat_s=1.0))  # replay makes none anyway
    run = await replay(PROVIDER, "nba", FsSegments(source), FsSink(source), FsSink(out), settings)
    assert run.result is not None and run.result.stopped == "archive replayed"
    assert run.result.reconnects == 1  # the refused subscription, as live
    lines = (out / "draftkings" / "odds" / f"{SLATE}-nba-900.json").read_bytes().splitlines()
    records = [orjson.loads(line) for line in lines]
    return [(r["selection_id"], r["odds_american"], r["previous"]["odds_american"])
            for r in records]  # fmt: skip


async def test_every_run_and_segment_of_a_slate_replays_in_order(tmp_path: Path) -> None:
    source = tmp_path / "live"
    long_live_run(source)
    assert len(FsSegments(source).names("draftkings", "nba")) == 3  # 2 hours of run 1, run 2
    assert await replayed(source, tmp_path / "out") == [
        (HOME, -120, -110),
        (AWAY, 110, 100),  # after the refused subscription and the reconnect
        (HOME, -130, -120),  # the restart carries on from the first run's prices
    ]


async def test_a_segment_a_kill_left_empty_is_skipped_and_said(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "live"
    long_live_run(source)
    # Killed between creating its next segment and writing to it: 0 bytes.
    folder = source / "draftkings" / "raw" / "nba"
    (folder / f"{SLATE}_20260308T233000Z_run2_0001{SUFFIX}").write_bytes(b"")
    assert len(await replayed(source, tmp_path / "out")) == 3
    assert "skipped, unreadable" in caplog.text


def test_a_runs_segments_replay_in_part_order_even_if_the_clock_went_back() -> None:
    class Listed:
        max_open_s = None

        def where(self, provider: str, league: str) -> str:
            return "here"

        def names(self, provider: str, league: str) -> list[str]:
            return [
                f"{SLATE}_20260308T220000Z_late_0000",  # a later run
                f"{SLATE}_20260308T205959Z_aaaa_0001",  # part 1 opened "before" part 0
                f"{SLATE}_20260308T210000Z_aaaa_0000",
            ]

    assert slates(Listed(), "draftkings", "nba")[SLATE] == [  # type: ignore[arg-type]
        f"{SLATE}_20260308T210000Z_aaaa_0000",
        f"{SLATE}_20260308T205959Z_aaaa_0001",
        f"{SLATE}_20260308T220000Z_late_0000",
    ]
