from pathlib import Path

import orjson
import pytest

from snuper.model import Heartbeat, OddsUpdate, Price, Snapshot
from snuper.sinks.base import SinkError
from snuper.sinks.fs import FsSink
from tests.factories import event, snapshot


def test_snapshot_is_written_kept_and_overwritten(tmp_path: Path) -> None:
    sink = FsSink(tmp_path)
    first = snapshot()
    assert sink.save_snapshot(first) is True
    path = tmp_path / "draftkings" / "events" / "20261201-nba.json"
    assert Snapshot.from_json(path.read_bytes()) == first
    second = snapshot(event("202", "700"))
    assert sink.save_snapshot(second) is False
    assert Snapshot.from_json(path.read_bytes()) == first
    assert sink.save_snapshot(second, overwrite=True) is True
    assert Snapshot.from_json(path.read_bytes()) == second


def test_load_snapshots_returns_the_latest_per_league(tmp_path: Path) -> None:
    sink = FsSink(tmp_path)
    sink.save_snapshot(snapshot(slate="20261130"))
    latest = snapshot(event("303", "800"), slate="20261201")
    sink.save_snapshot(latest)
    assert sink.load_snapshots("draftkings", ["nba", "nfl"]) == [latest]


def test_updates_append_as_jsonl_per_event(tmp_path: Path) -> None:
    sink = FsSink(tmp_path)
    previous = Price(None, -150, 1.6667)
    odds = OddsUpdate(
        "draftkings", "nba", "101", "20261201", "0ML500_1", "moneyline", "home",
        None, -160, 1.625, previous, None, "2026-12-02T00:30:00Z",
    )  # fmt: skip
    beat = Heartbeat(
        "draftkings", "nba", "101", "20261201", "2026-12-02T00:31:00Z", 4, 0, 900, 60.0
    )
    sink.write_updates([odds])
    sink.write_updates([beat])
    sink.close()
    lines = (tmp_path / "draftkings" / "odds" / "20261201-nba-101.json").read_bytes().splitlines()
    records = [orjson.loads(line) for line in lines]
    assert [r["type"] for r in records] == ["odds", "heartbeat"]
    assert records[0]["previous"] == {"line": None, "odds_american": -150, "odds_decimal": 1.6667}
    assert records[1]["idle_s"] == 60.0


def test_unwritable_folder_raises_sink_error_naming_the_path(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    sink = FsSink(blocker)
    with pytest.raises(SinkError, match=str(blocker)):
        sink.save_snapshot(snapshot())


def test_a_failed_batch_writes_nothing_so_a_retry_does_not_double(tmp_path: Path) -> None:
    sink = FsSink(tmp_path)
    beats = [
        Heartbeat("draftkings", "nba", eid, "20261201", "2026-12-02T00:31:00Z", 1, 0, 10, 60.0)
        for eid in ("101", "102")
    ]
    odds = tmp_path / "draftkings" / "odds"
    blocker = odds / "20261201-nba-102.json"
    blocker.mkdir(parents=True)  # a folder where the file should be: opening it fails
    with pytest.raises(SinkError, match=r"20261201-nba-102\.json"):
        sink.write_updates(beats)
    blocker.rmdir()
    sink.write_updates(beats)
    sink.close()
    for eid in ("101", "102"):
        assert len((odds / f"20261201-nba-{eid}.json").read_bytes().splitlines()) == 1


@pytest.mark.parametrize(
    "content",
    [b"[1]", b"{", b'{"schema": 1, "provider": "draftkings", "league": "nba", '
     b'"slate_date": "20261201", "created_at": 5, "events": []}'],
)  # fmt: skip
def test_a_malformed_snapshot_file_is_a_sink_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "draftkings" / "events" / "20261201-nba.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    with pytest.raises(SinkError, match=r"20261201-nba\.json"):
        FsSink(tmp_path).load_snapshots("draftkings", ["nba"])
