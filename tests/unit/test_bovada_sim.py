"""The Bovada simulator over real sockets, read with plain JSON (never the parser)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import WSMsgType, web

from snuper.providers.bovada.sim import (
    SIM_KEY,
    BovadaSim,
    LeagueWorld,
    Scenario,
    SimEvent,
    SimMarket,
    SimOutcome,
    Step,
    american_text,
    decimal_text,
    generate_scenario,
    handicap_text,
    mount_sim,
    sim_exports,
)
from snuper.sim.options import Faults, SimOptions
from snuper.sim.server import RunningSim, start_sim

DAY = date(2026, 12, 1)
GAME, QUIET, UNKNOWN = 10000001, 10000002, 19999999
ML, HC, OU = 200000001, 200000002, 200000003
RECV_TIMEOUT = 3.0
ATMOSPHERE = (
    "?X-Atmosphere-tracking-id=0&X-Atmosphere-Framework=3.1.0-javascript"
    "&X-Atmosphere-Transport=websocket"
)
Pairs = list[tuple[dict[str, Any], dict[str, Any]]]


def tiny_scenario() -> Scenario:
    """Two NBA games: the first moves a price, a spread line, is suspended, resumed, and ends."""
    start = datetime(2026, 12, 2, 0, 10, tzinfo=UTC)
    events = [
        SimEvent(GAME, "Boston Celtics", "New York Knicks", start),
        SimEvent(QUIET, "Miami Heat", "Chicago Bulls", start.replace(hour=1)),
    ]
    markets = [SimMarket(ML, GAME, "moneyline"), SimMarket(HC, GAME, "spread"),
               SimMarket(OU, GAME, "total"), SimMarket(200000004, QUIET, "moneyline")]  # fmt: skip
    outcomes = [
        SimOutcome(1000000001, ML, "away", 130, None),
        SimOutcome(1000000002, ML, "home", -150, None),
        SimOutcome(1000000003, HC, "away", -110, 3.5),
        SimOutcome(1000000004, HC, "home", -110, -3.5),
        SimOutcome(1000000005, OU, "over", -110, 221.5),
        SimOutcome(1000000006, OU, "under", -110, 221.5),
        SimOutcome(1000000007, 200000004, "away", 100, None),
        SimOutcome(1000000008, 200000004, "home", -120, None),
    ]
    steps = [
        Step(10.0, "price", GAME, ML, "home", american=-160),
        Step(20.0, "line", GAME, HC, "home", american=-115, line=-4.5),
        Step(30.0, "suspend", GAME, HC),
        Step(40.0, "resume", GAME, HC),
        Step(50.0, "end", GAME),
        Step(100.0, "end", QUIET),
    ]
    return Scenario("nba", events, markets, outcomes, steps)


@asynccontextmanager
async def served(
    options: SimOptions, scenarios: Mapping[str, Scenario] | None = None
) -> AsyncIterator[tuple[RunningSim, BovadaSim, aiohttp.ClientSession]]:
    app = web.Application()
    sim = BovadaSim(options, scenarios)
    sim.mount(app)
    running = await start_sim(options, app=app, providers=[])
    try:
        async with aiohttp.ClientSession() as session:
            yield running, sim, session
    finally:
        await running.close()


def tiny() -> tuple[SimOptions, dict[str, Scenario]]:
    # A crawling clock: only ScenarioClock.advance moves the scenario in these tests.
    return SimOptions(slate_day=DAY, speed=0.001), {"nba": tiny_scenario()}


def coupon_url(base: str, path: str = "basketball/nba") -> str:
    return (
        f"{base}/services/sports/event/coupon/events/A/description/{path}"
        "?marketFilterId=def&preMatchOnly=true&eventsLimit=50&lang=en"
    )


async def get(session: aiohttp.ClientSession, url: str) -> tuple[int, dict[str, str], bytes]:
    async with session.get(url) as response:
        return response.status, dict(response.headers), await response.read()


def ws_url(base: str) -> str:
    return sim_exports(base)["WS"] + "/0B5E7C1A-2F4D-4A8E-9C3B-7D6E5F4A3B2C" + ATMOSPHERE


def pairs(text: str) -> Pairs:
    parts = [json.loads(p) for p in text.split("|")]
    assert len(parts) % 2 == 0, text
    return list(zip(parts[::2], parts[1::2], strict=True))


async def recv_text(ws: aiohttp.ClientWebSocketResponse, timeout: float = RECV_TIMEOUT) -> str:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == WSMsgType.TEXT, msg
    assert isinstance(msg.data, str)
    return msg.data


async def recv_update(ws: aiohttp.ClientWebSocketResponse) -> Pairs:
    """The next frame that is not a heartbeat."""
    while (text := await recv_text(ws)) == '{"id":0}':
        pass
    return pairs(text)


def subscribe(event_id: int) -> str:
    return f"SUBSCRIBE|A|/events/{event_id}.1796170200000?delta=true"


# --- scenario and encoding -------------------------------------------------------------------


def test_scenarios_are_deterministic_with_the_documented_ids_and_times() -> None:
    one = generate_scenario("nba", seed=3, slate_day=DAY, n_events=5)
    assert one == generate_scenario("nba", seed=3, slate_day=DAY, n_events=5)
    assert one != generate_scenario("nba", seed=4, slate_day=DAY, n_events=5)
    assert {s.kind for s in one.steps} == {"price", "line", "suspend", "resume", "end"}
    assert {len(str(e.event_id)) for e in one.events} == {8}
    assert {len(str(m.market_id)) for m in one.markets} == {9}
    assert {len(str(o.outcome_id)) for o in one.outcomes} == {10}
    assert len(one.markets) == 3 * 5 and len(one.outcomes) == 6 * 5
    assert one.events[0].start.hour == 0  # 19:00 in New York is midnight UTC in December
    assert one.events[-1].start.date() == date(2026, 12, 2)
    assert re.fullmatch(r"/basketball/nba/[a-z0-9-]+-2026120119(00|05|10)", one.events[0].link)
    ends = [s.event_id for s in one.steps if s.kind == "end"]
    assert sorted(ends) == sorted(e.event_id for e in one.events)
    assert {s.event_id for s in one.steps if s.kind != "end"}.isdisjoint({one.events[-1].event_id})
    assert one.events[0].name == f"{one.events[0].away} @ {one.events[0].home}"


@pytest.mark.parametrize("league", ["nba", "nfl", "mlb"])
@pytest.mark.parametrize("seed", [1, 2, 7])
def test_every_generated_step_applies_and_the_slate_empties(league: str, seed: int) -> None:
    scenario = generate_scenario(league, seed=seed, slate_day=DAY)
    world = LeagueWorld(scenario)
    line = next(s for s in scenario.steps if s.kind == "line")
    assert line.market_id is not None and line.side is not None
    before = {o.outcome_id for o in world.outcomes.values() if o.market_id == line.market_id}
    for step in scenario.steps:
        delta = world.apply(step)
        assert delta.event_id == step.event_id and delta.pairs
        if step is line:
            assert len(delta.pairs) == 2
            # Bovada keeps the outcome ids and moves their handicaps.
            assert {int(p["target"]) for p, _ in delta.pairs} == before
            assert world.find(line.market_id, line.side).line == line.line
    assert world.coupon() == []


def test_price_texts() -> None:
    assert american_text(100) == "EVEN"
    assert [american_text(a) for a in (125, -110, -100, 6000)] == ["+125", "-110", "-100", "+6000"]
    assert [decimal_text(a) for a in (105, -110, 100, -105, -5000, 725)] == [
        "2.05", "1.909091", "2.00", "1.952381", "1.02", "8.25"]  # fmt: skip
    assert [handicap_text(x) for x in (-1.5, 1.5, -3.0, 7.0, 221.5, -0.0)] == [
        "-1.5", "1.5", "-3.0", "7.0", "221.5", "0.0"]  # fmt: skip
    with pytest.raises(ValueError):
        american_text(50)


# --- the coupon --------------------------------------------------------------------------------


async def test_coupon_has_the_documented_shape() -> None:
    options, scenarios = tiny()
    scenarios["mlb"] = generate_scenario("mlb", seed=1, slate_day=DAY)
    async with served(options, scenarios) as (running, sim, session):
        status, headers, body = await get(session, coupon_url(running.base_url))
        assert status == 200 and headers["Content-Type"].startswith("application/json")
        coupon = json.loads(body)
        assert coupon == sim.slate("nba") and sim.coupon_requests == 1
        _, _, mlb_body = await get(session, coupon_url(running.base_url, "baseball/mlb"))
    [group] = coupon
    assert [(p["type"], p["link"]) for p in group["path"]] == [
        ("LEAGUE", "/basketball/nba"), ("SPORT", "/basketball")]  # fmt: skip
    assert [e["id"] for e in group["events"]] == [str(GAME), str(QUIET)]
    event = group["events"][0]
    assert event["description"] == "New York Knicks @ Boston Celtics"
    assert event["link"] == "/basketball/nba/new-york-knicks-boston-celtics-202612011910"
    assert event["startTime"] == 1796170200000 and event["sport"] == "BASK"
    assert [(c["name"], c["home"]) for c in event["competitors"]] == [
        ("New York Knicks", False), ("Boston Celtics", True)]  # fmt: skip
    lines, alternates, props = event["displayGroups"]
    assert (lines["description"], lines["defaultType"], lines["alternateType"]) == (
        "Game Lines", True, False)  # fmt: skip
    assert (alternates["description"], alternates["alternateType"]) == ("Alternate Lines", True)
    assert [m["key"] for m in props["markets"]] == ["GAME-PROP-12"]
    mains = [m for m in lines["markets"] if m["period"]["main"]]
    assert [(m["id"], m["key"], m["description"]) for m in mains] == [
        (str(ML), "2W-12", "Moneyline"), (str(HC), "2W-HCAP", "Point Spread"),
        (str(OU), "2W-OU", "Total")]  # fmt: skip
    assert {m["period"]["abbreviation"] for m in lines["markets"] if not m["period"]["main"]} == {
        "1H"}  # fmt: skip
    moneyline, spread, total = mains
    prices = [(o["type"], o["price"]["american"], o["price"]["decimal"])
              for o in moneyline["outcomes"]]  # fmt: skip
    assert prices == [("A", "+130", "2.30"), ("H", "-150", "1.666667")]
    assert "handicap" not in moneyline["outcomes"][0]["price"]
    assert [o["price"]["handicap"] for o in spread["outcomes"]] == ["3.5", "-3.5"]
    assert [(o["description"], o["price"]["handicap"]) for o in total["outcomes"]] == [
        ("Over", "221.5"), ("Under", "221.5")]  # fmt: skip
    even = group["events"][1]["displayGroups"][0]["markets"][0]["outcomes"][0]["price"]
    assert even["american"] == american_text(100) == "EVEN" and even["decimal"] == "2.00"
    assert all(len(m["outcomes"]) == 4 for m in alternates["markets"])
    mlb_alternates = json.loads(mlb_body)[0]["events"][0]["displayGroups"][1]
    assert mlb_alternates["description"] == "Alternate Lines"
    assert mlb_alternates["alternateType"] is False  # as in the capture: skip by description


async def test_unknown_league_and_empty_slates() -> None:
    options, scenarios = tiny()
    scenarios["nfl"] = Scenario("nfl", [], [], [], [])
    async with served(options, scenarios) as (running, sim, session):
        assert (await get(session, coupon_url(running.base_url, "hockey/nhl")))[0] == 404
        assert (await get(session, coupon_url(running.base_url, "baseball/mlb")))[0] == 404
        status, _, body = await get(session, coupon_url(running.base_url, "football/nfl"))
        assert (status, json.loads(body)) == (200, [])
        sim.leagues["nba"].clock.advance(1_000)
        sim.leagues["nba"].clock.start()
        sim.tick()
        assert json.loads((await get(session, coupon_url(running.base_url)))[2]) == []


@pytest.mark.parametrize("status", [429, 503, 500])
async def test_fail_next_answers_the_status_with_retry_after(status: int) -> None:
    options, scenarios = tiny()
    async with served(options, scenarios) as (running, sim, session):
        sim.fail_next(status, 2)
        answers = [await get(session, coupon_url(running.base_url)) for _ in range(3)]
    assert [a[0] for a in answers] == [status, status, 200]
    assert answers[0][1].get("Retry-After") == ("1" if status in (429, 503) else None)
    assert sim.coupon_requests == 3


async def test_option_faults_fail_once_then_answer_unreadable() -> None:
    faults = Faults(http_status=429, http_failures=1, unreadable_api=True)
    async with served(SimOptions(slate_day=DAY, faults=faults)) as (running, _, session):
        first = await get(session, coupon_url(running.base_url))
        second = await get(session, coupon_url(running.base_url))
    assert first[0] == 429 and first[1]["Retry-After"] == "1"
    assert second[0] == 200 and json.loads(second[2]) == {"redesigned": True, "events": "v2"}


# --- the websocket -----------------------------------------------------------------------------


async def test_subscribe_catches_up_then_streams_the_steps() -> None:
    options, scenarios = tiny()
    async with (
        served(options, scenarios) as (running, sim, session),
        session.ws_connect(ws_url(running.base_url)) as ws,
    ):
        runtime = sim.leagues["nba"]
        assert not runtime.clock.running
        await ws.send_str(subscribe(GAME))
        catch_up = await recv_update(ws)
        assert [(d["type"], d["target"], d["eventId"]) for d, _ in catch_up] == [
            ("MARKET", str(m), str(GAME)) for m in (ML, HC, OU)]  # fmt: skip
        assert [o["price"]["american"] for o in catch_up[0][1]["outcomes"]] == ["+130", "-150"]
        assert runtime.clock.running and sim.subscribes == [str(GAME)] and sim.connections == 1

        runtime.clock.advance(10)
        sim.tick()
        [(descriptor, payload)] = await recv_update(ws)
        assert descriptor == {"eventId": str(GAME), "type": "OUTCOME", "target": "1000000002",
                              "parentId": str(ML)}  # fmt: skip
        assert payload["id"] == "1000000002" and payload["price"]["american"] == "-160"
        assert payload["price"]["decimal"] == "1.625" and "handicap" not in payload["price"]

        runtime.clock.advance(10)
        sim.tick()
        line = await recv_update(ws)
        assert [(d["target"], p["price"]["handicap"], p["price"]["american"]) for d, p in line] == [
            ("1000000003", "4.5", "-110"), ("1000000004", "-4.5", "-115")]  # fmt: skip

        runtime.clock.advance(10)
        sim.tick()
        assert await recv_update(ws) == [
            ({"eventId": str(GAME), "type": "MARKET_STATUS", "target": str(HC)},
             {"id": str(HC), "status": "S"})]  # fmt: skip
        assert sim.slate("nba")[0]["events"][0]["displayGroups"][0]["markets"][1]["status"] == "S"

        runtime.clock.advance(20)
        sim.tick()
        assert (await recv_update(ws))[0][1] == {"id": str(HC), "status": "O"}
        assert await recv_update(ws) == [
            ({"eventId": str(GAME), "type": "EVENT", "target": str(GAME), "mode": "DELETE"},
             {"id": str(GAME)})]  # fmt: skip
        assert [e["id"] for e in sim.slate("nba")[0]["events"]] == [str(QUIET)]
        assert sim.frames_sent == 6  # the catch-up and five steps
        # The ended event was the only subscription: scenario time stands still again.
        assert not runtime.clock.running


async def test_ended_and_unknown_events_get_the_event_over_frame() -> None:
    options, scenarios = tiny()
    async with (
        served(options, scenarios) as (running, sim, session),
        session.ws_connect(ws_url(running.base_url)) as ws,
    ):
        runtime = sim.leagues["nba"]
        runtime.clock.advance(60)
        runtime.clock.start()
        sim.tick()
        runtime.clock.pause()
        for event_id in (GAME, UNKNOWN):
            await ws.send_str(subscribe(event_id))
            [(descriptor, payload)] = await recv_update(ws)
            assert descriptor == {"eventId": str(event_id), "type": "EVENT",
                                  "target": str(event_id), "mode": "DELETE"}  # fmt: skip
            assert payload == {"id": str(event_id)}
        assert sim.subscribes == [str(GAME), str(UNKNOWN)]
        assert not runtime.clock.running  # nothing to follow: the clock stays paused


async def test_heartbeats_arrive_and_are_not_update_frames() -> None:
    options, scenarios = tiny()
    async with served(options, scenarios) as (running, sim, session):
        sim.heartbeat_s = 0.1
        async with session.ws_connect(ws_url(running.base_url)) as ws:
            texts = [await recv_text(ws, timeout=1.0) for _ in range(3)]
    assert texts == ['{"id":0}'] * 3 and sim.frames_sent == 0


async def test_unsubscribe_stops_updates_and_pauses_the_clock() -> None:
    options, scenarios = tiny()
    async with served(options, scenarios) as (running, sim, session):
        sim.heartbeat_s = 0.2
        runtime = sim.leagues["nba"]
        async with session.ws_connect(ws_url(running.base_url)) as ws:
            await ws.send_str(subscribe(GAME))
            await ws.send_str(subscribe(QUIET))
            assert len(await recv_update(ws)) == 3 and len(await recv_update(ws)) == 1
            await ws.send_str(f"UNSUBSCRIBE|{GAME}")
            await asyncio.sleep(0.05)  # let the server read it
            assert runtime.clock.running  # QUIET is still followed
            runtime.clock.advance(10)
            sim.tick()  # the price step of GAME: nobody follows GAME any more
            assert await recv_text(ws) == '{"id":0}'
            await ws.send_str(f"UNSUBSCRIBE|{QUIET}")
            await asyncio.sleep(0.05)
            assert not runtime.clock.running
            paused_at = runtime.clock.now()
            await asyncio.sleep(0.1)
            assert runtime.clock.now() == paused_at
        assert sim.frames_sent == 2 and runtime.next_step == 1


async def test_a_closed_socket_pauses_the_clock() -> None:
    options, scenarios = tiny()
    async with served(options, scenarios) as (running, sim, session):
        async with session.ws_connect(ws_url(running.base_url)) as ws:
            await ws.send_str(subscribe(QUIET))
            await recv_update(ws)
            assert sim.leagues["nba"].clock.running
        for _ in range(50):
            if not sim.leagues["nba"].clock.running:
                break
            await asyncio.sleep(0.01)
        assert not sim.leagues["nba"].clock.running


async def test_malformed_next_precedes_one_update_frame() -> None:
    options, scenarios = tiny()
    async with (
        served(options, scenarios) as (running, sim, session),
        session.ws_connect(ws_url(running.base_url)) as ws,
    ):
        await ws.send_str(subscribe(GAME))
        await recv_update(ws)
        sim.malformed_next()
        sim.leagues["nba"].clock.advance(20)
        sim.tick()
        cut = await recv_text(ws)
        with pytest.raises(ValueError):
            json.loads(cut)
        assert cut.startswith('{"eventId":') and "|" not in cut
        assert len(await recv_update(ws)) == 1  # the real frame follows
        assert len(await recv_update(ws)) == 2  # and only once
        assert sim.frames_sent == 3


async def test_drop_after_closes_the_socket_once() -> None:
    options = SimOptions(slate_day=DAY, speed=0.001, faults=Faults(drop_after=2))
    async with served(options, {"nba": tiny_scenario()}) as (running, sim, session):
        async with session.ws_connect(ws_url(running.base_url)) as ws:
            await ws.send_str(subscribe(GAME))
            await recv_update(ws)
            sim.leagues["nba"].clock.advance(10)
            sim.tick()
            await recv_update(ws)
            msg = await ws.receive(timeout=RECV_TIMEOUT)
            assert msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED)
        async with session.ws_connect(ws_url(running.base_url)) as again:
            await again.send_str(subscribe(GAME))
            await recv_update(again)
            sim.leagues["nba"].clock.advance(10)
            sim.tick()
            assert len(await recv_update(again)) == 2  # not dropped a second time
        assert sim.connections == 2


def test_exports_and_mount() -> None:
    assert sim_exports("http://127.0.0.1:8123/") == {
        "SITE": "http://127.0.0.1:8123",
        "API": "http://127.0.0.1:8123",
        "WS": "ws://127.0.0.1:8123/services/sports/subscription",
    }
    app = web.Application()
    mount_sim(app, SimOptions(slate_day=DAY))
    assert set(app[SIM_KEY].leagues) == {"nba", "nfl", "mlb"}
