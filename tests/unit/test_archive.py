"""The raw archive's writer and segment reader: every entry kept once and found by its ref,
segments rotated per hour and closed durable, and whatever a kill leaves read up to its last
whole message."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from snuper.archive.segment import (
    CONNECT,
    RECEIVED,
    SENT,
    SUFFIX,
    SegmentError,
    read_segment,
    split_ref,
)
from snuper.archive.stores import FsSegments, S3Segments, SegmentFile, segment_store
from snuper.archive.writer import Archive
from snuper.sinks.base import SinkError
from snuper.sinks.fs import FsSink
from snuper.sinks.s3 import S3Sink

T0 = datetime(2026, 3, 8, 23, 59, 58, 123456, tzinfo=UTC)


def wait_for(condition: object, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def keep_messages(archive: Archive, n: int, start: datetime = T0) -> dict[str, bytes | str]:
    """n received messages a second apart (text and bytes alternating): ref -> payload."""
    league = archive.league("draftkings", "nba", "20260308")
    league.keep(CONNECT, 1, start, b"")
    league.keep(SENT, 1, start, b"subscribe")
    refs: dict[str, bytes | str] = {}
    for i in range(n):
        payload: bytes | str = f'{{"n":{i}}}' if i % 2 else bytes([i % 256]) * (i + 1)
        refs[league.keep(RECEIVED, 1, start + timedelta(seconds=i), payload)] = payload
    return refs


def read_all(store: FsSegments) -> dict[str, list[tuple[int, str, int, bytes | str]]]:
    found: dict[str, list[tuple[int, str, int, bytes | str]]] = {}
    for name in store.names("draftkings", "nba"):
        segment = read_segment(name, store.read("draftkings", "nba", name))
        assert segment.truncated is None, segment.truncated
        assert segment.header["provider"] == "draftkings" and segment.header["slate"] == "20260308"
        found[name] = [(e.index, e.kind, e.conn, e.payload) for e in segment.entries]
    return found


def test_every_message_is_kept_once_and_found_by_its_ref(tmp_path: Path) -> None:
    store = FsSegments(tmp_path)
    archive = Archive(store, batch_s=0.01, run="ab12")
    refs = keep_messages(archive, 5)
    assert archive.close(5.0) == 0
    segments = read_all(store)
    # 23:59:58 and :59 in one segment, midnight UTC starts the next hour's.
    assert [len(entries) for entries in segments.values()] == [4, 3]
    for ref, payload in refs.items():
        name, index = split_ref(ref)
        entry = next(e for e in segments[name] if e[0] == index)
        assert entry[1:] == ("R", 1, payload)
    first = next(iter(segments))
    assert first == "20260308_20260308T235958Z_ab12_0000"
    assert [e[1] for e in segments[first][:2]] == ["C", "S"]
    assert (tmp_path / "draftkings" / "raw" / "nba" / f"{first}{SUFFIX}").is_file()


def test_a_killed_writer_leaves_closed_segments_whole_and_the_open_one_readable(
    tmp_path: Path,
) -> None:
    store = FsSegments(tmp_path)
    archive = Archive(store, batch_s=0.01, run="cd34")
    refs = keep_messages(archive, 6)  # 2 in the first hour, 4 in the second
    names: list[str] = []

    def written() -> bool:  # both segments on disk, the second with its 4 messages
        names[:] = store.names("draftkings", "nba")
        try:
            last = read_segment(names[-1], store.read("draftkings", "nba", names[-1]))
        except (SegmentError, IndexError):
            return False
        return len(names) == 2 and len(last.entries) == 4

    wait_for(written)
    # No close: what a SIGKILL leaves. The first segment was closed when the hour turned.
    closed = read_segment(names[0], store.read("draftkings", "nba", names[0]))
    assert closed.truncated is None and len(closed.entries) == 4
    open_one = read_segment(names[1], store.read("draftkings", "nba", names[1]))
    assert open_one.truncated is not None
    assert "not closed" in open_one.truncated
    assert [e.payload for e in open_one.entries] == list(refs.values())[2:]


def test_a_cut_segment_is_read_up_to_its_last_whole_message(tmp_path: Path) -> None:
    store = FsSegments(tmp_path)
    archive = Archive(store, batch_s=0.01, run="ef56")
    keep_messages(archive, 2, start=T0.replace(minute=0))  # one segment
    assert archive.close(5.0) == 0
    [name] = store.names("draftkings", "nba")
    data = store.read("draftkings", "nba", name)
    whole = read_segment(name, data).entries
    for cut in range(len(data) - 1, 0, -1):
        try:
            segment = read_segment(name, data[:cut])
        except SegmentError as exc:  # not even the header survived the cut
            assert "no segment header" in str(exc)
            continue
        assert segment.truncated is not None and "last whole message" in segment.truncated
        assert segment.entries == whole[: len(segment.entries)]


class _Refusing:
    """A store whose appends fail (a full disk) until `ok` is set."""

    max_open_s: float | None = None
    held = 0

    def __init__(self) -> None:
        self.ok = False
        self.data = bytearray()
        self.closed = False

    def where(self, provider: str, league: str) -> str:
        return "nowhere"

    def open(self, provider: str, league: str, name: str) -> SegmentFile:
        return self

    def append(self, data: bytes) -> None:
        if not self.ok:
            raise OSError("no space left on device")
        self.data += data

    def close(self) -> None:
        self.closed = True

    def names(self, provider: str, league: str) -> list[str]:
        return ["20260308_20260308T235958Z_0000_0000"]

    def read(self, provider: str, league: str, name: str) -> bytes:
        return bytes(self.data)


def test_a_failing_store_is_retried_and_reported_if_it_never_recovers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = _Refusing()
    archive = Archive(store, batch_s=0.01)
    keep_messages(archive, 3, start=T0.replace(minute=0))
    wait_for(lambda: "no space left" in caplog.text)
    store.ok = True  # the disk has room again: nothing was lost meanwhile
    assert archive.close(5.0) == 0 and store.closed
    assert len(read_segment("s", bytes(store.data)).entries) == 5
    assert caplog.text.count("no space left") == 1  # said once, not once per retry

    stuck = _Refusing()
    archive = Archive(stuck, batch_s=0.01)
    keep_messages(archive, 3, start=T0.replace(minute=0))
    assert archive.close(0.3) > 0
    assert "not archived" in caplog.text


class _Blocking(_Refusing):
    """A store that hangs in append (a stalled disk) until released."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def append(self, data: bytes) -> None:
        self.release.wait(10)
        self.data += data


async def test_a_full_queue_makes_the_monitor_wait_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = _Blocking()
    archive = Archive(store, limit=3, batch_s=0.01)
    league = archive.league("draftkings", "nba", "20260308")
    league.keep(RECEIVED, 1, T0, "first")
    wait_for(lambda: not archive.pending)  # the writer took it and hangs in the store
    for i in range(3):
        league.keep(RECEIVED, 1, T0, str(i))
    assert league.full
    waiting = asyncio.ensure_future(league.room(asyncio.Event()))
    await asyncio.sleep(0.1)
    assert not waiting.done()
    assert "the archive is behind (3 messages waiting)" in caplog.text
    store.release.set()
    await asyncio.wait_for(waiting, 5)
    assert not league.full
    assert archive.close(5.0) == 0
    assert [e.payload for e in read_segment("s", bytes(store.data)).entries] == [
        "first",
        "0",
        "1",
        "2",
    ]


@mock_aws
def test_s3_segments_go_up_whole_and_rotate_within_the_hour() -> None:
    client = boto3.client("s3", region_name="us-east-1")
    client.create_bucket(Bucket="odds")
    sink = S3Sink(client, "odds", "snuper")
    store = segment_store(sink)
    assert isinstance(store, S3Segments)
    archive = Archive(store, batch_s=0.01, run="s3s3")
    league = archive.league("bovada", "nfl", "20260308")
    start = T0.replace(minute=0)
    for minute in (0, 4, 5, 9):  # S3 segments close every 5 minutes
        league.keep(RECEIVED, 1, start + timedelta(minutes=minute), f"m{minute}")
    assert archive.close(5.0) == 0
    listed = client.list_objects_v2(Bucket="odds", Prefix="snuper/bovada/raw/nfl/")
    keys = sorted(item["Key"] for item in listed["Contents"])
    assert len(keys) == 2 and all(k.endswith(SUFFIX) for k in keys)
    names = store.names("bovada", "nfl")
    payloads = [
        [e.payload for e in read_segment(n, store.read("bovada", "nfl", n)).entries] for n in names
    ]
    assert payloads == [["m0", "m4"], ["m5", "m9"]]


def test_only_sinks_that_hold_objects_have_a_store(tmp_path: Path) -> None:
    assert isinstance(segment_store(FsSink(tmp_path)), FsSegments)
    assert segment_store(object()) is None


def test_a_ref_that_is_not_one_is_refused() -> None:
    name = "20260308_20260308T235958Z_ab12_0000"
    for bad in ("", "x#1", name, f"{name}#x", f"{name}#-1"):
        with pytest.raises(SegmentError):
            split_ref(bad)


def test_a_store_error_names_the_segment(tmp_path: Path) -> None:
    store = FsSegments(tmp_path)
    with pytest.raises(SinkError, match="cannot read the segment"):
        store.read("draftkings", "nba", "missing")


def test_a_segment_that_cannot_be_created_is_reported_not_silently_lost(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "draftkings").write_text("a file where the folder should be")
    archive = Archive(FsSegments(tmp_path), batch_s=0.01)
    keep_messages(archive, 2, start=T0.replace(minute=0))
    assert archive.close(5.0) == 5  # header, connect, subscribe and both messages
    assert "cannot create the segment" in caplog.text


async def test_a_stop_ends_the_wait_for_a_stalled_archive() -> None:
    store = _Blocking()
    archive = Archive(store, limit=1, batch_s=0.01)
    league = archive.league("draftkings", "nba", "20260308")
    league.keep(RECEIVED, 1, T0, "first")
    wait_for(lambda: not archive.pending)  # the writer hangs in the store
    league.keep(RECEIVED, 1, T0, "second")
    stop = asyncio.Event()
    waiting = asyncio.ensure_future(league.room(stop))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    stop.set()  # SIGTERM: the shutdown must begin, whatever the archive does
    await asyncio.wait_for(waiting, 1)
    assert archive.close(0.1) > 0  # the store never answered: counted, not hidden
    store.release.set()


def test_a_quiet_feed_closes_its_segment_when_the_hour_turns(tmp_path: Path) -> None:
    store = FsSegments(tmp_path)
    archive = Archive(store, batch_s=0.01, run="qt01")
    league = archive.league("draftkings", "nba", "20260308")
    league.keep(RECEIVED, 1, T0, "the last message for a while")
    league.tick(T0 + timedelta(seconds=1))  # same hour: nothing to do
    league.tick(T0 + timedelta(seconds=3))  # past midnight UTC: the segment closes
    wait_for(lambda: store.names("draftkings", "nba"))
    [name] = store.names("draftkings", "nba")

    def closed() -> bool:
        try:
            return read_segment(name, store.read("draftkings", "nba", name)).truncated is None
        except SegmentError:  # created, its first bytes not written yet
            return False

    wait_for(closed)  # closed by the writer thread, before any close() of the archive
    ref = league.keep(RECEIVED, 1, T0 + timedelta(seconds=4), "later")
    assert split_ref(ref)[0] != name  # the next message opens the next hour's segment
    assert archive.close(5.0) == 0
    assert len(store.names("draftkings", "nba")) == 2


def test_a_short_write_then_a_full_disk_does_not_double_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    calls = {"n": 0}

    def flaky_write(fd: int, data: bytes | memoryview) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # half of the second batch lands, then the disk is full
            return real_write(fd, bytes(data)[: len(data) // 2])
        if calls["n"] == 3:
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    monkeypatch.setattr("snuper.archive.stores.os.write", flaky_write)
    store = FsSegments(tmp_path)
    archive = Archive(store, batch_s=0.01, run="nosp")
    league = archive.league("draftkings", "nba", "20260308")
    league.keep(RECEIVED, 1, T0, "one")
    wait_for(lambda: calls["n"] >= 1)
    league.keep(RECEIVED, 1, T0, "two" * 100)
    league.keep(RECEIVED, 1, T0, "three")
    assert archive.close(5.0) == 0
    [name] = store.names("draftkings", "nba")
    segment = read_segment(name, store.read("draftkings", "nba", name))
    assert segment.truncated is None
    assert [e.payload for e in segment.entries] == ["one", "two" * 100, "three"]


def test_a_writer_that_fails_is_said_and_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def bug(*args: object) -> bytes:
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr("snuper.archive.writer.encode_entry", bug)
    archive = Archive(FsSegments(tmp_path), batch_s=0.01)
    league = archive.league("draftkings", "nba", "20260308")
    league.keep(RECEIVED, 1, T0, "lost")
    wait_for(lambda: archive.dead)
    assert "the writer failed" in caplog.text
    league.keep(RECEIVED, 1, T0, "not queued any more")
    assert not archive.pending
    # The header and the first message the writer held, the second dropped, the segment.
    assert archive.close(1.0) == 4


def test_a_clock_set_back_keeps_the_messages_in_the_order_received(tmp_path: Path) -> None:
    store = FsSegments(tmp_path)
    archive = Archive(store, batch_s=0.01, run="back")
    league = archive.league("draftkings", "nba", "20260308")
    start = T0.replace(minute=0, second=5)  # 23:00:05
    refs = [
        league.keep(RECEIVED, 1, start, "first"),
        league.keep(RECEIVED, 1, start - timedelta(seconds=10), "after a step back"),
        league.keep(RECEIVED, 1, start + timedelta(seconds=1), "then on"),
    ]
    assert archive.close(5.0) == 0
    assert len({split_ref(ref)[0] for ref in refs}) == 1  # one segment, in arrival order
    [name] = store.names("draftkings", "nba")
    segment = read_segment(name, store.read("draftkings", "nba", name))
    assert [e.payload for e in segment.entries] == ["first", "after a step back", "then on"]
