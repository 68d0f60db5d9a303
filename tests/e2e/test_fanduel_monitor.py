"""`snuper -t monitor` against the FanDuel simulator: a hand-written scenario with known price
moves, one line move, a suspension (with a move while suspended), a 503 burst and one cut-off
answer."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

from snuper.providers.fanduel.sim import (
    OVER_ID,
    UNDER_ID,
    Scenario,
    SimEvent,
    SimMarket,
    SimRunner,
    Step,
    market_id_of,
    team_selection_id,
)
from snuper.sim.options import SimOptions
from snuper.slate import SLATE_ZONE
from tests.e2e.cli import FROZEN_DAY, snuper
from tests.e2e.fanduel_fixtures import fanduel_sim
from tests.e2e.records import moves, read_odds

BUSY, QUIET = 33_500_001, 33_500_002
ML, HC, OU = 81_000_001, 81_000_002, 81_000_003  # market numbers (steps carry numbers)
HOME, AWAY = "Boston Celtics", "New York Knicks"


def game(
    event_id: int, base: int, home: str, away: str, hour: int
) -> tuple[SimEvent, list[SimMarket], list[SimRunner]]:
    # 23:30 in New York is after midnight UTC: the game stays on its New York slate.
    start = datetime.combine(FROZEN_DAY, time(hour, 30), SLATE_ZONE)
    event = SimEvent(event_id, home, away, start, "nba")
    ml, hc, ou = (market_id_of(base + k) for k in (1, 2, 3))
    markets = [SimMarket(ml, event_id, "moneyline"), SimMarket(hc, event_id, "spread"),
               SimMarket(ou, event_id, "total")]  # fmt: skip
    h, a = team_selection_id(home), team_selection_id(away)
    runners = [
        SimRunner(h, ml, "home", -150, None), SimRunner(a, ml, "away", 130, None),
        SimRunner(h, hc, "home", -110, -3.5), SimRunner(a, hc, "away", -110, 3.5),
        SimRunner(OVER_ID, ou, "over", -105, 221.5), SimRunner(UNDER_ID, ou, "under", -115, 221.5),
    ]  # fmt: skip
    return event, markets, runners


def scenario() -> Scenario:
    busy, busy_markets, busy_runners = game(BUSY, 81_000_000, HOME, AWAY, 19)
    quiet, quiet_markets, quiet_runners = game(QUIET, 81_000_100, "Miami Heat", "Chicago Bulls", 23)
    steps = [
        Step(24, "price", BUSY, ML, "home", american=-160),
        Step(32, "price", BUSY, OU, "over", american=-115),
        Step(40, "line", BUSY, HC, "home", american=-105, line=-4.5),
        Step(48, "price", BUSY, ML, "away", american=140),
        Step(52, "suspend", BUSY, ML),
        Step(54, "price", BUSY, ML, "away", american=150),  # not on offer until the resume
        Step(60, "resume", BUSY, ML),
        Step(66, "price", BUSY, ML, "home", american=-170),
        Step(72, "price", BUSY, OU, "under", american=100),
        Step(84, "end", BUSY),
        Step(88, "end", QUIET),
    ]
    return Scenario("nba", [busy, quiet], busy_markets + quiet_markets,
                    busy_runners + quiet_runners, steps)  # fmt: skip


def sel(market: int, selection: int) -> str:
    return f"{market_id_of(market)}_{selection}"


# (selection id, line, american, previous line, previous american), in the order they happen.
# A line move keeps the selection ids and moves the handicaps.
EXPECTED = [
    (sel(ML, team_selection_id(HOME)), None, -160, None, -150),
    (sel(OU, OVER_ID), 221.5, -115, 221.5, -105),
    (sel(HC, team_selection_id(AWAY)), 4.5, -110, 3.5, -110),
    (sel(HC, team_selection_id(HOME)), -4.5, -105, -3.5, -110),
    (sel(ML, team_selection_id(AWAY)), None, 140, None, 130),
    (sel(ML, team_selection_id(AWAY)), None, 150, None, 140),
    (sel(ML, team_selection_id(HOME)), None, -170, None, -160),
    (sel(OU, UNDER_ID), 221.5, 100, 221.5, -115),
]


async def test_monitor_polls_every_move_once_through_a_503_burst_and_a_bad_answer(
    tmp_path: Path,
) -> None:
    out = str(tmp_path)
    # 4 scenario seconds per real second; polls every 0.5 s (2 scenario s), moves 4-12 s apart.
    async with fanduel_sim(SimOptions(speed=4), {"nba": scenario()}) as (running, sim):
        env = {**running.exports, "SNUPER_POLL_GAP": "0"}
        scrape = await snuper("-t", "scrape", "-p", "fanduel", "-l", "nba", "-o", out, env=env)
        assert scrape.code == 0, scrape.stderr
        sim.fail_next(503, 3)  # the monitor's first three polls: 503 with Retry-After: 1
        sim.malformed_next(after=3)  # then one cut-off answer
        monitor = await snuper("-t", "monitor", "-p", "fanduel", "-l", "nba", "-o", out,
                               "--heartbeat", "1", "-i", "0.5", "--max-runtime", "90",
                               env=env, timeout=120)  # fmt: skip
        polls = sim.price_requests
    assert monitor.code == 0, monitor.stderr
    assert "stopped (events over)" in monitor.stderr
    assert polls >= 10

    busy = read_odds(tmp_path, "fanduel", "nba", BUSY)
    assert moves(busy) == EXPECTED
    assert len([r for r in busy if r["type"] == "odds"]) == len(EXPECTED)  # none doubled

    quiet = read_odds(tmp_path, "fanduel", "nba", QUIET)
    assert quiet and {r["type"] for r in quiet} == {"heartbeat"}

    log = monitor.stderr.splitlines()
    malformed = [line for line in log if "malformed message" in line]
    assert len(malformed) == 1 and "WARNING" in malformed[0]
    assert "answers[0] (batch=0): not JSON" in malformed[0]
    lost = [line for line in log if "connection lost" in line]
    assert len(lost) == 3 and all("HTTP 503" in line for line in lost)
    assert all(float(line.rsplit(" in ", 1)[1].rstrip("s")) >= 1.0 for line in lost)
    assert "Traceback" not in monitor.stderr


async def test_without_i_the_monitor_polls_at_fanduels_own_cadence(tmp_path: Path) -> None:
    out = str(tmp_path)
    async with fanduel_sim(SimOptions(speed=4), {"nba": scenario()}) as (running, sim):
        scrape = await snuper("-t", "scrape", "-p", "fanduel", "-l", "nba", "-o", out,
                              env=running.exports)  # fmt: skip
        assert scrape.code == 0, scrape.stderr
        before = sim.price_requests
        monitor = await snuper("-t", "monitor", "-p", "fanduel", "-l", "nba", "-o", out,
                               "--max-runtime", "6", env=running.exports, timeout=60)  # fmt: skip
        polls = sim.price_requests - before
    assert monitor.code == 0, monitor.stderr
    assert "(every 5s)" in monitor.stderr
    assert polls == 2  # at 0 s and 5 s of a 6 s run
