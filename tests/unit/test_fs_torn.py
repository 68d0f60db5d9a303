"""FsSink never appends onto a partial line: torn tails found on open, and lines left partial by
a failed write in this process, are moved to a side file; a retry continues its own line."""

import errno
import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from snuper.model import Record
from snuper.sinks.base import SinkError
from snuper.sinks.fs import FsSink
from tests.unit.test_fs_sink_odds import REAL_OPEN, beat, expected, failing_write, odds_file

REAL_PREAD = os.pread


def line(record: Record) -> bytes:
    return record.to_json() + b"\n"


def side_files(path: Path) -> list[Path]:
    return sorted(path.parent.glob(f"{path.name}.torn-*"))


def only_side_file(path: Path) -> bytes:
    sides = side_files(path)
    assert len(sides) == 1, sides
    return sides[0].read_bytes()


def whole_lines(data: bytes) -> list[bytes]:
    assert data.endswith(b"\n")
    return data.splitlines(keepends=True)


def torn(path: Path, fragment: bytes) -> None:
    with path.open("ab") as handle:
        handle.write(fragment)


# -- a torn tail found when the file is opened ------------------------------------------------


def test_a_torn_tail_is_moved_aside_before_the_first_append(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = odds_file(tmp_path, "101")
    earlier: list[Record] = [beat("101", 1), beat("101", 2)]
    path.parent.mkdir(parents=True)
    fragment = line(beat("101", 3))[:17]  # a kill -9 in the middle of the third record
    path.write_bytes(expected(earlier, "101") + fragment)
    sink = FsSink(tmp_path)
    with caplog.at_level(logging.WARNING, logger="snuper.sinks.fs"):
        sink.write_updates([beat("101", 4)])
    sink.close()
    assert path.read_bytes() == expected([*earlier, beat("101", 4)], "101")
    (aside,) = side_files(path)
    assert aside.read_bytes() == fragment
    assert aside.name.startswith(f"{path.name}.torn-2")
    assert oct(aside.stat().st_mode & 0o777) == "0o644"
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert str(path) in warnings[0].getMessage()
    assert str(aside) in warnings[0].getMessage()


def test_a_file_that_is_all_fragment_is_emptied_into_the_side_file(tmp_path: Path) -> None:
    path = odds_file(tmp_path, "101")
    path.parent.mkdir(parents=True)
    path.write_bytes(b'{"type": "odds", "ev')
    sink = FsSink(tmp_path)
    sink.write_updates([beat("101", 1)])
    sink.close()
    assert path.read_bytes() == line(beat("101", 1))
    assert only_side_file(path) == b'{"type": "odds", "ev'


def test_a_long_torn_tail_is_kept_whole(tmp_path: Path) -> None:
    # Longer than one read block: the last newline is searched for backwards, block by block.
    path = odds_file(tmp_path, "101")
    path.parent.mkdir(parents=True)
    fragment = b"x" * 200_000
    path.write_bytes(line(beat("101", 1)) + fragment)
    sink = FsSink(tmp_path)
    sink.write_updates([beat("101", 2)])
    sink.close()
    assert path.read_bytes() == expected([beat("101", 1), beat("101", 2)], "101")
    assert only_side_file(path) == fragment


def test_a_file_ending_in_a_newline_is_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = odds_file(tmp_path, "101")
    sink = FsSink(tmp_path)
    sink.write_updates([beat("101", 1)])
    sink.close()
    with caplog.at_level(logging.WARNING, logger="snuper.sinks.fs"):
        sink = FsSink(tmp_path)
        sink.write_updates([beat("101", 2)])
        sink.close()
    assert path.read_bytes() == expected([beat("101", 1), beat("101", 2)], "101")
    assert side_files(path) == []
    assert caplog.records == []


def test_a_file_torn_while_closed_is_repaired_when_reopened(tmp_path: Path) -> None:
    # Only one file open at a time: 101 is closed while 102 is written, and reopened after.
    sink = FsSink(tmp_path, max_open=1)
    sink.write_updates([beat("101", 1)])
    sink.write_updates([beat("102", 1)])
    path = odds_file(tmp_path, "101")
    torn(path, b'{"type": "heart')
    sink.write_updates([beat("101", 2)])
    sink.close()
    assert path.read_bytes() == expected([beat("101", 1), beat("101", 2)], "101")
    assert only_side_file(path) == b'{"type": "heart'


def test_each_fragment_gets_its_own_side_file(tmp_path: Path) -> None:
    path = odds_file(tmp_path, "101")
    for n, fragment in enumerate((b"first", b"second"), start=1):
        sink = FsSink(tmp_path)
        sink.write_updates([beat("101", n)])
        sink.close()
        torn(path, fragment)
    sink = FsSink(tmp_path)
    sink.write_updates([beat("101", 3)])
    sink.close()
    assert path.read_bytes() == expected([beat("101", n) for n in (1, 2, 3)], "101")
    assert sorted(side.read_bytes() for side in side_files(path)) == [b"first", b"second"]


def test_the_last_byte_is_read_once_per_open_not_per_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FsSink(tmp_path)
    sink.write_updates([beat("101", 0)])
    sink.close()
    reads: list[int] = []

    def pread(fd: int, size: int, offset: int) -> bytes:
        reads.append(size)
        return REAL_PREAD(fd, size, offset)

    monkeypatch.setattr(os, "pread", pread)
    sink = FsSink(tmp_path)
    for n in range(1, 6):
        sink.write_updates([beat("101", n), beat("102", n)])  # 102: a new, empty file
    sink.close()
    assert reads == [1]  # 101's last byte, when it was opened; nothing for the empty 102
    assert odds_file(tmp_path, "101").read_bytes() == expected(
        [beat("101", n) for n in range(6)], "101"
    )


# -- a line left partial by a failed write in this process ----------------------------------


def fail_after(
    sink: FsSink, batch: list[Record], plan: list[int | None], monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", failing_write(plan))
        with pytest.raises(SinkError, match="No space left on device") as caught:
            sink.write_updates(batch)
    assert caught.value.permanent is False


def test_a_different_batch_after_a_partial_write_starts_a_new_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FsSink(tmp_path)
    path = odds_file(tmp_path, "101")
    first: list[Record] = [beat("101", 1), beat("101", 2), beat("101", 3)]
    # The first record whole and 9 bytes of the second, then the disk is full.
    fail_after(sink, first, [len(line(first[0])) + 9, -1], monkeypatch)
    assert path.read_bytes() == line(first[0]) + line(first[1])[:9]
    second: list[Record] = [beat("101", 7), beat("101", 8)]  # the writer gave up on `first`
    sink.write_updates(second)
    sink.close()
    assert path.read_bytes() == expected([first[0], *second], "101")
    assert only_side_file(path) == line(first[1])[:9]


def test_the_failed_batch_retried_after_a_repair_writes_its_line_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two writers share the sink: A fails mid-line, B writes to the same file, then A retries.
    sink = FsSink(tmp_path)
    path = odds_file(tmp_path, "101")
    league_a: list[Record] = [beat("101", 1), beat("101", 2)]
    fail_after(sink, league_a, [len(line(league_a[0])) + 4, -1], monkeypatch)
    league_b: list[Record] = [beat("101", 7)]
    sink.write_updates(league_b)
    sink.write_updates(league_a)
    sink.close()
    lines = whole_lines(path.read_bytes())
    assert lines == [line(league_a[0]), line(league_b[0]), line(league_a[1])]
    assert only_side_file(path) == line(league_a[1])[:4]


def test_a_write_that_stopped_on_a_line_boundary_needs_no_repair(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FsSink(tmp_path)
    path = odds_file(tmp_path, "101")
    first: list[Record] = [beat("101", 1), beat("101", 2)]
    fail_after(sink, first, [len(line(first[0])), -1], monkeypatch)
    sink.write_updates([beat("101", 7)])
    sink.close()
    assert path.read_bytes() == expected([first[0], beat("101", 7)], "101")
    assert side_files(path) == []


def test_a_retried_batch_continues_its_line_without_doubling(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FsSink(tmp_path)
    batch: list[Record] = [beat(eid, n) for n in range(10) for eid in ("101", "102")]
    # 101 is written 13 bytes at a time and then fails; 102 is not reached.
    fail_after(sink, batch, [13, 13, 13, -1], monkeypatch)
    fail_after(sink, batch, [5, -1], monkeypatch)  # and again, mid-line
    sink.write_updates(batch)
    sink.close()
    for eid in ("101", "102"):
        path = odds_file(tmp_path, eid)
        assert path.read_bytes() == expected(batch, eid)
        assert side_files(path) == []


def test_a_retry_continues_its_line_even_after_the_file_was_closed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 101 is closed to make room for another league's file, then reopened by the retry: ours
    # is the partial line there, so it is continued, not moved aside.
    sink = FsSink(tmp_path, max_open=1)
    batch: list[Record] = [beat("101", 1), beat("101", 2)]
    fail_after(sink, batch, [20, -1], monkeypatch)
    sink.write_updates([beat("201", 1)])
    sink.write_updates(batch)
    sink.close()
    path = odds_file(tmp_path, "101")
    assert path.read_bytes() == expected(batch, "101")
    assert side_files(path) == []


def test_a_failed_list_refilled_before_the_retry_does_not_continue_the_old_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The same list object, but other records: its partial line is not the start of them.
    sink = FsSink(tmp_path)
    buffer: list[Record] = [beat("101", 1)]
    fail_after(sink, buffer, [160, -1], monkeypatch)  # past '"messages":1'
    buffer[:] = [beat("101", 2)]
    sink.write_updates(buffer)
    sink.close()
    path = odds_file(tmp_path, "101")
    assert path.read_bytes() == line(beat("101", 2))
    assert only_side_file(path) == line(beat("101", 1))[:160]


def test_a_refilled_list_whose_records_start_with_the_partial_line_continues_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What reached the file is a prefix of the new share (as the retry check compares bytes):
    # continuing it gives the new record whole, nothing to move aside.
    sink = FsSink(tmp_path)
    buffer: list[Record] = [beat("101", 1)]
    fail_after(sink, buffer, [11, -1], monkeypatch)
    buffer[:] = [beat("101", 2)]
    sink.write_updates(buffer)
    sink.close()
    path = odds_file(tmp_path, "101")
    assert path.read_bytes() == line(beat("101", 2))
    assert side_files(path) == []


def test_a_partial_line_left_at_shutdown_is_repaired_by_the_next_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sink = FsSink(tmp_path)
    fail_after(sink, [beat("101", 1), beat("101", 2)], [30, -1], monkeypatch)
    sink.close()
    sink = FsSink(tmp_path)
    sink.write_updates([beat("101", 3)])
    sink.close()
    path = odds_file(tmp_path, "101")
    assert path.read_bytes() == line(beat("101", 3))
    assert only_side_file(path) == line(beat("101", 1))[:30]


def refuse_side_files(code: int) -> Callable[..., int]:
    def open_(path: str, flags: int, mode: int = 0o777) -> int:
        if ".torn-" in path:
            raise OSError(code, os.strerror(code))
        return REAL_OPEN(path, flags, mode)

    return open_


def test_a_repair_that_cannot_save_the_fragment_appends_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The disk is still full: the side file cannot be made, so the torn tail stays where it
    # is (never dropped) and the batch fails; once there is room, its retry goes through.
    path = odds_file(tmp_path, "101")
    path.parent.mkdir(parents=True)
    path.write_bytes(line(beat("101", 1)) + b"frag")
    sink = FsSink(tmp_path)
    batch: list[Record] = [beat("101", 2)]
    with monkeypatch.context() as patch:
        patch.setattr(os, "open", refuse_side_files(errno.ENOSPC))
        with pytest.raises(SinkError, match=r"cannot repair the torn end of .*101\.json") as err:
            sink.write_updates(batch)
    assert err.value.permanent is False
    assert path.read_bytes() == line(beat("101", 1)) + b"frag"
    assert side_files(path) == []
    sink.write_updates(batch)
    sink.close()
    assert path.read_bytes() == expected([beat("101", 1), beat("101", 2)], "101")
    assert only_side_file(path) == b"frag"


def test_a_side_file_that_cannot_be_written_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = odds_file(tmp_path, "101")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"frag")
    sink = FsSink(tmp_path)
    with monkeypatch.context() as patch:
        patch.setattr(os, "write", failing_write([-1]))  # the copy into the side file
        with pytest.raises(SinkError, match="No space left on device"):
            sink.write_updates([beat("101", 1)])
    assert path.read_bytes() == b"frag"
    assert side_files(path) == []
    sink.close()
