"""The DraftKings simulator over real sockets, decoded with plain msgpack (never the parser)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import aiohttp
import msgpack
import pytest
from aiohttp import web

from snuper.providers.draftkings.sim import (
    SIM_KEY,
    DraftKingsSim,
    LeagueWorld,
    Scenario,
    SimEvent,
    SimMarket,
    SimSelection,
    Step,
    display_odds,
    generate_scenario,
    selection_id,
    sim_exports,
)
from snuper.sim.clock import ScenarioClock
from snuper.sim.options import Faults, SimOptions
from snuper.sim.server import start_sim
from snuper.slate import SLATE_ZONE

DAY = date(2026, 12, 1)
EVENT = "30000001"
ML, HC, OU = "1_80000001", "2_80000001", "3_80000001"
RECV_TIMEOUT = 3.0


def tiny_scenario() -> Scenario:
    """One NBA game: a price move, a spread line move, a suspend/resume and the end."""
    start = datetime(2026, 12, 2, 0, 10, tzinfo=UTC)
    event = SimEvent(EVENT, "BOS Celtics", "NY Knicks", "BOS", "NY", start)
    markets = [
        SimMarket(ML, EVENT, "moneyline"),
        SimMarket(HC, EVENT, "spread"),
        SimMarket(OU, EVENT, "total"),
    ]
    selections = [
        SimSelection("0ML80000001_1", ML, "BOS Celtics", "Home", -150, None),
        SimSelection("0ML80000001_3", ML, "NY Knicks", "Away", 130, None),
        SimSelection("0HC80000001N350_1", HC, "BOS Celtics", "Home", -110, -3.5),
        SimSelection("0HC80000001P350_3", HC, "NY Knicks", "Away", -110, 3.5),
        SimSelection("0OU80000001O22050_1", OU, "Over", "Over", -115, 220.5),
        SimSelection("0OU80000001U22050_3", OU, "Under", "Under", 100, 220.5),
    ]
    steps = [
        Step(10, "price", EVENT, ML, "Home", american=-160),
        Step(20, "line", EVENT, HC, "Home", american=-105, points=-4.5),
        Step(25, "suspend", EVENT, OU),
        Step(26, "resume", EVENT, OU),
        Step(30, "end", EVENT),
    ]
    return Scenario("nba", [event], markets, selections, steps)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait for a condition the simulator reaches on its own (bounded, never a fixed sleep)."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@asynccontextmanager
async def serve(
    faults: Faults | None = None, speed: float = 1000.0, scenario: Scenario | None = None
) -> AsyncIterator[tuple[str, DraftKingsSim]]:
    options = SimOptions(seed=7, speed=speed, slate_day=DAY, faults=faults or Faults())
    app = web.Application()
    DraftKingsSim(options, {"nba": scenario or tiny_scenario()}).mount(app)
    running = await start_sim(options, app=app, providers=[])
    try:
        yield running.base_url, app[SIM_KEY]
    finally:
        await running.close()


def subscribe(sub_id: str, query: str, *, entity: str = "events", initial: bool = True) -> bytes:
    """A subscribe the way the site sends it (key order and fields as captured)."""
    return bytes(
        msgpack.packb(
            {
                "jsonrpc": "2.0",
                "method": "subscribe",
                "id": sub_id,
                "params": {
                    "entity": entity,
                    "queryParams": {
                        "query": query,
                        "initialData": initial,
                        "includeMarkets": "$filter=clientMetadata/subCategoryId eq '4511'",
                        "projection": "sportsbook",
                        "locale": "en",
                    },
                    "forwardedHeaders": {},
                    "clientMetadata": {"feature": "league", "X-Client-Name": "web"},
                    "jwt": "default-token",
                    "siteName": "dkusnj",
                },
            }
        )
    )


LEAGUE_QUERY = "$filter=leagueId eq '42648' AND clientMetadata/Subcategories/any(s: s/Id eq '4511')"


async def recv(ws: aiohttp.ClientWebSocketResponse) -> Any:
    msg = await ws.receive(timeout=RECV_TIMEOUT)
    assert msg.type == aiohttp.WSMsgType.BINARY, msg
    return msgpack.unpackb(msg.data, timestamp=3)


def groups(frame: Any) -> list[list[list[Any]]]:
    assert frame[1] == "update" and frame[3] is None
    payload = frame[2]
    assert set(payload[2]) == {"createdTime", "receivedTime", "publishedTime"}
    result: list[list[list[Any]]] = payload[0]
    return result


# --- scenario --------------------------------------------------------------------------------


def test_selection_id_encodings() -> None:
    assert selection_id("1_84695570", "Home", None) == "0ML84695570_1"
    assert selection_id("1_84695570", "Away", None) == "0ML84695570_3"
    assert selection_id("2_84695570", "Away", 8.5) == "0HC84695570P850_3"
    assert selection_id("2_84695570", "Home", -8.5) == "0HC84695570N850_1"
    assert selection_id("2_84695570", "Away", -3.0) == "0HC84695570N300_3"
    assert selection_id("3_84695570", "Over", 47.5) == "0OU84695570O4750_1"
    assert selection_id("3_86627202", "Under", 16.5) == "0OU86627202U1650_3"
    with pytest.raises(ValueError):
        selection_id("3_1", "Home", 47.5)
    with pytest.raises(ValueError):
        selection_id("9_1", "Home", None)


def test_display_odds() -> None:
    assert display_odds(350) == ["+350", "4.50", "7/2", "22%", "22%", "4.50x"]
    assert display_odds(-455) == ["\u2212455", "1.21", "20/91", "81%", "81%", "1.21x"]
    assert display_odds(-108)[:3] == ["\u2212108", "1.92", "25/27"]
    assert display_odds(100)[:3] == ["EVEN", "2.00", "1/1"]


@pytest.mark.parametrize("league", ["nba", "nfl", "mlb"])
def test_generate_scenario_is_deterministic_and_complete(league: str) -> None:
    duration = 1800.0
    sc = generate_scenario(league, seed=11, slate_day=DAY, duration=duration)
    assert sc == generate_scenario(league, seed=11, slate_day=DAY, duration=duration)
    assert sc != generate_scenario(league, seed=12, slate_day=DAY, duration=duration)
    assert len(sc.events) == 3 and len(sc.markets) == 9 and len(sc.selections) == 18
    for event in sc.events:
        assert event.event_id.isdigit()
        assert re.fullmatch(r"[A-Z]{2,3} [\w ]+", event.home), event.home
        assert event.home.split(" ")[0] in (event.home_short, "LA", "NY", "CHI")
        local = event.start.astimezone(SLATE_ZONE)
        assert local.date() == DAY and local.hour >= 18 and event.start.tzinfo is not None
        assert event.name == f"{event.away} @ {event.home}"
    kinds = {m.market_id[:2]: m.kind for m in sc.markets}
    assert kinds == {"1_": "moneyline", "2_": "spread", "3_": "total"}
    for sel in sc.selections:
        assert sel.selection_id == selection_id(sel.market_id, sel.outcome, sel.points)
        assert sel.american >= 100 or sel.american <= -100
    prices = [s.american for s in sc.selections]
    assert 100 in prices and any(p < 0 for p in prices)
    steps = sc.steps
    assert [s.at for s in steps] == sorted(s.at for s in steps)
    assert all(0 <= s.at <= duration for s in steps)
    ends = [s for s in steps if s.kind == "end"]
    assert sorted(s.event_id for s in ends) == sorted(e.event_id for e in sc.events)
    assert all(0.6 * duration <= s.at <= duration for s in ends)
    assert len({s.at for s in ends}) == len(ends)
    assert any(s.kind == "line" for s in steps)
    assert [s.kind for s in steps if s.kind in ("suspend", "resume")] == ["suspend", "resume"]
    for event in sc.events:
        mine = [s for s in steps if s.event_id == event.event_id]
        assert mine[-1].kind == "end"
    quiet = [
        e
        for e in sc.events
        if not any(s.event_id == e.event_id and s.at < 0.6 * duration for s in steps)
    ]
    assert len(quiet) == 1
    busy = [e for e in sc.events if e not in quiet]
    for event in busy:
        assert sum(s.kind == "price" and s.event_id == event.event_id for s in steps) >= 3
    # Every step applies cleanly, and a line move really changes the ids.
    world = LeagueWorld(sc)
    for step in steps:
        world.apply(step)
    assert not world.events and not world.markets and not world.selections


def test_line_move_replaces_every_selection_of_the_market() -> None:
    world = LeagueWorld(tiny_scenario())
    [delta] = world.apply(Step(1, "line", EVENT, HC, "Away", american=-120, points=5.5))
    inserted = {row[1][0]: row[1] for row in delta.selection_inserts}
    assert set(inserted) == {"0HC80000001P550_3", "0HC80000001N550_1"}
    assert inserted["0HC80000001P550_3"][10] == "0HC80000001P350_3"
    assert inserted["0HC80000001P550_3"][3][0] == "\u2212120"
    assert inserted["0HC80000001N550_1"][3][0] == "\u2212110"  # the other side keeps its price
    assert sorted(delta.selection_deletes) == ["0HC80000001N350_1", "0HC80000001P350_3"]
    [delta] = world.apply(Step(2, "line", EVENT, OU, "Over", points=221.5))
    assert {row[1][5] for row in delta.selection_inserts} == {221.5}


def test_clock_runs_only_while_started() -> None:
    now = [100.0]
    clock = ScenarioClock(60.0, timer=lambda: now[0])
    now[0] += 5
    assert clock.now() == 0.0 and not clock.running
    clock.start()
    now[0] += 2
    assert clock.now() == 120.0
    clock.pause()
    now[0] += 10
    assert clock.now() == 120.0
    clock.start()
    clock.start()
    now[0] += 1
    assert clock.now() == 180.0
    clock.advance(20)
    assert clock.now() == 200.0


# --- HTTP ------------------------------------------------------------------------------------


async def test_rest_json_has_the_documented_shape() -> None:
    async with serve() as (base, sim), aiohttp.ClientSession() as http:
        url = f"{base}/api/sportscontent/dkusnj/v1/leagues/42648"
        async with http.get(url) as resp:
            assert resp.status == 200
            text = await resp.text()
        assert text.isascii() and "\\u2212" in text and "\\u002B130" in text
        assert '"american":"EVEN"' in text and "isSuspended" not in text
        body = json.loads(text)
        assert set(body) >= {"sports", "leagues", "events", "markets", "selections"}
        [event] = body["events"]
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z", event["startEventDate"])
        assert event["name"] == "NY Knicks @ BOS Celtics"
        assert event["seoIdentifier"] == "ny-knicks-%40-bos-celtics"
        roles = {p["venueRole"]: p["metadata"]["shortName"] for p in event["participants"]}
        assert roles == {"Home": "BOS", "Away": "NY"}
        types = {m["id"]: m["marketType"]["betOfferTypeId"] for m in body["markets"]}
        assert types == {ML: 2, HC: 1, OU: 6}
        by_id = {s["id"]: s for s in body["selections"]}
        assert "points" not in by_id["0ML80000001_1"]
        assert by_id["0ML80000001_1"]["displayOdds"]["american"] == "\u2212150"
        assert by_id["0HC80000001N350_1"]["points"] == -3.5
        assert by_id["0OU80000001O22050_1"]["outcomeType"] == "Over"
        sub_url = f"{url}/categories/487/subcategories/4511"
        async with http.get(sub_url) as resp:
            assert await resp.text() == text
        sim.leagues["nba"].world.markets[OU].suspended = True
        async with http.get(url) as resp:
            assert '"isSuspended":true' in await resp.text()
        async with http.get(f"{base}/api/sportscontent/dkusnj/v1/leagues/1") as resp:
            assert resp.status == 404
        assert sim.api_requests == 4


async def test_league_page_fetches_the_api_and_renders_links() -> None:
    async with serve() as (base, _sim), aiohttp.ClientSession() as http:
        async with http.get(f"{base}/leagues/basketball/nba") as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
            html = await resp.text()
        assert "fetch(" in html and "location.origin" in html
        assert "/api/sportscontent/dkusnj/v1/leagues/42648" in html
        assert '"/event/" + ev.seoIdentifier + "/" + ev.id' in html
        async with http.get(f"{base}/leagues/football/nfl") as resp:
            assert resp.status == 404  # this sim only holds an NBA scenario
        async with http.get(f"{base}/event/ny-knicks-%40-bos-celtics/{EVENT}") as resp:
            assert resp.status == 200


async def test_http_faults_429_then_ok_and_delay() -> None:
    faults = Faults(http_status=429, http_failures=2, delay_s=0.05)
    async with serve(faults) as (base, sim), aiohttp.ClientSession() as http:
        url = f"{base}/api/sportscontent/dkusnj/v1/leagues/42648"
        statuses = []
        began = time.monotonic()
        for _ in range(3):
            async with http.get(url) as resp:
                statuses.append(resp.status)
                if resp.status == 429:
                    assert resp.headers["Retry-After"] == "1"
        assert statuses == [429, 429, 200]
        assert time.monotonic() - began >= 0.15
        assert sim.http_requests == 3


# --- websocket -------------------------------------------------------------------------------


async def test_websocket_subscribe_initial_data_and_live_moves() -> None:
    async with serve() as (base, sim), aiohttp.ClientSession() as http:
        runtime = sim.leagues["nba"]
        assert runtime.next_step == 0 and not runtime.clock.running  # nobody watching yet
        async with http.ws_connect(f"{base}/websocket?format=msgpack&locale=en") as ws:
            await ws.send_bytes(subscribe("sub-1", LEAGUE_QUERY))
            ack = await recv(ws)
            assert ack[:4] == ["sub-1", "subscribed", None, None]
            assert isinstance(ack[4][0], datetime) and ack[4][1] == 0

            inserts, deletes, changes = groups(await recv(ws))
            assert [len(inserts), len(deletes), len(changes)] == [5, 3, 3]
            markets = inserts[1]
            assert {tag for tag, _ in markets} == {34} and len(markets) == 3
            market_types = {row[0]: row[7][1] for _, row in markets}
            assert market_types == {ML: 2, HC: 1, OU: 6}
            assert all(row[1] == EVENT and row[5] is False for _, row in markets)
            sels = {row[0]: row for tag, row in inserts[2] if tag == 35}
            assert len(sels) == 6
            assert sels["0ML80000001_3"][3][0] == "+130" and sels["0ML80000001_3"][5] is None
            assert sels["0OU80000001U22050_3"][3][0] == "EVEN"
            assert sels["0HC80000001N350_1"][5] == -3.5 and sels["0HC80000001N350_1"][6] == "Home"

            inserts, deletes, changes = groups(await recv(ws))  # price move: tag 24, same id
            [[tag, row]] = changes[2]
            assert tag == 24 and row[0] == "0ML80000001_1" and row[2][0] == "\u2212160"
            assert row[3] == pytest.approx(1.625)

            inserts, deletes, changes = groups(await recv(ws))  # line move: 35 + deletes
            new = {row[0]: row for tag, row in inserts[2] if tag == 35}
            assert set(new) == {"0HC80000001N450_1", "0HC80000001P450_3"}
            assert new["0HC80000001N450_1"][10] == "0HC80000001N350_1"
            assert new["0HC80000001P450_3"][10] == "0HC80000001P350_3"
            assert new["0HC80000001N450_1"][3][0] == "\u2212105"
            assert sorted(deletes[2]) == ["0HC80000001N350_1", "0HC80000001P350_3"]

            for suspended in (True, False):
                _, _, changes = groups(await recv(ws))
                [[tag, row]] = changes[1]
                assert tag == 23 and row[0] == OU and row[2] is suspended

            _, _, changes = groups(await recv(ws))  # end: the event change first
            [[tag, row]] = changes[0]
            assert tag == 22 and row[0] == EVENT and "OSB" not in row[6]
            deleted: list[str] = []
            for _ in range(1 + 3 + 6):
                _, deletes, _ = groups(await recv(ws))
                deleted.extend(d for group in deletes for d in group)
            assert deleted[0] == EVENT and set(deleted[1:4]) == {ML, HC, OU}
            assert len(set(deleted[4:])) == 6
            assert runtime.done

            await ws.send_bytes(msgpack.packb({"jsonrpc": "2.0", "method": "unsubscribe",
                                               "id": "sub-1", "params": {}}))  # fmt: skip
            assert (await recv(ws))[:2] == ["sub-1", "unsubscribe"]
        assert sim.connections == 1 and sim.frames_sent == 1 + 1 + 1 + 2 + 1 + 10
        await until(lambda: not runtime.clock.running)


def test_initial_state_lists_the_live_events_and_omits_ended_ones() -> None:
    sc = generate_scenario("nba", seed=11, slate_day=DAY, duration=1800.0)
    world = LeagueWorld(sc)
    first_end = next(s for s in sc.steps if s.kind == "end")
    for step in sc.steps:
        world.apply(step)
        if step is first_end:
            break
    ended = first_end.event_id
    live = [e.event_id for e in sc.events if e.event_id != ended]
    assert list(world.events) == live and world.ended == {ended}
    groups = world.initial_rows(list(world.events)).groups("events", keep_empty=True)
    assert groups is not None
    inserts, deletes, changes = groups
    assert [len(inserts), len(deletes), len(changes)] == [5, 3, 3]
    assert not any(deletes) and not any(changes)  # a state: inserts only
    assert [(tag, row[0]) for tag, row in inserts[0]] == [(22, e) for e in live]
    assert {row[3] for _, row in inserts[0]} == {"NOT_STARTED"}
    assert {row[1] for _, row in inserts[1]} == set(live)  # markets of live events only
    assert len(inserts[1]) == 3 * len(live) and len(inserts[2]) == 6 * len(live)
    # Once every event is over the state is empty, and still sent.
    for step in sc.steps[sc.steps.index(first_end) + 1 :]:
        world.apply(step)
    assert world.initial_rows([]).groups("events") is None
    assert world.initial_rows([]).groups("events", keep_empty=True) == [
        [[], [], [], [], []],
        [[], [], []],
        [[], [], []],
    ]
    assert world.initial_rows([]).groups("markets", keep_empty=True) == [[[], []]] * 3


async def test_initial_data_lists_the_event_row_first() -> None:
    async with (
        serve() as (base, _sim),
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{base}/websocket") as ws,
    ):
        await ws.send_bytes(subscribe("s", LEAGUE_QUERY))
        assert (await recv(ws))[1] == "subscribed"
        inserts, deletes, changes = groups(await recv(ws))
        [[tag, row]] = inserts[0]
        assert tag == 22 and row[0] == EVENT and row[3] == "NOT_STARTED"
        assert isinstance(row[1], datetime) and "OSB" in row[6]
        assert {r[1] for _, r in inserts[1]} == {EVENT}
        assert not any(deletes) and not any(changes)


async def test_late_subscriber_gets_a_state_without_the_ended_event() -> None:
    async with serve() as (base, sim), aiohttp.ClientSession() as http:
        runtime = sim.leagues["nba"]
        url = f"{base}/websocket"
        async with http.ws_connect(url) as early:
            await early.send_bytes(subscribe("early", LEAGUE_QUERY, initial=False))
            assert (await recv(early))[1] == "subscribed"
            await until(lambda: runtime.done)  # the scenario runs to the end of its only event
            assert EVENT in runtime.world.ended
        sent = sim.frames_sent
        per_event = f"$filter=id eq '{EVENT}' and tags / any(t: t eq 'OSB')"
        async with http.ws_connect(url) as late:
            await late.send_bytes(subscribe("league", LEAGUE_QUERY))
            await late.send_bytes(subscribe("event", per_event))
            await late.send_bytes(subscribe("markets", per_event, entity="markets"))
            frames = [await recv(late) for _ in range(6)]
        acks = [f[0] for f in frames if f[1] == "subscribed"]
        states = {f[0]: groups(f) for f in frames if f[1] == "update"}
        assert sorted(acks) == sorted(states) == ["event", "league", "markets"]
        # Sent although empty: the late client learns from it that nothing is listed.
        empty_events: list[Any] = [[[], [], [], [], []], [[], [], []], [[], [], []]]
        assert states["league"] == states["event"] == empty_events
        assert states["markets"] == [[[], []], [[], []], [[], []]]
        assert sim.frames_sent == sent + 3


async def test_event_subscription_and_clock_pauses_without_subscribers() -> None:
    slow = tiny_scenario()
    slow.steps = [replace(s, at=s.at * 100) for s in slow.steps]  # first step after 1 s real
    async with serve(scenario=slow) as (base, sim), aiohttp.ClientSession() as http:
        runtime = sim.leagues["nba"]
        async with http.ws_connect(f"{base}/websocket") as ws:
            query = f"$filter=id eq '{EVENT}' and tags / any(t: t eq 'OSB')"
            await ws.send_bytes(subscribe("ev", query, entity="markets"))
            assert (await recv(ws))[1] == "subscribed"
            inserts, deletes, changes = groups(await recv(ws))
            assert [len(inserts), len(deletes), len(changes)] == [2, 2, 2]
            assert len(inserts[0]) == 3 and len(inserts[1]) == 6
            assert runtime.clock.running
        await until(lambda: not runtime.clock.running)
        # Paused: the scenario did not reach its first step (a paused clock stands still, see
        # the ScenarioClock test with its injected timer).
        assert runtime.next_step == 0


async def test_concurrent_connections_each_get_their_frames() -> None:
    async with serve() as (base, sim), aiohttp.ClientSession() as http:
        url = f"{base}/websocket"
        async with http.ws_connect(url) as first, http.ws_connect(url) as second:
            await first.send_bytes(subscribe("a", LEAGUE_QUERY))
            await second.send_bytes(subscribe("b", LEAGUE_QUERY, initial=False))
            assert (await recv(first))[:2] == ["a", "subscribed"]
            assert (await recv(second))[:2] == ["b", "subscribed"]
            assert (await recv(first))[0] == "a"  # initial data, only for the one that asked
            first_price = groups(await recv(first))[2][2]
            second_price = groups(await recv(second))[2][2]
            assert first_price == second_price and first_price[0][0] == 24
        assert sim.connections == 2


async def test_drop_after_closes_the_first_connection_once() -> None:
    # Steps 100 ms apart: the drop comes well before the next step on a loaded machine (a
    # step queued behind the dropped frame would be lost with the connection, as on the book).
    faults = Faults(drop_after=2)
    async with serve(faults, speed=100) as (base, sim), aiohttp.ClientSession() as http:
        async with http.ws_connect(f"{base}/websocket") as ws:
            await ws.send_bytes(subscribe("s", LEAGUE_QUERY))
            assert (await recv(ws))[1] == "subscribed"
            groups(await recv(ws))  # initial data: update frame 1
            groups(await recv(ws))  # price move: update frame 2, then the drop
            msg = await ws.receive(timeout=RECV_TIMEOUT)
            assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 1011
        async with http.ws_connect(f"{base}/websocket") as ws:
            await ws.send_bytes(subscribe("s", LEAGUE_QUERY, initial=False))
            assert (await recv(ws))[1] == "subscribed"
            _, deletes, _ = groups(await recv(ws))  # the line move: nothing was lost
            assert len(deletes[2]) == 2
            _, _, changes = groups(await recv(ws))  # and this connection is not dropped
            assert changes[1][0][0] == 23
        assert sim.connections == 2


async def test_malformed_at_sends_one_undecodable_frame() -> None:
    async with (
        serve(Faults(malformed_at=2)) as (base, _sim),
        aiohttp.ClientSession() as http,
        http.ws_connect(f"{base}/websocket") as ws,
    ):
        await ws.send_bytes(subscribe("m", LEAGUE_QUERY))
        assert (await recv(ws))[1] == "subscribed"
        groups(await recv(ws))  # update frame 1
        bad = await ws.receive(timeout=RECV_TIMEOUT)
        assert bad.type == aiohttp.WSMsgType.BINARY
        with pytest.raises(Exception):  # noqa: B017 - msgpack raises several types
            msgpack.unpackb(bad.data, timestamp=3)
        assert groups(await recv(ws))[2][2][0][0] == 24  # update frame 2 follows intact
        assert groups(await recv(ws))[1][2]  # then the line move, no more garbage


# --- server ----------------------------------------------------------------------------------


async def test_default_sim_exports_and_serves_every_league() -> None:
    options = SimOptions(seed=3, slate_day=DAY)
    running = await start_sim(options)
    try:
        port = running.base_url.rsplit(":", 1)[1]
        assert running.exports["SNUPER_DRAFTKINGS_WS"] == f"ws://127.0.0.1:{port}/websocket"
        assert running.exports["SNUPER_DRAFTKINGS_SITE"] == running.base_url
        assert running.exports["SNUPER_DRAFTKINGS_API"] == running.base_url
        assert set(running.app[SIM_KEY].leagues) == {"nba", "nfl", "mlb"}
        async with aiohttp.ClientSession() as http:
            for league_id in ("42648", "88808", "84240"):
                url = f"{running.base_url}/api/sportscontent/dkusnj/v1/leagues/{league_id}"
                async with http.get(url) as resp:
                    assert len((await resp.json())["events"]) == 3
    finally:
        await running.close()
    assert sim_exports("http://127.0.0.1:9/")["WS"] == "ws://127.0.0.1:9/websocket"


def test_run_sim_prints_exports_and_stops_on_sigterm() -> None:
    code = (
        "import datetime, sys\n"
        "from snuper.sim.options import SimOptions\n"
        "from snuper.sim.server import run_sim\n"
        "sys.exit(run_sim(SimOptions(slate_day=datetime.date(2026, 12, 1))))\n"
    )
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(3)]
        for line in lines:
            assert re.fullmatch(r"export SNUPER_DRAFTKINGS_(SITE|API|WS)=\S+\n", line), lines
        assert any("ws://127.0.0.1:" in line for line in lines)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
