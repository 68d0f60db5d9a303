"""Several sinks at once (`--sink rds,cache,s3,fs`), each on a lane of its own (lane.py): one that
fails is retried with capped backoff while the others go on at full speed, and what it misses
waits in a local spill file, replayed in order when it recovers, or by the next run."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import ClassVar, TypeVar

from snuper.model import LastPrice, RawMessage, Record, Snapshot
from snuper.sinks.base import LoadedSnapshots, Sink, SinkBusy, SinkError
from snuper.sinks.lane import Lane, LaneSettings
from snuper.sinks.spill import leftover_spills

log = logging.getLogger("snuper")
T = TypeVar("T")
SNAPSHOT_ATTEMPTS = 3  # a snapshot is not spilled: a failing sink gets a few tries, then an error
# Within the engine's shutdown deadline (20 s by default): the lanes finish together.
CLOSE_WAIT_S = 12.0


class FanoutSink:
    name: ClassVar[str] = "fanout"
    thread_safe: ClassVar[bool] = False

    def __init__(
        self,
        sinks: Sequence[Sink],
        spill_dir: Path,
        settings: LaneSettings | None = None,
        *,
        close_wait: float = CLOSE_WAIT_S,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sinks = list(sinks)
        # Raw messages are made only if a sink keeps them, and passed on only to those.
        self.wants_raw = any(sink.wants_raw for sink in sinks)
        self.spill_dir = spill_dir
        self.settings = settings or LaneSettings()
        self.close_wait = close_wait
        self._sleep = sleep
        self._lanes: list[Lane] | None = None  # started with the first write
        self._batch: object = None  # the batch being written, and the lanes that took it
        self._taken: set[int] = set()
        self._unfinished: list[str] = []

    def lanes(self) -> list[Lane]:
        """A lane per sink, each replaying first what an earlier run left in its spill file."""
        if self._lanes is None:
            self._lanes = []
            for sink in self.sinks:
                leftovers = leftover_spills(self.spill_dir, sink.name)
                if leftovers:
                    log.info("sink %s: replaying first what an earlier run kept in %s",
                             sink.name, ", ".join(map(str, leftovers)))  # fmt: skip
                self._lanes.append(Lane(sink, self.spill_dir, self.settings, leftovers))
        return self._lanes

    # ---- snapshots -------------------------------------------------------------------------

    def save_snapshot(self, snapshot: Snapshot, *, overwrite: bool = False) -> bool:
        """Into every sink (a failing one gets a few tries); SinkError names the sinks that
        did not take it, after the others did."""
        written = False
        failed: list[str] = []
        for sink in self.sinks:
            try:
                written |= self._retried(
                    functools.partial(sink.save_snapshot, snapshot, overwrite=overwrite)
                )
            except SinkError as exc:
                failed.append(f"{sink.name}: {exc}")
        if failed:
            raise SinkError(f"snapshot not stored in {'; '.join(failed)}")
        return written

    def _retried(self, action: Callable[[], T]) -> T:
        delay = self.settings.backoff_initial
        for attempt in range(1, SNAPSHOT_ATTEMPTS + 1):
            try:
                return action()
            except SinkError as exc:
                if exc.permanent or attempt == SNAPSHOT_ATTEMPTS:
                    raise
                log.warning("%s; retry in %.1fs", exc, delay)
                self._sleep(delay)
                delay = min(delay * 2, self.settings.backoff_max)
        raise AssertionError("unreachable")

    def load_snapshots(
        self, provider: str, leagues: Sequence[str], slate: str | None = None
    ) -> LoadedSnapshots:
        """Per league, from the first sink in the list that has a readable one (said in a
        log line); a sink that cannot answer is passed over."""
        found = LoadedSnapshots()
        wanted = list(dict.fromkeys(leagues))
        for sink in self.sinks:
            if not wanted:
                break
            try:
                loaded = sink.load_snapshots(provider, wanted, slate)
            except SinkError as exc:
                log.warning("%s: cannot read snapshots from sink %s: %s", provider, sink.name, exc)
                continue
            for snapshot in loaded.snapshots:
                log.info("%s %s: snapshot of slate %s from sink %s", provider, snapshot.league,
                         snapshot.slate_date, sink.name)  # fmt: skip
                found.snapshots.append(snapshot)
                found.unreadable.pop(snapshot.league, None)
                wanted.remove(snapshot.league)
            for league, why in loaded.unreadable.items():
                found.unreadable.setdefault(league, f"sink {sink.name}: {why}")
        return found

    # ---- the monitor's calls ---------------------------------------------------------------

    def claim(self, provider: str, league: str) -> None:
        self.lanes()  # a monitor starts here: what an earlier run left is replayed from now on
        for sink in self.sinks:
            try:
                sink.claim(provider, league)
            except SinkBusy:
                raise
            except SinkError as exc:
                if exc.permanent:
                    raise
                # Down now: its records go to the spill file until it is back.
                log.warning("%s %s: cannot lock in sink %s (%s); going on without its lock",
                            provider, league, sink.name, exc)  # fmt: skip

    def last_prices(self, snapshot: Snapshot) -> list[LastPrice]:
        """From the first sink that answers: they hold the same records once spills replay."""
        problems = []
        for sink in self.sinks:
            try:
                return sink.last_prices(snapshot)
            except SinkError as exc:
                problems.append(f"{sink.name}: {exc}")
        raise SinkError(f"no sink could say what was recorded: {'; '.join(problems)}")

    def write_updates(self, records: Sequence[Record]) -> None:
        """Hand the batch to every lane; never waits for a sink (a down one spills). The same
        batch passed again (after a spill file failed) goes only to the lanes that missed it."""
        if records is not self._batch:
            self._batch, self._taken = records, set()
        batch = list(records)
        plain: list[Record] | None = None
        for index, lane in enumerate(self.lanes()):
            if index in self._taken:
                continue
            if lane.sink.wants_raw:
                lane.submit(batch)
            else:
                if plain is None:
                    plain = [r for r in batch if type(r) is not RawMessage]
                if plain:
                    lane.submit(plain)
            self._taken.add(index)

    def flush(self, *, final: bool = False) -> None:
        for lane in self.lanes():
            lane.flush(final=final)

    def close(self) -> None:
        """Every lane finishes within close_wait, side by side; a sink still down keeps its
        spill file (see `unfinished`)."""
        if self._lanes is None:  # nothing was written (a scrape, or nothing to monitor)
            problems = []
            for sink in self.sinks:
                try:
                    sink.close()
                except SinkError as exc:
                    problems.append(f"{sink.name}: {exc}")
            if problems:
                raise SinkError("; ".join(problems))
            return
        for lane in self._lanes:
            lane.start_closing()
        deadline = time.monotonic() + self.close_wait
        lines: list[str] = []
        for lane in self._lanes:
            lines += lane.finish(max(0.1, deadline - time.monotonic()))
        self._unfinished = lines

    def unfinished(self) -> list[str]:
        """After close: a line per sink that is still down, naming the file its records wait in."""
        return list(self._unfinished)

    # ---- reading ---------------------------------------------------------------------------

    def read_event(
        self, provider: str, league: str, slate_date: str, event_id: str
    ) -> list[Record]:
        for sink in self.sinks:
            records = sink.read_event(provider, league, slate_date, event_id)
            if records:
                return records
        return []

    def describe(self, snapshot: Snapshot) -> str:
        return " and ".join(sink.describe(snapshot) for sink in self.sinks)
