"""The FanDuel simulator on 127.0.0.1 in the test loop (beside conftest's DraftKings one)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace

from aiohttp import web

from snuper.providers.fanduel import PROVIDER as FANDUEL
from snuper.providers.fanduel.sim import FanDuelSim, Scenario
from snuper.sim.options import SimOptions
from snuper.sim.server import RunningSim, start_sim
from tests.e2e.cli import FROZEN_DAY


@asynccontextmanager
async def fanduel_sim(
    options: SimOptions, scenarios: Mapping[str, Scenario] | None = None
) -> AsyncIterator[tuple[RunningSim, FanDuelSim]]:
    """Serves the frozen day's slate."""
    options = replace(options, slate_day=options.slate_day or FROZEN_DAY)
    app = web.Application()
    sim = FanDuelSim(options, scenarios)
    sim.mount(app)
    running = await start_sim(options, app=app, providers=[FANDUEL])
    try:
        yield running, sim
    finally:
        await running.close()
