"""`snuper -t scrape` against the DraftKings simulator, through real Chromium."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snuper.model import Snapshot
from snuper.odds import american_to_decimal
from snuper.providers.draftkings.sim import generate_scenario
from snuper.sim.options import Faults, SimOptions
from tests.e2e.cli import FROZEN_DAY, FROZEN_SLATE, snuper
from tests.e2e.conftest import SimFactory

SIDES = {"Home": "home", "Away": "away", "Over": "over", "Under": "under"}


def expected_slate(seed: int, league: str) -> tuple[list[tuple[Any, ...]], set[tuple[Any, ...]]]:
    """What the simulator serves, from the scenario itself (not from its JSON)."""
    scenario = generate_scenario(league, seed=seed, slate_day=FROZEN_DAY, n_events=3)
    events = sorted(
        (e.event_id, e.name, e.home, e.away, e.start.replace(microsecond=0))
        for e in scenario.events
    )
    kinds = {m.market_id: m.kind for m in scenario.markets}
    selections = {
        (s.selection_id, s.market_id, kinds[s.market_id], SIDES[s.outcome], s.points, s.american)
        for s in scenario.selections
    }
    return events, selections


def snapshot_at(root: Path, league: str) -> Path:
    return root / "draftkings" / "events" / f"{FROZEN_SLATE}-{league}.json"


async def test_scrape_writes_the_simulators_slate_exactly(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    async with dk_sim(SimOptions(seed=11)) as (running, _):
        run = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", str(tmp_path),
                           env=running.exports)  # fmt: skip
    assert run.code == 0, run.stderr
    snapshot = Snapshot.from_json(snapshot_at(tmp_path, "nba").read_bytes())
    events, selections = expected_slate(11, "nba")
    assert (snapshot.provider, snapshot.league, snapshot.slate_date) == (
        "draftkings",
        "nba",
        FROZEN_SLATE,
    )
    assert (
        sorted((e.event_id, e.name, e.home, e.away, e.start_time) for e in snapshot.events)
        == events
    )
    got = {
        (s.selection_id, s.market_id, s.market, s.side, s.line, s.odds_american)
        for e in snapshot.events
        for s in e.selections
    }
    assert got == selections
    for event in snapshot.events:
        assert len(event.selections) == 6
        assert event.event_url.startswith(running.exports["SNUPER_DRAFTKINGS_SITE"] + "/event/")
        for s in event.selections:
            assert abs(s.odds_decimal - american_to_decimal(s.odds_american)) < 0.01


async def test_second_run_keeps_the_file_unless_overwrite(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    args = ("-t", "scrape", "-p", "draftkings", "-l", "mlb", "-o", str(tmp_path))
    async with dk_sim(SimOptions(seed=4)) as (running, _):
        first = await snuper(*args, env=running.exports)
        path = snapshot_at(tmp_path, "mlb")
        path.write_bytes(path.read_bytes().replace(b'"schema": 1', b'"schema": 1, "marker": 1', 1))
        marked = path.read_bytes()
        kept = await snuper(*args, env=running.exports)
        assert path.read_bytes() == marked
        replaced = await snuper(*args, "--overwrite", env=running.exports)
    assert (first.code, kept.code, replaced.code) == (0, 0, 0)
    assert "kept existing" in kept.stderr and "--overwrite" in kept.stderr
    assert b'"marker"' not in path.read_bytes()
    assert Snapshot.from_json(path.read_bytes()).league == "mlb"


async def test_scrape_retries_a_rate_limited_api(tmp_path: Path, dk_sim: SimFactory) -> None:
    options = SimOptions(seed=2, faults=Faults(http_status=429, http_failures=1))
    async with dk_sim(options) as (running, sim):
        run = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nfl", "-o", str(tmp_path),
                           env=running.exports)  # fmt: skip
        assert sim.api_requests >= 2
    assert run.code == 0, run.stderr
    assert "429" in run.stderr
    assert snapshot_at(tmp_path, "nfl").exists()


async def test_without_a_configured_browser_a_chromium_on_the_path_is_used(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    # No SNUPER_BROWSER_PATH and no Playwright download: the Chromium on the PATH is the fallback.
    async with dk_sim(SimOptions(seed=3)) as (running, _):
        env = {**running.exports, "SNUPER_BROWSER_PATH": "",
               "PLAYWRIGHT_BROWSERS_PATH": str(tmp_path / "no-browsers")}  # fmt: skip
        run = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", str(tmp_path),
                           env=env)  # fmt: skip
    assert run.code == 0, run.stderr
    assert "Playwright's browser is missing; using" in run.stderr
    assert snapshot_at(tmp_path, "nba").exists()
