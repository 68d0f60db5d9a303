"""`snuper -t scrape -p fanduel` against the FanDuel simulator, through real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snuper.model import Snapshot
from snuper.providers.fanduel.sim import american_decimal, generate_scenario
from snuper.sim.options import SimOptions
from snuper.slate import slate_date
from tests.e2e.cli import FROZEN_DAY, FROZEN_SLATE, snuper
from tests.e2e.fanduel_fixtures import fanduel_sim

EVENTS = 5


def expected_slate(seed: int, league: str) -> tuple[list[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """What the simulator serves, from the scenario itself (not from its JSON)."""
    scenario = generate_scenario(league, seed=seed, slate_day=FROZEN_DAY, n_events=EVENTS)
    events = sorted(
        (str(e.event_id), f"{e.away} @ {e.home}", e.home, e.away, e.start) for e in scenario.events
    )
    kinds = {m.market_id: m.kind for m in scenario.markets}
    selections = {
        (f"{r.market_id}_{r.selection_id}", r.market_id, kinds[r.market_id], r.side, r.line,
         r.american, round(american_decimal(r.american), 4))
        for r in scenario.runners
    }  # fmt: skip
    return events, selections


@pytest.mark.parametrize("league", ["nba", "nfl", "mlb"])
async def test_scrape_writes_the_simulators_slate_exactly(tmp_path: Path, league: str) -> None:
    options = SimOptions(seed=11, events_per_league=EVENTS)
    async with fanduel_sim(options) as (running, sim):
        run = await snuper("-t", "scrape", "-p", "fanduel", "-l", league, "-o", str(tmp_path),
                           env=running.exports)  # fmt: skip
        pages = sim.page_requests
    assert run.code == 0, run.stderr
    assert pages == 1  # the league page's own request: no page per event
    path = tmp_path / "fanduel" / "events" / f"{FROZEN_SLATE}-{league}.json"
    snapshot = Snapshot.from_json(path.read_bytes())
    assert (snapshot.provider, snapshot.league, snapshot.slate_date) == (
        "fanduel", league, FROZEN_SLATE)  # fmt: skip
    events, selections = expected_slate(11, league)
    got_events = [(e.event_id, e.name, e.home, e.away, e.start_time) for e in snapshot.events]
    # Team names without the MLB pitchers; the outright is not a game.
    assert sorted(got_events) == events
    got = {
        (s.selection_id, s.market_id, s.market, s.side, s.line, s.odds_american, s.odds_decimal)
        for e in snapshot.events
        for s in e.selections
    }
    # Exactly the main lines: alternates, props and the outright are left out.
    assert got == selections
    assert any(e.start_time.date() > FROZEN_DAY for e in snapshot.events)
    assert all(slate_date(e.start_time) == FROZEN_SLATE for e in snapshot.events)
    for e in snapshot.events:
        assert set(e.meta["market_ids"]) == {"moneyline", "spread", "total"}
        assert ("(" in e.meta["listed_as"]) == (league == "mlb")
