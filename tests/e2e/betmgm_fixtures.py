"""The BetMGM simulator on 127.0.0.1 in the test loop (beside conftest's DraftKings one)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace

from aiohttp import web

from snuper.providers.betmgm import PROVIDER as BETMGM
from snuper.providers.betmgm.sim import PAGE_SIZE, BetMGMSim, Scenario
from snuper.sim.options import SimOptions
from snuper.sim.server import RunningSim, start_sim
from tests.e2e.cli import FROZEN_DAY


@asynccontextmanager
async def betmgm_sim(
    options: SimOptions,
    scenarios: Mapping[str, Scenario] | None = None,
    *,
    page_size: int = PAGE_SIZE,
) -> AsyncIterator[tuple[RunningSim, BetMGMSim]]:
    """Serves the frozen day's slate; `page_size` caps the fixtures per page (paging tests)."""
    options = replace(options, slate_day=options.slate_day or FROZEN_DAY)
    app = web.Application()
    sim = BetMGMSim(options, scenarios, page_size=page_size)
    sim.mount(app)
    running = await start_sim(options, app=app, providers=[BETMGM])
    try:
        yield running, sim
    finally:
        await running.close()
