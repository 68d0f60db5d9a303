"""Local JSON/JSONL files: the `fs` sink.

Snapshots: <dir>/<provider>/events/<slate>-<league>.json (mode 0644), written to a temp file
    and renamed into place. An existing snapshot that cannot be read is moved aside to
    <slate>-<league>.json.unreadable-<YYYYmmddTHHMMSSZ> (a WARNING names both paths).
Odds (JSONL, appended): <dir>/<provider>/odds/<slate>-<league>-<event_id>.json (mode 0644).

Odds files are written with os.write on raw descriptors, at most `max_open` at a time (the
least recently used is fsynced and closed, and reopened when needed). A failed batch remembers
how many bytes of each file's share reached the file, so the same batch passed again writes
only the rest. flush() fsyncs the files written since the last flush (and the folders of files
opened for the first time); close() flushes, then closes every file.

Torn lines: a file is only ever appended to at a line boundary. Each time an odds file is opened
its last byte is checked; a tail after the last newline (a kill -9 mid-write, a write that
failed halfway in an earlier run) is moved to <name>.torn-<YYYYmmddTHHMMSSZ> (a WARNING names
both files) and the file truncated to its last newline before anything is appended. In this
process, a file left mid-line by a failed batch is continued only by a retry of that batch; any
other write to it first moves the partial line aside the same way (and a later retry of the
failed batch writes that record again, whole).

Every SinkError raised from an OSError carries `permanent` (see snuper.sinks.base.is_permanent):
a name too long, no permission or a read-only file system fail fast; a full disk may recover.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import re
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import orjson

from snuper.model import LastPrice, Record, Snapshot, record_from_json
from snuper.sinks.base import (
    LoadedSnapshots,
    SinkBusy,
    SinkConfigError,
    SinkError,
    is_permanent,
    mislabelled,
)

if TYPE_CHECKING:
    from snuper.archive.stores import FsSegments
    from snuper.config import SinkSettings

log = logging.getLogger("snuper.sinks.fs")

FLAG = "-o/--fs-sink-dir"
FILE_MODE = 0o644
_CLOEXEC: int = getattr(os, "O_CLOEXEC", 0)
# Read too: the last byte is checked (and a torn tail copied aside) when a file is opened.
_OPEN_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | _CLOEXEC
_ASIDE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC
_NEWLINE = 0x0A
_BLOCK = 64 * 1024  # read size when looking for the last newline and copying a torn tail
# <slate>-<league>.json; anything else in the folder (moved-aside or temp files) is ignored.
_SNAPSHOT_NAME = re.compile(r"([0-9]{8})-([a-z]+)\.json")
# Path-cache entries kept before starting over (one per event; a day has a few hundred).
_CACHE_LIMIT = 4096


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def _failure(action: str, target: object, exc: OSError) -> SinkError:
    """SinkError "<action> <target>: <reason>", permanent when no retry can fix `exc`."""
    return SinkError(f"{action} {target}: {_strerror(exc)}", permanent=is_permanent(exc))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _reason(exc: BaseException) -> str:
    """Why a snapshot file cannot be read, in one line and without Python reprs."""
    if isinstance(exc, OSError):
        return _strerror(exc)
    if isinstance(exc, orjson.JSONDecodeError):
        return _one_line(f"invalid JSON: {exc}")
    # SnapshotError wraps what went wrong (KeyError('provider') and the like) in its repr.
    cause = exc.__cause__
    if isinstance(cause, KeyError) and cause.args:
        return f"malformed snapshot: missing field '{cause.args[0]}'"
    if cause is not None and str(cause):
        return _one_line(f"malformed snapshot: {cause}")
    return _one_line(str(exc)) or type(exc).__name__


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fsync_dir(folder: str) -> None:
    """Make the entries of a folder (new files, renames) durable; a no-op where unsupported."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
    finally:
        os.close(fd)


def build(settings: SinkSettings) -> FsSink:
    """An FsSink on settings.fs_dir; SinkConfigError (flag -o/--fs-sink-dir) when unusable.

    With must_exist the folder is not created. Either way it must be a folder we can write in.
    """
    folder = settings.fs_dir
    if folder is None:
        raise SinkConfigError(FLAG, "the fs sink needs an output folder")
    if settings.must_exist and not folder.exists():
        raise SinkConfigError(FLAG, f"no such directory: {folder}")
    if folder.exists() and not folder.is_dir():
        raise SinkConfigError(FLAG, f"not a directory: {folder}")
    try:
        if not settings.must_exist:
            folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise SinkConfigError(FLAG, f"cannot write to {folder}: {_strerror(exc)}") from None
    return FsSink(folder)


MAX_FAILED_BATCHES = 64
# In FsSink._partial: a file found ending mid-line when opened (no batch continues it).
_TORN_ON_DISK = (0, -1)


def _line_end(fd: int, size: int) -> int:
    """The offset just after the last newline among the first `size` bytes (0 if none)."""
    end = size
    while end > 0:
        start = max(0, end - _BLOCK)
        block = os.pread(fd, end - start, start)
        found = block.rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def _save_tail(path: str, fd: int, start: int, end: int) -> str:
    """Copy bytes start..end of `fd` to a new <path>.torn-<stamp>[-n], durably; its name."""
    base = aside = f"{path}.torn-{_stamp()}"
    n = 0
    while True:
        try:
            out = os.open(aside, _ASIDE_FLAGS, FILE_MODE)
            break
        except FileExistsError:
            n += 1
            aside = f"{base}-{n}"
    try:
        try:
            offset = start
            while offset < end:
                block = os.pread(fd, min(_BLOCK, end - offset), offset)
                if not block:
                    raise OSError(errno.EIO, "the file shrank while its torn end was copied")
                view = memoryview(block)
                while view:
                    count = os.write(out, view)
                    if count <= 0:
                        raise OSError(errno.EIO, "no bytes written")
                    view = view[count:]
                offset += len(block)
            os.fsync(out)
        finally:
            os.close(out)
        _fsync_dir(os.fspath(Path(aside).parent))
    except OSError:
        _remove(aside)
        raise
    return aside


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        Path(path).unlink()


@dataclass(slots=True)
class _FailedBatch:
    """The batch whose write failed: its bytes per file and how many reached each file."""

    records: Sequence[Record]
    chunks: dict[str, bytes]
    written: dict[str, int]


class FsSink:
    name: ClassVar[str] = "fs"
    thread_safe: ClassVar[bool] = True
    wants_raw: ClassVar[bool] = False  # the raw archive keeps them (segment_store)

    def __init__(self, root: Path, *, max_open: int = 128) -> None:
        if max_open < 1:
            raise ValueError(f"max_open must be at least 1, not {max_open}")
        self.root = root
        self.max_open = max_open
        # Monitors of several leagues share one sink and write from worker threads.
        self._lock = threading.Lock()
        # path -> fd, least recently used first.
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._dirty: set[str] = set()  # written since their last fsync; always open
        self._new_dirs: set[str] = set()  # folders of files opened for the first time
        self._opened: set[str] = set()
        self._paths: dict[tuple[str, str, str, str], str] = {}
        self._claims: dict[Path, int] = {}  # lock file -> its fd (the flock lives with it)
        # Batches whose write failed, by identity: each writer (one per league, sharing this
        # sink) retries its own, so another league's write in between must not forget it.
        self._failed: OrderedDict[int, _FailedBatch] = OrderedDict()
        # Files that end mid-line -> (id of the batch whose failed write left the partial line,
        # bytes of its share written); _TORN_ON_DISK for a torn tail found when opening. Only
        # that batch, continuing from there, may append without moving the partial line aside.
        self._partial: dict[str, tuple[int, int]] = {}

    # -- paths -------------------------------------------------------------------------------

    def snapshot_path(self, provider: str, league: str, slate_date: str) -> Path:
        return self._inside_root(self.root / provider / "events" / f"{slate_date}-{league}.json")

    def odds_path(self, record: Record) -> Path:
        return Path(self._odds_file(record))

    def _odds_file(self, record: Record) -> str:
        # Hot path: one dict lookup per record; the path is built (and checked) once per event.
        key = (record.provider, record.slate_date, record.league, record.event_id)
        path = self._paths.get(key)
        if path is None:
            if len(self._paths) >= _CACHE_LIMIT:
                self._paths.clear()
            path = self._paths[key] = str(self._event_file(*key))
        return path

    def _event_file(self, provider: str, slate_date: str, league: str, event_id: str) -> Path:
        name = f"{slate_date}-{league}-{event_id}.json"
        return self._inside_root(self.root / provider / "odds" / name)

    def _inside_root(self, path: Path) -> Path:
        """`path` when, once its ".." are folded, it stays below the root, else SinkError
        (permanent: no retry changes a name). Ids are checked where they enter (snuper.ids);
        this is defence in depth. Symlinks are the user's choice (an odds folder on another
        disk), so they are not resolved."""
        root = os.path.normpath(self.root.absolute())
        folded = os.path.normpath(path.absolute())
        if "\0" in folded or folded == root or not folded.startswith(root + os.sep):
            problem = f"refusing the path {str(path)!r}: it leaves the folder {root}"
            raise SinkError(problem, permanent=True)
        return path

    def describe(self, snapshot: Snapshot) -> str:
        return str(self.snapshot_path(snapshot.provider, snapshot.league, snapshot.slate_date))

    def segment_store(self) -> FsSegments:
        """Where the raw archive keeps its segments: <dir>/<provider>/raw/<league>/."""
        from snuper.archive.stores import FsSegments

        return FsSegments(self.root)

    # -- snapshots ---------------------------------------------------------------------------

    def save_snapshot(self, snapshot: Snapshot, *, overwrite: bool = False) -> bool:
        path = self.snapshot_path(snapshot.provider, snapshot.league, snapshot.slate_date)
        with self._lock:
            if path.exists():
                problem = self._unreadable(path)
                if problem is None and not overwrite:
                    return False
                if problem is not None:
                    self._move_aside(path, problem)
            self._write_snapshot(path, snapshot)
        return True

    @staticmethod
    def _unreadable(path: Path) -> str | None:
        try:
            Snapshot.from_json(path.read_bytes())
        except (OSError, ValueError, TypeError) as exc:  # SnapshotError, JSONDecodeError
            return _reason(exc)
        return None

    @staticmethod
    def _move_aside(path: Path, problem: str) -> None:
        aside = path.with_name(f"{path.name}.unreadable-{_stamp()}")
        base, n = aside.name, 0
        while aside.exists() or aside.is_symlink():
            n += 1
            aside = path.with_name(f"{base}-{n}")
        try:
            path.rename(aside)
        except OSError as exc:
            raise _failure("cannot move aside", path, exc) from exc
        log.warning("unreadable snapshot %s (%s) moved to %s", path, problem, aside)

    @staticmethod
    def _write_snapshot(path: Path, snapshot: Snapshot) -> None:
        partial: Path | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write a private temp file, make it durable, then rename: a reader never sees half
            # a snapshot and two writers never share a temp file.
            with tempfile.NamedTemporaryFile(
                dir=path.parent, prefix=f".{path.name}.", suffix=".partial", delete=False
            ) as handle:
                partial = Path(handle.name)
                handle.write(snapshot.to_json())
                handle.flush()
                os.fchmod(handle.fileno(), FILE_MODE)  # NamedTemporaryFile makes 0600
                os.fsync(handle.fileno())
            partial.replace(path)
            partial = None
            _fsync_dir(os.fspath(path.parent))
        except OSError as exc:
            if partial is not None:
                partial.unlink(missing_ok=True)
            raise _failure("cannot write", path, exc) from exc

    def claim(self, provider: str, league: str) -> None:
        """An exclusive flock on <dir>/<provider>/.monitor-<league>.lock holding our pid; the
        kernel drops it when the process dies, so a kill -9 leaves no stale lock."""
        path = self.root / provider / f".monitor-{league}.lock"
        with self._lock:
            if path in self._claims:
                return
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
            except OSError as exc:
                raise _failure("cannot lock", path, exc) from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = _holder(fd)
                os.close(fd)
                raise SinkBusy(
                    f"{provider} {league} is already monitored into {self.root} "
                    f"(pid {holder} holds {path})"
                ) from None
            except OSError as exc:
                os.close(fd)
                raise _failure("cannot lock", path, exc) from exc
            try:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
            except OSError as exc:
                os.close(fd)  # releases the flock: nothing held half-claimed
                raise _failure("cannot lock", path, exc) from exc
            self._claims[path] = fd

    def last_prices(self, snapshot: Snapshot) -> list[LastPrice]:
        """The last odds record per market and side in each event's file. A line that cannot be
        read (a tail torn by a crash) is skipped: the records before it still count."""
        found: list[LastPrice] = []
        for event in snapshot.events:
            path = self._event_file(
                snapshot.provider, snapshot.slate_date, snapshot.league, event.event_id
            )
            try:
                lines = path.read_bytes().splitlines()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise _failure("cannot read", path, exc) from exc
            last: dict[tuple[str, str], LastPrice] = {}
            for line in lines:
                price = _last_price(line, event.event_id)
                if price is not None:
                    last[(price.market, price.side)] = price
            found.extend(last.values())
        return found

    def load_snapshots(
        self, provider: str, leagues: Sequence[str], slate: str | None = None
    ) -> LoadedSnapshots:
        """Per league, the snapshot of `slate` by its exact name, else the newest earlier one
        (a file dated after `slate` is never taken); without `slate`, the newest. Only names of
        the layout count, and a file must hold what its name says."""
        folder = self._inside_root(self.root / provider / "events")
        try:
            names = [entry.name for entry in folder.iterdir()]
        except FileNotFoundError:
            return LoadedSnapshots()
        except OSError as exc:
            raise _failure("cannot read", folder, exc) from exc
        wanted = set(leagues)
        latest: dict[str, str] = {}
        for name in names:
            match = _SNAPSHOT_NAME.fullmatch(name)
            if not match or match[2] not in wanted or (slate is not None and match[1] > slate):
                continue
            if name > latest.get(match[2], ""):  # names start with the date: later sorts last
                latest[match[2]] = name
        found = LoadedSnapshots()
        for league in dict.fromkeys(leagues):
            if league not in latest:
                continue
            path = folder / latest[league]
            try:
                snapshot = Snapshot.from_json(path.read_bytes())
            except (OSError, ValueError, TypeError) as exc:  # SnapshotError, JSONDecodeError
                found.unreadable[league] = f"cannot read snapshot {path}: {_reason(exc)}"
                continue
            problem = mislabelled(snapshot, (provider, league, latest[league][:8]), str(path))
            if problem:
                found.unreadable[league] = problem
                continue
            found.snapshots.append(snapshot)
        return found

    # -- odds --------------------------------------------------------------------------------

    def read_event(
        self, provider: str, league: str, slate_date: str, event_id: str
    ) -> list[Record]:
        """The event file's records in order; a torn last line (a crash mid-write) is left out."""
        path = self._event_file(provider, slate_date, league, event_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise _failure("cannot read", path, exc) from exc
        records = []
        for line in data.splitlines():
            try:
                records.append(record_from_json(line))
            except ValueError:  # SnapshotError, JSONDecodeError: a torn line
                continue
        return records

    def write_updates(self, records: Sequence[Record]) -> None:
        with self._lock:
            self._write(records)

    def _write(self, records: Sequence[Record]) -> None:
        parts: dict[str, list[bytes]] = {}
        for record in records:
            path = self._odds_file(record)
            line = record.to_json() + b"\n"
            if (lines := parts.get(path)) is None:
                parts[path] = [line]
            else:
                lines.append(line)
        chunks = {path: b"".join(share) for path, share in parts.items()}
        written: dict[str, int] = {}
        owner = id(records)
        failed = self._failed.pop(owner, None)  # it holds the batch: the id is not reused
        if failed is not None:
            # The same batch again: skip what reached each file (if the bytes are unchanged).
            for path, done in failed.written.items():
                if chunks.get(path, b"")[:done] == failed.chunks[path][:done]:
                    written[path] = done
        try:
            for path, chunk in chunks.items():
                self._append(path, chunk, written, owner)
        except SinkError as exc:
            self._failed[owner] = _FailedBatch(records, chunks, written)
            while len(self._failed) > MAX_FAILED_BATCHES:  # writers that gave up on a batch
                self._failed.popitem(last=False)
            # Whole lines that reached their files: the caller counts only the rest as unstored.
            exc.stored = sum(chunks[path][:done].count(b"\n") for path, done in written.items())
            raise

    def _append(self, path: str, chunk: bytes, written: dict[str, int], owner: int) -> None:
        done = written.get(path, 0)
        if done >= len(chunk):
            return
        fd = self._fd(path)
        if self._partial:  # rare: some file ends mid-line
            torn = self._partial.get(path)
            if torn is not None and torn != (owner, done):  # not this batch continuing its line
                self._repair(path, fd)
        self._dirty.add(path)
        view = memoryview(chunk)
        try:
            while done < len(chunk):
                try:
                    count = os.write(fd, view[done:])  # may write less than asked
                except OSError as exc:
                    raise _failure("cannot write", path, exc) from exc
                if count <= 0:
                    raise SinkError(f"cannot write {path}: no bytes written")
                done += count
                written[path] = done
        except SinkError:
            if done and chunk[done - 1] != _NEWLINE:
                self._partial[path] = (owner, done)
            else:
                self._partial.pop(path, None)
            raise
        if self._partial:
            self._partial.pop(path, None)

    def _repair(self, path: str, fd: int) -> None:
        """Move what follows the last newline of `path` to a side file and truncate the file to
        that newline, so that the next record starts a line of its own. The batch that wrote the
        partial line, if retried, writes that record again from its start."""
        try:
            size = os.fstat(fd).st_size
            keep = _line_end(fd, size)
            if keep < size:
                aside = _save_tail(path, fd, keep, size)
                try:
                    os.ftruncate(fd, keep)
                except OSError:
                    _remove(aside)  # the tail is still in place: do not keep it twice
                    raise
                self._dirty.add(path)
                log.warning(
                    "torn line at the end of %s (%d bytes after its last newline) moved to %s",
                    path, size - keep, aside,
                )  # fmt: skip
        except OSError as exc:
            raise _failure("cannot repair the torn end of", path, exc) from exc
        owner, _ = self._partial.pop(path)
        failed = self._failed.get(owner)
        if failed is not None and path in failed.written:
            # Its progress in this file goes back to the start of the line moved aside.
            done = failed.written[path]
            failed.written[path] = failed.chunks[path].rfind(b"\n", 0, done) + 1

    def _fd(self, path: str) -> int:
        fd = self._fds.get(path)
        if fd is not None:
            self._fds.move_to_end(path)
            return fd
        while len(self._fds) >= self.max_open:
            self._evict()
        try:
            try:
                fd = os.open(path, _OPEN_FLAGS, FILE_MODE)
            except FileNotFoundError:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(path, _OPEN_FLAGS, FILE_MODE)
        except OSError as exc:
            raise _failure("cannot write", path, exc) from exc
        if path not in self._partial:  # else we know how it ends: a batch of ours left it so
            try:
                size = os.fstat(fd).st_size
                torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            except OSError as exc:
                os.close(fd)
                raise _failure("cannot read", path, exc) from exc
            if torn:
                self._partial[path] = _TORN_ON_DISK
        self._fds[path] = fd
        if path not in self._opened:
            if len(self._opened) >= _CACHE_LIMIT:
                self._opened.clear()  # costs at most one more folder fsync
            self._opened.add(path)
            self._new_dirs.add(str(Path(path).parent))
        return fd

    def _evict(self) -> None:
        """fsync (if written) and close the least recently used file. If the fsync fails the
        file stays open and dirty (a later flush retries it) and the failure is raised."""
        path, fd = next(iter(self._fds.items()))
        if path in self._dirty:
            try:
                os.fsync(fd)
            except OSError as exc:
                raise _failure("cannot flush", path, exc) from exc
            self._dirty.discard(path)
        del self._fds[path]
        try:
            os.close(fd)
        except OSError as exc:
            raise _failure("cannot close", path, exc) from exc

    # -- durability --------------------------------------------------------------------------

    def flush(self, *, final: bool = False) -> None:
        """fsync what was written since the last flush (final or not: the same here)."""
        with self._lock:
            failure = self._flush()
        if failure is not None:
            raise failure

    def _flush(self) -> SinkError | None:
        """fsync every dirty file and new folder; the first failure, after trying them all.

        A file whose fsync failed stays dirty, so the next flush tries it again rather than
        report it durable."""
        failure: SinkError | None = None
        for path in list(self._dirty):
            try:
                os.fsync(self._fds[path])
            except OSError as exc:
                failure = failure or _failure("cannot flush", path, exc)
            else:
                self._dirty.discard(path)
        for folder in list(self._new_dirs):  # a folder whose fsync failed is tried again
            try:
                _fsync_dir(folder)
            except OSError as exc:
                failure = failure or _failure("cannot flush", folder, exc)
            else:
                self._new_dirs.discard(folder)
        return failure

    def close(self) -> None:
        """Flush and close every file, even when one of them fails; then report the failure."""
        with self._lock:
            failure = self._flush()
            for path, fd in self._fds.items():
                try:
                    os.close(fd)
                except OSError as exc:
                    failure = failure or _failure("cannot close", path, exc)
            self._fds.clear()
            self._dirty.clear()
            for fd in self._claims.values():  # closing the fd releases the flock
                os.close(fd)
            self._claims.clear()
        if failure is not None:
            raise failure


def _holder(fd: int, wait_s: float = 0.5) -> str:
    """The pid in a lock file another process holds: it writes it just after taking the lock,
    so a claim racing it may read an empty file for a moment."""
    deadline = time.monotonic() + wait_s
    while True:
        holder = os.pread(fd, 64, 0).decode(errors="replace").strip()
        if holder or time.monotonic() >= deadline:
            return holder or "unknown"
        time.sleep(0.01)


def _last_price(line: bytes, event_id: str) -> LastPrice | None:
    """An odds line of the event's file as a LastPrice; None for heartbeats and for lines that
    cannot be read (a torn tail, a hand edit)."""
    try:
        data = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return LastPrice.from_odds(data, event_id) if isinstance(data, dict) else None
