"""`snuper -t scrape` and `snuper -t monitor` with no -p: every book, every league, in one process
each, against one simulator serving all of them (as `snuper sim` does)."""

from __future__ import annotations

from pathlib import Path

from snuper.providers import PROVIDERS
from snuper.sim.options import SimOptions
from snuper.sim.server import start_sim
from tests.e2e.cli import FROZEN_DAY, FROZEN_SLATE, snuper


async def test_scrape_and_monitor_run_every_book_together(tmp_path: Path) -> None:
    # 120 scenario seconds per real second: every simulated game is over within 15 s.
    running = await start_sim(SimOptions(seed=3, speed=120, slate_day=FROZEN_DAY))
    try:
        scrape = await snuper("-t", "scrape", "-o", str(tmp_path), env=running.exports)
        monitor = await snuper("-t", "monitor", "-o", str(tmp_path), "--heartbeat", "5",
                               "--max-runtime", "30", env=running.exports,
                               timeout=60)  # fmt: skip
    finally:
        await running.close()
    assert scrape.code == 0, scrape.stderr
    assert monitor.code == 0, monitor.stderr
    for name, provider in PROVIDERS.items():
        for league in provider.leagues:
            assert (tmp_path / name / "events" / f"{FROZEN_SLATE}-{league}.json").is_file()
            odds = list((tmp_path / name / "odds").glob(f"{FROZEN_SLATE}-{league}-*.json"))
            assert odds, f"{name} {league}: nothing monitored"
    assert set(PROVIDERS) == {"draftkings", "betmgm", "bovada", "fanduel"}
    assert "Traceback" not in scrape.stderr + monitor.stderr
