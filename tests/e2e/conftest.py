"""End-to-end fixtures: a simulator on 127.0.0.1 in the test loop; the CLI in a subprocess."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace

import pytest
from aiohttp import web

from snuper.providers.draftkings import PROVIDER as DRAFTKINGS
from snuper.providers.draftkings.sim import DraftKingsSim, Scenario
from snuper.sim.options import SimOptions
from snuper.sim.server import RunningSim, start_sim
from tests.e2e.cli import FROZEN_DAY

SimFactory = Callable[..., AbstractAsyncContextManager[tuple[RunningSim, DraftKingsSim]]]


@asynccontextmanager
async def draftkings_sim(
    options: SimOptions, scenarios: Mapping[str, Scenario] | None = None
) -> AsyncIterator[tuple[RunningSim, DraftKingsSim]]:
    options = replace(options, slate_day=options.slate_day or FROZEN_DAY)
    app = web.Application()
    sim = DraftKingsSim(options, scenarios)
    sim.mount(app)
    running = await start_sim(options, app=app, providers=[DRAFTKINGS])
    try:
        yield running, sim
    finally:
        await running.close()


@pytest.fixture
def dk_sim() -> SimFactory:
    return draftkings_sim
