"""latency_ms_p50 / latency_ms_p99: at a steady 1,000 updates/s, from the server's send time of
a change to that change being durable (written and fsynced) in the fs sink.

The server (its own process) stamps each frame's publishedTime with its send time, so every
record's source_ts says when its change left the server (to the millisecond, truncated: the
figures can only be over by < 1 ms). The monitor runs in this process, the real app.monitor
with the real fs sink, wrapped only to note the moment each flush that covers a record returns.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from bench.common import FROZEN_NOW
from bench.feeds import draftkings_env, feed_server
from bench.monitor import decoded, expected_changes, write_snapshot
from bench.parse import record_frames
from bench.registry import Figure, Progress, figure
from snuper import app
from snuper.config import MonitorSettings, Settings
from snuper.model import OddsUpdate, Record
from snuper.providers import PROVIDERS
from snuper.sinks.fs import FsSink
from snuper.slate import parse_iso, wall_clock
from snuper.watch import Watchlist

RATE = 1000.0
N_FRAMES = 5000  # five seconds at RATE
TARGET_P99_MS = 50.0


class StampedFsSink(FsSink):
    """The fs sink, noting when each odds record became durable (its flush returned)."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.pending: list[str] = []
        self.latencies_ms: list[float] = []

    def write_updates(self, records: Sequence[Record]) -> None:
        super().write_updates(records)
        self.pending.extend(
            r.source_ts for r in records if isinstance(r, OddsUpdate) and r.source_ts
        )

    def flush(self, *, final: bool = False) -> None:
        super().flush(final=final)
        durable = time.time()
        self.latencies_ms.extend(
            (durable - parse_iso(ts).timestamp()) * 1000 for ts in self.pending
        )
        self.pending.clear()


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def _run(progress: Progress) -> list[Figure]:
    frames, snapshot = record_frames(N_FRAMES, seed=5)
    expected = expected_changes(frames, Watchlist.from_snapshot(snapshot))
    progress(f"{len(frames)} frames at {RATE:,.0f}/s; {expected} odds changes expected")
    with tempfile.TemporaryDirectory(prefix="snuper-bench-") as out:
        root = Path(out)
        write_snapshot(root, snapshot)
        sink = StampedFsSink(root)
        async with feed_server(decoded(frames), RATE) as base:
            with environment(draftkings_env(base)):
                stop = asyncio.Event()
                settings = Settings(monitor=MonitorSettings(interval=1.0))
                monitor = asyncio.create_task(
                    app.monitor([PROVIDERS["draftkings"]], ["nba"], sink, settings, stop,
                                now=wall_clock(FROZEN_NOW))
                )  # fmt: skip
                deadline = time.perf_counter() + N_FRAMES / RATE + 30
                while len(sink.latencies_ms) < expected and time.perf_counter() < deadline:
                    if monitor.done():
                        break
                    await asyncio.sleep(0.1)
                stop.set()
                await monitor
    got = sink.latencies_ms
    if len(got) < expected:
        raise RuntimeError(f"only {len(got)}/{expected} records became durable")
    p50, p99 = percentile(got, 0.50), percentile(got, 0.99)
    progress(f"{len(got)} records: p50 {p50:.1f} ms, p99 {p99:.1f} ms, max {max(got):.1f} ms")
    detail = {"records": len(got), "rate_per_s": RATE, "max_ms": round(max(got), 1)}
    return [
        Figure("latency_ms_p50", p50, TARGET_P99_MS, "lower", "ms", detail),
        Figure("latency_ms_p99", p99, TARGET_P99_MS, "lower", "ms", detail),
    ]


@figure("latency_ms")
def latency_ms(progress: Progress) -> list[Figure]:
    return asyncio.run(_run(progress))
