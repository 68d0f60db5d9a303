"""Local JSON/JSONL files.

Snapshots: <dir>/<provider>/events/<slate>-<league>.json
Odds (JSONL, appended): <dir>/<provider>/odds/<slate>-<league>-<event_id>.json
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from snuper.model import Record, Snapshot, SnapshotError
from snuper.sinks.base import SinkError


class FsSink:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._files: dict[Path, BinaryIO] = {}
        # Monitors of several leagues share one sink and write from worker threads.
        self._lock = threading.Lock()

    def snapshot_path(self, provider: str, league: str, slate_date: str) -> Path:
        return self.root / provider / "events" / f"{slate_date}-{league}.json"

    def odds_path(self, record: Record) -> Path:
        name = f"{record.slate_date}-{record.league}-{record.event_id}.json"
        return self.root / record.provider / "odds" / name

    def describe(self, snapshot: Snapshot) -> str:
        return str(self.snapshot_path(snapshot.provider, snapshot.league, snapshot.slate_date))

    def save_snapshot(self, snapshot: Snapshot, *, overwrite: bool = False) -> bool:
        path = self.snapshot_path(snapshot.provider, snapshot.league, snapshot.slate_date)
        if path.exists() and not overwrite:
            return False
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
                os.fsync(handle.fileno())
            partial.replace(path)
        except OSError as exc:
            if partial is not None:
                partial.unlink(missing_ok=True)
            raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc
        return True

    def load_snapshots(self, provider: str, leagues: Sequence[str]) -> list[Snapshot]:
        folder = self.root / provider / "events"
        found = []
        for league in leagues:
            # File names start with the slate date, so the last in order is the latest.
            candidates = sorted(folder.glob(f"*-{league}.json"))
            if not candidates:
                continue
            try:
                found.append(Snapshot.from_json(candidates[-1].read_bytes()))
            except (OSError, SnapshotError, ValueError) as exc:
                raise SinkError(f"cannot read snapshot {candidates[-1]}: {exc}") from exc
        return found

    def write_updates(self, records: Sequence[Record]) -> None:
        with self._lock:
            self._write(records)

    def _write(self, records: Sequence[Record]) -> None:
        # Open every file of the batch before writing any line, so a failure (a folder that
        # cannot be made, too many files) writes nothing and a retried batch is not doubled.
        lines: dict[Path, list[bytes]] = {}
        for record in records:
            lines.setdefault(self.odds_path(record), []).append(record.to_json() + b"\n")
        for path in lines:
            if path not in self._files:
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    self._files[path] = path.open("ab")
                except OSError as exc:
                    raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc
        for path, chunk in lines.items():
            try:
                self._files[path].write(b"".join(chunk))
            except OSError as exc:
                raise SinkError(f"cannot write {path}: {exc.strerror or exc}") from exc

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        for path, handle in self._files.items():
            try:
                handle.flush()
                os.fsync(handle.fileno())
            except OSError as exc:
                raise SinkError(f"cannot flush {path}: {exc.strerror or exc}") from exc

    def close(self) -> None:
        """Flush and close every file, even when one of them fails; then report the failure."""
        with self._lock:
            failure: SinkError | None = None
            try:
                self._flush()
            except SinkError as exc:
                failure = exc
            for handle in self._files.values():
                with contextlib.suppress(OSError):
                    handle.close()
            self._files.clear()
        if failure is not None:
            raise failure
