"""replay_updates_per_s and archive_bytes_per_update: the monitor benchmark's 30,000 recorded
DraftKings frames, archived as a live monitor archives them, then `snuper replay --max` into the
fs sink (a real subprocess; the clock starts at its "replaying" line, as the live figure's starts
at "connected"). Its target is the live figure (monitor_fs_updates_per_s) of the same bench run,
measured first when this figure runs alone: a replay must keep up with the monitor on the same
machine. Beside them: the archive's size against the records it re-derives."""

from __future__ import annotations

import asyncio
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bench.common import FROZEN_NOW, cli_env, snuper_command
from bench.monitor import (
    LAST_LIVE,
    N_FRAMES,
    count_odds,
    expected_changes,
    monitor_fs_updates_per_s,
    write_snapshot,
)
from bench.parse import SUB_ID, record_frames
from bench.registry import Figure, Progress, figure
from snuper.archive.segment import CONNECT, RECEIVED, SENT
from snuper.archive.stores import FsSegments
from snuper.archive.writer import Archive
from snuper.model import Snapshot
from snuper.providers.draftkings.parse import subscribe_message
from snuper.slate import today_slate
from snuper.watch import Watchlist

BYTES_TARGET = 200.0  # an odds record is ~400 bytes of JSON: the archive must cost less
TIMEOUT_S = 120.0


def archive_frames(root: Path, frames: list[bytes], snapshot: Snapshot) -> int:
    """Archive the frames as one connection's, a millisecond apart; the archive's bytes."""
    write_snapshot(root, snapshot)
    archive = Archive(FsSegments(root), run="bench")
    league = archive.league("draftkings", "nba", today_slate(FROZEN_NOW))
    league.keep(CONNECT, 1, FROZEN_NOW, b"")
    subscribe = subscribe_message(SUB_ID, league_id="42648", subcategory_id="4511",
                                  site_name="dkusnj", initial_data=False)  # fmt: skip
    league.keep(SENT, 1, FROZEN_NOW, subscribe)
    for i, frame in enumerate(frames):
        league.keep(RECEIVED, 1, FROZEN_NOW + timedelta(milliseconds=i), frame)
    if archive.close(60.0):
        raise RuntimeError("the archive did not close")
    return sum(p.stat().st_size for p in (root / "draftkings" / "raw").rglob("*.raw.gz"))


async def _replay(source: Path, out: Path) -> tuple[float, str]:
    args = ["replay", "-p", "draftkings", "-l", "nba", "--from", str(source), "-o", str(out),
            "--max"]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *snuper_command(), *args, env=cli_env({}), stderr=asyncio.subprocess.PIPE
    )
    assert process.stderr is not None
    while b"replaying slate" not in (line := await process.stderr.readline()):
        if not line:
            raise RuntimeError("the replay ended before it started")
    started = time.perf_counter()
    err = await asyncio.wait_for(process.stderr.read(), TIMEOUT_S)
    await process.wait()
    took = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"replay exited {process.returncode}:\n{err.decode()[-3000:]}")
    return took, err.decode()


@figure("replay")
def replay_figures(progress: Progress) -> list[Figure]:
    if not LAST_LIVE:
        progress("measuring the live figure first (the replay's target)")
        monitor_fs_updates_per_s(progress)
    live = LAST_LIVE[0]
    frames, snapshot = record_frames(N_FRAMES, seed=3)
    expected = expected_changes(frames, Watchlist.from_snapshot(snapshot))
    with tempfile.TemporaryDirectory(prefix="snuper-bench-") as folder:
        source, out = Path(folder) / "live", Path(folder) / "replay"
        size = archive_frames(source, frames, snapshot)
        raw = sum(map(len, frames))
        progress(f"archived {len(frames)} frames ({raw:,} bytes) in {size:,} bytes; "
                 f"{expected} odds changes expected")  # fmt: skip
        took, _ = asyncio.run(_replay(source, out))
        count = count_odds(out)
    if count != expected:
        raise RuntimeError(f"the replay wrote {count} records, expected {expected}")
    rate = count / took
    progress(f"{count} records replayed in {took:.2f} s ({rate:,.0f}/s)")
    detail = {"records": count, "seconds": round(took, 3), "frames": len(frames),
              "live_updates_per_s": round(live), "of_live": round(rate / live, 2)}  # fmt: skip
    sizes = {"archive_bytes": size, "frame_bytes": raw, "records": count,
             "compression": round(raw / size, 2)}  # fmt: skip
    return [
        Figure("replay_updates_per_s", rate, round(live), "higher", "/s", detail),
        Figure("archive_bytes_per_update", size / count, BYTES_TARGET, "lower", "B", sizes),
    ]
