"""rss_mib_200_events: peak resident memory (VmHWM) of one `snuper -t monitor` process holding
200 live events (1,200 selections) while a loopback server sends 500 updates/s."""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
from pathlib import Path

from bench.common import cli_env, snuper_command
from bench.feeds import draftkings_env, feed_server
from bench.monitor import count_odds, decoded, expected_changes, write_snapshot
from bench.parse import record_frames
from bench.registry import Figure, Progress, figure
from snuper.watch import Watchlist

EVENTS = 200
RATE = 500.0
N_FRAMES = 4000  # eight seconds at RATE
TARGET_MIB = 150.0


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/{pid}/status")


async def _run(progress: Progress) -> Figure:
    frames, snapshot = record_frames(N_FRAMES, seed=11, selections=EVENTS * 6)
    if len(snapshot.events) != EVENTS:
        raise RuntimeError(f"the snapshot holds {len(snapshot.events)} events, not {EVENTS}")
    expected = expected_changes(frames, Watchlist.from_snapshot(snapshot))
    progress(f"{EVENTS} events, {len(frames)} frames at {RATE:,.0f}/s; {expected} changes")
    with tempfile.TemporaryDirectory(prefix="snuper-bench-") as out:
        root = Path(out)
        write_snapshot(root, snapshot)
        async with feed_server(decoded(frames), RATE) as base:
            args = ["-t", "monitor", "-p", "draftkings", "-l", "nba", "-o", out]
            process = await asyncio.create_subprocess_exec(
                *snuper_command(), *args, env=cli_env(draftkings_env(base)),
                stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            deadline = time.perf_counter() + N_FRAMES / RATE + 30
            count = 0
            while time.perf_counter() < deadline and process.returncode is None:
                await asyncio.sleep(0.25)
                count = count_odds(root)
                if count >= expected:
                    break
            if process.returncode is not None:
                _, err = await process.communicate()
                raise RuntimeError(f"the monitor ended early:\n{err.decode()[-3000:]}")
            peak = _status_kib(process.pid, "VmHWM") / 1024
            now = _status_kib(process.pid, "VmRSS") / 1024
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.communicate(), 30)
    if count < expected:
        raise RuntimeError(f"{count}/{expected} records written")
    progress(f"{count} records; resident {now:.1f} MiB now, {peak:.1f} MiB at the peak")
    detail = {"events": EVENTS, "records": count, "rss_end_mib": round(now, 1)}
    return Figure("rss_mib_200_events", peak, TARGET_MIB, "lower", "MiB", detail)


@figure("rss_mib_200_events")
def rss_mib_200_events(progress: Progress) -> Figure:
    return asyncio.run(_run(progress))
