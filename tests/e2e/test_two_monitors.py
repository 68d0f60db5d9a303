"""Two monitors on one folder for the same league: one watches, the other exits at once with one
line naming the holder's pid, and every record is written once (finding 5 of issue 6)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Mapping
from pathlib import Path

from snuper.sim.options import SimOptions
from tests.e2e.cli import cli_env, snuper
from tests.e2e.conftest import SimFactory
from tests.e2e.test_draftkings_monitor import BUSY, EXPECTED, read, scenario


async def start_monitor(out: Path, exports: Mapping[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snuper", "-t", "monitor", "-p", "draftkings", "-l", "nba",
        "-o", str(out), "-i", "0.2", "--max-runtime", "60", env=cli_env(exports),
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


async def scraped(out: Path, exports: Mapping[str, str]) -> None:
    run = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", "-o", str(out),
                       env=exports)  # fmt: skip
    assert run.code == 0, run.stderr


def odds_once(out: Path) -> None:
    odds = [r["selection_id"] for r in read(out, BUSY) if r["type"] == "odds"]
    assert odds == [e[0] for e in EXPECTED]  # once each: the second wrote nothing


async def test_a_second_monitor_of_the_same_league_exits_naming_the_first(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    async with dk_sim(SimOptions(speed=10), {"nba": scenario()}) as (running, _):
        await scraped(tmp_path, running.exports)
        first = await start_monitor(tmp_path, running.exports)
        assert first.stderr is not None
        async with asyncio.timeout(30):  # until the first holds the league
            while b"watching" not in await first.stderr.readline():
                pass
        second = await start_monitor(tmp_path, running.exports)
        _, second_err = await asyncio.wait_for(second.communicate(), 30)
        _, rest = await asyncio.wait_for(first.communicate(), 90)
    assert second.returncode == 1
    [line] = second_err.decode().strip().splitlines()
    assert "draftkings nba" in line and f"pid {first.pid} holds" in line
    assert first.returncode == 0, rest.decode()
    odds_once(tmp_path)


async def test_two_monitors_started_together_one_watches(
    tmp_path: Path, dk_sim: SimFactory
) -> None:
    async with dk_sim(SimOptions(speed=10), {"nba": scenario()}) as (running, _):
        await scraped(tmp_path, running.exports)
        both = await asyncio.gather(*(start_monitor(tmp_path, running.exports) for _ in "ab"))
        outputs = await asyncio.wait_for(asyncio.gather(*(p.communicate() for p in both)), 90)
    codes = sorted(p.returncode or 0 for p in both)
    assert codes == [0, 1]
    loser = 0 if both[0].returncode == 1 else 1
    winner = both[1 - loser]
    [line] = outputs[loser][1].decode().strip().splitlines()
    assert f"pid {winner.pid} holds" in line
    odds_once(tmp_path)
