"""Starting bench.feed_server in its own process, and pointing a monitor at it."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgpack

START_TIMEOUT_S = 30.0


@contextlib.asynccontextmanager
async def feed_server(bodies: list[list[Any]], rate: float = 0.0) -> AsyncIterator[str]:
    """Serve `bodies` (decoded update frames) at `rate` per second (0: as fast as taken);
    yields the server's base URL (http://127.0.0.1:PORT); the process ends on exit."""
    with tempfile.TemporaryDirectory(prefix="snuper-bench-feed-") as folder:
        frames = Path(folder) / "frames.msgpack"
        frames.write_bytes(msgpack.packb(bodies, datetime=True))
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.feed_server", str(frames), "--rate", str(rate),
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_S)
            if not line.startswith(b"PORT "):
                raise RuntimeError(f"the feed server did not start (said {line!r})")
            yield f"http://127.0.0.1:{int(line.split()[1])}"
        finally:
            if process.returncode is None:
                process.terminate()
            await process.wait()


def draftkings_env(base: str) -> dict[str, str]:
    """The environment that points the DraftKings provider at a bench feed server."""
    return {
        "SNUPER_DRAFTKINGS_SITE": base,
        "SNUPER_DRAFTKINGS_API": base,
        "SNUPER_DRAFTKINGS_WS": base.replace("http://", "ws://") + "/websocket",
    }
