"""The live archive: the monitor hands over each message as it arrives; a daemon thread of its own
compresses and writes them into segments, so the receive loop only appends to a queue.

A segment holds one provider and league, and never spans an hour (UTC) of receive times; a store
that cannot append (S3) closes its segments more often (`max_open_s`). A segment is closed and
made durable when it rotates and when the archive closes at shutdown. The queue is bounded like
the sink's: past `limit` messages waiting, the monitor waits for room (and says so once).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import threading
import time
import zlib
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from snuper.archive.segment import (
    CONNECT,
    EPOCH,
    HEADER,
    ONE_US,
    RECEIVED,
    SENT,
    Kind,
    encode_entry,
    header_payload,
    micros,
    moment,
    segment_name,
)
from snuper.archive.stores import SegmentFile, SegmentStore

log = logging.getLogger("snuper.archive")

HOUR_US = 3_600 * 1_000_000
NICE = 10  # the writer thread's scheduling priority (lower than the monitor's 0)
LIMIT = 10_000  # messages waiting for the writer thread before the monitor waits
BATCH_S = 0.2  # how often the writer thread takes what waits (at most this much is at risk)
MAX_SEGMENT_BYTES = 256 << 20  # uncompressed: a burst of huge poll answers still rotates
# zlib level 1: 2.4 µs per DraftKings frame against 4.6 at level 6, for 37 bytes per update
# instead of 28; the archive's thread shares the CPU with the monitor, so speed wins.
LEVEL = 1

__all__ = ["CONNECT", "RECEIVED", "SENT", "Archive", "LeagueArchive"]

END = -1  # an entry index that closes its segment (LeagueArchive.tick)
# (league archive, segment name, entry index, kind, connection, receive time, payload)
_Item = tuple["LeagueArchive", str, int, Kind, int, int, bytes | str]


@dataclass(slots=True, eq=False)
class _Open:
    """A segment being written: its file, compressor, and bytes the store has not taken yet."""

    name: str
    file: SegmentFile
    deflate: zlib._Compress = field(
        default_factory=lambda: zlib.compressobj(LEVEL, zlib.DEFLATED, 31)
    )
    owed: bytearray = field(default_factory=bytearray)
    finished: bool = False  # the gzip trailer is made (it may still be owed)


class LeagueArchive:
    """One provider and league's share of the archive: names segments, numbers entries."""

    def __init__(self, archive: Archive, provider: str, league: str, slate: str) -> None:
        self.archive = archive
        self.provider, self.league, self.slate = provider, league, slate
        self.segment = ""
        self.index = 0
        self.part = -1
        self._opened_us = 0
        self._close_at = 0  # receive time (µs) at which the open segment closes
        self._size = 0
        self._max_open_us = (
            None if archive.store.max_open_s is None else int(archive.store.max_open_s * 1e6)
        )

    @property
    def where(self) -> str:
        return self.archive.store.where(self.provider, self.league)

    def _due(self, at_us: int) -> bool:
        """Must the open segment close before an entry received at `at_us`? (The next hour or
        the store's max_open_s; a clock set back stays in the open segment, whose entries keep
        the order received. One comparison on the hot path.)"""
        return at_us >= self._close_at or self._size > MAX_SEGMENT_BYTES

    def keep(self, kind: Kind, conn: int, at: datetime, payload: bytes | str) -> str:
        """Queue one entry; its `raw_ref` (`<segment>#<index>`), known at once."""
        at_us = (at - EPOCH) // ONE_US  # segment.micros, inline: once per message
        if at_us >= self._close_at or self._size > MAX_SEGMENT_BYTES:  # _due, inline
            self._rotate(at_us)
        self.index += 1
        self._size += len(payload)
        if self.archive.dead:  # the writer failed: counted, as close() reports
            self.archive.dropped += 1
        else:
            item = (self, self.segment, self.index, kind, conn, at_us, payload)
            self.archive.pending.append(item)
        return f"{self.segment}#{self.index}"

    def tick(self, at: datetime) -> None:
        """A quiet feed still closes its segment when the hour turns (or when the store's
        max_open_s passes), instead of holding it open until the next message."""
        if self.segment and self._close_at > 0 and self._due(micros(at)):
            self.archive.pending.append((self, self.segment, END, HEADER, 0, 0, b""))
            self._close_at = 0  # the next entry opens a new segment

    def _rotate(self, at_us: int) -> None:
        self.part += 1
        self._opened_us, self._size, self.index = at_us, 0, 0
        self._close_at = (at_us // HOUR_US + 1) * HOUR_US
        if self._max_open_us is not None:
            self._close_at = min(self._close_at, at_us + self._max_open_us)
        opened = moment(at_us)
        self.segment = segment_name(self.slate, opened, self.archive.run, self.part)
        head = header_payload(self.provider, self.league, self.slate, opened)
        self.archive.pending.append((self, self.segment, 0, HEADER, 0, at_us, head))

    @property
    def full(self) -> bool:
        return self.archive.full

    async def room(self, stop: asyncio.Event) -> None:
        await self.archive.room(f"{self.provider} {self.league}", stop)


class Archive:
    def __init__(
        self,
        store: SegmentStore,
        *,
        limit: int = LIMIT,
        batch_s: float = BATCH_S,
        run: str | None = None,
    ) -> None:
        self.store = store
        self.limit = limit
        self.batch_s = batch_s
        self.run = run or secrets.token_hex(2)  # tells two runs' segments of one second apart
        self.pending: deque[_Item] = deque()
        self.archived = 0  # entries handed to the compressor
        self.dropped = 0  # entries of a segment the store could not create
        self._owed = 0  # bytes the store has not taken for good yet (set by the thread)
        self.dead = False  # the writer thread failed: nothing more is archived
        self._in_hand = 0  # entries taken from the queue and not yet written
        self._retry_at = 0.0  # when the next try of a segment the store refused is due
        self._retry_s = batch_s
        self._open: dict[LeagueArchive, _Open] = {}
        self._stuck: list[tuple[LeagueArchive, _Open]] = []  # closed, but the store refused
        self._closing = threading.Event()
        self._behind = False
        self._failing: str | None = None
        self._thread = threading.Thread(target=self._run, name="archive", daemon=True)
        self._thread.start()

    def league(self, provider: str, league: str, slate: str) -> LeagueArchive:
        return LeagueArchive(self, provider, league, slate)

    @property
    def full(self) -> bool:
        return len(self.pending) >= self.limit or self._owed > MAX_SEGMENT_BYTES

    async def room(self, name: str, stop: asyncio.Event) -> None:
        """Wait until the writer has room, but not past a stop (the shutdown must begin; what
        is still queued then is written by close, or counted)."""
        if self.dead:
            return
        if not self._behind:
            self._behind = True
            log.warning("%s: the archive is behind (%d messages waiting); receiving waits",
                        name, len(self.pending))  # fmt: skip
        while self.full and self._thread.is_alive() and not stop.is_set():
            await asyncio.sleep(0.01)
        self._behind = False

    def close(self, timeout: float) -> int:
        """Write what waits and close every segment, within `timeout` seconds; returns how many
        messages were not archived (0 when everything is durable)."""
        self._closing.set()
        self._thread.join(timeout)
        left = len(self.pending) + self.dropped
        try:  # after a timeout the thread may still change these
            unclosed = [s.name for s in list(self._open.values())]
            unclosed += [s.name for _, s in list(self._stuck)]
        except RuntimeError:
            unclosed = ["(unknown)"]
        if self._thread.is_alive() or left or unclosed:
            log.error("archive: %d messages not archived, segments not closed: %s; %s", left,
                      ", ".join(unclosed) or "none",
                      self._failing or "the store did not take them in time")  # fmt: skip
            return left + len(unclosed)
        return 0

    # ---- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # Linux: a thread is a task
            # Below the receive loop and the sink: on a busy core the archive waits, not them.
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
        try:
            self._loop()
        except Exception:  # a bug: said loudly; the monitor goes on, and close() counts
            log.exception("archive: the writer failed; messages from now on are not archived")
            self.dead = True
            self.dropped += self._in_hand

    def _loop(self) -> None:
        while True:
            closing = self._closing.is_set()  # read before draining: nothing queued is missed
            items = self._take()
            self._in_hand = len(items)
            self._write(items)
            self._in_hand = 0
            if self._stuck and (closing or time.monotonic() >= self._retry_at):
                for league, segment in list(self._stuck):
                    self._finish(league, segment)
                # A store that keeps refusing is asked less and less often (up to 30 s).
                self._retry_s = min(30.0, self._retry_s * 2) if self._stuck else self.batch_s
                self._retry_at = time.monotonic() + self._retry_s
            segments = [*self._open.values(), *(segment for _, segment in self._stuck)]
            # Memory held for the store: what it has not taken, and whole S3 segments waiting.
            self._owed = sum(len(s.owed) + s.file.held for s in segments)
            if closing:
                self._finish_all()
                if not self.pending and not self._open and not self._stuck:
                    return
            self._closing.wait(self.batch_s)

    def _take(self) -> list[_Item]:
        items: list[_Item] = []
        pending = self.pending
        while pending:
            items.append(pending.popleft())
        return items

    def _write(self, items: list[_Item]) -> None:
        chunks: dict[LeagueArchive, list[bytes]] = {}
        for league, name, index, kind, conn, at_us, payload in items:
            current = self._open.get(league)
            if index == END:  # a quiet feed's segment, due to close
                if current is not None and current.name == name:
                    self._flush(current, chunks.pop(league, []))
                    self._finish(league, current)
                continue
            if index == 0:  # a new segment: the league's previous one is complete
                if current is not None:
                    self._flush(current, chunks.pop(league, []))
                    self._finish(league, current)
                current = self._opened(league, name)
            if current is None or current.name != name:
                self.dropped += 1  # its segment could not be created: reported by close()
                continue
            chunks.setdefault(league, []).append(encode_entry(kind, conn, at_us, payload))
            self.archived += 1
        for league, parts in chunks.items():
            self._flush(self._open[league], parts)

    def _opened(self, league: LeagueArchive, name: str) -> _Open | None:
        try:
            opened = _Open(name, self.store.open(league.provider, league.league, name))
        except Exception as exc:  # any store error: said once, and the segment is lost
            self._failed(f"cannot open the segment {name} in {league.where}: {exc}")
            return None
        self._open[league] = opened
        return opened

    def _flush(self, segment: _Open, parts: list[bytes]) -> None:
        if parts:
            segment.owed += segment.deflate.compress(b"".join(parts))
            segment.owed += segment.deflate.flush(zlib.Z_SYNC_FLUSH)
        self._give(segment)

    def _give(self, segment: _Open) -> None:
        if not segment.owed:
            return
        try:
            segment.file.append(bytes(segment.owed))
        except Exception as exc:  # kept in memory, given again next round
            self._failed(f"cannot write the segment {segment.name}: {exc}")
            return
        segment.owed.clear()
        if self._failing is not None:
            log.warning("archive: writing again (%s)", segment.name)
            self._failing = None

    def _finish(self, league: LeagueArchive, segment: _Open) -> None:
        """Complete a segment; one the store refuses now waits in _stuck for the next round."""
        if self._open.get(league) is segment:
            del self._open[league]
        if not segment.finished:
            segment.owed += segment.deflate.flush(zlib.Z_FINISH)
            segment.finished = True
        self._give(segment)
        try:
            if segment.owed:
                raise OSError("its last bytes are not written")
            segment.file.close()
        except Exception as exc:
            self._failed(f"cannot close the segment {segment.name}: {exc}")
            if (league, segment) not in self._stuck:
                self._stuck.append((league, segment))
            return
        if (league, segment) in self._stuck:
            self._stuck.remove((league, segment))
        log.debug("archive: closed %s in %s", segment.name, league.where)

    def _finish_all(self) -> None:
        for league, segment in [*self._stuck, *self._open.items()]:
            self._finish(league, segment)

    def _failed(self, problem: str) -> None:
        """Said once per outage (retries would flood the log), then again once it ends."""
        if self._failing is None:
            log.error("archive: %s; retrying every %gs", problem, self.batch_s)
        else:
            log.debug("archive: %s", problem)
        self._failing = problem
