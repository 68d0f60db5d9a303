"""monitor_fs_updates_per_s: a loopback server (its own process) offering DraftKings update
frames as fast as the monitor takes them over a real websocket, end to end into the fs sink
(records counted in the files). Beside it, in the same run, the reference: a bare websockets
client that only receives the same frames from the same server."""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import msgpack
import websockets

from bench.common import FROZEN_NOW, cli_env, snuper_command
from bench.feeds import draftkings_env, feed_server
from bench.parse import RECEIVED_AT, SUB_ID, record_frames
from bench.registry import Figure, Progress, figure
from snuper.model import Snapshot
from snuper.providers.draftkings.parse import FrameDecoder
from snuper.slate import today_slate
from snuper.watch import Watchlist

N_FRAMES = 30_000
TIMEOUT_S = 90.0
POLL_S = 0.05
# The last live figure of this bench run: replay_updates_per_s is measured against it.
LAST_LIVE: list[float] = []
# With --archive the monitor must keep this share of its rate without (the archive is off the
# receive loop; what remains is one queue append per frame and its thread's share of the CPU).
ARCHIVE_SHARE = 0.9
ARCHIVE_PAIRS = 3


def expected_changes(frames: list[bytes], watch: Watchlist) -> int:
    """How many odds records these frames make from the snapshot's prices."""
    decoder = FrameDecoder()
    decoder.track(SUB_ID, "events", initial_data=False)
    n = 0
    for raw in frames:
        batch = decoder.decode(raw)
        n += sum(1 for u in watch.apply(batch.items, batch.source_ts, RECEIVED_AT) if u)
    return n


def count_odds(root: Path) -> int:
    total = 0
    for path in (root / "draftkings" / "odds").glob("*.json"):
        total += path.read_bytes().count(b'"type":"odds"')
    return total


def decoded(frames: list[bytes]) -> list[list[Any]]:
    return [msgpack.unpackb(f, timestamp=3, strict_map_key=False) for f in frames]


def write_snapshot(root: Path, snapshot: Snapshot) -> None:
    events = root / "draftkings" / "events"
    events.mkdir(parents=True)
    (events / f"{today_slate(FROZEN_NOW)}-nba.json").write_bytes(snapshot.to_json())


async def _bare_receive(base: str, n_frames: int) -> float:
    """Messages per second a websockets client that does nothing else receives."""
    url = base.replace("http://", "ws://") + "/websocket"
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(msgpack.packb({"id": SUB_ID}))
        await ws.recv()  # "subscribed"
        started = time.perf_counter()
        for _ in range(n_frames):
            await ws.recv()
        return n_frames / (time.perf_counter() - started)


async def _monitor(
    base: str, expected: int, snapshot: Snapshot, archive: bool = False
) -> tuple[int, float, int]:
    with tempfile.TemporaryDirectory(prefix="snuper-bench-") as out:
        root = Path(out)
        write_snapshot(root, snapshot)
        args = ["-t", "monitor", "-p", "draftkings", "-l", "nba", "-o", out, "-i", "0.2"]
        if archive:
            args.append("--archive")
        process = await asyncio.create_subprocess_exec(
            *snuper_command(), *args, env=cli_env(draftkings_env(base)),
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert process.stderr is not None
        # The clock starts at the monitor's "connected" line: startup is import_ms's business.
        while b"connected to" not in (line := await process.stderr.readline()):
            if not line:
                raise RuntimeError("the monitor ended before connecting")
        started = time.perf_counter()
        deadline = started + TIMEOUT_S
        count = 0
        while time.perf_counter() < deadline and process.returncode is None:
            await asyncio.sleep(POLL_S)
            count = count_odds(root)
            if count >= expected:
                break
        took = time.perf_counter() - started
        if process.returncode is None:
            process.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(process.communicate(), 30)
        if count < expected:
            raise RuntimeError(f"{count}/{expected} records written; log:\n{err.decode()[-3000:]}")
        return count, took, err.decode().count("behind")


async def _run(progress: Progress, archive: bool = False) -> Figure:
    frames, snapshot = record_frames(N_FRAMES, seed=3)
    expected = expected_changes(frames, Watchlist.from_snapshot(snapshot))
    progress(f"recorded {len(frames)} frames; {expected} odds changes expected")
    bodies = decoded(frames)
    async with feed_server(bodies) as base:
        bare = await _bare_receive(base, len(bodies))
    progress(f"reference: a bare websockets client receives {bare:,.0f} frames/s")
    async with feed_server(bodies) as base:
        count, took, behind = await _monitor(base, expected, snapshot, archive)
    rate = count / took
    share = rate / bare
    progress(f"{count} records in {took:.2f} s ({rate:,.0f}/s, {share:.2f} of the bare receive);"
             f" 'behind' logged {behind} times (files polled every {POLL_S}s)")  # fmt: skip
    detail = {
        "records": count,
        "seconds": round(took, 3),
        "behind_logged": behind,
        "bare_websocket_frames_per_s": round(bare),
        "fraction_of_bare_receive": round(rate / bare, 3),
    }
    key = "monitor_fs_archive_updates_per_s" if archive else "monitor_fs_updates_per_s"
    return Figure(key, rate, 50_000, "higher", "/s", detail)


@figure("monitor_fs_updates_per_s")
def monitor_fs_updates_per_s(progress: Progress) -> Figure:
    measured = asyncio.run(_run(progress))
    LAST_LIVE[:] = [measured.value]
    return measured


@figure("monitor_fs_archive_updates_per_s")
def monitor_fs_archive_updates_per_s(progress: Progress) -> Figure:
    """With --archive, against runs without it in the same minute: pairs of runs, alternated,
    since one run's noise (±10 % here) is as large as the cost being measured."""
    plain, archived = [], []
    for pair in range(ARCHIVE_PAIRS):
        progress(f"pair {pair + 1}/{ARCHIVE_PAIRS}: without --archive")
        plain.append(asyncio.run(_run(progress)).value)
        progress(f"pair {pair + 1}/{ARCHIVE_PAIRS}: with --archive")
        archived.append(asyncio.run(_run(progress, archive=True)).value)
    rate, without = sum(archived) / len(archived), sum(plain) / len(plain)
    detail = {"with_archive": [round(r) for r in archived], "without": [round(r) for r in plain],
              "share_kept": round(rate / without, 3)}  # fmt: skip
    target = round(without * ARCHIVE_SHARE)
    return Figure("monitor_fs_archive_updates_per_s", rate, target, "higher", "/s", detail)
