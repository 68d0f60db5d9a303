"""`snuper -t scrape -p betmgm` against the BetMGM simulator, through real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snuper.model import Snapshot
from snuper.providers.betmgm.sim import decimal_odds, generate_scenario
from snuper.sim.options import SimOptions
from snuper.slate import slate_date
from tests.e2e.betmgm_fixtures import betmgm_sim
from tests.e2e.cli import FROZEN_DAY, FROZEN_SLATE, snuper

EVENTS = 5
PAGE = 2  # fixtures per page: 5 events take 3 pages


def expected_slate(seed: int, league: str) -> tuple[list[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """What the simulator serves, from the scenario itself (not from its JSON)."""
    scenario = generate_scenario(league, seed=seed, slate_day=FROZEN_DAY, n_events=EVENTS)
    events = sorted(
        (str(f.fixture_id), f"{f.away} at {f.home}", f.home, f.away, f.start)
        for f in scenario.fixtures
    )
    kinds = {m.market_id: m.kind for m in scenario.markets}
    selections = {
        (str(r.result_id), str(r.market_id), kinds[r.market_id], r.side, r.line, r.american,
         decimal_odds(r.american))
        for r in scenario.results
    }  # fmt: skip
    return events, selections


@pytest.mark.parametrize("league", ["nba", "nfl", "mlb"])
async def test_scrape_writes_the_simulators_slate_exactly(tmp_path: Path, league: str) -> None:
    options = SimOptions(seed=11, events_per_league=EVENTS)
    async with betmgm_sim(options, page_size=PAGE) as (running, sim):
        run = await snuper("-t", "scrape", "-p", "betmgm", "-l", league, "-o", str(tmp_path),
                           env=running.exports)  # fmt: skip
        pages = sim.fixtures_requests
    assert run.code == 0, run.stderr
    assert pages == 3  # the page's own request, then two more pages in the same session
    path = tmp_path / "betmgm" / "events" / f"{FROZEN_SLATE}-{league}.json"
    snapshot = Snapshot.from_json(path.read_bytes())
    assert (snapshot.provider, snapshot.league, snapshot.slate_date) == (
        "betmgm", league, FROZEN_SLATE)  # fmt: skip
    events, selections = expected_slate(11, league)
    got_events = [(e.event_id, e.name, e.home, e.away, e.start_time) for e in snapshot.events]
    assert sorted(got_events) == events
    got = {
        (s.selection_id, s.market_id, s.market, s.side, s.line, s.odds_american, s.odds_decimal)
        for e in snapshot.events
        for s in e.selections
    }
    assert got == selections
    # Late games start after midnight UTC and stay on the New York slate.
    assert any(e.start_time.date() > FROZEN_DAY for e in snapshot.events)
    assert all(slate_date(e.start_time) == FROZEN_SLATE for e in snapshot.events)
    # What the monitor needs is kept in meta.
    assert all(e.meta["access_id"] and e.meta["fixture_id"] == int(e.event_id)
               for e in snapshot.events)  # fmt: skip
    assert {e.meta["model"] for e in snapshot.events} == {"games", "optionMarkets"}
