"""A loopback DraftKings-style websocket server for the bench, run as its own process so that
its sending does not share the measured process's interpreter.

    python -m bench.feed_server FRAMES --rate R

FRAMES is a msgpack file holding a list of update frames (decoded bodies). The server prints
`PORT <n>` once listening. Each connection sends one subscription's reply, then every frame
with the subscription's id: at R frames per second, each stamped with its send time as
publishedTime (so a record's source_ts is when its change left the server), or with R = 0 as
fast as the socket takes them (packed beforehand, so packing is not what is measured).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgpack
from aiohttp import WSMsgType, web

LINGER_S = 600.0  # keep the socket open until the client leaves


def _stamp(body: list[Any], sub_id: object) -> bytes:
    body[0] = sub_id
    now = datetime.now(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
    metadata = body[2][2]
    metadata["publishedTime"] = metadata["createdTime"] = metadata["receivedTime"] = now
    packed: bytes = msgpack.packb(body, datetime=True)
    return packed


def make_app(bodies: list[list[Any]], rate: float) -> web.Application:
    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type != WSMsgType.BINARY:
                continue
            sub_id = msgpack.unpackb(msg.data).get("id")
            ts = msgpack.Timestamp.from_datetime(datetime.now(UTC))
            await ws.send_bytes(msgpack.packb([sub_id, "subscribed", None, None, [ts, 0]]))
            if rate <= 0:
                packed = [_stamp(body, sub_id) for body in bodies]
                for raw in packed:
                    await ws.send_bytes(raw)
            else:
                started = time.perf_counter()
                for i, body in enumerate(bodies):
                    delay = started + i / rate - time.perf_counter()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await ws.send_bytes(_stamp(body, sub_id))
            break
        await asyncio.sleep(LINGER_S)
        return ws

    app = web.Application()
    app.router.add_get("/websocket", websocket)
    return app


async def serve(frames: Path, rate: float) -> None:
    bodies = msgpack.unpackb(frames.read_bytes(), timestamp=3, strict_map_key=False)
    runner = web.AppRunner(make_app(bodies, rate), access_log=None, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    print(f"PORT {runner.addresses[0][1]}", flush=True)
    try:
        await asyncio.sleep(LINGER_S)
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.feed_server")
    parser.add_argument("frames", type=Path)
    parser.add_argument("--rate", type=float, default=0.0, help="frames per second (0: max)")
    args = parser.parse_args(argv)
    try:
        asyncio.run(serve(args.frames, args.rate))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
