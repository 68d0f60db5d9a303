"""A monitor killed with SIGKILL and started again writes every change exactly once, and the
restart's first records name what was already recorded as `previous` (finding 2 of issue 6)."""

from __future__ import annotations

import asyncio
import signal
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from snuper.providers.draftkings.sim import Scenario
from snuper.sim.options import SimOptions
from tests.e2e.cli import cli_env, snuper
from tests.e2e.conftest import SimFactory
from tests.e2e.test_draftkings_monitor import BUSY, EXPECTED, odds_file, read, scenario

FIRST_RUN = 4  # records of the first three steps (the third is a line move: two records)


def spaced() -> Scenario:
    """The monitor test's scenario with a pause after step 3, long enough to kill the monitor
    between two moves: steps 4-8 and the ends come 40 scenario seconds later."""
    base = scenario()
    steps = [s if s.at <= 3 else replace(s, at=s.at + 40) for s in base.steps]
    return Scenario(base.league, base.events, base.markets, base.selections, steps)


async def test_kill_and_restart_writes_every_change_once_with_a_correct_previous(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    out = str(tmp_path)
    monitor = ("-m", "snuper", "-t", "monitor", "-p", "draftkings", "-l", "nba", "-o", out,
               "--heartbeat", "30", "-i", "0.1")  # fmt: skip
    async with dk_sim(SimOptions(speed=10), {"nba": spaced()}) as (running, _):
        scrape = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", out,
                              env=running.exports)  # fmt: skip
        assert scrape.code == 0, scrape.stderr
        first = await asyncio.create_subprocess_exec(
            sys.executable, *monitor, env=cli_env(running.exports),
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        async with asyncio.timeout(30):
            while len(odds(tmp_path)) < FIRST_RUN:
                await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        await first.wait()
        assert len(odds(tmp_path)) == FIRST_RUN  # the pause: nothing more came before the kill
        second = await snuper(*monitor[2:], "--max-runtime", "60", env=running.exports,
                              timeout=90)  # fmt: skip
    assert second.code == 0, second.stderr
    assert "resuming from" in second.stderr
    records = odds(tmp_path)
    got = [(r["selection_id"], r["line"], r["odds_american"],
            r["previous"]["line"], r["previous"]["odds_american"]) for r in records]  # fmt: skip
    assert got == EXPECTED  # each once, in order, every `previous` the price recorded before


def odds(root: Path) -> list[dict[str, Any]]:
    if not odds_file(root, BUSY).exists():
        return []
    return [r for r in read(root, BUSY) if r["type"] == "odds"]
