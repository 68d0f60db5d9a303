"""The BetMGM simulator over real sockets, read with plain JSON (never the parser)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from snuper.providers.betmgm import PROVIDER as BETMGM
from snuper.providers.betmgm.sim import ACCESS_ID, BetMGMSim, generate_scenario
from snuper.sim.options import Faults, SimOptions
from snuper.sim.server import RunningSim, start_sim

DAY = date(2026, 12, 1)
NBA = "sportIds=7&competitionIds=6004"


@asynccontextmanager
async def served(
    options: SimOptions, page_size: int = 50
) -> AsyncIterator[tuple[RunningSim, BetMGMSim, aiohttp.ClientSession]]:
    app = web.Application()
    sim = BetMGMSim(options, page_size=page_size)
    sim.mount(app)
    running = await start_sim(options, app=app, providers=[BETMGM])
    try:
        async with aiohttp.ClientSession() as session:
            yield running, sim, session
    finally:
        await running.close()


async def get(
    session: aiohttp.ClientSession, url: str, **headers: str
) -> tuple[int, dict[str, str], bytes]:
    async with session.get(url, headers=headers) as response:
        return response.status, dict(response.headers), await response.read()


def fixtures_url(base: str, skip: int = 0, take: int = 50, access: bool = True) -> str:
    key = f"x-bwin-accessid={ACCESS_ID}&" if access else ""
    return f"{base}/cds-api/bettingoffer/fixtures?{key}lang=en-us&take={take}&skip={skip}&{NBA}"


async def test_the_api_requires_the_access_id_from_clientconfig() -> None:
    async with served(SimOptions(slate_day=DAY)) as (running, sim, session):
        status, _, _ = await get(session, fixtures_url(running.base_url, access=False))
        assert status == 403 and sim.forbidden == 1
        status, _, body = await get(session, f"{running.base_url}/en/api/clientconfig")
        assert status == 200
        assert json.loads(body)["msApp"]["publicAccessId"] == ACCESS_ID
        status, _, _ = await get(session, fixtures_url(running.base_url))
        assert status == 200
        url = fixtures_url(running.base_url, access=False)
        status, _, _ = await get(session, url, **{"x-bwin-accessid": ACCESS_ID})
        assert status == 200  # as a header too


async def test_pages_documented_shapes_and_both_market_models() -> None:
    options = SimOptions(slate_day=DAY, events_per_league=5)
    async with served(options, page_size=2) as (running, _, session):
        pages: list[dict[str, Any]] = []
        for skip in (0, 2, 4):
            status, _, body = await get(session, fixtures_url(running.base_url, skip=skip))
            assert status == 200
            pages.append(json.loads(body))
    assert [len(p["fixtures"]) for p in pages] == [2, 2, 1]
    assert {p["totalCount"] for p in pages} == {5}
    fixtures = [f for p in pages for f in p["fixtures"]]
    scenario = generate_scenario("nba", seed=1, slate_day=DAY, n_events=5)
    assert [f["id"] for f in fixtures] == [fx.fixture_id for fx in scenario.fixtures]
    first = fixtures[0]
    assert isinstance(first["id"], int) and first["startDate"].endswith("Z")
    away, home = (p["name"]["value"] for p in first["participants"])
    assert first["name"]["value"] == f"{away} at {home}"
    games = first["games"]
    assert {g["name"]["value"] for g in games if g["isMain"]} >= {"Moneyline", "Spread", "Totals"}
    assert any(g["isMain"] is False for g in games)  # an alternate line too
    spread = next(g for g in games if g["name"]["value"] == "Spread" and g["isMain"])
    assert all("," in r["attr"] and r["attr"][0] in "+-" for r in spread["results"])
    total = next(g for g in games if g["name"]["value"] == "Totals")
    assert "," in total["attr"] and {r["totalsPrefix"] for r in total["results"]} == {
        "Over", "Under"}  # fmt: skip
    second = fixtures[1]
    assert second["games"] == [] and second["optionMarkets"]
    types = {p["value"] for m in second["optionMarkets"] for p in m["parameters"]
             if p["key"] == "MarketType"}  # fmt: skip
    assert {"Handicap", "Over/Under", "2Way - OneWinner"} <= types
    option = second["optionMarkets"][0]["options"][0]
    assert isinstance(option["price"]["americanOdds"], int) and option["price"]["odds"] > 1


@pytest.mark.parametrize("status", [403, 429, 503])
async def test_http_faults_once_each_with_retry_after(status: int) -> None:
    options = SimOptions(slate_day=DAY, faults=Faults(http_status=status, http_failures=2))
    async with served(options) as (running, _, session):
        answers = [await get(session, fixtures_url(running.base_url)) for _ in range(3)]
    assert [a[0] for a in answers] == [status, status, 200]
    if status in (429, 503):
        assert answers[0][1]["Retry-After"] == "1"


async def test_malformed_and_slow_answers() -> None:
    options = SimOptions(slate_day=DAY, faults=Faults(malformed_at=2, delay_s=0.3))
    async with served(options) as (running, sim, session):
        began = time.monotonic()
        bodies = [(await get(session, fixtures_url(running.base_url)))[2] for _ in range(3)]
        assert time.monotonic() - began >= 0.9
        sim.malformed_next()
        cut = (await get(session, fixtures_url(running.base_url)))[2]
    json.loads(bodies[0])
    json.loads(bodies[2])
    for bad in (bodies[1], cut):
        with pytest.raises(ValueError):
            json.loads(bad)


async def test_the_clock_runs_only_while_polled_and_the_game_ends() -> None:
    async with served(SimOptions(slate_day=DAY, speed=10_000)) as (running, sim, session):
        runtime = sim.leagues["nba"]
        await asyncio.sleep(0.1)
        assert runtime.clock.now() == 0.0  # nobody polled yet
        for _ in range(20):
            _, _, body = await get(session, fixtures_url(running.base_url))
            if runtime.done:
                break
            await asyncio.sleep(0.1)
        _, _, body = await get(session, fixtures_url(running.base_url))
        assert runtime.done and json.loads(body) == {"fixtures": [], "totalCount": 0}
        first = generate_scenario("nba", seed=1, slate_day=DAY).fixtures[0].fixture_id
        url = f"{running.base_url}/cds-api/bettingoffer/fixture-view?fixtureIds={first}"
        _, _, view = await get(session, url, **{"x-bwin-accessid": ACCESS_ID})
        assert json.loads(view) == {"fixture": None}


async def test_league_page_calls_the_api_and_snuper_sim_exports_betmgm() -> None:
    async with served(SimOptions(slate_day=DAY)) as (running, _, session):
        status, _, page = await get(
            session, f"{running.base_url}/en/sports/basketball-7/betting/usa-9/nba-6004"
        )
        assert status == 200
        assert b"/cds-api/bettingoffer/fixtures?x-bwin-accessid=" in page
        assert b"/en/api/clientconfig" in page and b"competitionIds=6004" in page
    everything = await start_sim(SimOptions(slate_day=DAY))
    try:
        assert {"SNUPER_BETMGM_SITE", "SNUPER_BETMGM_API"} <= everything.exports.keys()
        assert "SNUPER_DRAFTKINGS_WS" in everything.exports
    finally:
        await everything.close()


def test_scenarios_are_deterministic_and_hold_every_step_kind() -> None:
    one = generate_scenario("mlb", seed=3, slate_day=DAY)
    two = generate_scenario("mlb", seed=3, slate_day=DAY)
    assert one == two
    assert {s.kind for s in one.steps} == {"price", "line", "suspend", "resume", "end"}
