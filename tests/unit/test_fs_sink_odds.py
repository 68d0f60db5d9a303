"""FsSink's odds files: retried batches, short writes, fsync bookkeeping, open-file limit."""

import errno
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from snuper.model import Heartbeat, LastPrice, Market, OddsUpdate, Record, Side
from snuper.sinks.base import SinkError
from snuper.sinks.fs import FsSink
from tests.factories import event, snapshot

REAL_WRITE = os.write
REAL_OPEN = os.open
REAL_CLOSE = os.close
REAL_FSYNC = os.fsync


def beat(event_id: str, n: int) -> Heartbeat:
    return Heartbeat(
        "draftkings", "nba", event_id, "20261201", "2026-12-02T00:31:00Z", n, 0, 10 * n, 60.0
    )


def odds_file(root: Path, event_id: str) -> Path:
    return root / "draftkings" / "odds" / f"20261201-nba-{event_id}.json"


def expected(records: list[Record], event_id: str) -> bytes:
    return b"".join(r.to_json() + b"\n" for r in records if r.event_id == event_id)


def batch_of(event_ids: tuple[str, ...], per_event: int) -> list[Record]:
    return [beat(eid, n) for n in range(per_event) for eid in event_ids]


def failing_write(plan: list[int | None]) -> Callable[[int, bytes], int]:
    """os.write following a plan per call: None writes all, n writes only n bytes, -1 fails."""
    calls = iter(plan)

    def write(fd: int, data: bytes) -> int:
        step = next(calls, None)
        if step == -1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return REAL_WRITE(fd, data if step is None else bytes(data)[:step])

    return write


def fail_halfway(sink: FsSink, batch: list[Record], monkeypatch: pytest.MonkeyPatch) -> None:
    """Write `batch` with the first file's write succeeding and the second's failing."""
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", failing_write([None, -1]))
        with pytest.raises(SinkError):
            sink.write_updates(batch)


def test_a_batch_that_failed_halfway_is_finished_on_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FsSink(tmp_path)
    events = ("101", "102", "103")
    batch = batch_of(events, 3)
    # 101 whole; 102 a short write of 5 bytes, then the disk is full.
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", failing_write([None, 5, -1]))
        with pytest.raises(SinkError) as caught:
            sink.write_updates(batch)
    path = odds_file(tmp_path, "102")
    assert str(caught.value) == f"cannot write {path}: No space left on device"
    assert len(path.read_bytes()) == 5
    assert not odds_file(tmp_path, "103").exists()
    # Fails again before writing anything more: progress is kept across several retries.
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", failing_write([-1]))
        with pytest.raises(SinkError):
            sink.write_updates(batch)
    sink.write_updates(batch)  # the same object: finish what is missing
    sink.close()
    for eid in events:
        assert odds_file(tmp_path, eid).read_bytes() == expected(batch, eid)


def test_short_writes_are_completed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = FsSink(tmp_path)
    batch = batch_of(("101", "102"), 4)

    def dribble(fd: int, data: bytes) -> int:
        return REAL_WRITE(fd, bytes(data)[:7])

    with monkeypatch.context() as patch:
        patch.setattr(os, "write", dribble)
        sink.write_updates(batch)
    sink.close()
    for eid in ("101", "102"):
        assert odds_file(tmp_path, eid).read_bytes() == expected(batch, eid)


def test_a_different_batch_starts_afresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sink = FsSink(tmp_path)
    first = batch_of(("101", "102"), 1)
    fail_halfway(sink, first, monkeypatch)
    second = list(first)  # equal, but another batch: written whole
    sink.write_updates(second)
    sink.close()
    assert odds_file(tmp_path, "101").read_bytes() == expected(first, "101") * 2
    assert odds_file(tmp_path, "102").read_bytes() == expected(first, "102")


def test_a_list_reused_after_success_is_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A caller that refills one list: once a batch is through, its progress is forgotten.
    sink = FsSink(tmp_path)
    buffer: list[Record] = [beat("101", 1), beat("102", 1)]
    fail_halfway(sink, buffer, monkeypatch)
    sink.write_updates(buffer)  # the retry completes it
    buffer[:] = [beat("101", 1), beat("101", 2)]  # starts with the same bytes for 101
    sink.write_updates(buffer)
    sink.close()
    lines: list[Record] = [beat("101", 1), beat("101", 1), beat("101", 2)]
    assert odds_file(tmp_path, "101").read_bytes() == expected(lines, "101")
    assert odds_file(tmp_path, "102").read_bytes() == expected([beat("102", 1)], "102")


def test_a_failed_list_refilled_before_the_retry_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Progress is skipped only where the file's share still starts with the bytes written.
    sink = FsSink(tmp_path)
    buffer: list[Record] = [beat("101", 1), beat("102", 1)]
    fail_halfway(sink, buffer, monkeypatch)
    buffer[:] = [beat("101", 2), beat("102", 2)]
    sink.write_updates(buffer)
    sink.close()
    first: list[Record] = [beat("101", 1), beat("101", 2)]
    assert odds_file(tmp_path, "101").read_bytes() == expected(first, "101")
    assert odds_file(tmp_path, "102").read_bytes() == expected([beat("102", 2)], "102")


def test_flush_fsyncs_only_files_written_since_the_last_flush(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []

    def fsync(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        REAL_FSYNC(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    sink = FsSink(tmp_path)
    sink.write_updates(batch_of(("101", "102", "103"), 2))
    sink.flush()
    files = {odds_file(tmp_path, eid).stat().st_ino for eid in ("101", "102", "103")}
    assert files <= set(synced)  # (and the odds folder, whose new entries must last too)
    synced.clear()
    sink.write_updates([beat("102", 9)])
    sink.flush()
    assert synced == [odds_file(tmp_path, "102").stat().st_ino]
    synced.clear()
    sink.flush(final=True)
    assert synced == []
    sink.close()
    assert synced == []


def test_open_files_are_bounded_least_recently_used_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    live: dict[int, str] = {}
    most = 0
    synced: set[int] = set()
    closed_unsynced: list[str] = []

    def open_(path: str, flags: int, mode: int = 0o777) -> int:
        nonlocal most
        fd = REAL_OPEN(path, flags, mode)
        if path.endswith(".json"):
            live[fd] = Path(path).name
            most = max(most, len(live))
        return fd

    def fsync(fd: int) -> None:
        synced.add(fd)
        REAL_FSYNC(fd)

    def close(fd: int) -> None:
        name = live.pop(fd, None)
        if name is not None and fd not in synced:
            closed_unsynced.append(name)
        synced.discard(fd)
        REAL_CLOSE(fd)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "close", close)
    events = ("101", "102", "103", "104", "105")
    sink = FsSink(tmp_path, max_open=2)
    first = batch_of(events, 2)
    sink.write_updates(first)
    assert most == 2
    assert sorted(live.values()) == ["20261201-nba-104.json", "20261201-nba-105.json"]
    # 101 is reopened (closing 104, the oldest), then 104 (closing 105)
    second: list[Record] = [beat("101", 7), beat("104", 7)]
    sink.write_updates(second)
    assert sorted(live.values()) == ["20261201-nba-101.json", "20261201-nba-104.json"]
    sink.close()
    assert most == 2
    assert live == {}
    assert closed_unsynced == []  # every file written was fsynced before it was closed
    for eid in events:
        assert odds_file(tmp_path, eid).read_bytes() == expected(first + second, eid)


def test_close_closes_every_file_and_raises_the_first_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FsSink(tmp_path)
    events = ("101", "102", "103")
    sink.write_updates(batch_of(events, 1))
    inodes = {odds_file(tmp_path, eid).stat().st_ino: eid for eid in events}
    closed: list[str] = []

    def fsync(fd: int) -> None:
        if inodes.get(os.fstat(fd).st_ino) == "102":
            raise OSError(errno.EIO, "Input/output error")
        REAL_FSYNC(fd)

    def close(fd: int) -> None:
        eid = inodes.get(os.fstat(fd).st_ino)
        REAL_CLOSE(fd)  # the descriptor is gone even when close reports an error
        if eid is not None:
            closed.append(eid)
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "close", close)
    with pytest.raises(SinkError) as caught:
        sink.close()
    assert str(caught.value) == f"cannot flush {odds_file(tmp_path, '102')}: Input/output error"
    assert sorted(closed) == list(events)


def test_close_reports_a_failed_close_after_closing_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FsSink(tmp_path)
    events = ("101", "102", "103")
    sink.write_updates(batch_of(events, 1))
    sink.flush()
    closed: list[int] = []

    def close(fd: int) -> None:
        REAL_CLOSE(fd)
        closed.append(fd)
        if len(closed) == 1:
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "close", close)
    with pytest.raises(SinkError, match=r"cannot close .*20261201-nba-101\.json: Input/output"):
        sink.close()
    assert len(closed) == 3


def test_two_writers_retrying_in_turn_write_nothing_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two leagues share the sink: A fails halfway, B writes, then A retries.
    sink = FsSink(tmp_path)
    league_a = batch_of(("101", "102"), 1)
    fail_halfway(sink, league_a, monkeypatch)
    league_b = batch_of(("201",), 2)
    sink.write_updates(league_b)
    sink.write_updates(league_a)
    sink.close()
    assert odds_file(tmp_path, "101").read_bytes() == expected(league_a, "101")
    assert odds_file(tmp_path, "102").read_bytes() == expected(league_a, "102")
    assert odds_file(tmp_path, "201").read_bytes() == expected(league_b, "201")


def test_a_failed_fsync_is_tried_again_not_reported_durable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    failures = iter([True])
    synced: list[int] = []

    def fsync(fd: int) -> None:
        if next(failures, False):
            raise OSError(errno.EIO, "Input/output error")
        synced.append(fd)
        REAL_FSYNC(fd)

    sink = FsSink(tmp_path)
    sink.write_updates(batch_of(("101",), 1))
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(SinkError, match="Input/output error"):
        sink.flush()
    sink.flush()  # the file is still dirty: fsynced this time
    assert len(synced) >= 1
    synced.clear()
    sink.flush()  # now clean: nothing to do
    assert synced == []
    sink.close()


def test_a_folder_whose_fsync_failed_is_tried_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A new odds file is durable only once its folder entry is: that fsync is retried too.
    sink = FsSink(tmp_path)
    sink.write_updates(batch_of(("101",), 1))
    folder_fds: set[int] = set()
    real_open = os.open

    def open_(path: str, flags: int, mode: int = 0o777) -> int:
        fd = real_open(path, flags, mode)
        if Path(path).is_dir():
            folder_fds.add(fd)
        return fd

    folder_syncs: list[bool] = []

    def fsync(fd: int) -> None:
        if fd in folder_fds:
            folder_syncs.append(True)
            if len(folder_syncs) == 1:
                raise OSError(errno.EIO, "Input/output error")
        REAL_FSYNC(fd)

    monkeypatch.setattr(os, "open", open_)
    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(SinkError, match="Input/output error"):
        sink.flush()
    sink.flush()
    assert len(folder_syncs) == 2  # tried again, not forgotten
    sink.flush()
    assert len(folder_syncs) == 2  # and then done
    sink.close()


def test_last_prices_are_the_last_odds_record_per_market_and_side(tmp_path: Path) -> None:
    snap = snapshot(event("101", "500"), event("102", "600"))
    sink = FsSink(tmp_path)

    def move(
        selection: str, market: Market, side: Side, line: float | None, american: int
    ) -> OddsUpdate:
        return OddsUpdate("draftkings", "nba", "101", snap.slate_date, selection, market, side,
                          line, american, 2.0, None, None, "2026-12-02T00:30:00Z")  # fmt: skip

    sink.write_updates([
        move("0ML500_1", "moneyline", "home", None, -160),
        move("0HC500N350_1", "spread", "home", -3.5, -110),
        move("0ML500_1", "moneyline", "home", None, -170),
        move("0HC500N450_1", "spread", "home", -4.5, -105),  # after a line move: a new id
    ])  # fmt: skip
    sink.close()
    path = tmp_path / "draftkings" / "odds" / f"{snap.slate_date}-nba-101.json"
    with path.open("ab") as torn:  # a heartbeat, then a tail torn by a kill -9
        torn.write(beat("101", 1).to_json() + b"\n" + b'{"type": "odds", "event_id": "101", "mar')
    last = {(p.market, p.side): p for p in FsSink(tmp_path).last_prices(snap)}
    assert last == {
        ("moneyline", "home"): LastPrice("101", "moneyline", "home", "0ML500_1", None, -170, 2.0),
        ("spread", "home"): LastPrice("101", "spread", "home", "0HC500N450_1", -4.5, -105, 2.0),
    }


# -- transient or permanent -------------------------------------------------------------------

# errno -> does the SinkError say no retry can fix it?
PERMANENCE = [
    (errno.ENAMETOOLONG, True),
    (errno.EACCES, True),
    (errno.EROFS, True),
    (errno.ENOSPC, False),
    (errno.EIO, False),
]


def oserror(code: int) -> OSError:
    return OSError(code, os.strerror(code))


@pytest.mark.parametrize(("code", "permanent"), PERMANENCE)
def test_a_failed_open_says_whether_a_retry_can_help(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, permanent: bool
) -> None:
    def open_(path: str, flags: int, mode: int = 0o777) -> int:
        if path.endswith(".json"):
            raise oserror(code)
        return REAL_OPEN(path, flags, mode)

    monkeypatch.setattr(os, "open", open_)
    with pytest.raises(SinkError) as caught:
        FsSink(tmp_path).write_updates([beat("101", 1)])
    assert caught.value.permanent is permanent
    assert str(caught.value) == f"cannot write {odds_file(tmp_path, '101')}: {os.strerror(code)}"


@pytest.mark.parametrize(("code", "permanent"), PERMANENCE)
def test_a_failed_write_says_whether_a_retry_can_help(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, permanent: bool
) -> None:
    def write(fd: int, data: bytes) -> int:
        raise oserror(code)

    sink = FsSink(tmp_path)
    monkeypatch.setattr(os, "write", write)
    with pytest.raises(SinkError) as caught:
        sink.write_updates([beat("101", 1)])
    assert caught.value.permanent is permanent
    assert str(caught.value) == f"cannot write {odds_file(tmp_path, '101')}: {os.strerror(code)}"


@pytest.mark.parametrize(("code", "permanent"), PERMANENCE)
def test_a_failed_fsync_says_whether_a_retry_can_help(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, permanent: bool
) -> None:
    def fsync(fd: int) -> None:
        raise oserror(code)

    # When the least recently used file is closed to make room, on flush, and on close.
    sink = FsSink(tmp_path, max_open=1)
    sink.write_updates([beat("101", 1)])
    monkeypatch.setattr(os, "fsync", fsync)
    failures: list[SinkError] = []

    def make_room() -> None:
        sink.write_updates([beat("102", 1)])

    calls: list[Callable[[], None]] = [make_room, sink.flush, sink.close]
    for call in calls:
        with pytest.raises(SinkError) as caught:
            call()
        failures.append(caught.value)
    assert [f.permanent for f in failures] == [permanent] * 3
    assert all(str(f).startswith("cannot flush ") for f in failures)


def test_a_file_name_too_long_is_permanent(tmp_path: Path) -> None:
    # Not injected: the file system refuses the name (ids are bounded where they enter; this is
    # what the sink says if one slips through).
    with pytest.raises(SinkError, match="File name too long") as caught:
        FsSink(tmp_path).write_updates([beat("x" * 300, 1)])
    assert caught.value.permanent is True


@pytest.mark.parametrize(("code", "permanent"), PERMANENCE)
def test_snapshots_locks_and_reads_say_whether_a_retry_can_help(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, code: int, permanent: bool
) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise oserror(code)

    snap = snapshot(event("101", "500"))
    sink = FsSink(tmp_path)
    sink.write_updates([beat("101", 1)])
    failures: list[SinkError] = []
    with monkeypatch.context() as patch:
        patch.setattr(os, "replace", fail)  # the rename of the snapshot's temp file
        with pytest.raises(SinkError) as caught:
            sink.save_snapshot(snap)
        failures.append(caught.value)
    with monkeypatch.context() as patch:
        patch.setattr(Path, "read_bytes", fail)
        with pytest.raises(SinkError) as caught:
            sink.last_prices(snap)
        failures.append(caught.value)
    with monkeypatch.context() as patch:
        patch.setattr(Path, "iterdir", fail)
        with pytest.raises(SinkError) as caught:
            sink.load_snapshots("draftkings", ["nba"])
        failures.append(caught.value)
    with monkeypatch.context() as patch:
        patch.setattr(os, "open", fail)
        with pytest.raises(SinkError) as caught:
            sink.claim("draftkings", "nba")
        failures.append(caught.value)
    sink.close()
    assert [f.permanent for f in failures] == [permanent] * 4
    assert all(str(f).endswith(f": {os.strerror(code)}") for f in failures)
