"""`snuper -t monitor` against the BetMGM simulator: a hand-written scenario with known price
moves, one line move, a suspension, a 503 burst and one malformed answer."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path
from typing import Any

from snuper.providers.betmgm.sim import (
    LeagueWorld,
    Scenario,
    SimFixture,
    SimMarket,
    SimResult,
    Step,
)
from snuper.sim.options import SimOptions
from snuper.slate import SLATE_ZONE
from tests.e2e.betmgm_fixtures import betmgm_sim
from tests.e2e.cli import FROZEN_DAY, snuper
from tests.e2e.records import moves, read_odds

BUSY, QUIET = 18_000_001, 18_000_002
ML, HC, OU = 510_001, 510_002, 510_003


def game(
    fixture_id: int, base: int, home: str, away: str, hour: int, model: Any
) -> tuple[SimFixture, list[SimMarket], list[SimResult]]:
    # 23:30 in New York is after midnight UTC: the game stays on its New York slate.
    start = datetime.combine(FROZEN_DAY, time(hour, 30), SLATE_ZONE)
    fixture = SimFixture(fixture_id, home, away, start, model, base + 1, base + 2)
    ml, hc, ou = base + 1, base + 2, base + 3
    markets = [SimMarket(ml, fixture_id, "moneyline"), SimMarket(hc, fixture_id, "spread"),
               SimMarket(ou, fixture_id, "total")]  # fmt: skip
    r = base * 10
    results = [
        SimResult(r + 1, ml, "home", -150, None), SimResult(r + 2, ml, "away", 130, None),
        SimResult(r + 3, hc, "home", -110, -3.5), SimResult(r + 4, hc, "away", -110, 3.5),
        SimResult(r + 5, ou, "over", -105, 221.5), SimResult(r + 6, ou, "under", -115, 221.5),
    ]  # fmt: skip
    return fixture, markets, results


def scenario() -> Scenario:
    busy, busy_markets, busy_results = game(BUSY, 510_000, "Boston Celtics", "New York Knicks",
                                            19, "games")  # fmt: skip
    quiet, quiet_markets, quiet_results = game(QUIET, 520_000, "Miami Heat", "Chicago Bulls",
                                               23, "optionMarkets")  # fmt: skip
    steps = [
        Step(24, "price", BUSY, ML, "home", american=-160),
        Step(32, "price", BUSY, OU, "over", american=-115),
        Step(40, "line", BUSY, HC, "home", american=-105, line=-4.5),
        Step(48, "price", BUSY, ML, "away", american=140),
        Step(52, "suspend", BUSY, ML),
        Step(58, "resume", BUSY, ML),
        Step(64, "price", BUSY, ML, "home", american=-170),
        Step(72, "price", BUSY, OU, "under", american=100),
        Step(84, "end", BUSY),
        Step(88, "end", QUIET),
    ]
    return Scenario("nba", [busy, quiet], busy_markets + quiet_markets,
                    busy_results + quiet_results, steps)  # fmt: skip


def moved_spread_ids() -> tuple[str, str]:
    """The result ids the line move gives (from the simulator's world, not from its JSON)."""
    world = LeagueWorld(scenario())
    for step in scenario().steps[:3]:
        world.apply(step)
    return str(world.find(HC, "home").result_id), str(world.find(HC, "away").result_id)


def expected() -> list[tuple[Any, ...]]:
    home, away = moved_spread_ids()
    r = 510_000 * 10
    return [
        (str(r + 1), None, -160, None, -150),
        (str(r + 5), 221.5, -115, 221.5, -105),
        (home, -4.5, -105, -3.5, -110),
        (away, 4.5, -110, 3.5, -110),
        (str(r + 2), None, 140, None, 130),
        (str(r + 1), None, -170, None, -160),
        (str(r + 6), 221.5, 100, 221.5, -115),
    ]


async def test_monitor_polls_every_move_once_through_a_503_burst_and_a_bad_answer(
    tmp_path: Path,
) -> None:
    out = str(tmp_path)
    # 4 scenario seconds per real second; polls every 0.5 s (2 scenario s), moves 6-8 s apart.
    async with betmgm_sim(SimOptions(speed=4), {"nba": scenario()}) as (running, sim):
        env = {**running.exports, "SNUPER_POLL_GAP": "0"}
        scrape = await snuper("-t", "scrape", "-p", "betmgm", "-l", "nba", "-o", out, env=env)
        assert scrape.code == 0, scrape.stderr
        sim.fail_next(503, 3)  # the monitor's first three polls: 503 with Retry-After: 1
        sim.malformed_next(after=3)  # then one cut-off answer
        monitor = await snuper("-t", "monitor", "-p", "betmgm", "-l", "nba", "-o", out,
                               "--heartbeat", "1", "-i", "0.5", "--max-runtime", "90",
                               env=env, timeout=120)  # fmt: skip
    assert monitor.code == 0, monitor.stderr
    assert "stopped (events over)" in monitor.stderr

    busy = read_odds(tmp_path, "betmgm", "nba", BUSY)
    assert moves(busy) == expected()
    assert len([r for r in busy if r["type"] == "odds"]) == len(expected())  # none doubled

    quiet = read_odds(tmp_path, "betmgm", "nba", QUIET)
    assert quiet and {r["type"] for r in quiet} == {"heartbeat"}

    log = monitor.stderr.splitlines()
    malformed = [line for line in log if "malformed message" in line]
    assert len(malformed) == 1 and "WARNING" in malformed[0]
    assert "pages[0] (skip=0): not JSON" in malformed[0]
    lost = [line for line in log if "connection lost" in line]
    assert len(lost) == 3 and all("HTTP 503" in line for line in lost)
    # Retry-After: 1 is honoured whatever the backoff would have chosen.
    assert all(float(line.rsplit(" in ", 1)[1].rstrip("s")) >= 1.0 for line in lost)
    assert "Traceback" not in monitor.stderr
