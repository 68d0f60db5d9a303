"""Replay after a parser change re-derives history: a small hand-made DraftKings archive, replayed
by today's parser and by one that also reads a row tag it used to skip. Only the records that tag
touches change; every other record stays byte for byte the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgpack
import orjson
import pytest

from snuper.archive.replay import ReplayError, replay
from snuper.archive.segment import CONNECT, RECEIVED, SENT
from snuper.archive.stores import FsSegments
from snuper.archive.writer import Archive
from snuper.config import MonitorSettings, Settings
from snuper.model import Event, Selection, Snapshot
from snuper.providers.draftkings import PROVIDER
from snuper.providers.draftkings import parse as dk_parse
from snuper.sinks.fs import FsSink
from snuper.slate import slate_date

START = datetime(2026, 3, 8, 23, 0, tzinfo=UTC)
SLATE = slate_date(START)
RECEIVED_AT = datetime(2026, 3, 8, 21, 30, 0, 250000, tzinfo=UTC)
SUB = "7c6f6a3e-1111-4222-8333-944455556666"
HOME, AWAY = "0ML900_1", "0ML900_3"
NEW_TAG = 99  # a row tag the parser skips today ("nobody has described it yet")


def snapshot() -> Snapshot:
    def moneyline(selection_id: str, side: str, label: str, american: int, dec: float) -> Selection:
        return Selection(selection_id, "1_900", "moneyline", side, label, None, american, dec)  # type: ignore[arg-type]

    event = Event("draftkings", "nba", "900", "BOS Celtics @ NY Knicks", "BOS Celtics",
                  "NY Knicks", START, SLATE, "https://example.invalid/900",
                  (moneyline(HOME, "home", "BOS Celtics", -110, 1.91),
                   moneyline(AWAY, "away", "NY Knicks", 100, 2.0)))  # fmt: skip
    return Snapshot("draftkings", "nba", SLATE, RECEIVED_AT - timedelta(hours=1), (event,))


def frame(tag: int, selection_id: str, label: str, american: str, decimal: str) -> bytes:
    """A league subscription's update frame changing one selection's price (row `tag`)."""
    row = [tag, [selection_id, label, [american, decimal], None, None, 0, [], None]]
    groups = [[[], [], [], [], []], [[], [], []], [[], [], [row], [], []]]
    meta = {"publishedTime": "2026-03-08T21:30:00.000Z"}
    packed: bytes = msgpack.packb([SUB, "update", [groups, None, meta], None], use_bin_type=True)
    return packed


FRAMES = [
    frame(24, HOME, "BOS Celtics", "-120", "1.83"),
    frame(NEW_TAG, AWAY, "NY Knicks", "+110", "2.10"),
    frame(24, AWAY, "NY Knicks", "+105", "2.05"),
    frame(24, HOME, "BOS Celtics", "-125", "1.80"),
]


def hand_made_archive(root: Path) -> None:
    FsSink(root).save_snapshot(snapshot())
    archive = Archive(FsSegments(root), batch_s=0.01, run="hand")
    league = archive.league("draftkings", "nba", SLATE)
    league.keep(CONNECT, 1, RECEIVED_AT, b"")
    subscribe = dk_parse.subscribe_message(SUB, league_id="42648", subcategory_id="4511",
                                           site_name="dkusnj", initial_data=False)  # fmt: skip
    league.keep(SENT, 1, RECEIVED_AT, subscribe)
    for i, message in enumerate(FRAMES):
        league.keep(RECEIVED, 1, RECEIVED_AT + timedelta(seconds=i), message)
    assert archive.close(5.0) == 0


async def replay_into(source: Path, out: Path) -> list[bytes]:
    settings = Settings(monitor=MonitorSettings(heartbeat_s=float("inf")))
    store = FsSegments(source)
    run = await replay(PROVIDER, "nba", store, FsSink(source), FsSink(out), settings)
    assert run.result is not None and run.result.ok and not run.truncated
    path = out / "draftkings" / "odds" / f"{SLATE}-nba-900.json"
    return path.read_bytes().splitlines()


def prices(lines: list[bytes]) -> list[tuple[Any, ...]]:
    records = [orjson.loads(line) for line in lines]
    return [(r["selection_id"], r["odds_american"], r["previous"]["odds_american"], r["raw_ref"])
            for r in records]  # fmt: skip


async def test_reading_a_skipped_tag_changes_only_the_records_it_touches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "live"
    hand_made_archive(source)
    before = await replay_into(source, tmp_path / "today")
    segment = "20260308_20260308T213000Z_hand_0000"
    # Entries: 0 header, 1 connect, 2 subscribe, 3..6 the frames.
    assert prices(before) == [
        (HOME, -120, -110, f"{segment}#3"),
        (AWAY, 105, 100, f"{segment}#5"),
        (HOME, -125, -120, f"{segment}#6"),
    ]

    # The parser learns the new tag: it carries a selection change like tag 24.
    monkeypatch.setitem(dk_parse._HANDLED_TAGS, NEW_TAG, dk_parse._selection_change)
    after = await replay_into(source, tmp_path / "fixed")
    assert prices(after) == [
        (HOME, -120, -110, f"{segment}#3"),
        (AWAY, 110, 100, f"{segment}#4"),  # the message it used to skip
        (AWAY, 105, 110, f"{segment}#5"),  # the same move, now from the price before it
        (HOME, -125, -120, f"{segment}#6"),
    ]
    # The records of the other selection are untouched, byte for byte.
    assert [before[0], before[2]] == [after[0], after[3]]
    assert before[1] != after[2]


async def test_nothing_to_replay_says_where_it_looked(tmp_path: Path) -> None:
    settings = Settings()
    with pytest.raises(ReplayError, match="no archive of draftkings nba in"):
        await replay(PROVIDER, "nba", FsSegments(tmp_path), FsSink(tmp_path),
                     FsSink(tmp_path / "out"), settings)  # fmt: skip
    hand_made_archive(tmp_path / "live")
    with pytest.raises(ReplayError, match="no archive of slate 20260101"):
        await replay(PROVIDER, "nba", FsSegments(tmp_path / "live"), FsSink(tmp_path / "live"),
                     FsSink(tmp_path / "out"), settings, slate="20260101")  # fmt: skip


async def test_speed_keeps_the_recorded_gaps_scaled_and_max_keeps_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "live"
    hand_made_archive(source)  # frames one second apart
    waited: list[float] = []

    async def recorded_sleep(seconds: float, stop: object) -> bool:
        waited.append(seconds)
        return False

    monkeypatch.setattr("snuper.archive.replay.sleep_unless_stopped", recorded_sleep)
    settings = Settings(monitor=MonitorSettings(heartbeat_s=float("inf")))
    for out, speed in (("at4x", 4.0), ("max", None)):
        waited.clear()
        await replay(PROVIDER, "nba", FsSegments(source), FsSink(source),
                     FsSink(tmp_path / out), settings, speed=speed)  # fmt: skip
        assert waited == ([0.25, 0.25, 0.25] if speed else [])
