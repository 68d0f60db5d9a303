"""Two monitors started on one folder for the same league: the second exits at once with one
line naming the first one's pid, and every record is written once (finding 5 of issue 6)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from snuper.sim.options import SimOptions
from tests.e2e.cli import cli_env, snuper
from tests.e2e.conftest import SimFactory
from tests.e2e.test_draftkings_monitor import BUSY, EXPECTED, read, scenario


async def test_a_second_monitor_of_the_same_league_exits_naming_the_first(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    out = str(tmp_path)
    monitor = ("-t", "monitor", "-p", "draftkings", "-l", "nba", "-o", out, "-i", "0.2",
               "--max-runtime", "60")  # fmt: skip
    async with dk_sim(SimOptions(speed=10), {"nba": scenario()}) as (running, _):
        scrape = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", out,
                              env=running.exports)  # fmt: skip
        assert scrape.code == 0, scrape.stderr
        first = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "snuper", *monitor, env=cli_env(running.exports),
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert first.stderr is not None
        async with asyncio.timeout(30):  # until the first holds the league
            while b"watching" not in await first.stderr.readline():
                pass
        second = await snuper(*monitor, env=running.exports)
        _, rest = await asyncio.wait_for(first.communicate(), 90)
    assert second.code == 1
    [line] = second.stderr.strip().splitlines()
    assert "draftkings nba" in line and f"pid {first.pid} holds" in line
    assert first.returncode == 0, rest.decode()
    odds = [r["selection_id"] for r in read(tmp_path, BUSY) if r["type"] == "odds"]
    assert odds == [e[0] for e in EXPECTED]  # once each: the second wrote nothing
