"""monitor_fs_updates_per_s: a loopback server offering DraftKings update frames as fast as the
monitor takes them over a real websocket, end to end into the fs sink (records counted in files)."""

from __future__ import annotations

import asyncio
import signal
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import msgpack
from aiohttp import WSMsgType, web

from bench.common import FROZEN_NOW, cli_env, snuper_command
from bench.parse import RECEIVED_AT, SUB_ID, record_frames
from bench.registry import Figure, Progress, figure
from snuper.providers.draftkings.parse import FrameDecoder
from snuper.slate import today_slate
from snuper.watch import Watchlist

N_FRAMES = 30_000
TIMEOUT_S = 90.0


def _expected_changes(frames: list[bytes], watch: Watchlist) -> int:
    decoder = FrameDecoder()
    decoder.track(SUB_ID, "events", initial_data=False)
    n = 0
    for raw in frames:
        batch = decoder.decode(raw)
        n += sum(1 for u in watch.apply(batch.items, batch.source_ts, RECEIVED_AT) if u)
    return n


def _count_odds(root: Path) -> int:
    total = 0
    for path in (root / "draftkings" / "odds").glob("*.json"):
        total += path.read_bytes().count(b'"type":"odds"')
    return total


async def _run(progress: Progress) -> tuple[float, dict[str, float]]:
    frames, snapshot = record_frames(N_FRAMES, seed=3)
    expected = _expected_changes(frames, Watchlist.from_snapshot(snapshot))
    progress(f"recorded {len(frames)} frames; {expected} odds changes expected")
    bodies = [msgpack.unpackb(f, timestamp=3, strict_map_key=False) for f in frames]
    sent_at: list[float] = []

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                continue
            rpc = msgpack.unpackb(msg.data)
            sub_id = rpc.get("id")
            ts = msgpack.Timestamp.from_datetime(datetime.now(UTC))
            await ws.send_bytes(msgpack.packb([sub_id, "subscribed", None, None, [ts, 0]]))
            packed = []
            for body in bodies:
                body[0] = sub_id
                packed.append(msgpack.packb(body, datetime=True))
            sent_at.append(time.perf_counter())
            for raw in packed:
                await ws.send_bytes(raw)
            break
        await asyncio.sleep(TIMEOUT_S)  # keep the socket open until the monitor is stopped
        return ws

    app = web.Application()
    app.router.add_get("/websocket", websocket)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    base = f"http://{host}:{port}"
    env = cli_env(
        {
            "SNUPER_DRAFTKINGS_SITE": base,
            "SNUPER_DRAFTKINGS_API": base,
            "SNUPER_DRAFTKINGS_WS": f"ws://{host}:{port}/websocket",
        }
    )
    try:
        with tempfile.TemporaryDirectory(prefix="snuper-bench-") as out:
            root = Path(out)
            events = root / "draftkings" / "events"
            events.mkdir(parents=True)
            (events / f"{today_slate(FROZEN_NOW)}-nba.json").write_bytes(snapshot.to_json())
            args = ["-t", "monitor", "-p", "draftkings", "-l", "nba", "-o", out, "-i", "0.2"]
            process = await asyncio.create_subprocess_exec(
                *snuper_command(), *args, env=env, stderr=asyncio.subprocess.PIPE
            )
            deadline = time.perf_counter() + TIMEOUT_S
            count = 0
            while time.perf_counter() < deadline and process.returncode is None:
                await asyncio.sleep(0.1)
                count = _count_odds(root)
                if count >= expected:
                    break
            done = time.perf_counter()
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(process.communicate(), 30)
            if not sent_at or count < expected:
                raise RuntimeError(
                    f"{count}/{expected} records written; monitor log:\n{err.decode()[-3000:]}"
                )
            took = done - sent_at[0]
            behind = err.decode().count("behind")
            progress(f"{count} records in {took:.2f} s; 'behind' logged {behind} times")
    finally:
        await runner.cleanup()
    return count / took, {"records": count, "seconds": took, "behind_logged": behind}


@figure("monitor_fs_updates_per_s")
def monitor_fs_updates_per_s(progress: Progress) -> Figure:
    rate, detail = asyncio.run(_run(progress))
    return Figure("monitor_fs_updates_per_s", rate, 50_000, "higher", "/s", dict(detail))
