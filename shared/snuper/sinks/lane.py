"""One sink of a fanout on a thread of its own: while it is up, batches go to it; when it fails
they go to its spill file (in order, fsynced on flush), and after a capped backoff the spill is
replayed into it before it takes new batches again. The other sinks never wait for it."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from snuper.backoff import Backoff
from snuper.model import Record
from snuper.sinks.base import Sink
from snuper.sinks.spill import SpillFile, read_batches, spill_path

log = logging.getLogger("snuper")
State = Literal["up", "down", "recovering"]


@dataclass(frozen=True, slots=True)
class LaneSettings:
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    # How long a flush waits for a sink that is up and finishes nothing before it counts as
    # down (its backlog then goes to the spill file): the other sinks pause at most this long,
    # once per outage. A sink that keeps finishing batches is waited for.
    flush_wait: float = 0.5
    replay_flush_every: int = 50  # batches replayed between the sink's flushes


class _Flush:
    __slots__ = ("final",)

    def __init__(self, final: bool) -> None:
        self.final = final


_Item = tuple[int, "list[Record] | _Flush"]


class Lane:
    def __init__(
        self,
        sink: Sink,
        folder: Path,
        settings: LaneSettings,
        leftovers: Sequence[Path] = (),
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sink = sink
        self.name = sink.name
        self.settings = settings
        self.clock = clock
        self._folder = folder
        self._cv = threading.Condition()
        self._queue: deque[_Item] = deque()
        self._seq = 0  # items submitted
        self._done = 0  # items handled (written, flushed, or moved to the spill)
        self._in_flight: list[Record] | None = None
        self._unflushed: list[list[Record]] = []  # written since the sink's last flush
        self._spill: SpillFile | None = None
        self._replay: list[Path] = list(leftovers)  # an earlier run's spill files, first
        self._offset = 0  # replayed so far of the current spill file
        self._state: State = "recovering" if leftovers else "up"
        self._retry_at = 0.0
        self._backoff = Backoff(settings.backoff_initial, settings.backoff_max)
        self._closing = False
        self._stop_now = False
        self.problem = ""
        self._thread = threading.Thread(target=self._run, name=f"lane-{self.name}", daemon=True)
        self._thread.start()

    # ---- called by the fanout (the engine's sink thread) -----------------------------------

    @property
    def state(self) -> State:
        return self._state

    def submit(self, batch: list[Record]) -> None:
        with self._cv:
            if self._state == "up":
                self._seq += 1
                self._queue.append((self._seq, batch))
                self._cv.notify_all()
            else:
                self._spill_file().append(batch)

    def flush(self, *, final: bool = False, wait: float | None = None) -> None:
        """Up: the sink flushes everything before this call, or within `wait` it counts as
        down and its backlog is spilled. Down: the spill file is fsynced. SinkError only when
        the spill file itself fails."""
        wait = self.settings.flush_wait if wait is None else wait
        with self._cv:
            if self._state == "up":
                self._seq += 1
                token = self._seq
                self._queue.append((token, _Flush(final)))
                self._cv.notify_all()
                deadline = self.clock() + wait
                progress = self._done
                while self._state == "up" and self._done < token:
                    left = deadline - self.clock()
                    if left <= 0 and self._done > progress:
                        # Slow but answering (a big batch): that is not an outage.
                        progress, deadline = self._done, self.clock() + wait
                        continue
                    if left <= 0:
                        self._go_down(f"no answer within {wait:.1f}s")
                        break
                    self._cv.wait(left)
            if self._spill is not None:
                self._spill.sync()

    def start_closing(self) -> None:
        with self._cv:
            if self._closing:
                return
            self._closing = True
            if self._state == "up":
                self._seq += 1
                self._queue.append((self._seq, _Flush(True)))
            self._cv.notify_all()

    def finish(self, wait: float) -> list[str]:
        """Shut down within `wait`: an up sink writes and flushes its queue and closes; a
        down one keeps its spill file for the next run. Lines naming what is left."""
        deadline = self.clock() + wait
        self.start_closing()
        self._thread.join(max(0.0, deadline - self.clock()))
        with self._cv:
            self._stop_now = True
            if self._thread.is_alive() and self._state == "up":
                self._go_down(f"did not finish within {wait:.1f}s")
            self._cv.notify_all()
            return self._leftovers()

    # ---- the lane's thread ---------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cv:
                item = self._next_item()
                if item is None:
                    break
            if item == "replay":
                self._recover()
                continue
            seq, body = item
            try:
                if isinstance(body, _Flush):
                    self.sink.flush(final=body.final)
                else:
                    self.sink.write_updates(body)
            except Exception as exc:  # SinkError, or a driver error a sink let through
                with self._cv:
                    if self._state == "up":
                        self._go_down(_reason(exc))
                continue
            with self._cv:
                if self._state != "up":  # spilled meanwhile (too slow): the spill holds it
                    continue
                if isinstance(body, _Flush):
                    self._unflushed.clear()
                else:
                    self._unflushed.append(body)
                self._in_flight = None
                self._done = seq
                self._cv.notify_all()
        self._close_sink()

    def _next_item(self) -> _Item | Literal["replay"] | None:
        """Under the lock: the next batch or flush, "replay" when a retry is due, or None when
        the lane is closing and has nothing left it may do."""
        while True:
            if self._stop_now:
                return None
            if self._state == "up":
                if self._queue:
                    item = self._queue.popleft()
                    if not isinstance(item[1], _Flush):
                        self._in_flight = item[1]
                    return item
                if self._closing:
                    return None
                self._cv.wait()
                continue
            if self._state == "recovering":
                return "replay"
            if self._closing:  # down at shutdown: one last try, then the spill stays
                self._state = "recovering"
                return "replay"
            left = self._retry_at - self.clock()
            if left <= 0:
                self._state = "recovering"
                return "replay"
            self._cv.wait(left)

    def _recover(self) -> None:
        """Replay the spill files in order into the sink; up again once nothing is left."""
        replayed = 0
        try:
            while not self._stop_now:
                with self._cv:
                    if self._replay:
                        path = self._replay[0]
                    elif self._spill is not None and self._offset < self._spill.size:
                        path = self._spill.path
                    else:
                        path = None
                if path is None:
                    self.sink.flush()
                    with self._cv:
                        spill = self._spill
                        if spill is not None and self._offset < spill.size:
                            continue  # more spilled meanwhile
                        if spill is not None:
                            spill.truncate()
                        self._offset = 0
                        self._state = "up"
                        self._backoff.reset()
                        self._cv.notify_all()
                    log.info("sink %s is back: replayed %d records from its spill file",
                             self.name, replayed)  # fmt: skip
                    return
                replayed += self._replay_file(path)
        except Exception as exc:
            with self._cv:
                self._state = "down"
                delay = self._backoff.next_delay()
                self._retry_at = self.clock() + delay
                if self._closing:
                    self._stop_now = True
            log.warning("sink %s is still down (%s); retry in %.1fs", self.name, _reason(exc),
                        delay)  # fmt: skip

    def _replay_file(self, path: Path) -> int:
        current = self._spill is not None and path == self._spill.path
        with path.open("rb") as handle:
            offset = self._offset if current else 0
            count = 0
            batches = read_batches(handle.fileno(), offset)
            for done, (records, end) in enumerate(batches, 1):
                if self._stop_now:
                    break
                self.sink.write_updates(records)
                count += len(records)
                if done % self.settings.replay_flush_every == 0:
                    self.sink.flush()
                if current:
                    self._offset = end
            else:
                if not current:
                    self.sink.flush()
                    path.unlink(missing_ok=True)
                    with self._cv:
                        self._replay.pop(0)
        return count

    def _close_sink(self) -> None:
        try:
            self.sink.close()
        except Exception as exc:
            with self._cv:
                if self._state == "up":
                    self._go_down(f"close failed: {_reason(exc)}")
        with self._cv:
            if self._spill is not None:
                self._spill.sync()
            self._cv.notify_all()

    # ---- under the lock ------------------------------------------------------------------------

    def _spill_file(self) -> SpillFile:
        if self._spill is None:
            self._spill = SpillFile(spill_path(self._folder, self.name))
        return self._spill

    def _go_down(self, problem: str) -> None:
        """Move everything not yet durable in the sink (written but not flushed, in flight,
        queued) to the spill file, in order. A sink may get some of it twice on replay: every
        sink recognises a record it already stored (design: idempotency keys)."""
        spill = self._spill_file()
        for batch in self._unflushed:
            spill.append(batch)
        if self._in_flight is not None:
            spill.append(self._in_flight)
        for _, body in self._queue:
            if not isinstance(body, _Flush):
                spill.append(body)
        self._done = self._seq
        self._unflushed.clear()
        self._in_flight = None
        self._queue.clear()
        self._state = "down"
        delay = self._backoff.next_delay()
        self._retry_at = self.clock() + delay
        self.problem = problem
        self._cv.notify_all()
        log.warning("sink %s is down (%s): its records go to %s; retry in %.1fs",
                    self.name, problem, spill.path, delay)  # fmt: skip

    def _leftovers(self) -> list[str]:
        lines = []
        files = list(self._replay)
        if self._spill is not None:
            spill, self._spill = self._spill, None
            spill.sync()
            kept = spill.size > self._offset
            spill.close()
            if kept:
                if self._offset:  # what was replayed already must not be replayed again
                    _drop_head(spill.path, self._offset)
                files.append(spill.path)
            else:
                spill.path.unlink(missing_ok=True)
        for path in files:
            if path.exists() and path.stat().st_size:
                lines.append(
                    f"sink {self.name} is still down ({self.problem or 'no answer'}): its "
                    f"records are kept in {path}; the next run replays them first"
                )
        return lines


def _drop_head(path: Path, offset: int) -> None:
    """Keep only what follows `offset`, atomically (a crash leaves the old file whole)."""
    partial = path.with_suffix(".partial")
    partial.write_bytes(path.read_bytes()[offset:])
    with partial.open("rb") as handle:
        os.fsync(handle.fileno())
    partial.replace(path)


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
