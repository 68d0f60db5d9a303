import errno
import logging
import os
import stat
import tempfile
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import orjson
import pytest

from snuper.config import SinkSettings
from snuper.model import Heartbeat, OddsUpdate, Price, Snapshot
from snuper.sinks import fs
from snuper.sinks.base import SinkBusy, SinkConfigError, SinkError, build_sink
from snuper.sinks.fs import FsSink, build
from tests.factories import START, event, snapshot


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


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
    loaded = sink.load_snapshots("draftkings", ["nba", "nfl"])
    assert loaded.snapshots == [latest]
    assert loaded.unreadable == {}


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


MISSING_PROVIDER = (
    b'{"schema": 1, "league": "nba", "slate_date": "20261201", '
    b'"created_at": "2026-12-01T15:00:00Z", "events": []}'
)


@pytest.mark.parametrize(
    "content",
    [b"[1]", b"{", b'{"schema": 1, "provider": "draftkings", "league": "nba", '
     b'"slate_date": "20261201", "created_at": 5, "events": []}', MISSING_PROVIDER],
)  # fmt: skip
def test_a_malformed_snapshot_file_is_reported_unreadable(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "draftkings" / "events" / "20261201-nba.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(content)
    loaded = FsSink(tmp_path).load_snapshots("draftkings", ["nba"])
    assert loaded.snapshots == []
    reason = loaded.unreadable["nba"]
    assert reason.startswith(f"cannot read snapshot {path}: ")
    assert "\n" not in reason
    assert "Error(" not in reason  # no Python repr such as KeyError('provider')


def test_a_missing_field_is_named_without_a_python_repr(tmp_path: Path) -> None:
    path = tmp_path / "draftkings" / "events" / "20261201-nba.json"
    path.parent.mkdir(parents=True)
    path.write_bytes(MISSING_PROVIDER)
    loaded = FsSink(tmp_path).load_snapshots("draftkings", ["nba"])
    assert loaded.unreadable == {
        "nba": f"cannot read snapshot {path}: malformed snapshot: missing field 'provider'"
    }


def test_an_unreadable_league_does_not_hide_the_others(tmp_path: Path) -> None:
    sink = FsSink(tmp_path)
    good = snapshot()
    sink.save_snapshot(good)
    broken = tmp_path / "draftkings" / "events" / "20261201-nfl.json"
    broken.mkdir()  # reading a folder fails with an OSError
    loaded = sink.load_snapshots("draftkings", ["nfl", "nba", "mlb"])
    assert loaded.snapshots == [good]
    assert loaded.unreadable == {"nfl": f"cannot read snapshot {broken}: Is a directory"}


def test_load_snapshots_ignores_files_not_named_slate_league_json(tmp_path: Path) -> None:
    sink = FsSink(tmp_path)
    good = snapshot()
    sink.save_snapshot(good)
    events = tmp_path / "draftkings" / "events"
    # All sort after the real snapshot; the old glob *-nba.json picked up the last one.
    for name in (
        "20261201-nba.json.unreadable-20261202T000000Z",
        "20261231-nba.json.partial",
        "2026123-nba.json",
        "latest-nba.json",
        "x20261231-nba.json",
    ):
        (events / name).write_bytes(b"garbage")
    loaded = sink.load_snapshots("draftkings", ["nba"])
    assert (loaded.snapshots, loaded.unreadable) == ([good], {})


def test_load_snapshots_of_a_provider_without_a_folder_is_empty(tmp_path: Path) -> None:
    loaded = FsSink(tmp_path).load_snapshots("fanduel", ["nba"])
    assert (loaded.snapshots, loaded.unreadable) == ([], {})


def test_an_unreadable_snapshot_is_moved_aside_and_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(fs, "_stamp", lambda: "20261201T150000Z")
    events = tmp_path / "draftkings" / "events"
    events.mkdir(parents=True)
    path = events / "20261201-nba.json"
    path.write_bytes(b"{ truncated")
    taken = events / "20261201-nba.json.unreadable-20261201T150000Z"
    taken.write_bytes(b"an earlier one")
    fresh = snapshot()
    with caplog.at_level(logging.WARNING, logger="snuper.sinks.fs"):
        assert FsSink(tmp_path).save_snapshot(fresh) is True
    aside = events / "20261201-nba.json.unreadable-20261201T150000Z-1"
    assert aside.read_bytes() == b"{ truncated"
    assert taken.read_bytes() == b"an earlier one"
    assert Snapshot.from_json(path.read_bytes()) == fresh
    [warning] = [r for r in caplog.records if r.name == "snuper.sinks.fs"]
    assert warning.levelno == logging.WARNING
    assert str(path) in warning.getMessage()
    assert str(aside) in warning.getMessage()


def test_a_readable_snapshot_is_not_moved_aside(tmp_path: Path) -> None:
    sink = FsSink(tmp_path)
    sink.save_snapshot(snapshot())
    assert sink.save_snapshot(snapshot(event("202", "700")), overwrite=True) is True
    assert [p.name for p in (tmp_path / "draftkings" / "events").iterdir()] == ["20261201-nba.json"]


@pytest.mark.usefixtures("umask_022")
def test_snapshots_and_odds_files_are_0644(tmp_path: Path) -> None:
    sink = FsSink(tmp_path)
    sink.save_snapshot(snapshot())
    beat = Heartbeat("draftkings", "nba", "101", "20261201", "2026-12-02T00:31:00Z", 1, 0, 1, 6.0)
    sink.write_updates([beat])
    sink.close()
    for path in (
        tmp_path / "draftkings" / "events" / "20261201-nba.json",
        tmp_path / "draftkings" / "odds" / "20261201-nba-101.json",
    ):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path


def test_the_sink_names_itself_and_is_thread_safe(tmp_path: Path) -> None:
    assert (FsSink.name, FsSink.thread_safe) == ("fs", True)
    sink = FsSink(tmp_path)
    sink.flush()
    sink.flush(final=True)
    sink.close()


def test_build_makes_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "a" / "b"
    sink = build(SinkSettings(fs_dir=folder))
    assert isinstance(sink, FsSink)
    assert sink.root == folder
    assert folder.is_dir()
    assert list(folder.iterdir()) == []  # the probe file is gone


def test_build_sink_by_name(tmp_path: Path) -> None:
    sink = build_sink("fs", SinkSettings(fs_dir=tmp_path, must_exist=True))
    assert isinstance(sink, FsSink)
    assert sink.root == tmp_path


def test_build_with_must_exist_does_not_create_the_folder(tmp_path: Path) -> None:
    folder = tmp_path / "missing"
    with pytest.raises(SinkConfigError) as caught:
        build(SinkSettings(fs_dir=folder, must_exist=True))
    assert (caught.value.flag, caught.value.problem) == (
        "-o/--fs-sink-dir",
        f"no such directory: {folder}",
    )
    assert not folder.exists()


@pytest.mark.parametrize("must_exist", [True, False])
def test_build_refuses_a_file(tmp_path: Path, must_exist: bool) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(SinkConfigError) as caught:
        build(SinkSettings(fs_dir=file, must_exist=must_exist))
    assert (caught.value.flag, caught.value.problem) == (
        "-o/--fs-sink-dir",
        f"not a directory: {file}",
    )
    assert str(caught.value) == f"argument -o/--fs-sink-dir: not a directory: {file}"


def test_build_needs_a_folder() -> None:
    with pytest.raises(SinkConfigError) as caught:
        build(SinkSettings())
    assert (caught.value.flag, caught.value.problem) == (
        "-o/--fs-sink-dir",
        "the fs sink needs an output folder",
    )


def test_build_reports_a_folder_that_cannot_be_made(tmp_path: Path) -> None:
    file = tmp_path / "file"
    file.write_text("x")
    folder = file / "sub"
    with pytest.raises(SinkConfigError) as caught:
        build(SinkSettings(fs_dir=folder))
    assert caught.value.problem == f"cannot write to {folder}: Not a directory"


def test_build_reports_a_folder_it_cannot_write_to(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(**kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(kwargs["dir"]))

    monkeypatch.setattr(tempfile, "TemporaryFile", refuse)  # root ignores chmod
    with pytest.raises(SinkConfigError) as caught:
        build(SinkSettings(fs_dir=tmp_path))
    assert (caught.value.flag, caught.value.problem) == (
        "-o/--fs-sink-dir",
        f"cannot write to {tmp_path}: Permission denied",
    )


def test_an_events_path_that_is_not_a_folder_is_a_sink_error(tmp_path: Path) -> None:
    events = tmp_path / "draftkings" / "events"
    events.parent.mkdir()
    events.write_text("x")
    with pytest.raises(SinkError, match=f"cannot read {events}: Not a directory"):
        FsSink(tmp_path).load_snapshots("draftkings", ["nba"])


def test_the_monitored_slate_is_loaded_by_its_name_never_a_later_one(tmp_path: Path) -> None:
    sink = FsSink(tmp_path)
    yesterday = snapshot(event("201", "700", start=START - timedelta(days=1)))
    today = snapshot(event("301", "800"), slate="20261201")
    sink.save_snapshot(yesterday)
    sink.save_snapshot(today)
    folder = tmp_path / "draftkings" / "events"
    future = folder / "20991231-nba.json"  # a stray future-dated file
    future.write_bytes(snapshot(event("999", "900"), slate="20991231").to_json())
    (folder / "backup-nba.json").write_bytes(b"{}")
    assert sink.load_snapshots("draftkings", ["nba"], "20261201").snapshots == [today]
    # No snapshot of the slate yet: the newest earlier one (the monitor warns that it is old).
    assert sink.load_snapshots("draftkings", ["nba"], "20261130").snapshots == [yesterday]
    assert sink.load_snapshots("draftkings", ["nba"], "20261129").snapshots == []


def test_a_file_holding_another_league_than_its_name_is_not_used(tmp_path: Path) -> None:
    folder = tmp_path / "draftkings" / "events"
    folder.mkdir(parents=True)
    nba = snapshot()
    (folder / f"{nba.slate_date}-nfl.json").write_bytes(nba.to_json())
    loaded = FsSink(tmp_path).load_snapshots("draftkings", ["nfl"], nba.slate_date)
    assert loaded.snapshots == []
    [reason] = loaded.unreadable.values()
    assert "holds draftkings/nba/20261201" in reason and "says draftkings/nfl" in reason


def test_a_league_is_claimed_by_one_monitor_at_a_time(tmp_path: Path) -> None:
    first, second = FsSink(tmp_path), FsSink(tmp_path)
    first.claim("draftkings", "nba")
    first.claim("draftkings", "nba")  # claiming again what it holds is fine
    second.claim("draftkings", "nfl")  # another league is free
    with pytest.raises(SinkBusy, match=rf"pid {os.getpid()} holds"):
        second.claim("draftkings", "nba")
    first.close()  # a monitor that ends (or dies: the kernel drops a flock) frees it
    second.claim("draftkings", "nba")
    second.close()
