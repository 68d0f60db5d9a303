"""Outages under `--sink rds,cache,fs`: a throwaway PostgreSQL cluster and redis-server of the
test's own are stopped in the middle of a monitor run. The fs sink beside them goes on, and each
server ends up holding every update exactly once: after a restart mid-run, or, when it stays down
until shutdown, from the spill file the next run replays."""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson

from snuper.providers.draftkings.sim import Scenario, Step
from snuper.sim.options import SimOptions
from snuper.slate import iso_utc
from tests.e2e.cli import FROZEN_NOW, FROZEN_SLATE, cli_env, snuper
from tests.e2e.conftest import SimFactory
from tests.e2e.test_draftkings_monitor import BUSY, QUIET, game
from tests.services import ThrowawayPostgres, ThrowawayRedis

MOVES = 60
SIDES = [("1_900", "Home"), ("1_900", "Away"), ("3_900", "Over"), ("3_900", "Under")]


def long_scenario() -> Scenario:
    """A price move every half scenario second for 30 s (each a new price), then the end."""
    busy, busy_markets, busy_sels = game(BUSY, "900", "Celtics", "Knicks", 19)
    quiet, quiet_markets, quiet_sels = game(QUIET, "901", "Bruins", "Rangers", 20)
    steps = [
        Step(1 + k / 2, "price", BUSY, SIDES[k % 4][0], SIDES[k % 4][1], american=-(200 + k))
        for k in range(MOVES)
    ]
    steps += [Step(32, "end", BUSY), Step(33, "end", QUIET)]
    return Scenario(
        "nba", [busy, quiet], busy_markets + quiet_markets, busy_sels + quiet_sels, steps
    )


def flags(out: Path, pg: ThrowawayPostgres, cache: ThrowawayRedis) -> list[str]:
    return ["--sink", "rds,cache,fs", "--rds-uri", pg.uri, "--cache-uri", cache.uri,
            "-o", str(out)]  # fmt: skip


async def start_monitor(args: list[str], env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "snuper", "-t", "monitor", "-p", "draftkings", "-l", "nba", *args,
        "-i", "0.2", "--heartbeat", "2", "--max-runtime", "60", env=cli_env(env),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def fs_odds(out: Path) -> int:
    path = out / "draftkings" / "odds" / f"{FROZEN_SLATE}-nba-{BUSY}.json"
    if not path.exists():
        return 0
    return sum(b'"type":"odds"' in line for line in path.read_bytes().splitlines())


async def records_in(sink: str, args: list[str], event_id: str) -> list[Any]:
    only = [*args]
    only[only.index("--sink") + 1] = sink
    run = await snuper("read", "-p", "draftkings", "-l", "nba", "--slate", FROZEN_SLATE,
                       "--event", event_id, *only)  # fmt: skip
    assert run.code == 0, run.stderr
    return [orjson.loads(line) for line in run.stdout.splitlines()]


async def assert_same_everywhere(args: list[str]) -> None:
    for event_id in (BUSY, QUIET):
        reference = await records_in("fs", args, event_id)
        for sink in ("rds", "cache"):
            assert await records_in(sink, args, event_id) == reference, (sink, event_id)
    busy = await records_in("fs", args, BUSY)
    assert sum(r["type"] == "odds" for r in busy) == MOVES


async def scraped_then_monitoring(
    args: list[str], exports: dict[str, str]
) -> asyncio.subprocess.Process:
    """Scrape into the sinks, start the monitor, and let it write for 2.5 s (some of the
    moves, not all) before the test takes a server away."""
    scrape = await snuper("-t", "scrape", "-p", "draftkings", "-l", "nba", *args, env=exports)
    assert scrape.code == 0, scrape.stderr
    monitor = await start_monitor(args, exports)
    await asyncio.sleep(2.5)
    return monitor


async def test_servers_stopped_mid_run_end_up_with_every_update_once(
    tmp_path: Path,
    dk_sim: SimFactory,
    throwaway_postgres: ThrowawayPostgres,
    throwaway_redis: ThrowawayRedis,
) -> None:
    pg, cache = throwaway_postgres, throwaway_redis
    args = flags(tmp_path / "out", pg, cache)
    async with dk_sim(SimOptions(speed=4), {"nba": long_scenario()}) as (running, _):
        monitor = await scraped_then_monitoring(args, running.exports)
        await asyncio.gather(asyncio.to_thread(pg.stop), asyncio.to_thread(cache.stop))
        before = fs_odds(tmp_path / "out")
        await asyncio.sleep(2.0)
        during = fs_odds(tmp_path / "out")
        await asyncio.gather(asyncio.to_thread(pg.start), asyncio.to_thread(cache.start))
        _, err = await asyncio.wait_for(monitor.communicate(), 90)
    log = err.decode()
    assert monitor.returncode == 0, log
    assert 0 < before < during < MOVES  # the fs sink went on while the servers were down
    assert "sink rds is down" in log and "sink cache is down" in log
    assert "sink rds is back" in log and "sink cache is back" in log
    await assert_same_everywhere(args)


async def test_a_server_down_until_shutdown_keeps_a_spill_the_next_run_replays(
    tmp_path: Path,
    dk_sim: SimFactory,
    throwaway_postgres: ThrowawayPostgres,
    throwaway_redis: ThrowawayRedis,
) -> None:
    pg, cache = throwaway_postgres, throwaway_redis
    args = flags(tmp_path / "out", pg, cache)
    async with dk_sim(SimOptions(speed=4), {"nba": long_scenario()}) as (running, _):
        monitor = await scraped_then_monitoring(args, running.exports)
        await asyncio.to_thread(cache.stop)
        _, err = await asyncio.wait_for(monitor.communicate(), 90)
    log = err.decode()
    assert monitor.returncode == 1, log
    spills = list((tmp_path / "out" / ".staging" / "spill").glob("cache-*.jsonl"))
    assert len(spills) == 1 and spills[0].stat().st_size > 0
    assert "sink cache is still down" in log and str(spills[0]) in log

    await asyncio.to_thread(cache.start)
    # The next day's run: the slate's events are over, so it only replays what was kept.
    later = {"SNUPER_NOW": iso_utc(FROZEN_NOW + timedelta(days=2))}
    again = await snuper("-t", "monitor", "-p", "draftkings", "-l", "nba", *args,
                         "--slate", FROZEN_SLATE, env=later, timeout=60)  # fmt: skip
    assert again.code == 0, again.stderr
    assert "replaying first what an earlier run kept" in again.stderr
    assert not spills[0].exists()
    await assert_same_everywhere(args)
