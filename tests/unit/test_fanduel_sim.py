"""The FanDuel simulator over real sockets, read with plain JSON (never the parser)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from snuper.providers.fanduel.sim import (
    AK,
    IDLE_S,
    LEAGUES,
    MAX_MARKETS,
    SIM_KEY,
    FanDuelSim,
    LeagueWorld,
    Scenario,
    SimEvent,
    SimMarket,
    SimRunner,
    Step,
    american_decimal,
    american_fraction,
    generate_scenario,
    market_id_of,
    mount_sim,
    odds_json,
    sim_exports,
    team_selection_id,
)
from snuper.sim.options import Faults, SimOptions
from snuper.sim.scenario import TEAMS
from snuper.sim.server import RunningSim, start_sim

DAY = date(2026, 12, 1)
GAME, QUIET, UNKNOWN = 33000001, 33000002, 39999999
ML_N, HC_N, OU_N, QML_N = 71000001, 71000002, 71000003, 71000004  # scenario market numbers
ML, HC, OU, QML = (market_id_of(n) for n in (ML_N, HC_N, OU_N, QML_N))
CELTICS, KNICKS = team_selection_id("Boston Celtics"), team_selection_id("New York Knicks")
CAPTURE = (
    Path(__file__).resolve().parents[3] / "shared/fixtures/captured"
    / "fanduel_event_page_mlb_2023-08.json"
)  # fmt: skip


def tiny_scenario() -> Scenario:
    """Two NBA games: the first moves a price, a spread line, is suspended, resumed, and ends."""
    start = datetime(2026, 12, 2, 0, 10, tzinfo=UTC)
    events = [
        SimEvent(GAME, "Boston Celtics", "New York Knicks", start, "nba"),
        SimEvent(QUIET, "Miami Heat", "Chicago Bulls", start.replace(hour=1), "nba"),
    ]
    markets = [SimMarket(ML, GAME, "moneyline"), SimMarket(HC, GAME, "spread"),
               SimMarket(OU, GAME, "total"), SimMarket(QML, QUIET, "moneyline")]  # fmt: skip
    runners = [
        SimRunner(KNICKS, ML, "away", 130, None),
        SimRunner(CELTICS, ML, "home", -150, None),
        SimRunner(KNICKS, HC, "away", -110, 3.5),
        SimRunner(CELTICS, HC, "home", -110, -3.5),
        SimRunner(7017905, OU, "over", -110, 221.5),
        SimRunner(7017906, OU, "under", -110, 221.5),
        SimRunner(team_selection_id("Chicago Bulls"), QML, "away", 100, None),
        SimRunner(team_selection_id("Miami Heat"), QML, "home", -120, None),
    ]
    steps = [
        Step(10.0, "price", GAME, ML_N, "home", american=-160),
        Step(20.0, "line", GAME, HC_N, "home", american=-115, line=-4.5),
        Step(30.0, "suspend", GAME, HC_N),
        Step(40.0, "resume", GAME, HC_N),
        Step(50.0, "end", GAME),
        Step(100.0, "end", QUIET),
    ]
    return Scenario("nba", events, markets, runners, steps)


def tiny(**faults: Any) -> tuple[SimOptions, dict[str, Scenario]]:
    # A crawling clock: only ScenarioClock.advance moves the scenario in these tests.
    return SimOptions(slate_day=DAY, speed=0.001, faults=Faults(**faults)), {"nba": tiny_scenario()}


@asynccontextmanager
async def served(
    options: SimOptions, scenarios: Mapping[str, Scenario] | None = None
) -> AsyncIterator[tuple[RunningSim, FanDuelSim, aiohttp.ClientSession]]:
    app = web.Application()
    sim = FanDuelSim(options, scenarios)
    sim.mount(app)
    running = await start_sim(options, app=app, providers=[])
    try:
        async with aiohttp.ClientSession() as session:
            yield running, sim, session
    finally:
        await running.close()


Answer = tuple[int, dict[str, str], bytes]


async def get(session: aiohttp.ClientSession, url: str) -> Answer:
    async with session.get(url) as response:
        return response.status, dict(response.headers), await response.read()


def page_url(base: str, league: str = "nba", key: str | None = AK) -> str:
    ak = f"&_ak={key}" if key is not None else ""
    return (f"{base}/api/content-managed-page?page=CUSTOM&customPageId={league}"
            f"&pbHorizontal=false{ak}&timezone=America%2FNew_York")  # fmt: skip


def event_url(base: str, event_id: int, key: str | None = AK) -> str:
    ak = f"_ak={key}&" if key is not None else ""
    return f"{base}/api/event-page?{ak}eventId={event_id}"


async def prices(
    session: aiohttp.ClientSession, base: str, ids: Sequence[str], key: str | None = AK
) -> Answer:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["X-Application"] = key
    url = f"{base}/api/sports/fixedodds/readonly/v1/getMarketPrices?priceHistory=0"
    async with session.post(url, data=json.dumps({"marketIds": list(ids)}),
                            headers=headers) as response:  # fmt: skip
        return response.status, dict(response.headers), await response.read()


def by_selection(entry: dict[str, Any]) -> dict[int, tuple[float, int]]:
    """selectionId -> (handicap, americanOdds) of a getMarketPrices entry."""
    return {r["selectionId"]: (r["handicap"],
                               r["winRunnerOdds"]["americanDisplayOdds"]["americanOdds"])
            for r in entry["runnerDetails"]}  # fmt: skip


# --- scenario and encoding -------------------------------------------------------------------


def test_scenarios_are_deterministic_with_fanduel_ids() -> None:
    one = generate_scenario("mlb", seed=3, slate_day=DAY, n_events=5)
    assert one == generate_scenario("mlb", seed=3, slate_day=DAY, n_events=5)
    assert one != generate_scenario("mlb", seed=4, slate_day=DAY, n_events=5)
    assert {s.kind for s in one.steps} == {"price", "line", "suspend", "resume", "end"}
    assert {len(str(e.event_id)) for e in one.events} == {8}
    assert all(m.market_id.startswith("734.") and len(m.market_id) == 12 for m in one.markets)
    assert len(one.markets) == 3 * 5 and len(one.runners) == 6 * 5
    # Steps carry the market number; the wire id is derived from it in one place.
    ids = {m.market_id for m in one.markets}
    assert all(market_id_of(s.market_id) in ids for s in one.steps if s.market_id is not None)
    first = one.events[0]
    assert first.home_pitcher and first.away_pitcher and first.home_pitcher != first.away_pitcher
    assert first.name == (f"{first.away} ({first.away_pitcher}) @ "
                          f"{first.home} ({first.home_pitcher})")  # fmt: skip
    nba = generate_scenario("nba", seed=3, slate_day=DAY).events[0]
    assert nba.home_pitcher is None and nba.name == f"{nba.away} @ {nba.home}"
    # As in the capture: a team's selectionId is the same in its moneyline and its spread, and
    # over/under are one pair for every total.
    by_market = {m.market_id: m for m in one.markets}
    for event in one.events:
        mine = [r for r in one.runners if by_market[r.market_id].event_id == event.event_id]
        home = {r.selection_id for r in mine if r.side == "home"}
        assert home == {team_selection_id(event.home)}
    assert {r.selection_id for r in one.runners if r.side == "over"} == {7017905}
    for teams in TEAMS.values():
        assert len({team_selection_id(t) for t in teams}) == len(teams)


@pytest.mark.parametrize("league", ["nba", "nfl", "mlb"])
@pytest.mark.parametrize("seed", [1, 2, 7])
def test_every_generated_step_applies_and_the_slate_empties(league: str, seed: int) -> None:
    scenario = generate_scenario(league, seed=seed, slate_day=DAY)
    world = LeagueWorld(scenario)
    line = next(s for s in scenario.steps if s.kind == "line")
    assert line.market_id is not None and line.side is not None
    market = market_id_of(line.market_id)
    before = {r.selection_id: r.line for r in world.runners_of(market)}
    for step in scenario.steps:
        world.apply(step)
        if step is line:
            after = {r.selection_id: r.line for r in world.runners_of(market)}
            assert after.keys() == before.keys() and after != before  # same ids, new handicaps
            assert world.find(line.market_id, line.side).line == line.line
            assert world.find(market, line.side).american == line.american
    page = world.page_json()["attachments"]
    [outright] = page["events"].values()  # only the futures event is left
    assert (
        " @ " not in outright["name"] and outright["eventId"] == LEAGUES[league].outright_event_id
    )
    assert [m["marketType"] for m in page["markets"].values()] == ["OUTRIGHT_BETTING"]


def test_prices_are_encoded_as_fanduel_does() -> None:
    assert american_decimal(-110) == 1.909090909090909
    assert american_decimal(118) == 2.18  # not the float sum 2.1799999999999997
    assert american_decimal(-140) == 1.714285714285714
    assert american_decimal(100) == 2.0
    assert [american_fraction(a) for a in (118, 240, 1000, -138, -330, -210, 255)] == [
        (118, 100), (24, 10), (10, 1), (100, 138), (10, 33), (100, 210), (255, 100)]  # fmt: skip
    whole = odds_json(1000)["trueOdds"]["decimalOdds"]["decimalOdds"]
    assert whole == 11 and isinstance(whole, int)  # as in the capture
    with pytest.raises(ValueError):
        american_decimal(50)


@pytest.mark.skipif(not CAPTURE.exists(), reason="the shared captures are not present")
def test_prices_agree_with_the_real_capture() -> None:
    capture = json.loads(CAPTURE.read_text())
    checked = 0
    for market in capture["attachments"]["markets"].values():
        for runner in market["runners"]:
            for odds in [runner["winRunnerOdds"], *runner["previousWinRunnerOdds"]]:
                american = odds["americanDisplayOdds"]["americanOdds"]
                mine = odds_json(american)
                true, ours = odds["trueOdds"], mine["trueOdds"]
                assert ours["decimalOdds"] == true["decimalOdds"], american
                frac = true["fractionalOdds"]
                n, d = ours["fractionalOdds"]["numerator"], ours["fractionalOdds"]["denominator"]
                assert n * frac["denominator"] == d * frac["numerator"], american
                assert mine["americanDisplayOdds"] == odds["americanDisplayOdds"]
                checked += 1
    assert checked > 100


# --- content-managed-page and event-page -------------------------------------------------------


async def test_page_has_the_documented_shape() -> None:
    options, scenarios = tiny()
    scenarios["mlb"] = generate_scenario("mlb", seed=1, slate_day=DAY)
    async with served(options, scenarios) as (running, sim, session):
        status, headers, body = await get(session, page_url(running.base_url))
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        page = json.loads(body)
        assert page == sim.slate("nba") and sim.page_requests == 1
        _, _, mlb_body = await get(session, page_url(running.base_url, "mlb"))
    att = page["attachments"]
    assert att["eventTypes"] == {"7522": {"eventTypeId": 7522, "name": "Basketball"}}
    assert att["competitions"]["10547864"]["competitionId"] == 10547864
    assert list(att["events"]) == [str(GAME), str(QUIET), str(LEAGUES["nba"].outright_event_id)]
    game = att["events"][str(GAME)]
    assert game["eventId"] == GAME and isinstance(game["eventId"], int)
    assert game["name"] == "New York Knicks @ Boston Celtics"
    assert game["openDate"] == "2026-12-02T00:10:00.000Z" and game["inPlay"] is False
    assert (game["competitionId"], game["eventTypeId"]) == (10547864, 7522)
    assert game["primaryMarketId"] == ML and game["key"] == f"EVENT:{GAME}"
    markets = att["markets"]
    assert all(key == m["marketId"] and isinstance(key, str) for key, m in markets.items())
    ml, hc, ou = markets[ML], markets[HC], markets[OU]
    assert (ml["marketType"], ml["marketName"]) == ("MONEY_LINE", "Moneyline")
    assert (hc["marketType"], hc["marketName"]) == ("MATCH_HANDICAP_(2-WAY)", "Spread")
    assert (ou["marketType"], ou["marketName"]) == ("TOTAL_POINTS_(OVER/UNDER)", "Total Points")
    assert {m["marketStatus"] for m in (ml, hc, ou)} == {"OPEN"} and ml["eventId"] == GAME
    assert [(r["runnerName"], r["result"]["type"], r["handicap"], r["selectionId"])
            for r in ml["runners"]] == [("New York Knicks", "AWAY", 0, KNICKS),
                                        ("Boston Celtics", "HOME", 0, CELTICS)]  # fmt: skip
    assert [(r["handicap"], r["selectionId"]) for r in hc["runners"]] == [
        (3.5, KNICKS), (-3.5, CELTICS)]  # fmt: skip
    assert [(r["runnerName"], r["result"]["type"], r["handicap"]) for r in ou["runners"]] == [
        ("Over", "OVER", 221.5), ("Under", "UNDER", 221.5)]  # fmt: skip
    odds = ml["runners"][0]["winRunnerOdds"]
    assert odds["americanDisplayOdds"] == {"americanOdds": 130, "americanOddsInt": 130}
    assert odds["trueOdds"]["decimalOdds"]["decimalOdds"] == 2.3
    assert ml["runners"][0]["previousWinRunnerOdds"] == [odds]  # no move yet
    # The markets to skip: an alternate spread and total (handicap 0, the line in the name), a prop.
    types = {m["marketType"]: m for m in markets.values() if m["eventId"] == GAME}
    alt = types["ALTERNATE_HANDICAP"]
    assert alt["marketId"] not in (ML, HC, OU) and len(alt["runners"]) >= 4
    assert {r["handicap"] for r in alt["runners"]} == {0}
    assert {r["result"]["type"] for r in alt["runners"]} == {"AWAY", "HOME"}
    assert "New York Knicks +7.5" in [r["runnerName"] for r in alt["runners"]]
    assert not {r["selectionId"] for r in alt["runners"]} & {KNICKS, CELTICS}
    alt_total = types["ALTERNATE_TOTAL_POINTS"]
    assert "Over (219.5)" in [r["runnerName"] for r in alt_total["runners"]]
    assert all(r["result"] == {} and r["handicap"] == 0 for r in alt_total["runners"])
    prop = types["PLAYER_TO_SCORE_20+_POINTS"]
    assert prop["runners"] and all(r["result"] == {} for r in prop["runners"])
    [outright] = [m for m in markets.values() if m["marketType"] == "OUTRIGHT_BETTING"]
    futures = att["events"][str(outright["eventId"])]
    assert " @ " not in futures["name"] and futures["openDate"] > "2027"
    # MLB: the pitchers are in the event name and never in a runner's name.
    mlb = json.loads(mlb_body)["attachments"]
    first = generate_scenario("mlb", seed=1, slate_day=DAY).events[0]
    assert first.home_pitcher and first.away_pitcher
    mlb_event = mlb["events"][str(first.event_id)]
    assert mlb_event["name"] == (f"{first.away} ({first.away_pitcher}) @ "
                                 f"{first.home} ({first.home_pitcher})")  # fmt: skip
    mlb_markets = [m for m in mlb["markets"].values() if m["eventId"] == first.event_id]
    names = {r["runnerName"] for m in mlb_markets for r in m["runners"]}
    assert first.home in names and not any("(" + first.home_pitcher in n for n in names)
    assert {m["marketName"] for m in mlb_markets} >= {"Moneyline", "Run Line", "Total Runs"}
    assert {"ALTERNATE_RUN_LINES", "ALTERNATE_TOTAL_RUNS", "TO_HIT_A_HOME_RUN"} <= {
        m["marketType"] for m in mlb_markets}  # fmt: skip


async def test_the_key_is_required_and_refusals_have_an_empty_body() -> None:
    options, scenarios = tiny()
    async with served(options, scenarios) as (running, sim, session):
        base = running.base_url
        answers = [
            await get(session, page_url(base, key=None)),
            await get(session, page_url(base, key="wrong")),
            await get(session, event_url(base, GAME, key=None)),
            await prices(session, base, [ML], key=None),
        ]
        assert [(a[0], a[2]) for a in answers] == [(400, b"")] * 4
        assert sim.rejected == 4 and (sim.page_requests, sim.price_requests) == (2, 1)
        status, _, body = await get(session, page_url(base, league="nhl"))
        assert status == 404 and json.loads(body) == {"error": "not found"}
        status, _, body = await prices(session, base, [ML] * (MAX_MARKETS + 1))
        assert status == 400 and json.loads(body) == {"error": "too many markets"}
        assert sim.leagues["nba"].clock.now() == 0.0  # refusals do not start the clock


async def test_get_market_prices_follows_the_scenario() -> None:
    options, scenarios = tiny()
    async with served(options, scenarios) as (running, sim, session):
        base, runtime = running.base_url, sim.leagues["nba"]
        wanted = [OU, "734.1", ML, HC, QML]
        status, _, body = await prices(session, base, wanted)
        assert status == 200 and sim.price_requests == 1
        first = json.loads(body)
        assert [e["marketId"] for e in first] == [OU, ML, HC, QML]  # request order, unknown absent
        assert set(first[0]) >= {"marketId", "marketStatus", "bettingType", "runnerDetails"}
        assert by_selection(first[2]) == {KNICKS: (3.5, -110), CELTICS: (-3.5, -110)}
        assert first[2]["runnerDetails"][0]["runnerStatus"] == "ACTIVE"
        runtime.clock.advance(25)  # the price move and the line move
        sim.tick()
        now = {e["marketId"]: e for e in json.loads((await prices(session, base, wanted))[2])}
        assert by_selection(now[ML])[CELTICS] == (0, -160)
        previous = now[ML]["runnerDetails"][1]["previousWinRunnerOdds"][0]
        assert previous["americanDisplayOdds"]["americanOdds"] == -150
        # A line move keeps the selectionIds and moves both handicaps.
        assert by_selection(now[HC]) == {KNICKS: (4.5, -110), CELTICS: (-4.5, -115)}
        runtime.clock.advance(10)
        sim.tick()
        suspended = json.loads((await prices(session, base, [HC]))[2])
        assert [e["marketStatus"] for e in suspended] == ["SUSPENDED"]
        assert by_selection(suspended[0])[CELTICS] == (-4.5, -115)  # its last prices
        runtime.clock.advance(20)  # resumed, then the first game ends
        sim.tick()
        ended = json.loads((await prices(session, base, wanted))[2])
        assert [e["marketId"] for e in ended] == [QML]
        page = json.loads((await get(session, page_url(base)))[2])
        assert str(GAME) not in page["attachments"]["events"]
        assert not {ML, HC, OU} & page["attachments"]["markets"].keys()


async def test_event_page_serves_one_event_until_it_ends() -> None:
    options, scenarios = tiny()
    async with served(options, scenarios) as (running, sim, session):
        status, _, body = await get(session, event_url(running.base_url, GAME))
        assert status == 200
        att = json.loads(body)["attachments"]
        assert list(att["events"]) == [str(GAME)]
        assert {ML, HC, OU} < att["markets"].keys() and QML not in att["markets"]
        assert {m["eventId"] for m in att["markets"].values()} == {GAME}
        slate = sim.slate("nba")["attachments"]["markets"]
        assert att["markets"] == {k: v for k, v in slate.items() if v["eventId"] == GAME}
        status, _, body = await get(session, event_url(running.base_url, UNKNOWN))
        assert status == 404 and json.loads(body) == {"error": "not found"}
        await get(session, page_url(running.base_url))  # a poll: the clock may run
        sim.leagues["nba"].clock.advance(60)
        sim.tick()
        status, _, _ = await get(session, event_url(running.base_url, GAME))
        assert status == 404


# --- faults ------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_fail_next_answers_the_status_with_retry_after(status: int) -> None:
    options, scenarios = tiny()
    async with served(options, scenarios) as (running, sim, session):
        sim.fail_next(status, 2)
        answers = [
            await get(session, page_url(running.base_url)),
            await prices(session, running.base_url, [ML]),
            await prices(session, running.base_url, [ML]),
        ]
    assert [a[0] for a in answers] == [status, status, 200]
    retry = [a[1].get("Retry-After") for a in answers[:2]]
    assert retry == (["1", "1"] if status in (429, 503) else [None, None])


async def test_option_faults_fail_once_each_and_unreadable_api() -> None:
    options, scenarios = tiny(http_status=503, http_failures=1, malformed_at=3)
    async with served(options, scenarios) as (running, _, session):
        answers = [await get(session, page_url(running.base_url)) for _ in range(4)]
    assert [a[0] for a in answers] == [503, 200, 200, 200]
    json.loads(answers[1][2])
    json.loads(answers[3][2])
    with pytest.raises(ValueError):
        json.loads(answers[2][2])
    options, scenarios = tiny(unreadable_api=True)
    async with served(options, scenarios) as (running, _, session):
        status, _, body = await get(session, page_url(running.base_url))
        assert status == 200 and json.loads(body) == {"attachments": {"events": "v2"}}
        status, _, body = await prices(session, running.base_url, [ML])
        assert status == 200 and json.loads(body)[0]["marketId"] == ML


async def test_malformed_next_cuts_one_answer() -> None:
    options, scenarios = tiny()
    async with served(options, scenarios) as (running, sim, session):
        whole = (await prices(session, running.base_url, [ML, HC]))[2]
        sim.malformed_next(after=1)
        bodies = [(await prices(session, running.base_url, [ML, HC]))[2] for _ in range(3)]
    assert bodies[0] == whole and bodies[2] == whole
    assert whole.startswith(bodies[1]) and len(bodies[1]) < len(whole)
    with pytest.raises(ValueError):
        json.loads(bodies[1])


async def test_delay_after_api_slows_the_later_answers() -> None:
    options, scenarios = tiny(delay_s=0.25, delay_after_api=1)
    async with served(options, scenarios) as (running, _, session):
        began = time.monotonic()
        await get(session, page_url(running.base_url))
        fast = time.monotonic() - began
        await prices(session, running.base_url, [ML])
        slow = time.monotonic() - began - fast
    assert fast < 0.2 <= slow


async def test_the_clock_runs_only_while_polled() -> None:
    options, scenarios = tiny()
    options = SimOptions(slate_day=DAY, speed=1_000)
    async with served(options, scenarios) as (running, sim, session):
        runtime = sim.leagues["nba"]
        await asyncio.sleep(0.05)
        assert runtime.clock.now() == 0.0 and not runtime.clock.running  # nobody polled yet
        await prices(session, running.base_url, ["734.1"])  # another league's id: no poll
        assert not runtime.clock.running
        await prices(session, running.base_url, [QML])
        assert runtime.clock.running
        assert runtime.last_poll is not None
        runtime.last_poll -= IDLE_S + 1  # as if the monitor stopped polling a while ago
        sim.tick()
        assert not runtime.clock.running
        frozen = runtime.clock.now()
        await asyncio.sleep(0.05)
        assert runtime.clock.now() == frozen
        await get(session, page_url(running.base_url))
        assert runtime.clock.running


async def test_league_page_calls_the_api_and_exports() -> None:
    options, scenarios = tiny()
    async with served(options, scenarios) as (running, _, session):
        status, headers, page = await get(session, f"{running.base_url}/navigation/nba")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert (b"/api/content-managed-page?page=CUSTOM&customPageId=nba&pbHorizontal=false"
                b"&_ak=FhMFpcPWXMeyZxOx&timezone=America%2FNew_York") in page  # fmt: skip
        status, _, _ = await get(session, f"{running.base_url}/navigation/nfl")
        assert status == 404  # not in this sim's scenarios
    assert sim_exports("http://127.0.0.1:8080/") == {
        "SITE": "http://127.0.0.1:8080", "API": "http://127.0.0.1:8080",
        "PRICES": "http://127.0.0.1:8080"}  # fmt: skip
    app = web.Application()
    mount_sim(app, SimOptions(slate_day=DAY))
    assert set(app[SIM_KEY].leagues) == {"nba", "nfl", "mlb"}
