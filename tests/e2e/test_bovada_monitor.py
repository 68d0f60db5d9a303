"""`snuper -t monitor` against the Bovada simulator: a hand-written scenario with known price
moves, one line move, a suspension, one dropped socket and one malformed frame."""

from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

from snuper.providers.bovada.sim import Scenario, SimEvent, SimMarket, SimOutcome, Step
from snuper.sim.options import Faults, SimOptions
from snuper.slate import SLATE_ZONE
from tests.e2e.bovada_fixtures import bovada_sim
from tests.e2e.cli import FROZEN_DAY, snuper
from tests.e2e.records import moves, read_odds

BUSY, QUIET = 13_000_001, 13_000_002
ML, HC, OU = 300_000_001, 300_000_002, 300_000_003
OUT = 1_400_000_000  # outcome ids: OUT + 1 ... OUT + 6 for the busy game


def game(
    event_id: int, base: int, outcome_base: int, home: str, away: str, hour: int
) -> tuple[SimEvent, list[SimMarket], list[SimOutcome]]:
    # 23:30 in New York is after midnight UTC: the game stays on its New York slate.
    start = datetime.combine(FROZEN_DAY, time(hour, 30), SLATE_ZONE)
    event = SimEvent(event_id, home, away, start, "nba")
    ml, hc, ou = base + 1, base + 2, base + 3
    markets = [SimMarket(ml, event_id, "moneyline"), SimMarket(hc, event_id, "spread"),
               SimMarket(ou, event_id, "total")]  # fmt: skip
    o = outcome_base
    outcomes = [
        SimOutcome(o + 1, ml, "home", -150, None), SimOutcome(o + 2, ml, "away", 130, None),
        SimOutcome(o + 3, hc, "home", -110, -3.5), SimOutcome(o + 4, hc, "away", -110, 3.5),
        SimOutcome(o + 5, ou, "over", -105, 221.5), SimOutcome(o + 6, ou, "under", -115, 221.5),
    ]  # fmt: skip
    return event, markets, outcomes


def scenario() -> Scenario:
    busy, busy_markets, busy_outcomes = game(BUSY, 300_000_000, OUT, "Boston Celtics",
                                             "New York Knicks", 19)  # fmt: skip
    quiet, quiet_markets, quiet_outcomes = game(QUIET, 310_000_000, OUT + 100, "Miami Heat",
                                                "Chicago Bulls", 23)  # fmt: skip
    steps = [
        Step(1, "price", BUSY, ML, "home", american=-160),
        Step(2, "price", BUSY, OU, "over", american=-115),
        Step(3, "line", BUSY, HC, "home", american=-105, line=-4.5),
        Step(4, "price", BUSY, ML, "away", american=100),  # sent as "EVEN"
        Step(5, "suspend", BUSY, ML),
        Step(6, "resume", BUSY, ML),
        Step(7, "price", BUSY, ML, "home", american=-170),
        Step(8, "price", BUSY, OU, "under", american=110),
        Step(30, "end", BUSY),
        Step(31, "end", QUIET),
    ]
    return Scenario("nba", [busy, quiet], busy_markets + quiet_markets,
                    busy_outcomes + quiet_outcomes, steps)  # fmt: skip


# (selection id, line, american, previous line, previous american), in the order they happen.
# The line move keeps the outcome ids (Bovada moves the handicap); the frame lists away first.
EXPECTED = [
    (str(OUT + 1), None, -160, None, -150),
    (str(OUT + 5), 221.5, -115, 221.5, -105),
    (str(OUT + 4), 4.5, -110, 3.5, -110),
    (str(OUT + 3), -4.5, -105, -3.5, -110),
    (str(OUT + 2), None, 100, None, 130),
    (str(OUT + 1), None, -170, None, -160),
    (str(OUT + 6), 221.5, 110, 221.5, -115),
]


async def test_monitor_captures_every_move_once_through_a_drop_and_a_bad_frame(
    tmp_path: Path,
) -> None:
    # 10 scenario seconds per real second. Update frames, counted over the whole simulator:
    # 1-2 the two catch-ups, 3-4 two price moves, then the socket drops; 5-6 the catch-ups of
    # the second connection; a garbage frame precedes the 8th.
    options = SimOptions(speed=10, faults=Faults(drop_after=4, malformed_at=8))
    out = str(tmp_path)
    async with bovada_sim(options, {"nba": scenario()}) as (running, sim):
        scrape = await snuper("-t", "scrape", "-p", "bovada", "-l", "nba", "-o", out,
                              env=running.exports)  # fmt: skip
        assert scrape.code == 0, scrape.stderr
        monitor = await snuper("-t", "monitor", "-p", "bovada", "-l", "nba", "-o", out,
                               "--heartbeat", "1", "-i", "0.2", "--max-runtime", "60",
                               env=running.exports, timeout=90)  # fmt: skip
        connections, subscribes = sim.connections, list(sim.subscribes)
    assert monitor.code == 0, monitor.stderr
    assert "stopped (events over)" in monitor.stderr
    # One reconnect, and both events subscribed again on it.
    assert connections == 2
    assert subscribes == [str(BUSY), str(QUIET)] * 2

    busy = read_odds(tmp_path, "bovada", "nba", BUSY)
    assert moves(busy) == EXPECTED
    assert len([r for r in busy if r["type"] == "odds"]) == len(EXPECTED)  # none doubled

    quiet = read_odds(tmp_path, "bovada", "nba", QUIET)
    assert quiet and {r["type"] for r in quiet} == {"heartbeat"}

    log = monitor.stderr.splitlines()
    malformed = [line for line in log if "malformed message" in line]
    assert len(malformed) == 1 and "WARNING" in malformed[0] and "frame[0]" in malformed[0]
    assert len([line for line in log if "connection lost" in line]) == 1
    assert "Traceback" not in monitor.stderr
