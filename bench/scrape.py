"""scrape_s.<provider>: `snuper -t scrape` of one league against the simulator, browser included
(for the books scraped with one)."""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from bench.common import FROZEN_DAY, cli_env, snuper_command
from bench.registry import Figure, Progress, figure, median
from snuper.providers import PROVIDERS, Provider
from snuper.sim.options import SimOptions
from snuper.sim.server import start_sim

RUNS = 3
TIMEOUT_S = 120.0


async def _scrape_runs(provider: Provider, league: str, progress: Progress) -> list[float]:
    options = SimOptions(seed=11, slate_day=FROZEN_DAY)
    running = await start_sim(options, providers=[provider])  # that book's simulator only
    walls: list[float] = []
    try:
        env = cli_env(running.exports)
        for run in range(RUNS):
            with tempfile.TemporaryDirectory(prefix="snuper-bench-") as out:
                args = ["-t", "scrape", "-p", provider.name, "-l", league, "-o", out]
                started = time.perf_counter()
                process = await asyncio.create_subprocess_exec(
                    *snuper_command(), *args,
                    stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
                )  # fmt: skip
                _, err = await asyncio.wait_for(process.communicate(), TIMEOUT_S)
                wall = time.perf_counter() - started
                if process.returncode != 0:
                    raise RuntimeError(
                        f"scrape exited {process.returncode}: {err.decode()[-2000:]}"
                    )
                if not any(Path(out).rglob(f"*-{league}.json")):
                    raise RuntimeError(f"scrape wrote no {league} snapshot under {out}")
            walls.append(wall)
            progress(f"run {run + 1}/{RUNS}: {wall:.2f} s")
    finally:
        await running.close()
    return walls


def _scrape_figure(name: str, progress: Progress) -> Figure:
    walls = asyncio.run(_scrape_runs(PROVIDERS[name], "nba", progress))
    return Figure(f"scrape_s.{name}", median(walls), 5.0, "lower", "s", {"runs_s": walls})


@figure("scrape_s.draftkings")
def scrape_s_draftkings(progress: Progress) -> Figure:
    return _scrape_figure("draftkings", progress)


@figure("scrape_s.betmgm")
def scrape_s_betmgm(progress: Progress) -> Figure:
    return _scrape_figure("betmgm", progress)


@figure("scrape_s.bovada")
def scrape_s_bovada(progress: Progress) -> Figure:
    return _scrape_figure("bovada", progress)


@figure("scrape_s.fanduel")
def scrape_s_fanduel(progress: Progress) -> Figure:
    return _scrape_figure("fanduel", progress)
