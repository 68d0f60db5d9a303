"""Where segments live: a folder (the fs sink's) or a bucket (the s3 sink's), same layout.

    <root>/<provider>/raw/<league>/<segment name>.raw.gz

A sink that can hold objects hands out its store (`segment_store()`); the others have none.
"""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from snuper.archive.segment import SUFFIX
from snuper.sinks.base import SinkError

if TYPE_CHECKING:
    from snuper.sinks.s3 import _Bucket

# S3 has no append: a segment goes up whole when it closes, so a bucket's segments close at
# least this often (what a killed monitor can lose there; a folder loses at most a batch).
S3_SEGMENT_S = 300.0


class SegmentFile(Protocol):
    @property
    def held(self) -> int:
        """Bytes held in memory until close (a bucket's segment; a file holds none)."""
        ...

    def append(self, data: bytes) -> None:
        """Add bytes; once it returns they survive the process (not yet a power cut). On an
        error nothing of `data` is kept, so the same bytes can be given again."""
        ...

    def close(self) -> None:
        """The segment is complete and durable."""
        ...


class SegmentStore(Protocol):
    # A segment is closed after this many seconds even within its hour (None: only hourly).
    max_open_s: float | None

    def where(self, provider: str, league: str) -> str: ...

    def open(self, provider: str, league: str, name: str) -> SegmentFile: ...

    def names(self, provider: str, league: str) -> list[str]:
        """The segment names (without suffix) of a provider and league, sorted."""
        ...

    def read(self, provider: str, league: str, name: str) -> bytes: ...


def _folder(provider: str, league: str) -> str:
    return f"{provider}/raw/{league}"


class _FsFile:
    held = 0

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # O_EXCL: a segment is written once, never appended to by a later run.
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        self.size = 0

    def append(self, data: bytes) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(self.fd, view) :]
        except OSError:
            # A short write then ENOSPC: cut back, so the retry does not double those bytes.
            with contextlib.suppress(OSError):
                os.ftruncate(self.fd, self.size)
            raise
        self.size += len(data)

    def close(self) -> None:
        if self.fd >= 0:  # a retry after a failed fsync only syncs the folder
            fd, self.fd = self.fd, -1
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        folder = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


class FsSegments:
    max_open_s: float | None = None

    def __init__(self, root: Path) -> None:
        self.root = root

    def where(self, provider: str, league: str) -> str:
        return str(self.root / _folder(provider, league))

    def _path(self, provider: str, league: str, name: str) -> Path:
        return self.root / _folder(provider, league) / f"{name}{SUFFIX}"

    def open(self, provider: str, league: str, name: str) -> SegmentFile:
        path = self._path(provider, league, name)
        try:
            return _FsFile(path)
        except OSError as exc:
            raise SinkError(f"cannot create the segment {path}: {exc.strerror or exc}") from exc

    def names(self, provider: str, league: str) -> list[str]:
        folder = self.root / _folder(provider, league)
        if not folder.is_dir():
            return []
        return sorted(p.name.removesuffix(SUFFIX) for p in folder.glob(f"*{SUFFIX}"))

    def read(self, provider: str, league: str, name: str) -> bytes:
        path = self._path(provider, league, name)
        try:
            return path.read_bytes()
        except OSError as exc:
            raise SinkError(f"cannot read the segment {path}: {exc.strerror or exc}") from exc


class _S3File:
    def __init__(self, bucket: _Bucket, key: str) -> None:
        self.bucket, self.key = bucket, key
        self.buffer = io.BytesIO()

    @property
    def held(self) -> int:
        return self.buffer.tell()

    def append(self, data: bytes) -> None:
        self.buffer.write(data)

    def close(self) -> None:
        self.bucket.put(self.key, self.buffer.getvalue(), "application/gzip")


class S3Segments:
    max_open_s: float | None = S3_SEGMENT_S

    def __init__(self, bucket: _Bucket, prefix: str) -> None:
        self.bucket = bucket
        self.base = f"{prefix}/" if prefix else ""

    def _key(self, provider: str, league: str, name: str) -> str:
        return f"{self.base}{_folder(provider, league)}/{name}{SUFFIX}"

    def where(self, provider: str, league: str) -> str:
        return self.bucket.url(f"{self.base}{_folder(provider, league)}/")

    def open(self, provider: str, league: str, name: str) -> SegmentFile:
        return _S3File(self.bucket, self._key(provider, league, name))

    def names(self, provider: str, league: str) -> list[str]:
        folder = f"{self.base}{_folder(provider, league)}/"
        keys = self.bucket.keys(folder)
        return sorted(k[len(folder) :].removesuffix(SUFFIX) for k in keys if k.endswith(SUFFIX))

    def read(self, provider: str, league: str, name: str) -> bytes:
        key = self._key(provider, league, name)
        found = self.bucket.get(key)
        if found is None:
            raise SinkError(f"no segment {self.bucket.url(key)}")
        return found.body


def segment_store(sink: object) -> SegmentStore | None:
    """The store of a sink that can hold objects (fs, s3), or of the first such sink of a
    fanout; None when there is none."""
    own = getattr(sink, "segment_store", None)
    if callable(own):
        store: SegmentStore = own()
        return store
    for member in getattr(sink, "sinks", ()):
        found = segment_store(member)
        if found is not None:
            return found
    return None
