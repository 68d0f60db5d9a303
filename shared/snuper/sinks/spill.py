"""A spill file: the batches a sink could not take while it was down, kept in order on local disk
(append-only, fsynced before they count as durable) until they are replayed into it.

One line per batch: a JSON array of the batch's records. A line torn by a crash is left out of
the replay (its records were never reported durable). The file is held with an exclusive flock
while in use, so a second process never replays a spill file that a live one is writing.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import orjson

from snuper.model import Record, record_from_dict
from snuper.sinks.base import SinkError

log = logging.getLogger("snuper")
FILE_MODE = 0o644


def encode_batch(records: Sequence[Record]) -> bytes:
    return b"[" + b",".join(r.to_json() for r in records) + b"]\n"


def decode_batch(line: bytes) -> list[Record] | None:
    """The records of one line, or None for a torn or unreadable line."""
    try:
        items = orjson.loads(line)
        if not isinstance(items, list):
            return None
        return [record_from_dict(item) for item in items]
    except ValueError:  # JSONDecodeError, SnapshotError
        return None


class SpillFile:
    """An open, locked spill file. Appends go through os.write (no user-space buffer), so a
    reader at an offset sees them at once; `sync` makes them durable."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, FILE_MODE)
        except OSError as exc:
            raise SinkError(f"cannot open spill file {path}: {exc.strerror or exc}") from exc
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._fd)
            raise
        self._dirty = False

    @property
    def size(self) -> int:
        return os.fstat(self._fd).st_size

    def append(self, records: Sequence[Record]) -> None:
        data = encode_batch(records)
        try:
            written = os.write(self._fd, data)
            while written < len(data):  # a short write (rare): finish the line
                written += os.write(self._fd, data[written:])
        except OSError as exc:
            raise SinkError(f"cannot write spill file {self.path}: {exc.strerror or exc}") from exc
        self._dirty = True

    def sync(self) -> None:
        if not self._dirty:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise SinkError(f"cannot sync spill file {self.path}: {exc.strerror or exc}") from exc
        self._dirty = False

    def batches(self, offset: int) -> Iterator[tuple[list[Record], int]]:
        """Each whole batch from `offset` on, with the offset after it."""
        yield from read_batches(self._fd, offset)

    def truncate(self) -> None:
        """Empty the file once every batch in it is replayed."""
        os.ftruncate(self._fd, 0)
        os.fsync(self._fd)
        self._dirty = False

    def close(self, *, remove_if_empty: bool = True) -> None:
        """Release the file; an empty one is removed (nothing left to replay)."""
        try:
            if remove_if_empty and self.size == 0:
                self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)  # drops the flock


def read_batches(fd: int, offset: int) -> Iterator[tuple[list[Record], int]]:
    while True:
        size = os.fstat(fd).st_size
        if offset >= size:
            return
        chunk = os.pread(fd, min(size - offset, 1 << 24), offset)
        end = chunk.find(b"\n")
        if end < 0:
            if len(chunk) >= 1 << 24:  # a line longer than the read: read it whole
                chunk = os.pread(fd, size - offset, offset)
                end = chunk.find(b"\n")
            if end < 0:
                return  # a torn last line: never reported durable
        line = chunk[:end]
        offset += end + 1
        records = decode_batch(line)
        if records is None:
            log.warning("spill file: skipped an unreadable line before offset %d", offset)
            continue
        yield records, offset


def spill_path(folder: Path, sink: str) -> Path:
    """A name no other run takes: pids repeat (a container's entrypoint is often pid 1), and
    appending to an earlier run's file while it is replayed would lose records."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    return folder / f"{sink}-{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}.jsonl"


def leftover_spills(folder: Path, sink: str) -> list[Path]:
    """Spill files an earlier run of `sink` left (oldest first), not held by a live process."""
    found = []
    for path in sorted(folder.glob(f"{sink}-*.jsonl"), key=lambda p: p.stat().st_mtime):
        try:
            fd = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue  # a live run is using it
        finally:
            os.close(fd)
        if path.stat().st_size:
            found.append(path)
        else:
            path.unlink(missing_ok=True)
    return found
