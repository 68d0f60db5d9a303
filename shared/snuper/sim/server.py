"""One local web server that mounts every provider's simulated site (design.md §5)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from aiohttp import web

from snuper.config import endpoint_var
from snuper.sim.options import SimOptions

if TYPE_CHECKING:
    from snuper.providers.base import Provider

log = logging.getLogger("snuper.sim")

SHUTDOWN_TIMEOUT_S = 2.0  # open websockets are closed on shutdown; do not wait aiohttp's minute


def _all_providers() -> list[Provider]:
    # Imported here: the providers import their sims, which import snuper.sim.
    from snuper.providers import PROVIDERS

    return list(PROVIDERS.values())


def build_app(options: SimOptions, providers: Iterable[Provider] | None = None) -> web.Application:
    """An app with each provider's simulated routes mounted (default: every registered one)."""
    app = web.Application()
    for provider in _all_providers() if providers is None else providers:
        provider.mount_sim(app, options)
    return app


@dataclass
class RunningSim:
    base_url: str
    app: web.Application
    exports: dict[str, str]  # env var -> URL on this simulator
    runner: web.AppRunner | None = field(default=None, repr=False)

    async def close(self) -> None:
        if self.runner is not None:
            runner, self.runner = self.runner, None
            await runner.cleanup()


async def start_sim(
    options: SimOptions,
    *,
    app: web.Application | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    providers: Iterable[Provider] | None = None,
) -> RunningSim:
    """Start listening (port 0 = a free port). `app` lets a test serve an app it built itself;
    `providers` selects what is mounted and exported (an explicit [] exports nothing)."""
    chosen = _all_providers() if providers is None else list(providers)
    if app is None:
        app = build_app(options, chosen)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        bound_host, bound_port = runner.addresses[0][:2]
    except BaseException:
        await runner.cleanup()
        raise
    base_url = f"http://{bound_host}:{bound_port}"
    exports = {
        endpoint_var(provider.name, name): url
        for provider in chosen
        for name, url in provider.sim_exports(base_url).items()
    }
    return RunningSim(base_url, app, exports, runner)


def run_sim(
    options: SimOptions,
    *,
    port: int = 0,
    out: TextIO = sys.stdout,
    providers: Iterable[Provider] | None = None,
) -> int:
    """Blocking: serve until SIGINT/SIGTERM, after printing one `export` line per endpoint."""
    if not logging.getLogger().handlers:
        logging.basicConfig(
            stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
        )
    return asyncio.run(_serve(options, port, out, providers))


async def _serve(
    options: SimOptions, port: int, out: TextIO, providers: Iterable[Provider] | None
) -> int:
    running = await start_sim(options, port=port, providers=providers)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError, ValueError):
            pass  # not the main thread (or no signals here): the caller stops us otherwise
    try:
        for var, url in running.exports.items():
            out.write(f"export {var}={url}\n")
        out.flush()  # a parent process waits for these lines before it starts its clients
        log.info("simulators listening on %s (speed %sx)", running.base_url, options.speed)
        await stop.wait()
        log.info("stopping the simulators")
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        await running.close()
    return 0
