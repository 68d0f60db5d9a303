"""The one protocol every storage backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from snuper.model import Record, Snapshot


class SinkError(OSError):
    """A sink cannot store or read; the message names the path or target."""


class Sink(Protocol):
    def save_snapshot(self, snapshot: Snapshot, *, overwrite: bool = False) -> bool:
        """Store a snapshot; False (and nothing written) when one exists and overwrite is off."""
        ...

    def load_snapshots(self, provider: str, leagues: Sequence[str]) -> list[Snapshot]:
        """The latest snapshot of each league that has one."""
        ...

    def write_updates(self, records: Sequence[Record]) -> None:
        """Store odds updates and heartbeats (called off the receive loop, in batches)."""
        ...

    def flush(self) -> None:
        """Make everything written so far durable."""
        ...

    def close(self) -> None: ...

    def describe(self, snapshot: Snapshot) -> str:
        """Where a snapshot goes, for log lines."""
        ...
