"""`snuper -t scrape -p bovada` against the Bovada simulator: plain HTTP, no browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from snuper.model import Snapshot
from snuper.odds import parse_american
from snuper.providers.bovada.sim import american_text, decimal_text, generate_scenario
from snuper.sim.options import Faults, SimOptions
from snuper.slate import slate_date
from tests.e2e.bovada_fixtures import bovada_sim
from tests.e2e.cli import FROZEN_DAY, FROZEN_SLATE, snuper

EVENTS = 5
SITE_PATHS = {"nba": "/basketball/nba/", "nfl": "/football/nfl/", "mlb": "/baseball/mlb/"}


def expected_slate(seed: int, league: str) -> tuple[list[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """What the simulator serves, from the scenario itself (not from its JSON)."""
    scenario = generate_scenario(league, seed=seed, slate_day=FROZEN_DAY, n_events=EVENTS)
    events = sorted(
        (str(e.event_id), f"{e.away} @ {e.home}", e.home, e.away, e.start) for e in scenario.events
    )
    kinds = {m.market_id: m.kind for m in scenario.markets}
    selections = {
        (str(o.outcome_id), str(o.market_id), kinds[o.market_id], o.side, o.line,
         parse_american(american_text(o.american)), round(float(decimal_text(o.american)), 4))
        for o in scenario.outcomes
    }  # fmt: skip
    return events, selections


@pytest.mark.parametrize("league", ["nba", "nfl", "mlb"])
async def test_scrape_writes_the_simulators_slate_exactly(tmp_path: Path, league: str) -> None:
    options = SimOptions(seed=11, events_per_league=EVENTS)
    async with bovada_sim(options) as (running, sim):
        run = await snuper("-t", "scrape", "-p", "bovada", "-l", league, "-o", str(tmp_path),
                           env=running.exports)  # fmt: skip
        requests = sim.coupon_requests
    assert run.code == 0, run.stderr
    assert requests == 1  # one coupon per league, no browser, no page
    path = tmp_path / "bovada" / "events" / f"{FROZEN_SLATE}-{league}.json"
    snapshot = Snapshot.from_json(path.read_bytes())
    assert (snapshot.provider, snapshot.league, snapshot.slate_date) == (
        "bovada", league, FROZEN_SLATE)  # fmt: skip
    events, selections = expected_slate(11, league)
    got_events = [(e.event_id, e.name, e.home, e.away, e.start_time) for e in snapshot.events]
    assert sorted(got_events) == events
    got = {
        (s.selection_id, s.market_id, s.market, s.side, s.line, s.odds_american, s.odds_decimal)
        for e in snapshot.events
        for s in e.selections
    }
    # Exactly the main lines: the first-half/F5 markets, alternates and props are left out.
    assert got == selections
    assert any(e.start_time.date() > FROZEN_DAY for e in snapshot.events)
    assert all(slate_date(e.start_time) == FROZEN_SLATE for e in snapshot.events)
    for e in snapshot.events:
        assert SITE_PATHS[league] in e.event_url
        assert set(e.meta["market_ids"]) == {"moneyline", "spread", "total"}
        assert e.meta["outcome_ids"] == [s.selection_id for s in e.selections]


async def test_a_503_burst_is_waited_out(tmp_path: Path) -> None:
    options = SimOptions(seed=5, faults=Faults(http_status=503, http_failures=2))
    async with bovada_sim(options) as (running, sim):
        run = await snuper("-t", "scrape", "-p", "bovada", "-l", "nfl", "-o", str(tmp_path),
                           env=running.exports)  # fmt: skip
        requests = sim.coupon_requests
    assert run.code == 0, run.stderr
    assert requests == 3
    retries = [line for line in run.stderr.splitlines() if "answered 503; retry" in line]
    assert len(retries) == 2
