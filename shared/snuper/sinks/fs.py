"""Local JSON/JSONL files.

Snapshots: <dir>/<provider>/events/<slate>-<league>.json
Odds (JSONL, appended): <dir>/<provider>/odds/<slate>-<league>-<event_id>.json
"""

from __future__ import annotations

import os
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
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Write beside and rename, so a reader never sees half a snapshot.
            partial = path.with_suffix(".json.partial")
            partial.write_bytes(snapshot.to_json())
            partial.replace(path)
        except OSError as exc:
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
        for record in records:
            path = self.odds_path(record)
            handle = self._files.get(path)
            try:
                if handle is None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    handle = self._files[path] = path.open("ab")
                handle.write(record.to_json() + b"\n")
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
        with self._lock:
            self._flush()
            for handle in self._files.values():
                handle.close()
            self._files.clear()
