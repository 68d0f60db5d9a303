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
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import re
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

import orjson

from snuper.model import LastPrice, Record, Snapshot
from snuper.sinks.base import LoadedSnapshots, SinkBusy, SinkConfigError, SinkError

if TYPE_CHECKING:
    from snuper.config import SinkSettings

log = logging.getLogger("snuper.sinks.fs")

FLAG = "-o/--fs-sink-dir"
FILE_MODE = 0o644
_OPEN_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
# <slate>-<league>.json; anything else in the folder (moved-aside or temp files) is ignored.
_SNAPSHOT_NAME = re.compile(r"(\d{8})-(.+)\.json")
# Path-cache entries kept before starting over (one per event; a day has a few hundred).
_CACHE_LIMIT = 4096


def _strerror(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


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


@dataclass(slots=True)
class _FailedBatch:
    """The batch whose write failed: its bytes per file and how many reached each file."""

    records: Sequence[Record]
    chunks: dict[str, bytes]
    written: dict[str, int]


class FsSink:
    name: ClassVar[str] = "fs"
    thread_safe: ClassVar[bool] = True

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
            name = f"{record.slate_date}-{record.league}-{record.event_id}.json"
            checked = self._inside_root(self.root / record.provider / "odds" / name)
            path = self._paths[key] = str(checked)
        return path

    def _inside_root(self, path: Path) -> Path:
        """`path` when it stays below the root once both are resolved (symlinks, ".."), else
        SinkError. Ids are checked where they enter (snuper.ids); this is defence in depth."""
        try:
            root = self.root.resolve()
            resolved = path.resolve()
        except (OSError, ValueError, RuntimeError) as exc:  # a NUL byte, a symlink loop
            raise SinkError(f"refusing the path {str(path)!r}: {exc}") from None
        if resolved == root or not resolved.is_relative_to(root):
            raise SinkError(f"refusing the path {str(path)!r}: it leaves the folder {root}")
        return path

    def describe(self, snapshot: Snapshot) -> str:
        return str(self.snapshot_path(snapshot.provider, snapshot.league, snapshot.slate_date))

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
            raise SinkError(f"cannot move aside {path}: {_strerror(exc)}") from exc
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
            raise SinkError(f"cannot write {path}: {_strerror(exc)}") from exc

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
                raise SinkError(f"cannot lock {path}: {_strerror(exc)}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.read(fd, 64).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise SinkBusy(
                    f"{provider} {league} is already monitored into {self.root} "
                    f"(pid {holder} holds {path})"
                ) from None
            except OSError as exc:
                os.close(fd)
                raise SinkError(f"cannot lock {path}: {_strerror(exc)}") from exc
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._claims[path] = fd

    def last_prices(self, snapshot: Snapshot) -> list[LastPrice]:
        """The last odds record per market and side in each event's file. A line that cannot be
        read (a tail torn by a crash) is skipped: the records before it still count."""
        found: list[LastPrice] = []
        folder = self.root / snapshot.provider / "odds"
        for event in snapshot.events:
            path = folder / f"{snapshot.slate_date}-{snapshot.league}-{event.event_id}.json"
            try:
                lines = path.read_bytes().splitlines()
            except FileNotFoundError:
                continue
            except OSError as exc:
                raise SinkError(f"cannot read {path}: {_strerror(exc)}") from exc
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
        folder = self.root / provider / "events"
        try:
            names = [entry.name for entry in folder.iterdir()]
        except FileNotFoundError:
            return LoadedSnapshots()
        except OSError as exc:
            raise SinkError(f"cannot read {folder}: {_strerror(exc)}") from exc
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
            named = (provider, league, latest[league][:8])
            held = (snapshot.provider, snapshot.league, snapshot.slate_date)
            if held != named:
                found.unreadable[league] = (
                    f"cannot use snapshot {path}: it holds {'/'.join(held)}, "
                    f"its name says {'/'.join(named)}"
                )
                continue
            found.snapshots.append(snapshot)
        return found

    # -- odds --------------------------------------------------------------------------------

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
        failed = self._failed.pop(id(records), None)  # it holds the batch: the id is not reused
        if failed is not None:
            # The same batch again: skip what reached each file (if the bytes are unchanged).
            for path, done in failed.written.items():
                if chunks.get(path, b"")[:done] == failed.chunks[path][:done]:
                    written[path] = done
        try:
            for path, chunk in chunks.items():
                self._append(path, chunk, written)
        except SinkError:
            self._failed[id(records)] = _FailedBatch(records, chunks, written)
            while len(self._failed) > MAX_FAILED_BATCHES:  # writers that gave up on a batch
                self._failed.popitem(last=False)
            raise

    def _append(self, path: str, chunk: bytes, written: dict[str, int]) -> None:
        done = written.get(path, 0)
        if done >= len(chunk):
            return
        fd = self._fd(path)
        self._dirty.add(path)
        view = memoryview(chunk)
        while done < len(chunk):
            try:
                count = os.write(fd, view[done:])  # may write less than asked
            except OSError as exc:
                raise SinkError(f"cannot write {path}: {_strerror(exc)}") from exc
            if count <= 0:
                raise SinkError(f"cannot write {path}: no bytes written")
            done += count
            written[path] = done

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
            raise SinkError(f"cannot write {path}: {_strerror(exc)}") from exc
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
                raise SinkError(f"cannot flush {path}: {_strerror(exc)}") from exc
            self._dirty.discard(path)
        del self._fds[path]
        try:
            os.close(fd)
        except OSError as exc:
            raise SinkError(f"cannot close {path}: {_strerror(exc)}") from exc

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
                failure = failure or SinkError(f"cannot flush {path}: {_strerror(exc)}")
            else:
                self._dirty.discard(path)
        for folder in list(self._new_dirs):  # a folder whose fsync failed is tried again
            try:
                _fsync_dir(folder)
            except OSError as exc:
                failure = failure or SinkError(f"cannot flush {folder}: {_strerror(exc)}")
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
                    failure = failure or SinkError(f"cannot close {path}: {_strerror(exc)}")
            self._fds.clear()
            self._dirty.clear()
            for fd in self._claims.values():  # closing the fd releases the flock
                os.close(fd)
            self._claims.clear()
        if failure is not None:
            raise failure


def _last_price(line: bytes, event_id: str) -> LastPrice | None:
    """An odds line of the event's file as a LastPrice; None for heartbeats and for lines that
    cannot be read (a torn tail, a hand edit)."""
    try:
        data = orjson.loads(line)
        if data.get("type") != "odds" or data.get("event_id") != event_id:
            return None
        line_value = data["line"]
        return LastPrice(
            event_id=event_id,
            market=data["market"],
            side=data["side"],
            selection_id=str(data["selection_id"]),
            line=None if line_value is None else float(line_value),
            odds_american=int(data["odds_american"]),
            odds_decimal=float(data["odds_decimal"]),
        )
    except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        return None
